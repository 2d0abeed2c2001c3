"""Accounts and roles from the settings, sessions that expire, and the failed-login throttle,
with a clock the tests move by hand."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.sessions import (
    ADMIN,
    LOCKOUT_S,
    MAX_FAILURES,
    VIEWER,
    WINDOW_S,
    Accounts,
    LoginThrottle,
    SessionStore,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def accounts(**settings: str) -> Accounts:
    return Accounts.from_settings(Settings.from_env({}, **settings))


def test_each_login_signs_in_as_its_role() -> None:
    both = accounts(
        ui_user="reader", ui_password="read-pw", admin_user="editor", admin_password="edit-pw"
    )
    assert both.role_for("reader", "read-pw") == VIEWER
    assert both.role_for("editor", "edit-pw") == ADMIN
    for user, password in [("reader", "edit-pw"), ("editor", "read-pw"), ("", ""), ("x", "y")]:
        assert both.role_for(user, password) is None
    assert both.role_for("editor\ud800", "edit-pw") is None  # undecodable input is just wrong


@pytest.mark.parametrize(
    ("settings", "is_open"),
    [
        ({}, True),
        ({"api_key": "k"}, False),
        ({"ui_user": "u", "ui_password": "p"}, False),
        ({"admin_user": "a", "admin_password": "p"}, False),
    ],
)
def test_only_a_server_with_nothing_configured_is_open(
    settings: dict[str, str], is_open: bool
) -> None:
    assert accounts(**settings).open is is_open


@pytest.mark.parametrize(
    ("settings", "names"),
    [({"admin_user": "a"}, "BOT_ADMIN_PASSWORD"), ({"ui_password": "p"}, "BOT_UI_USER")],
)
def test_a_half_configured_login_is_refused(settings: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        accounts(**settings)


def test_sessions_expire_after_their_lifetime() -> None:
    clock = Clock()
    store = SessionStore(lifetime_s=600, clock=clock)
    token = store.start("editor", ADMIN)
    other = store.start("reader", VIEWER)
    assert token != other and len(token) >= 40
    clock.now += 599
    session = store.get(token)
    assert session is not None and (session.user, session.role) == ("editor", ADMIN)
    clock.now += 1
    assert store.get(token) is None
    assert store.get("forged-token") is None and store.get(None) is None


def test_logout_ends_a_session() -> None:
    store = SessionStore(lifetime_s=600, clock=Clock())
    token = store.start("editor", ADMIN)
    store.end(token)
    assert store.get(token) is None


def test_too_many_failures_lock_the_client_out_for_a_while() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(MAX_FAILURES - 1):
        throttle.failed("10.0.0.1")
        assert throttle.retry_after("10.0.0.1") == 0
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == LOCKOUT_S
    assert throttle.retry_after("10.0.0.2") == 0  # per client
    clock.now += LOCKOUT_S - 1
    assert throttle.retry_after("10.0.0.1") == 1
    clock.now += 1
    assert throttle.retry_after("10.0.0.1") == 0


def test_failures_spread_over_more_than_the_window_do_not_lock() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(MAX_FAILURES * 2):
        throttle.failed("10.0.0.1")
        clock.now += WINDOW_S / (MAX_FAILURES - 1) + 0.1
    assert throttle.retry_after("10.0.0.1") == 0


def test_a_success_forgets_earlier_failures() -> None:
    throttle = LoginThrottle(Clock())
    for _ in range(MAX_FAILURES - 1):
        throttle.failed("10.0.0.1")
    throttle.succeeded("10.0.0.1")
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 0
