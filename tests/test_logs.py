"""The server's logs: JSON lines tied to their request, and no secret in any of them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.logs import MASK, Redactor, RequestLogMiddleware, configure_logging

KEY = "sk-live-0123456789abcdef"
PASSWORD = "correct horse battery"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """configure_logging() writing into a string; the root logger put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    configure_logging(
        Settings.from_env({}, api_key=KEY, admin_user="admin", admin_password=PASSWORD), out
    )
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    logging.captureWarnings(False)


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"key is {KEY}", KEY),
        (f"login with {PASSWORD!r} failed", PASSWORD),
        ("Authorization: Bearer abc.DEF-123", "abc.DEF-123"),
        ("headers={'authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ("cookie: newsbot-session=tok123; theme=dark", "tok123"),
        ("set newsbot-session=s3cr3tvalue for /admin", "s3cr3tvalue"),
        ("GET /x?api_key=abcdef&x=1", "abcdef"),
        ('{"password": "hunter22"}', "hunter22"),
    ],
)
def test_the_redactor_masks_secrets_by_value_and_by_shape(text: str, leaked: str) -> None:
    redacted = Redactor([KEY, PASSWORD, "ab"])(text)
    assert leaked not in redacted and MASK in redacted


def test_short_values_and_plain_text_are_left_alone() -> None:
    redact = Redactor(["ab", ""])
    text = "about 120 tokens: abacus, tab, authorized users"
    assert redact(text) == text


def test_lines_are_json_with_the_request_id_and_no_secret(stream: io.StringIO) -> None:
    app = FastAPI()
    log = logging.getLogger("bot.test")

    @app.get("/work")
    def work() -> dict:
        log.info("working with key %s", KEY)
        try:
            raise RuntimeError(f"upstream refused password={PASSWORD}")
        except RuntimeError:
            log.exception("failed")
        return {}

    app.add_middleware(RequestLogMiddleware)
    with TestClient(app) as client:
        response = client.get(
            "/work?token=abc123", headers={"Authorization": f"Bearer {KEY}", "X-Request-ID": "r-1"}
        )
    assert response.headers["x-request-id"] == "r-1"
    text = stream.getvalue()
    assert KEY not in text and PASSWORD not in text and "abc123" not in text
    records = lines(stream)
    working, failed, access = (
        next(r for r in records if r["message"] == m)
        for m in ("working with key ****", "failed", "request")
    )
    assert working["request_id"] == failed["request_id"] == access["request_id"] == "r-1"
    assert working["level"] == "INFO" and working["logger"] == "bot.test" and "time" in working
    assert "RuntimeError" in failed["exc_info"] and MASK in failed["exc_info"]
    assert access["path"] == "/work" and access["status"] == 200 and access["method"] == "GET"
    assert "?" not in json.dumps(access)  # no query string


def test_text_format_is_redacted_too() -> None:
    root = logging.getLogger()
    saved = list(root.handlers)
    out = io.StringIO()
    try:
        configure_logging(Settings.from_env({}, api_key=KEY, log_format="text"), out)
        logging.getLogger("bot.test").warning("the key %s", KEY)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        logging.captureWarnings(False)
    assert "WARNING bot.test: the key ****" in out.getvalue() and KEY not in out.getvalue()
