"""Gradio's own routes answer bad requests with a 4xx instead of a 500.

Gradio looks names up without checking them: `POST /gradio_api/call/v2/<unknown>` and
`POST /gradio_api/component_server` with an unknown component raise `KeyError`, and
`GET /gradio_api/proxy=/etc/passwd%00.txt` raises httpx's `InvalidURL`, and
`/gradio_api/call/<unknown>` its own `FnIndexInferError`. Its error middleware
sends a plain 500, re-raises, and the connection is dropped. `UIErrorsMiddleware` sits around
the mounted UI, holds back a 500 until it knows why, and answers a request that failed on a
lookup with a JSON 404 and one that failed on a bad value with a JSON 400. Any other failure
keeps Gradio's 500: that is a fault of the server, not of the request. Gradio's synchronous
call route (`/gradio_api/run/<fn>`, used for events outside the queue) catches every failure
itself and answers 500 with the error's message, a missing input as much as a user's mistake
in a callback; those become a 400 with the same message. Gradio itself is not patched. The JSON API (`/api`, `/v1`) has its own handlers (`bot.api_errors`) and is left
alone.
"""

from __future__ import annotations

import json
import logging

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

#: Paths whose errors `bot.api_errors` already answers.
API_PREFIXES = ("/api/", "/v1/")
NOT_FOUND = "Not found: the web UI has no such function, component or session. Reload the page."
BAD_REQUEST = "The web UI could not use this request (a malformed value). Reload the page."


def _error_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(a name that is not there, a value that cannot be used), as Gradio raises them."""
    import httpx  # Gradio's proxy route parses URLs with it
    from gradio.route_utils import FnIndexInferError  # `/call/<unknown name>`

    return (LookupError, FnIndexInferError), (ValueError, TypeError, httpx.InvalidURL)


class UIErrorsMiddleware:
    """A JSON 404 or 400, not a 500, for requests Gradio's routes fail to parse."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.not_found, self.bad_value = _error_types()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []  # a 500 response, kept until we know what caused it
        started = False

        async def send_or_hold(message: Message) -> None:
            nonlocal started
            is_start = message["type"] == "http.response.start"
            if held or (is_start and message["status"] >= 500):
                held.append(message)
                return
            started = started or is_start
            await send(message)

        try:
            await self.app(scope, receive, send_or_hold)
        except Exception as exc:
            if started or not isinstance(exc, self.not_found + self.bad_value):
                for message in held:
                    await send(message)
                raise
            lookup = isinstance(exc, self.not_found)
            log.info(
                "%s %s: %s from the web UI, answered %s",
                scope["method"],
                scope["path"],
                type(exc).__name__,
                404 if lookup else 400,
            )
            body = {"error": NOT_FOUND if lookup else BAD_REQUEST}
            await JSONResponse(body, status_code=404 if lookup else 400)(scope, receive, send)
            return
        if held and _is_call_route(scope["path"]):
            # Gradio's synchronous route answers every failed call with a 500; the handlers'
            # own faults are logged and shown as a generic message (bot.ui.shown_errors).
            error = _error_message(held) or BAD_REQUEST
            await JSONResponse({"error": error}, status_code=400)(scope, receive, send)
            return
        for message in held:
            await send(message)


def _is_call_route(path: str) -> bool:
    """Gradio's synchronous call routes: `/gradio_api/run/<fn>` and `/gradio_api/api/<fn>`."""
    return any(f"/gradio_api/{route}/" in path for route in ("run", "api"))


def _error_message(held: list[Message]) -> str:
    """The `error` text of a held JSON response, or ""."""
    body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return ""
    return error if isinstance(error, str) else ""
