"""The documents page at `/admin/`: add, replace and remove documents, add articles and feeds
from the web, watch feeds, and download the feedback as evaluation cases. Admins only.

`build_admin_ui(service, is_admin)` returns the `gr.Blocks` that `bot.server` mounts at
`/admin` behind `bot.auth.UIGuard` (and Gradio's own `auth_dependency`). It is a Gradio app of
its own, so the public chat at `/` and `/embed` holds no handler that changes documents or
reveals feedback: Gradio runs any handler of an app by name (`/gradio_api/call/<fn>`), shown
or not. Each callback here checks `is_admin(request)` again before it acts.

The feedback download is a plain route, `feedback_router` (`/admin/feedback-cases.jsonl`),
behind the same admin check, so the file never passes through Gradio's file cache, which
every mounted app's `/gradio_api/file=` route can read. Left to other modules: the chat
(`bot.ui`), login and sessions (`bot.auth`), storage and fetching (`bot.service`), the
watched feeds' list and polling thread (`bot.feeds`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from bot.errors import BotError
from bot.feeds import every_text
from bot.loaders import SUPPORTED_SUFFIXES
from bot.service import Service
from bot.sessions import ADMIN
from bot.ui import health_line, shown_errors, warn

ADMIN_PATH = "/admin"
FEEDBACK_FILE = "feedback-cases.jsonl"
DOCUMENT_HEADERS = ["id", "title", "date", "passages", "source"]
FEED_HEADERS = ["feed", "every", "last poll", "result", "error"]
NOT_ADMIN = "Sign in as an admin first: this page changes documents."

IsAdmin = Callable[[Any], bool]


# --- what the callbacks do ---------------------------------------------------------------------
def document_rows(service: Service) -> list[list[str | int]]:
    return [[d.doc_id, d.title, d.date, d.passages, d.source] for d in service.documents()]


def add_files(
    service: Service,
    paths: Sequence[str | Path],
    on_file: Callable[[int, int, str], None] | None = None,
) -> tuple[list[str], list[str]]:
    """Ingest uploaded files one by one: (one summary line per file, one error per failure).

    A file that cannot be ingested does not stop the others.
    """
    done, errors = [], []
    for i, path in enumerate(paths):
        name = Path(path).name
        if on_file:
            on_file(i, len(paths), name)
        try:
            report = service.upload(name, Path(path).read_bytes())
        except BotError as exc:
            errors.append(str(exc))
            continue
        done.append(f"{name}: {report.summary()}")
    return done, errors


def feed_rows(service: Service) -> list[list[str]]:
    return [
        [f.url, every_text(f.every_s), f.last_poll_text, f.last_result, f.last_error]
        for f in service.feeds.feeds()
    ]


def add_url(service: Service, url: Any) -> str:
    """Ingest an article or a feed's articles now: the report, entries that failed included."""
    report = service.ingest_url(url if isinstance(url, str) else "")
    return report.summary().replace("skipped:", "not added:")


def watch_url(service: Service, url: Any, every: Any) -> str:
    """Watch a feed (polled once now): what its first poll did."""
    feed = service.watch_feed(
        url if isinstance(url, str) else "", every if isinstance(every, str) else ""
    )
    done = f"Watching {feed.url} every {every_text(feed.every_s)}. First poll: {feed.last_result}"
    return done + (f"\nNot added: {feed.last_error}" if feed.last_error else ".")


def feedback_cases_jsonl(service: Service) -> str:
    """The feedback as evaluation cases, one JSON object a line (the `bot eval` format)."""
    return "".join(
        json.dumps(case, ensure_ascii=False) + "\n" for case in service.feedback_as_cases()
    )


# --- the feedback download ---------------------------------------------------------------------
feedback_router = APIRouter(include_in_schema=False)


@feedback_router.get(f"{ADMIN_PATH}/{FEEDBACK_FILE}")
def download_feedback(request: Request) -> Response:
    if not request.app.state.auth.allows(request.cookies, ADMIN):
        return JSONResponse({"error": "Sign in as an admin at /login first."}, status_code=401)
    return PlainTextResponse(
        feedback_cases_jsonl(request.app.state.service),
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="{FEEDBACK_FILE}"',
            "Cache-Control": "no-store",
        },
    )


