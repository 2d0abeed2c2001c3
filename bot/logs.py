"""The server's logs: one JSON object a line, each tied to the request it belongs to, and no
secret in any of them.

`configure_logging()` sends every logger (ours, uvicorn's, Gradio's, warnings) to one
handler on stderr. Each line is a JSON object (`python-json-logger`) with `time`, `level`,
`logger` and `message`, plus `request_id` when it was written while a request was being
served, and any fields passed as `extra`. `BOT_LOG_FORMAT=text` gives plain lines for a
terminal instead. `RequestLogMiddleware` gives each HTTP request an id (the client's
`X-Request-ID` when it is a sane token, else a new one), returns it in `X-Request-ID` and
writes one `request` line when the response ends: method, path without the query string,
status, duration and client address. Uvicorn's own access log is off, since this line
replaces it.

Secrets never reach a line. Request headers, bodies and query strings are not logged at all.
Every line is then redacted by `Redactor`, once the record is formatted, exception text
included. It masks the configured secrets' values (API keys, passwords), bearer and basic
credentials, `Authorization`/`Cookie` header values, session cookies and `password=`-like
pairs. This module leaves out what is logged, which is each caller's business, and metrics
(`bot.monitoring`).
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import SECRET_FIELDS, Settings

#: The id of the request being served (empty outside a request). Worker threads started for
#: a request inherit it, so lines written while answering carry it too.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

MASK = "****"
#: Shorter values would mask ordinary words; secrets that short are refused elsewhere anyway.
MIN_SECRET_CHARS = 4
_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + MASK),
    (
        re.compile(
            r"(?i)\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key)"
            r"(['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n]+"
        ),
        r"\1\2" + MASK,
    ),
    (re.compile(r"(?i)\b(newsbot-session|access-token[\w-]*)=[^;\s'\"]+"), r"\1=" + MASK),
    (
        re.compile(
            r"(?i)\b(api[_-]?key|password|passwd|secret|token)(['\"]?\s*[:=]\s*['\"]?)"
            r"[^\s'\"&,;]+"
        ),
        r"\1\2" + MASK,
    ),
]

access_log = logging.getLogger("bot.access")


class Redactor:
    """Masks secrets in a piece of text: the given values, and credentials by their shape."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self.values = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len)[::-1]

    @classmethod
    def for_settings(cls, settings: Settings) -> Redactor:
        return cls(str(getattr(settings, name)) for name in SECRET_FIELDS)

    def __call__(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id:
            record.request_id = request_id
        return True


class RedactingJsonFormatter(JsonFormatter):
    """python-json-logger's formatter, with every string of the finished record redacted."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
        )
        self.redact = redact

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # uvicorn adds `color_message`, the message again with terminal colour codes.
        return {k: self._clean(v) for k, v in log_data.items() if k != "color_message"}

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        return value


class RedactingTextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Route every logger to one redacting handler (JSON or text, per BOT_LOG_FORMAT)."""
    redact = Redactor.for_settings(settings)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_RequestId())
    handler.setFormatter(
        RedactingJsonFormatter(redact)
        if settings.log_format == "json"
        else RedactingTextFormatter(redact)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "gradio"):
        # Their own handlers (if any were set up) would write plain, unredacted lines.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for name in ("httpx", "httpx2", "httpcore", "chromadb", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return handler


class RequestLogMiddleware:
    """An id for each request (in `X-Request-ID` and on every line logged while serving it)
    and one `request` line when its response ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500  # if the app fails before it starts a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            client = scope.get("client")
            access_log.info(
                "request",
                extra={
                    "method": scope.get("method", ""),
                    "path": scope.get("path", ""),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": client[0] if client else "",
                },
            )
            REQUEST_ID.reset(token)


def _incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else ""
    return ""
