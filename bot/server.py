"""The web server: one FastAPI app serving the HTTP API, the chat UI at `/` and the compact
embeddable UI at `/embed`, and the `bot serve` command that starts it.

This module owns assembly and process start-up: putting the API's routers, error handlers,
body limit and CORS policy together, the API docs (`/docs`, `/redoc`) with their scripts served
from the `fastapi-offline` package instead of a CDN, ingesting `BOT_CORPUS_DIR` (unchanged
articles are skipped), loading models before the first request, framing headers (only `/embed`
may be framed by other sites, as `BOT_FRAME_ANCESTORS` allows) and running uvicorn. Routes
live in `bot.api` and `bot.openai_api` and the UI in `bot.ui`; FastAPI, Gradio and uvicorn are
imported only when a server is built, so the rest of the CLI starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.errors import BotError, ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Receive, Scope, Send

    from bot.service import Service

EMBED_PATH = "/embed"
#: Worker threads kept free for requests that do not wait for an answering slot.
QUICK_REQUEST_THREADS = 16


def create_app(settings: Settings, service: Service | None = None, with_ui: bool = True) -> FastAPI:
    """The whole web app. `service` defaults to one built from `settings` (which loads the
    index and models); `with_ui=False` leaves out the Gradio pages (API only)."""
    from fastapi_offline import FastAPIOffline

    from bot.service import Service

    ui_login = _ui_login(settings)  # before any slow work: a half-set login is a config error
    if service is None:
        service = Service(settings)
    # FastAPI's own /docs and /redoc load their scripts from a CDN: blank pages offline.
    app = FastAPIOffline(
        lifespan=_thread_pool_for(settings),
        title="Newsbot",
        description="Answers questions about news articles with checked citations. "
        "`/api/*` is the JSON API (with an SSE stream), `/v1/*` is OpenAI-compatible. "
        "When BOT_API_KEY is set, send `Authorization: Bearer KEY`.",
        version="0.1.0",
    )
    _install_api(app, service, settings)
    app.add_middleware(FrameHeadersMiddleware, embed_ancestors=settings.frame_ancestors)
    if with_ui:
        _mount_ui(app, service, ui_login, settings.max_upload_mb)
    return app


def _install_api(app: FastAPI, service: Service, settings: Settings) -> None:
    """The `/api` and `/v1` routes, every error as JSON, the body-size limit and CORS."""
    from fastapi.middleware.cors import CORSMiddleware

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
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        # Bearer keys, not cookies: browsers on these origins may call the API with a key.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )


def _thread_pool_for(settings: Settings) -> Any:
    """A lifespan that sizes the worker-thread pool to the answering queue.

    Every answer waiting for a slot holds a worker thread. With anyio's default of 40, request
    41 would wait for a thread outside the service's queue (never getting its 503) and the
    quick endpoints, /api/health included, would wait behind it."""
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        import anyio.to_thread

        limiter = anyio.to_thread.current_default_thread_limiter()
        needed = settings.max_concurrency + settings.max_queue + QUICK_REQUEST_THREADS
        limiter.total_tokens = max(limiter.total_tokens, needed)
        yield

    return lifespan


def _ui_login(settings: Settings) -> tuple[str, str] | None:
    if bool(settings.ui_user) != bool(settings.ui_password):
        raise ConfigError(
            "Set both BOT_UI_USER and BOT_UI_PASSWORD to require a login for the web UI, or "
            "neither to leave it open."
        )
    return (settings.ui_user, settings.ui_password) if settings.ui_user else None


def _mount_ui(
    app: FastAPI, service: Service, login: tuple[str, str] | None, max_upload_mb: int
) -> None:
    from bot.embeddings import quiet_libraries

    quiet_libraries()  # before gradio is imported: no analytics calls
    import gradio as gr
    from fastapi.responses import RedirectResponse

    from bot.ui import build_ui

    async def embed_slash(request: Any) -> RedirectResponse:
        # Relative, so it stays right behind a proxy that serves us under a prefix.
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{EMBED_PATH.lstrip('/')}/{query}")

    app.add_route(EMBED_PATH, embed_slash, methods=["GET", "HEAD"], include_in_schema=False)
    # The same upload limit as the API, enforced by Gradio before a file is written to disk.
    common = {"auth": login, "ssr_mode": False, "max_file_size": f"{max_upload_mb}mb"}
    # /embed first: the UI at / is a catch-all mount and would shadow it.
    gr.mount_gradio_app(
        app, build_ui(service, embed=True), path=EMBED_PATH, footer_links=[], **common
    )
    gr.mount_gradio_app(app, build_ui(service), path="/", **common)


class FrameHeadersMiddleware:
    """Who may show our pages in a frame: `/embed` the configured ancestors, everything else
    only our own origin (clickjacking protection for the full UI and the API)."""

    def __init__(self, app: ASGIApp, embed_ancestors: str) -> None:
        self.app = app
        self.embed_policy = f"frame-ancestors {embed_ancestors}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        embed = path == EMBED_PATH or path.startswith(EMBED_PATH + "/")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                # Ours replace any framing headers set further in.
                framing = {b"content-security-policy", b"x-frame-options"}
                headers = [h for h in message.get("headers", []) if h[0].lower() not in framing]
                if embed:
                    headers.append((b"content-security-policy", self.embed_policy))
                else:
                    headers.append((b"content-security-policy", b"frame-ancestors 'self'"))
                    headers.append((b"x-frame-options", b"SAMEORIGIN"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- running ------------------------------------------------------------------------------------
def serve(settings: Settings, ingest_corpus: bool = True) -> None:
    """Ingest the corpus (if asked), load the models, then serve until interrupted."""
    import uvicorn

    from bot.service import Service

    if _ui_login(settings) and not settings.api_key:
        print(
            "warning: the web UI asks for a login but /api and /v1 are open; set BOT_API_KEY "
            "to protect them too."
        )
    service = Service(settings)
    if ingest_corpus:
        ingest_corpus_dir(service, settings.corpus_dir)
    warm_up(service)
    app = create_app(settings, service)
    url = f"http://{settings.host}:{settings.port}"
    print(f"Chat at {url}/ , embed at {url}{EMBED_PATH}/ , API docs at {url}/docs", flush=True)
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level="info", timeout_graceful_shutdown=5
    )


def ingest_corpus_dir(service: Service, corpus_dir: Path) -> None:
    """Add new and changed articles from `corpus_dir`; a missing or empty folder is only
    reported, since documents can still be uploaded in the UI."""
    from bot.ingest import ingest_paths

    if not corpus_dir.is_dir():
        print(f"warning: corpus folder {corpus_dir} not found; serving the index as it is.")
        return
    try:
        report = ingest_paths(service.index, [corpus_dir])
    except BotError as exc:
        print(f"warning: {exc}")
        return
    print(f"{corpus_dir}: {report.summary()}", flush=True)


def warm_up(service: Service) -> None:
    """Load the entity recogniser and run the embedding model once, so the first user does
    not wait for them."""
    from bot.extract import warm_up as load_entity_recogniser

    load_entity_recogniser()
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
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    changes = {"host": args.host, "port": args.port}
    settings = settings.replace(**{k: v for k, v in changes.items() if v is not None})
    serve(settings, ingest_corpus=not args.no_ingest)
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