# --- the page ----------------------------------------------------------------------------------
def build_admin_ui(service: Service, is_admin: IsAdmin) -> gr.Blocks:
    """The documents page; `is_admin(request)` is asked again inside every callback."""

    def check(request: gr.Request | None) -> None:
        if request is None or not is_admin(request):
            raise BotError(NOT_ADMIN)

    with gr.Blocks(title="Documents · News chat", analytics_enabled=False) as demo:
        gr.Markdown("## Documents\nAdd, replace or remove the articles the chat answers from.")
        # Relative links: the page sits at /admin/, wherever a proxy puts the app.
        gr.HTML(
            f'<p><a id="export-feedback" href="{FEEDBACK_FILE}" download>Download the feedback '
            'as evaluation cases</a> · <a href="../">Back to the chat</a> · '
            '<a id="sign-out" href="../logout">Sign out</a></p>',
            elem_id="admin-links",
        )
        status = gr.Markdown(elem_id="status")
        table, doc_ids = _documents_area(service, status, check)
        feeds, feed_urls = _web_area(service, [table, doc_ids, status], check)

        @shown_errors
        def show(request: gr.Request) -> tuple[Any, ...]:
            check(request)
            return _documents_view(service)

        @shown_errors
        def show_feeds(request: gr.Request) -> tuple[Any, ...]:
            check(request)
            return _feeds_view(service)

        demo.load(show, outputs=[table, doc_ids, status], api_visibility="private")
        demo.load(show_feeds, outputs=[feeds, feed_urls], api_visibility="private")
    return demo


def _documents_area(
    service: Service, status: gr.Markdown, check: Callable[[gr.Request | None], None]
) -> tuple[gr.Dataframe, gr.Dropdown]:
    suffixes = sorted(SUPPORTED_SUFFIXES)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            files = gr.File(
                label="Add articles (" + " ".join(suffixes) + ")",
                file_count="multiple",
                file_types=suffixes,
                type="filepath",
                elem_id="upload-files",
            )
            add = gr.Button("Add to the index", variant="primary", elem_id="add-documents")
            result = gr.Textbox(
                label="Last result", interactive=False, lines=3, elem_id="upload-result"
            )
            with gr.Row():
                doc_id = gr.Dropdown(
                    label="Document to remove", choices=[], scale=3, elem_id="remove-id"
                )
                remove = gr.Button("Remove", variant="stop", scale=1, elem_id="remove-document")
            refresh = gr.Button("Refresh list", size="sm")
        with gr.Column(scale=2, min_width=320):
            table = gr.Dataframe(
                headers=DOCUMENT_HEADERS,
                datatype=["str", "str", "str", "number", "str"],
                column_widths=["22%", "34%", "14%", "10%", "20%"],
                wrap=True,
                interactive=False,
                label="Indexed documents",
                elem_id="documents",
            )
    view = [table, doc_id, status]

    @shown_errors
    def upload(
        paths: list[str] | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - how Gradio injects a tracker
    ) -> tuple[Any, ...]:
        check(request)
        if not paths:
            raise BotError("Choose one or more files to add first.")

        def on_file(i: int, total: int, name: str) -> None:
            progress((i, total), desc=f"Ingesting {name}", unit="files")

        done, errors = add_files(service, paths, on_file)
        for error in errors:
            warn(error)
        lines = done + [f"Not added: {error}" for error in errors]
        return "\n".join(lines), *_documents_view(service), None

    @shown_errors
    def remove_document(chosen: str | None, request: gr.Request) -> tuple[Any, ...]:
        check(request)
        if not chosen:
            raise BotError("Choose the document to remove first.")
        info = service.remove(chosen)
        done = f"Removed {info.doc_id} ({info.title}, {info.passages} passages)."
        return done, *_documents_view(service)

    @shown_errors
    def refresh_view(request: gr.Request) -> tuple[Any, ...]:
        check(request)
        return _documents_view(service)

    add.click(upload, inputs=[files], outputs=[result, *view, files], api_visibility="private")
    remove.click(
        remove_document, inputs=[doc_id], outputs=[result, *view], api_visibility="private"
    )
    refresh.click(refresh_view, outputs=view, api_visibility="private")
    return table, doc_id


