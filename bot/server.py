"""The web server: one FastAPI app serving the HTTP API, the chat UI at `/`, the compact
embeddable UI at `/embed`, the documents page at `/admin/`, and the `bot serve` command that
starts it.

This module owns assembly and process start-up: putting the API's routers, error handlers,
body limit and CORS policy together with the login routes and the Gradio apps, each behind
the role it needs (`bot.auth`), the API docs (`/docs`, `/redoc`) with their scripts served
from the `fastapi-offline` package instead of a CDN, `/metrics` (`bot.monitoring`) and the
request log (`bot.logs`), and the feed watcher's thread (`bot.feeds`), started with the app
and stopped before the index closes. At start-up it sets up the JSON logs, opens the index (which
refuses a catalog and vector store that disagree; `--repair` repairs them first, see
`bot.integrity`), ingests `BOT_CORPUS_DIR` (unchanged articles are skipped), loads models
before the first request and runs uvicorn. On a clean stop (SIGTERM, Ctrl-C) it closes the
index, which folds the catalog's write-ahead log into its file. Headers
are `bot.headers`' business and Gradio's 500s for bad requests `bot.ui_errors`'; routes live
in `bot.api` and `bot.openai_api`, the UIs in `bot.ui` and `bot.admin_ui`. FastAPI, Gradio
and uvicorn are imported only when a server is built, so the rest of the CLI starts fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.errors import BotError
from bot.headers import EMBED_PATH
from bot.sessions import Accounts

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.auth import AuthGate
    from bot.service import Service
    from bot.sessions import Role

log = logging.getLogger("bot.server")

#: Worker threads kept free for requests that do not wait for an answering slot.
QUICK_REQUEST_THREADS = 16
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def create_app(
    settings: Settings,
    service: Service | None = None,
    with_ui: bool = True,
    close_index_on_shutdown: bool = False,
) -> FastAPI:
    """The whole web app. `service` defaults to one built from `settings` (which loads the
    index and models); `with_ui=False` leaves out the Gradio pages (API only);
    `close_index_on_shutdown` closes the service's index when the server stops (`serve`)."""
    from fastapi_offline import FastAPIOffline

    from bot.auth import AuthGate
    from bot.auth import router as login_router
    from bot.headers import SecurityHeadersMiddleware
    from bot.logs import RequestLogMiddleware
    from bot.monitoring import install_metrics
    from bot.service import Service
    from bot.ui_errors import UIErrorsMiddleware

    gate = AuthGate(settings)  # before any slow work: a half-set login is a config error
    if service is None:
        service = Service(settings)
    # FastAPI's own /docs and /redoc load their scripts from a CDN: blank pages offline.
    app = FastAPIOffline(
        lifespan=_lifespan(settings, service, close_index_on_shutdown),
        title="Newsbot",
        description="Answers questions about news articles with checked citations. "
        "`/api/*` is the JSON API (with an SSE stream), `/v1/*` is OpenAI-compatible. "
        "When BOT_API_KEY is set, send `Authorization: Bearer KEY`.",
        version="0.1.0",
    )
    app.state.auth = gate
    _install_api(app, service, settings)
    app.include_router(login_router)
    install_metrics(app, service)  # before the UI: Gradio's mount at / would shadow /metrics
    if with_ui:
        _mount_ui(app, service, gate, settings.max_upload_mb)
    # Each middleware added wraps the ones before: Gradio's 500s for bad requests become 4xx,
    # then CORS, then the headers every response gets, then the request id and log line, and
    # outermost the scheme and client address a trusted proxy reports (the login's Secure
    # cookie and throttle, and the log, need them).
    app.add_middleware(UIErrorsMiddleware)
    _install_cors(app, settings)
    app.add_middleware(SecurityHeadersMiddleware, embed_ancestors=settings.frame_ancestors)
    app.add_middleware(RequestLogMiddleware)
    proxies = [ip.strip() for ip in settings.forwarded_allow_ips.split(",") if ip.strip()]
    if proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    return app


def _install_api(app: FastAPI, service: Service, settings: Settings) -> None:
    """The `/api` and `/v1` routes, every error as JSON and the body-size limit."""
    from bot import api, openai_api
    from bot.api_errors import install_error_handlers, unknown_route_router
    from bot.limits import BodyLimitMiddleware

    app.state.service = service
    app.state.settings = settings
    known = [api.router, api.public, openai_api.router]
    for router in known:
        app.include_router(router)
    app.include_router(unknown_route_router(["/api", "/v1"], known))  # after the known routes
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        upload_path=api.UPLOAD_PATH,
        upload_bytes=settings.max_upload_mb * 1024 * 1024,
    )


