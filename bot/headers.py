"""Security headers on every response: the Content-Security-Policy, framing, and nosniff.

Pages (the chat UI, `/embed`, `/admin`, the login page and the API docs) get a policy that
allows only this origin (`default-src 'self'`) plus what Gradio's frontend needs to run:
inline `<script>` blocks (Gradio writes the page's config into one on every request, so
neither a hash nor a nonce fits without rewriting its HTML), `eval` (Gradio compiles its
templates and `js_on_load` handlers at run time), inline styles and `data:` images (its
icons); ReDoc at `/redoc` adds a `blob:` worker. No other host is allowed for anything. Only `/embed` may be framed by other sites, as
`BOT_FRAME_ANCESTORS` allows; everything else only by our own origin (clickjacking
protection). API responses are data, never pages: `default-src 'none'`.

Every response gets `X-Content-Type-Options: nosniff`, so an uploaded or echoed file is never
run as a script or page because a browser guessed its type. CORS is `bot.server`'s business.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

EMBED_PATH = "/embed"
API_PREFIXES = ("/api/", "/v1/")

#: What Gradio's frontend needs beyond `default-src 'self'` (checked in headless Chromium by
#: tests/test_browser.py, which fails on any CSP violation).
PAGE_POLICY = (
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "worker-src 'self' blob:",  # ReDoc's search runs in a worker made from a blob
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)
API_POLICY = ("default-src 'none'",)


def content_security_policy(path: str, embed_ancestors: str) -> str:
    """The CSP for a response to `path`."""
    api = path.startswith(API_PREFIXES)
    embed = path == EMBED_PATH or path.startswith(EMBED_PATH + "/")
    ancestors = embed_ancestors if embed else "'self'"
    return "; ".join([*(API_POLICY if api else PAGE_POLICY), f"frame-ancestors {ancestors}"])


class SecurityHeadersMiddleware:
    """Sets the CSP, X-Frame-Options (all but `/embed`) and nosniff on every HTTP response,
    replacing any that an inner app (Gradio) set."""

    def __init__(self, app: ASGIApp, embed_ancestors: str) -> None:
        self.app = app
        self.embed_ancestors = embed_ancestors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        policy = content_security_policy(path, self.embed_ancestors).encode()
        embed = path == EMBED_PATH or path.startswith(EMBED_PATH + "/")
        ours = {b"content-security-policy", b"x-frame-options", b"x-content-type-options"}

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in ours]
                headers.append((b"content-security-policy", policy))
                headers.append((b"x-content-type-options", b"nosniff"))
                if not embed:
                    headers.append((b"x-frame-options", b"SAMEORIGIN"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