def _web_area(
    service: Service, documents: list[Any], check: Callable[[gr.Request | None], None]
) -> tuple[gr.Dataframe, gr.Dropdown]:
    """Articles and feeds from the web: add one now, or watch a feed (`bot watch` on the
    server, its list kept in the data folder)."""
    gr.Markdown(
        "### From the web\nAn article page is added once; a feed adds every entry's article. "
        "A watched feed is polled again every interval, also after a restart."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            url = gr.Textbox(
                label="Article or RSS/Atom feed address",
                placeholder="https://news.example.org/rss.xml",
                max_lines=1,
                elem_id="web-url",
            )
            with gr.Row():
                add = gr.Button("Add now", variant="primary", elem_id="add-url")
                every = gr.Textbox(
                    label="Poll every", value="15m", max_lines=1, min_width=80, elem_id="every"
                )
                watch = gr.Button("Watch this feed", elem_id="watch-feed")
            result = gr.Textbox(
                label="Last result", interactive=False, lines=3, elem_id="web-result"
            )
            with gr.Row():
                feed_url = gr.Dropdown(
                    label="Feed to stop watching", choices=[], scale=3, elem_id="unwatch-url"
                )
                unwatch = gr.Button("Stop watching", variant="stop", scale=1, elem_id="unwatch")
            refresh = gr.Button("Refresh feeds", size="sm")
        with gr.Column(scale=2, min_width=320):
            table = gr.Dataframe(
                headers=FEED_HEADERS,
                datatype=["str"] * len(FEED_HEADERS),
                column_widths=["30%", "8%", "16%", "22%", "24%"],
                wrap=True,
                interactive=False,
                label="Watched feeds",
                elem_id="watched-feeds",
            )
    feeds = [table, feed_url]

    @shown_errors
    def add_now(address: str | None, request: gr.Request) -> tuple[Any, ...]:
        check(request)
        return add_url(service, address), *_documents_view(service)

    @shown_errors
    def watch_feed(address: str | None, interval: str | None, request: gr.Request) -> tuple:
        check(request)
        done = watch_url(service, address, interval)
        return done, *_documents_view(service), *_feeds_view(service)

    @shown_errors
    def unwatch_feed(chosen: str | None, request: gr.Request) -> tuple[Any, ...]:
        check(request)
        if not chosen:
            raise BotError("Choose the feed to stop watching first.")
        feed = service.feeds.remove(chosen)
        done = f"Stopped watching {feed.url}; its articles stay in the index."
        return done, *_feeds_view(service)

    @shown_errors
    def refresh_feeds(request: gr.Request) -> tuple[Any, ...]:
        check(request)
        return _feeds_view(service)

    add.click(add_now, inputs=[url], outputs=[result, *documents], api_visibility="private")
    watch.click(
        watch_feed,
        inputs=[url, every],
        outputs=[result, *documents, *feeds],
        api_visibility="private",
    )
    unwatch.click(
        unwatch_feed, inputs=[feed_url], outputs=[result, *feeds], api_visibility="private"
    )
    refresh.click(refresh_feeds, outputs=feeds, api_visibility="private")
    return table, feed_url


def _feeds_view(service: Service) -> tuple[Any, Any]:
    """The watched feeds' table and the choices to stop watching, as they are now."""
    rows = feed_rows(service)
    return (
        {"headers": FEED_HEADERS, "data": rows},
        gr.Dropdown(choices=[row[0] for row in rows], value=None),
    )


def _documents_view(service: Service) -> tuple[Any, Any, str]:
    """The documents table, the removal choices and the status line, as they are now."""
    rows = document_rows(service)
    return (
        {"headers": DOCUMENT_HEADERS, "data": rows},
        gr.Dropdown(choices=[str(row[0]) for row in rows], value=None),
        health_line(service),
    )
