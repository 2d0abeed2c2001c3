"""Request-body limits for the HTTP API: a 413 with a JSON `{"error": ...}` that says what to do.

`BodyLimitMiddleware` checks the declared Content-Length first and then counts the bytes
actually received, so a chunked body (which declares no length) is stopped too. Uploads to
`upload_path` get BOT_MAX_UPLOAD_MB (plus the multipart framing); every other `/api` and `/v1`
body gets `MAX_JSON_BYTES`. Paths outside those prefixes are left alone: the web UI's uploads
are Gradio's business and are limited by Gradio.

Why not Starlette's `RequestBodyLimitMiddleware` (behind FastAPI's `max_body_size`): it counts
streamed bodies the same way, but when the declared Content-Length is over the limit it
replaces whatever the app answers with a plain-text "Content Too Large", which would break the
API's promise that every error is JSON saying what to do. `tests/test_api.py` checks both
the declared and the chunked case.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Largest JSON request body. A question is at most a few thousand characters; a long history
#: stays far below this.
MAX_JSON_BYTES = 1024 * 1024
#: Multipart framing around an uploaded file; the file itself is checked exactly by the service.
UPLOAD_OVERHEAD_BYTES = 64 * 1024
#: The paths whose bodies are limited.
LIMITED_PREFIXES = ("/api/", "/v1/")


class BodyTooLarge(HTTPException):
    """A request body over the limit for its endpoint (raised while the body is read, so the
    app's HTTPException handler turns it into the JSON 413)."""


class BodyLimitMiddleware:
    """Answer 413 to `/api` and `/v1` request bodies over their limit."""

    def __init__(
        self,
        app: ASGIApp,
        upload_path: str,
        upload_bytes: int,
        json_bytes: int = MAX_JSON_BYTES,
    ) -> None:
        self.app = app
        self.upload_path = upload_path.rstrip("/")
        self.upload_bytes = upload_bytes
        self.json_bytes = json_bytes

    def limit(self, scope: Scope) -> tuple[int, str] | None:
        """The largest body this request may send and the message when it sends more; None
        for requests this middleware leaves alone."""
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIXES):
            return None
        if scope["path"].rstrip("/") == self.upload_path and scope["method"] == "POST":
            megabytes = self.upload_bytes // (1024 * 1024)
            return self.upload_bytes + UPLOAD_OVERHEAD_BYTES, (
                f"The upload is over the {megabytes} MB limit (BOT_MAX_UPLOAD_MB). Split the "
                "file, or ingest it on the server with `bot ingest`."
            )
        return self.json_bytes, (
            f"The request body is over the {self.json_bytes // 1024} KB limit. Send a shorter "
            "question or history."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit(scope)
        if limit is None:
            await self.app(scope, receive, send)
            return
        max_bytes, message = limit
        too_large = JSONResponse({"error": message}, status_code=413)
        if _content_length(scope) > max_bytes:
            await too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(413, message)
            return event

        async def tracked_send(event: Message) -> None:
            nonlocal started
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            # Read outside a route (no handler saw it): answer here, unless a response began.
            if started:
                raise
            await too_large(scope, receive, send)


def _content_length(scope: Scope) -> int:
    """The declared body length; 0 when absent or unreadable (the bytes are counted anyway)."""
    try:
        return int(Headers(scope=scope).get("content-length", "0"))
    except ValueError:
        return 0