def _install_cors(app: FastAPI, settings: Settings) -> None:
    """Cross-origin browser calls only from BOT_CORS_ORIGINS, and never with credentials.

    Starlette's CORSMiddleware is added even when no origin is configured: Gradio gives a
    mounted app its own CORS handling, which answers any http://localhost:* origin with
    Allow-Credentials, unless the parent app has a CORSMiddleware. An empty list allows none.
    """
    from fastapi.middleware.cors import CORSMiddleware

    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    # Bearer keys, not cookies: browsers on these origins may call the API with a key.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        allow_credentials=False,
    )


def _lifespan(settings: Settings, service: Service, close_index: bool) -> Any:
    """A lifespan that sizes the worker-thread pool to the answering queue, runs the feed
    watcher while the app runs and, if asked, closes the index when the server stops.

    Every answer waiting for a slot holds a worker thread. With anyio's default of 40, request
    41 would wait for a thread outside the service's queue (never getting its 503) and the
    quick endpoints, /api/health included, would wait behind it. The index is closed here
    rather than after `uvicorn.run()` returns: on SIGTERM uvicorn shuts down, then raises the
    signal again, which ends the process before any code after `run()`."""
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        import anyio.to_thread

        limiter = anyio.to_thread.current_default_thread_limiter()
        needed = settings.max_concurrency + settings.max_queue + QUICK_REQUEST_THREADS
        limiter.total_tokens = max(limiter.total_tokens, needed)
        service.feeds.start()  # polls the watched feeds; one thread per process
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(service.feeds.stop)
        if close_index:
            # In a worker thread: it waits for a write still running to finish its group.
            await anyio.to_thread.run_sync(service.index.close)
            log.info("stopped; the catalog is closed and its write-ahead log folded into it")

    return lifespan


def _mount_ui(app: FastAPI, service: Service, gate: AuthGate, max_upload_mb: int) -> None:
    """The chat at `/`, the embed page at `/embed` and, when anyone can be an admin, the
    documents page at `/admin`: each a Gradio app of its own behind `UIGuard` for its role."""
    from bot.embeddings import quiet_libraries

    quiet_libraries()  # before gradio is imported: no analytics calls
    import gradio as gr
    from fastapi.responses import JSONResponse, RedirectResponse
    from starlette.routing import Mount

    from bot.admin_ui import ADMIN_PATH, build_admin_ui, feedback_router
    from bot.auth import UIGuard
    from bot.sessions import ADMIN, VIEWER
    from bot.ui import build_ui

    def add_slash(path: str) -> None:
        async def redirect(request: Any) -> RedirectResponse:
            # Relative, so it stays right behind a proxy that serves us under a prefix.
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"{path.lstrip('/')}/{query}")

        app.add_route(path, redirect, methods=["GET", "HEAD"], include_in_schema=False)

    def mount(blocks: gr.Blocks, path: str, role: Role, **options: Any) -> None:
        before = {id(route) for route in app.routes}
        needs_login = not gate.accounts.open and (role == ADMIN or gate.accounts.viewer)
        gr.mount_gradio_app(
            app,
            blocks,
            path=path,
            # A second check behind UIGuard: Gradio itself answers 401 without the role.
            auth_dependency=gate.gradio_user(role) if needs_login else None,
            ssr_mode=False,
            # Only gr.Error messages (ours, written for users) reach the page, not internals.
            show_error=False,
            # The same upload limit as the API, enforced by Gradio before a file is written.
            max_file_size=f"{max_upload_mb}mb",
            **options,
        )
        [added] = [r for r in app.routes if id(r) not in before and isinstance(r, Mount)]
        added.app = UIGuard(added.app, gate, role)

    if gate.accounts.open or gate.accounts.admin is not None:
        app.include_router(feedback_router)
        add_slash(ADMIN_PATH)

        def is_admin(request: Any) -> bool:
            return gate.allows(request.cookies, ADMIN)

        mount(build_admin_ui(service, is_admin), ADMIN_PATH, ADMIN, footer_links=[])
    else:
        # Nobody can be an admin, so the documents page and its handlers do not exist at all.
        async def admin_off(request: Any) -> JSONResponse:
            return JSONResponse(
                {
                    "error": "The documents page is off: set BOT_ADMIN_USER and "
                    "BOT_ADMIN_PASSWORD to turn it on, or use the API with BOT_API_KEY."
                },
                status_code=403,
            )

        for path in (ADMIN_PATH, ADMIN_PATH + "/{rest:path}"):
            app.add_route(path, admin_off, methods=["GET", "HEAD", "POST"])
    add_slash(EMBED_PATH)
    # /embed before /: the UI at / is a catch-all mount and would shadow it.
    mount(build_ui(service, embed=True), EMBED_PATH, VIEWER, footer_links=[])
    mount(build_ui(service), "/", VIEWER)


