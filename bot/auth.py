"""Who may open which page: the login page, the session cookie, and the guard in front of each
mounted Gradio app.

Roles (see the README's "Roles"): everyone may ask and rate answers in the chat (`/`) and
the embed page (`/embed`), behind the viewer login when `BOT_UI_USER` is set; only an admin
(`BOT_ADMIN_USER`) may open the documents page (`/admin/`), whose Gradio app holds every
handler that changes documents or exports feedback. With nothing configured at all the server
is open and everyone is an admin (`bot.sessions.Accounts.open`). On `/api` and `/v1` the API
key decides (`bot.api_deps`).

- `AuthGate` (one per app, on `app.state.auth`): the accounts, the sessions and the login
  throttle, and `allows(cookies, role)`, the one check every layer asks.
- `router`: `GET/POST /login` (also at `/embed/login`, which the embed's frame policy
  covers) and `/logout`. A login sets `newsbot-session`: HttpOnly, lasting
  BOT_SESSION_MINUTES, `Secure` when the request came over HTTPS (behind a proxy only when
  BOT_FORWARDED_ALLOW_IPS trusts it, see `bot.server`), and `SameSite=None` only for a viewer
  over HTTPS, so that the chat can sign in inside a portal's iframe. Five wrong passwords
  from one client within a minute lock it out for five minutes (429, `bot.sessions`).
- `UIGuard`: wraps a mounted Gradio app so that no request reaches Gradio without the role
  (a page is redirected to the login, anything else gets a JSON 401). Gradio's own
  `auth_dependency` (`gradio_user`) and a check inside each admin callback (`bot.admin_ui`)
  stand behind it; hiding a button protects nothing, since Gradio runs handlers by name.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.config import Settings
from bot.sessions import ADMIN, VIEWER, Accounts, LoginThrottle, Role, Session, SessionStore

COOKIE = "newsbot-session"
LOGIN_PATHS = ("/login", "/embed/login")
LOGOUT_PATH = "/logout"
MAX_NEXT_CHARS = 300


class AuthGate:
    """Accounts, sessions and the login throttle of one app."""

    def __init__(self, settings: Settings, sessions: SessionStore | None = None) -> None:
        self.accounts = Accounts.from_settings(settings)
        self.sessions = sessions or SessionStore(settings.session_minutes * 60)
        self.throttle = LoginThrottle()

    def session(self, cookies: Mapping[str, str]) -> Session | None:
        return self.sessions.get(cookies.get(COOKIE))

    def allows(self, cookies: Mapping[str, str], role: Role) -> bool:
        """Whether a request with these cookies may act as `role`."""
        if self.accounts.open or (role == VIEWER and self.accounts.viewer is None):
            return True
        session = self.session(cookies)
        return session is not None and session.role in (role, ADMIN)

    def gradio_user(self, role: Role) -> Callable[[Request], str | None]:
        """Gradio's `auth_dependency` for an app that needs `role`: the signed-in user's name,
        or None (Gradio then answers 401 on every route of that app)."""

        def user(request: Request) -> str | None:
            if not self.allows(request.cookies, role):
                return None
            session = self.session(request.cookies)
            return session.user if session else role

        return user


def gate_of(connection: HTTPConnection) -> AuthGate:
    return connection.app.state.auth


# --- the login page ----------------------------------------------------------------------------
router = APIRouter(include_in_schema=False)


def app_path(scope: Scope) -> str:
    """The request's path from the app's root (without a proxy's or a mount's prefix)."""
    root = scope.get("app_root_path", scope.get("root_path", ""))
    path = scope["path"]
    return path[len(root) :] if root and path.startswith(root) else path


def relative_url(from_path: str, to: str) -> str:
    """`to` (a path from the app's root) relative to the page at `from_path`, so redirects
    stay right behind a proxy that serves the app under a prefix it does not announce."""
    return "../" * (from_path.count("/") - 1) + to.lstrip("/") or "./"


def safe_next(target: str) -> str:
    """Where to go after login: a path on this server, never another site."""
    ok = (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and len(target) <= MAX_NEXT_CHARS
    )
    return target if ok else "/"


def login_redirect(scope: Scope) -> RedirectResponse:
    """To the login page (the embed's own when the request is under /embed), back after."""
    here = app_path(scope)
    login = LOGIN_PATHS[1] if here.startswith("/embed/") else LOGIN_PATHS[0]
    query = f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
    target = f"{login}?next={quote(safe_next(here + query), safe='/')}"
    return RedirectResponse(relative_url(here, target), status_code=303)


def _page(message: str = "", next_path: str = "/", status: int = 200) -> HTMLResponse:
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · News chat</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 22rem; margin: 4rem auto; padding: 0 1rem; }}
label {{ display: block; margin: 0.8rem 0 0.2rem; }}
input {{ width: 100%; padding: 0.4rem; box-sizing: border-box; }}
button {{ margin-top: 1rem; padding: 0.5rem 1.2rem; }}
.error {{ color: #b91c1c; }}
</style></head>
<body><h1>Sign in</h1>{note}
<form method="post" action="login">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></body></html>"""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _too_many(wait: int, next_path: str) -> HTMLResponse:
    response = _page(
        f"Too many failed sign-ins from your address. Try again in {wait} seconds.",
        next_path,
        status=429,
    )
    response.headers["Retry-After"] = str(wait)
    return response


def login_page(next: str = "/") -> HTMLResponse:
    return _page(next_path=safe_next(next))


def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the credentials (throttled per client) and start a session in a cookie."""
    gate = gate_of(request)
    next_path = safe_next(next)
    client = request.client.host if request.client else "unknown"
    wait = gate.throttle.retry_after(client)
    if wait:
        return _too_many(wait, next_path)
    role = gate.accounts.role_for(username, password)
    if role is None:
        gate.throttle.failed(client)
        wait = gate.throttle.retry_after(client)
        if wait:
            return _too_many(wait, next_path)
        return _page("Wrong user name or password.", next_path, status=401)
    gate.throttle.succeeded(client)
    token = gate.sessions.start(username, role)
    response = RedirectResponse(relative_url(app_path(request.scope), next_path), 303)
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(gate.sessions.lifetime_s),
        path="/",
        httponly=True,
        secure=secure,
        # A viewer may sign in inside a portal's iframe, which needs SameSite=None (and so
        # HTTPS); an admin never needs a cross-site request to carry the session.
        samesite="none" if secure and role == VIEWER else "lax",
    )
    return response


for _path in LOGIN_PATHS:
    router.add_api_route(_path, login_page, methods=["GET"])
    router.add_api_route(_path, login, methods=["POST"])


@router.api_route(LOGOUT_PATH, methods=["GET", "POST"])
def logout(request: Request) -> Response:
    gate_of(request).sessions.end(request.cookies.get(COOKIE))
    response = RedirectResponse(relative_url(app_path(request.scope), LOGIN_PATHS[0]), 303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --- the guard in front of a mounted Gradio app ------------------------------------------------
class UIGuard:
    """Lets a request through to the wrapped Gradio app only with `role`: a page request
    without it is sent to the login page, anything else gets a JSON 401."""

    def __init__(self, app: ASGIApp, gate: AuthGate, role: Role) -> None:
        self.app = app
        self.gate = gate
        self.role = role

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        if self.gate.allows(connection.cookies, self.role):
            await self.app(scope, receive, send)
            return
        response: Any
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["method"] in ("GET", "HEAD") and _is_page(scope):
            response = login_redirect(scope)
        else:
            who = " as an admin" if self.role == ADMIN else ""
            response = JSONResponse({"error": f"Sign in{who} at /login first."}, status_code=401)
        await response(scope, receive, send)


def _is_page(scope: Scope) -> bool:
    """The request is for a mounted app's page (its root), not for one of its routes."""
    mount = scope.get("root_path", "")
    return scope["path"] in (mount, mount + "/")
