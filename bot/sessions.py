"""Sign-in state, without a web framework: accounts and their roles, sessions that expire, and
a throttle on failed logins.

- `Accounts`: who may sign in, from the settings: an optional viewer login for the chat
  (`BOT_UI_USER`/`BOT_UI_PASSWORD`) and an optional admin login for the documents page
  (`BOT_ADMIN_USER`/`BOT_ADMIN_PASSWORD`). With no login and no API key configured at all,
  the server is `open`: a single-user set-up where everyone is an admin.
- `SessionStore`: random tokens, each naming a user and a role, forgotten after
  `BOT_SESSION_MINUTES` (or at logout, or when the server restarts).
- `LoginThrottle`: after `MAX_FAILURES` wrong passwords from one client within `WINDOW_S`
  seconds, that client is refused for `LOCKOUT_S` seconds, right password or not.

Cookies, pages and routes are `bot.auth`'s business; this module is plain logic with an
injectable clock, so the tests can move time.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.config import Settings
from bot.errors import ConfigError

Role = Literal["viewer", "admin"]
VIEWER: Role = "viewer"
ADMIN: Role = "admin"

#: Wrong passwords one client may send within WINDOW_S seconds before it is locked out.
MAX_FAILURES = 5
WINDOW_S = 60.0
LOCKOUT_S = 300.0
#: Most sessions and throttled clients remembered; the oldest are forgotten beyond this.
MAX_ENTRIES = 10_000

Clock = Callable[[], float]


@dataclass(frozen=True)
class Accounts:
    """The logins the settings configure, and whether the server is open to everyone."""

    viewer: tuple[str, str] | None = None
    admin: tuple[str, str] | None = None
    api_key: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Accounts:
        """Raises ConfigError for a user without a password or the other way round."""
        pairs = {
            "UI": (settings.ui_user, settings.ui_password),
            "ADMIN": (settings.admin_user, settings.admin_password),
        }
        for name, (user, password) in pairs.items():
            if bool(user) != bool(password):
                raise ConfigError(
                    f"Set both BOT_{name}_USER and BOT_{name}_PASSWORD to turn that login on, "
                    "or neither to leave it off."
                )
        return cls(
            viewer=pairs["UI"] if settings.ui_user else None,
            admin=pairs["ADMIN"] if settings.admin_user else None,
            api_key=settings.api_key,
        )

    @property
    def open(self) -> bool:
        """Nothing is configured: a local, single-user set-up in which everyone is an admin."""
        return not (self.viewer or self.admin or self.api_key)

    def role_for(self, user: str, password: str) -> Role | None:
        """The role these credentials sign in as, or None. Compared in constant time."""
        for role, login in ((ADMIN, self.admin), (VIEWER, self.viewer)):
            if login is not None and _same(user, login[0]) & _same(password, login[1]):
                return role
        return None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


@dataclass(frozen=True)
class Session:
    user: str
    role: Role
    expires: float


class SessionStore:
    """Signed-in sessions by token; each lasts `lifetime_s` from its login."""

    def __init__(self, lifetime_s: float, clock: Clock = time.monotonic) -> None:
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()  # Gradio callbacks check sessions from worker threads

    def start(self, user: str, role: Role) -> str:
        """A new session's token."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            expired = [t for t, s in self._sessions.items() if s.expires <= now]
            for old in expired:
                del self._sessions[old]
            while len(self._sessions) >= MAX_ENTRIES:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[token] = Session(user, role, now + self.lifetime_s)
        return token

    def get(self, token: str | None) -> Session | None:
        """The session of `token`, if it exists and has not expired."""
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is not None and session.expires <= self._clock():
                del self._sessions[token]
                return None
            return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)


class LoginThrottle:
    """Counts failed logins per client and locks out a client that fails too often."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Whole seconds until `client` may try again; 0 when it may now."""
        with self._lock:
            wait = self._locked_until.get(client, 0.0) - self._clock()
            if wait <= 0:
                self._locked_until.pop(client, None)
                return 0
            return math.ceil(wait)

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            recent = self._failures.pop(client, deque())
            recent.append(now)
            while recent and recent[0] <= now - WINDOW_S:
                recent.popleft()
            if len(recent) >= MAX_FAILURES:
                self._locked_until[client] = now + LOCKOUT_S
            else:
                self._failures[client] = recent  # re-inserted: the dict stays oldest-first
            for table in (self._failures, self._locked_until):
                while len(table) > MAX_ENTRIES:
                    del table[next(iter(table))]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