# --- running ------------------------------------------------------------------------------------
def serve(settings: Settings, ingest_corpus: bool = True, repair: bool = False) -> None:
    """Open the index (repairing it first if asked), ingest the corpus (if asked), load the
    models, then serve until interrupted; the index is closed on the way out."""
    import uvicorn

    from bot.chain import ChatBot
    from bot.integrity import open_index
    from bot.logs import configure_logging
    from bot.service import Service

    configure_logging(settings)
    accounts = Accounts.from_settings(settings)
    if (accounts.viewer or accounts.admin) and not settings.api_key:
        log.warning(
            "the web pages ask for a login but /api and /v1 are open for questions; "
            "set BOT_API_KEY to protect them too (documents cannot be changed there without it)."
        )
    if accounts.open and settings.host not in LOOPBACK_HOSTS:
        log.warning(
            "no BOT_API_KEY, BOT_ADMIN_USER or BOT_UI_USER is set, so anyone who can "
            f"reach {settings.host} may change documents; set them before exposing the server."
        )
    index = open_index(settings, repair=repair)
    try:
        service = Service(settings, ChatBot(settings, index))
        if ingest_corpus:
            ingest_corpus_dir(service, settings.corpus_dir)
        warm_up(service)
        app = create_app(settings, service, close_index_on_shutdown=True)
        url = f"http://{settings.host}:{settings.port}"
        documents = f"documents at {url}/admin/ , " if accounts.open or accounts.admin else ""
        log.info(
            f"Chat at {url}/ , embed at {url}{EMBED_PATH}/ , {documents}API docs at {url}/docs"
        )
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            # Logging is set up above (JSON, redacted); our middleware writes the access lines.
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
            # Forwarded headers are honoured by the app itself, from BOT_FORWARDED_ALLOW_IPS
            # only (uvicorn's own default trusts any proxy on 127.0.0.1).
            proxy_headers=False,
        )
    finally:
        index.close()  # when start-up failed or uvicorn returned; a second close does nothing


def ingest_corpus_dir(service: Service, corpus_dir: Path) -> None:
    """Add new and changed articles from `corpus_dir`; a missing or empty folder is only
    reported, since documents can still be uploaded in the UI."""
    from bot.ingest import ingest_paths

    if not corpus_dir.is_dir():
        log.warning(f"corpus folder {corpus_dir} not found; serving the index as it is.")
        return
    try:
        report = ingest_paths(service.index, [corpus_dir])
    except BotError as exc:
        log.warning(str(exc))
        return
    log.info(f"{corpus_dir}: {report.summary()}")


def warm_up(service: Service) -> None:
    """Load spaCy's entity recogniser and parser and run the embedding model once, so the
    first user does not wait for them."""
    from bot.extract import warm_up as load_spacy

    load_spacy()
    service.index.embedder.embed_query("warm up")


def add_command(subparsers: Any) -> None:
    """Register `bot serve`."""
    p = subparsers.add_parser(
        "serve", help="Serve the chat UI (/), the embed page (/embed) and the HTTP API (/docs)."
    )
    p.add_argument("--host", help="Address to listen on (BOT_HOST, default 127.0.0.1).")
    p.add_argument("--port", type=int, help="Port to listen on (BOT_PORT, default 7860).")
    p.add_argument(
        "--no-ingest",
        action="store_true",
        help="Serve the index as it is, without ingesting BOT_CORPUS_DIR first.",
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="If the catalog and the vector store disagree, repair them first (as `bot doctor "
        "--repair` does) instead of refusing to start.",
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    changes = {"host": args.host, "port": args.port}
    settings = settings.replace(**{k: v for k, v in changes.items() if v is not None})
    serve(settings, ingest_corpus=not args.no_ingest, repair=args.repair)
    return 0


def main() -> None:
    """`python app.py`: ingest the corpus and serve, configured by BOT_* variables."""
    from bot.embeddings import quiet_libraries

    quiet_libraries()
    try:
        serve(Settings.from_env(), ingest_corpus=True)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        pass
