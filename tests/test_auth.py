"""Who may change documents and read feedback, tested the way an attacker would try.

In process, around a real `Service` whose index is real and whose answers are canned
(`tests.helpers.CannedBot`): with BOT_API_KEY set, every Gradio route of every mounted app
is called by name (`/gradio_api/call/<fn>`, `/run/<fn>`, `/queue/join` by index, an upload
and then its callback, `/gradio_api/file=` of the feedback log), and afterwards the index
and the feedback log are compared with what they were, and every response is searched for
the feedback's text. The same attack signed in as an admin does change documents and read
feedback, which shows it reaches the handlers. Then the login itself: throttled per client,
sessions that expire, cookies Secure over HTTPS (behind a proxy only when it is trusted).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.admin_ui import FEEDBACK_FILE
from bot.auth import COOKIE
from bot.config import Settings
from bot.embeddings import Embedder
from bot.index import Index
from bot.server import create_app
from bot.service import Service
from bot.sessions import LOCKOUT_S, MAX_FAILURES, SessionStore

from .helpers import CannedBot, FakeService

KEY = "test-key-0123456789"
EDITOR = {"username": "editor", "password": "edit-pw-12345"}
READER = {"username": "reader", "password": "read-pw-12345"}
SECRET = "SECRET-FEEDBACK-7f3a"
VICTIM = b"# Harbour tunnel\n\nThe Valdoria harbour tunnel opened on Friday after ten years.\n"
EVIL = b"# Harbour tunnel\n\nThe tunnel was closed for ever, the attacker says.\n"
#: The handlers of the documents page: tried by name on every app, in case one leaks there.
ADMIN_HANDLERS = (
    "upload",
    "remove_document",
    "refresh_view",
    "show",
    "export_feedback",
    "add_now",
    "watch_feed",
    "unwatch_feed",
    "refresh_feeds",
    "show_feeds",
)
APPS = ("", "/embed", "/admin")
EVENT_SECONDS = 20


@pytest.fixture
def service(settings: Settings, embedder: Embedder) -> Iterator[Service]:
    """A real index holding one document the key holder added, and feedback with a secret."""
    index = Index(settings, embedder)
    service = Service(settings, CannedBot(index))  # type: ignore[arg-type]
    service.upload("victim.md", VICTIM)
    service.record_feedback(f"{SECRET}: who opened it?", {"text": "x"}, -1, [], comment=SECRET)
    yield service
    index.close()


def client_for(service: Service, **settings: Any) -> TestClient:
    config = Settings.from_env({}, data_dir=service.settings.data_dir, **settings)
    app = create_app(config, service)
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


def stored(service: Service) -> tuple[list[tuple[str, str]], bytes]:
    """The documents (id and content hash) and the feedback log, as they are now."""
    documents = sorted((d.doc_id, d.content_hash) for d in service.documents())
    return documents, service.feedback_path.read_bytes()


def sign_in(client: TestClient, login: dict[str, str], **headers: str) -> httpx.Response:
    return client.post("/login", data={**login, "next": "/admin/"}, headers=headers)


# --- the attack --------------------------------------------------------------------------------
def read_sse(client: TestClient, url: str, until: set[str], params: Any = None) -> str:
    """A Gradio event stream's text, read until all of `until` (event ids, or '*' for the
    first complete/error event) have finished or EVENT_SECONDS have passed."""
    text, deadline, last = [], time.monotonic() + EVENT_SECONDS, False
    with client.stream("GET", url, params=params) as response:
        if response.status_code != 200:
            return response.read().decode(errors="replace")
        for line in response.iter_lines():
            text.append(line)
            if last and line.startswith("data: "):
                break  # the data of a call's complete or error event
            last = line in ("event: complete", "event: error") and "*" in until
            if line.startswith("data: ") and '"process_completed"' in line:
                until.discard(json.loads(line[6:]).get("event_id", ""))
                if not until:
                    break
            if time.monotonic() > deadline:
                break
    return "\n".join(text)


def attack(client: TestClient, data_dir: Path) -> list[tuple[str, int, str]]:
    """Every Gradio route of every app, by name and by index, with data that would add a
    document, remove the victim or export feedback; (request, status, body) of each."""
    seen: list[tuple[str, int, str]] = []

    def note(label: str, response: httpx.Response, body: str | None = None) -> httpx.Response:
        seen.append((label, response.status_code, response.text if body is None else body))
        return response

    for app in APPS:
        config = note(f"GET {app}/config", client.get(f"{app}/config"))
        note(f"GET {app}/gradio_api/info", client.get(f"{app}/gradio_api/info"))
        dependencies = config.json().get("dependencies", []) if config.status_code == 200 else []
        names = {d["api_name"] for d in dependencies if d.get("api_name")} | set(ADMIN_HANDLERS)
        # One file overwrites the victim (same name, same id), one adds a document.
        names_and_text = [("victim.md", EVIL), ("evil.md", EVIL)]
        upload = note(
            f"POST {app}/gradio_api/upload",
            client.post(
                f"{app}/gradio_api/upload",
                files=[("files", name_and_text) for name_and_text in names_and_text],
            ),
        )
        paths = (
            upload.json()
            if upload.status_code == 200
            else [str(data_dir / name) for name, _ in names_and_text]
        )
        files = [
            {"path": p, "orig_name": Path(p).name, "meta": {"_type": "gradio.FileData"}}
            for p in paths
        ]
        guesses: list[list[Any]] = [[files], ["victim"], []]
        for name in sorted(names):
            for data in guesses:
                run = client.post(f"{app}/gradio_api/run/{name}", json={"data": data})
                note(f"POST {app}/gradio_api/run/{name}", run)
                call = note(
                    f"POST {app}/gradio_api/call/{name}",
                    client.post(f"{app}/gradio_api/call/{name}", json={"data": data}),
                )
                if call.status_code == 200:
                    url = f"{app}/gradio_api/call/{name}/{call.json()['event_id']}"
                    note(f"GET {url}", call, read_sse(client, url, {"*"}))
        # One event at a time in one session, as a page would: an upload's output (the
        # removal choices) is there for the removal that follows it.
        for fn_index in range(max(len(dependencies), len(ADMIN_HANDLERS))):
            for data in guesses:
                body = {"data": data, "fn_index": fn_index, "session_hash": "attacker"}
                label = f"{app}/gradio_api/queue/join #{fn_index}"
                join = note(f"POST {label}", client.post(f"{app}/gradio_api/queue/join", json=body))
                if join.status_code == 200:
                    url, session = f"{app}/gradio_api/queue/data", {"session_hash": "attacker"}
                    events = {join.json()["event_id"]}
                    note(f"GET {label}", join, read_sse(client, url, events, params=session))
        for target in (data_dir / "feedback.jsonl", data_dir):
            note(f"GET {app}/gradio_api/file=", client.get(f"{app}/gradio_api/file={target}"))
    note("GET admin download", client.get(f"/admin/{FEEDBACK_FILE}"))
    note("GET /api/feedback/cases", client.get("/api/feedback/cases"))
    note("DELETE /api/documents", client.delete("/api/documents/victim"))
    note("POST /api/documents", client.post("/api/documents", files={"file": ("evil.md", EVIL)}))
    return seen


def assert_nothing_changed_or_leaked(
    service: Service, before: Any, seen: list[tuple[str, int, str]]
) -> None:
    assert stored(service) == before
    assert not [label for label, _status, body in seen if SECRET in body]
    assert not [(label, status) for label, status, _body in seen if status >= 500]


@pytest.mark.parametrize(
    ("config", "login"),
    [
        ({"api_key": KEY}, None),  # the portal set-up of issue 11: no admin login at all
        ({"api_key": KEY, "admin_user": EDITOR["username"], "admin_password": "x" * 12}, None),
        (
            {
                "api_key": KEY,
                "ui_user": READER["username"],
                "ui_password": READER["password"],
                "admin_user": EDITOR["username"],
                "admin_password": EDITOR["password"],
            },
            READER,  # signed in, but as a viewer
        ),
    ],
    ids=["key-only", "admin-not-signed-in", "viewer-signed-in"],
)
def test_without_admin_rights_no_route_changes_documents_or_reveals_feedback(
    service: Service, config: dict[str, str], login: dict[str, str] | None
) -> None:
    before = stored(service)
    with client_for(service, **config) as client:
        if login:
            assert sign_in(client, login).status_code == 303
        seen = attack(client, service.settings.data_dir)
    assert_nothing_changed_or_leaked(service, before, seen)
    assert len(seen) > 100


def test_the_same_attack_signed_in_as_an_admin_does_both(service: Service) -> None:
    """The attack reaches the handlers: with admin rights it adds, removes and exports."""
    settings = {"api_key": KEY, "admin_user": EDITOR["username"], "admin_password": "edit-pw-12345"}
    with client_for(service, **settings) as client:
        assert sign_in(client, EDITOR).status_code == 303
        seen = attack(client, service.settings.data_dir)
    ids = {d.doc_id for d in service.documents()}
    assert "evil" in ids and "victim" not in ids
    assert any(SECRET in body for label, _status, body in seen if "admin download" in label)


def test_an_admin_adds_and_removes_through_the_documents_page(service: Service) -> None:
    settings = {"api_key": KEY, "admin_user": "editor", "admin_password": "edit-pw-12345"}
    with client_for(service, **settings) as client:
        assert client.get("/admin/").headers["location"] == "../login?next=/admin/"
        assert client.get(f"/admin/{FEEDBACK_FILE}").status_code == 401
        signed_in = sign_in(client, EDITOR)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "admin/"
        assert client.get("/admin/").status_code == 200
        [path] = client.post("/admin/gradio_api/upload", files={"files": ("new.md", EVIL)}).json()
        file = {"path": path, "orig_name": "new.md", "meta": {"_type": "gradio.FileData"}}
        call = client.post("/admin/gradio_api/call/upload", json={"data": [[file]]})
        url = f"/admin/gradio_api/call/upload/{call.json()['event_id']}"
        assert "new.md: 1 added" in read_sse(client, url, {"*"})
        # The removal in the session whose page listed the documents, as in the browser.
        names = [d["api_name"] for d in client.get("/admin/config").json()["dependencies"]]
        for name, data in (("show", []), ("remove_document", ["victim"])):
            body = {"data": data, "fn_index": names.index(name), "session_hash": "page"}
            join = client.post("/admin/gradio_api/queue/join", json=body)
            events = {join.json()["event_id"]}
            params = {"session_hash": "page"}
            text = read_sse(client, "/admin/gradio_api/queue/data", events, params=params)
        assert "Removed victim" in text
        download = client.get(f"/admin/{FEEDBACK_FILE}")
        assert download.status_code == 200 and SECRET in download.text
        assert "attachment" in download.headers["content-disposition"]
    assert sorted(d.doc_id for d in service.documents()) == ["new"]


def test_admin_api_routes_need_the_key_once_a_login_exists(tmp_path: Path) -> None:
    """Without BOT_API_KEY, a server with a web login keeps the API's admin routes shut
    (anyone could call them around the login); a server with nothing configured is open."""
    service = FakeService()
    config = Settings.from_env(
        {}, data_dir=tmp_path / "data", admin_user="editor", admin_password="edit-pw-12345"
    )
    client = TestClient(create_app(config, service, with_ui=False), raise_server_exceptions=False)
    for method, path, kwargs in [
        ("POST", "/api/documents", {"files": {"file": ("evil.md", EVIL)}}),
        ("DELETE", "/api/documents/victim", {}),
        ("GET", "/api/feedback/cases", {}),
    ]:
        response = client.request(method, path, **kwargs)
        assert response.status_code == 403, path
        assert "BOT_API_KEY" in response.json()["error"]
    assert service.uploads == [] and service.removed == []
    assert client.post("/api/ask", json={"question": "Who?"}).status_code != 403
    open_config = Settings.from_env({}, data_dir=tmp_path / "data")
    open_client = TestClient(create_app(open_config, service, with_ui=False))
    assert open_client.get("/api/feedback/cases").status_code == 200


# --- the login ---------------------------------------------------------------------------------
ADMIN_ONLY = {"admin_user": EDITOR["username"], "admin_password": EDITOR["password"]}


def fake_client(tmp_path: Path, base_url: str = "http://testserver", **settings: Any) -> TestClient:
    config = Settings.from_env({}, data_dir=tmp_path / "data", **{**ADMIN_ONLY, **settings})
    app = create_app(config, FakeService())  # type: ignore[arg-type]
    return TestClient(app, base_url=base_url, follow_redirects=False)


def test_failed_logins_are_throttled_per_client(tmp_path: Path) -> None:
    client = fake_client(tmp_path, forwarded_allow_ips="*")
    wrong = {**EDITOR, "password": "guess"}
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    for _ in range(MAX_FAILURES - 1):
        assert sign_in(client, wrong, **attacker).status_code == 401
    locked = sign_in(client, wrong, **attacker)
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == str(int(LOCKOUT_S))
    assert "Too many failed sign-ins" in locked.text
    # Locked out even with the right password; another client is not.
    assert sign_in(client, EDITOR, **attacker).status_code == 429
    assert sign_in(client, EDITOR, **{"X-Forwarded-For": "198.51.100.2"}).status_code == 303


def test_an_untrusted_forwarded_for_does_not_escape_the_lockout(tmp_path: Path) -> None:
    client = fake_client(tmp_path)  # no BOT_FORWARDED_ALLOW_IPS: the header is ignored
    wrong = {**EDITOR, "password": "guess"}
    for n in range(MAX_FAILURES):
        sign_in(client, wrong, **{"X-Forwarded-For": f"203.0.113.{n}"})
    assert sign_in(client, EDITOR, **{"X-Forwarded-For": "198.51.100.2"}).status_code == 429


def test_sessions_expire_after_bot_session_minutes(tmp_path: Path) -> None:
    client = fake_client(tmp_path, session_minutes=30)
    now = [1000.0]
    client.app.state.auth.sessions = SessionStore(30 * 60, clock=lambda: now[0])  # type: ignore[attr-defined]
    signed_in = sign_in(client, EDITOR)
    assert f"Max-Age={30 * 60}" in signed_in.headers["set-cookie"]
    assert client.get("/admin/config").status_code == 200
    now[0] += 30 * 60 - 1
    assert client.get("/admin/config").status_code == 200
    now[0] += 1
    expired = client.get("/admin/config")
    assert expired.status_code == 401 and "Sign in as an admin" in expired.json()["error"]
    assert client.get("/admin/").headers["location"].startswith("../login")


def test_logout_ends_the_session(tmp_path: Path) -> None:
    client = fake_client(tmp_path)
    sign_in(client, EDITOR)
    token = client.cookies[COOKIE]
    out = client.get("/logout")
    assert out.status_code == 303 and out.headers["location"] == "login"
    client.cookies.set(COOKIE, token)  # a copy kept by an attacker is worthless now
    assert client.get("/admin/config").status_code == 401


@pytest.mark.parametrize(
    ("base_url", "headers", "trusted", "secure"),
    [
        ("http://testserver", {}, "", False),
        ("https://testserver", {}, "", True),
        ("http://testserver", {"X-Forwarded-Proto": "https"}, "", False),  # not trusted
        ("http://testserver", {"X-Forwarded-Proto": "https"}, "*", True),
    ],
)
def test_the_session_cookie_is_secure_over_https(
    tmp_path: Path, base_url: str, headers: dict[str, str], trusted: str, secure: bool
) -> None:
    client = fake_client(tmp_path, base_url, forwarded_allow_ips=trusted or None)
    cookie = sign_in(client, EDITOR, **headers).headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert ("; secure" in cookie) is secure


def test_a_viewer_over_https_may_sign_in_inside_a_portal_iframe(tmp_path: Path) -> None:
    client = fake_client(
        tmp_path, "https://testserver", ui_user=READER["username"], ui_password=READER["password"]
    )
    assert client.get("/embed/").headers["location"] == "../embed/login?next=/embed/"
    response = client.post("/embed/login", data={**READER, "next": "/embed/"})
    assert response.status_code == 303 and response.headers["location"] == "../embed/"
    cookie = response.headers["set-cookie"].lower()
    assert "samesite=none" in cookie and "; secure" in cookie
    assert client.get("/embed/config").status_code == 200
    assert client.get("/admin/config").status_code == 401  # a viewer is no admin


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil", "x"])
def test_login_never_redirects_to_another_site(tmp_path: Path, target: str) -> None:
    client = fake_client(tmp_path)
    response = client.post("/login", data={**EDITOR, "next": target})
    assert response.headers["location"] == "./"
