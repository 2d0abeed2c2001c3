"""The HTTP API, tested against a real server process, plus in-process checks of what a real
service does not produce on demand (failures, a slow stream whose client goes away), of the
exact stream framing and of the body limits.

One `bot serve` process serves the whole session: the project's corpus ingested into a
temporary store, an API key set (so every request also exercises the key check), a portal
allowed to frame /embed, a browser origin allowed by CORS and a 1 MB upload limit. The
in-process tests build the app around `tests.helpers.FakeService`, a stand-in for `Service`.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.api_errors import INTERNAL_ERROR
from bot.chain import Delta
from bot.config import Settings
from bot.errors import BusyError, ConfigError, InvalidQuestionError
from bot.limits import MAX_JSON_BYTES, BodyLimitMiddleware
from bot.openai_api import ChatMessage, split_chat_messages
from bot.procs import child_env, free_port, running_server
from bot.server import create_app
from bot.types import Answer

from .conftest import CORPUS
from .helpers import CANNED_EVENTS, FakeService, canned_answer, pdf_bomb

KEY = "test-key-0123456789"
PORTAL = "https://portal.example.org"
STARTUP_SECONDS = 300

PUTIN_QUESTION = "Who brokered the 2020 ceasefire?"
FOLLOW_UP = "How many peacekeepers has his country deployed there?"
REFUSED_QUESTION = "What is the capital of France?"


@dataclass
class Server:
    url: str
    log: Path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`bot serve` on a free port with the corpus ingested; stopped after the session."""
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    env = child_env(
        BOT_DATA_DIR=str(folder / "data"),
        BOT_CORPUS_DIR=str(CORPUS),
        BOT_API_KEY=KEY,
        BOT_FRAME_ANCESTORS=f"'self' {PORTAL}",
        BOT_CORS_ORIGINS=PORTAL,
        BOT_MAX_UPLOAD_MB="1",
    )
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = folder / "server.log"
    with running_server(command, f"{url}/api/health", log, env, STARTUP_SECONDS):
        yield Server(url, log)


@pytest.fixture(scope="session")
def api(server: Server) -> Iterator[httpx.Client]:
    """A client that sends the API key."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        yield client


def ask(api: httpx.Client, question: str, history: list[dict[str, str]] | None = None) -> Any:
    response = api.post("/api/ask", json={"question": question, "history": history or []})
    assert response.status_code == 200, response.text
    return response.json()


def parse_sse(body: str) -> list[tuple[str, Any]]:
    """(event, data) pairs of a text/event-stream body; `message` when no event is named.
    Comment blocks (keep-alive pings) are skipped."""
    events = []
    for block in body.strip().split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        data = fields.get("data", "")
        events.append(
            (fields.get("event", "message"), data if data == "[DONE]" else json.loads(data))
        )
    return events


# --- answers -------------------------------------------------------------------------------------
@pytest.mark.server
def test_ask_answers_with_a_citation_that_holds_the_answer(api: httpx.Client) -> None:
    answer = ask(api, PUTIN_QUESTION)
    assert "Vladimir Putin" in answer["text"]
    assert not answer["refused"]
    assert answer["question"] == PUTIN_QUESTION
    assert any("Putin" in c["text"] for c in answer["citations"])
    retrieved = {r["passage_id"] for r in answer["retrieved"]}
    assert {c["passage_id"] for c in answer["citations"]} <= retrieved
    assert answer["mode"] == "extractive"
    assert answer["timings_ms"]["total"] > 0


@pytest.mark.server
def test_follow_up_uses_the_history_sent_with_it(api: httpx.Client) -> None:
    first = ask(api, PUTIN_QUESTION)
    history = [
        {"role": "user", "content": PUTIN_QUESTION},
        {"role": "assistant", "content": first["text"]},
    ]
    answer = ask(api, FOLLOW_UP, history)
    assert "2,000" in answer["text"]
    assert "Putin" in answer["standalone_question"]
    assert any("2,000" in c["text"] for c in answer["citations"])


@pytest.mark.server
def test_question_the_articles_cannot_answer_is_refused(api: httpx.Client) -> None:
    answer = ask(api, REFUSED_QUESTION)
    assert answer["refused"] is True
    assert answer["citations"] == []
    assert "couldn't find" in answer["text"]


@pytest.mark.server
def test_sse_stream_deltas_add_up_to_the_final_answer(api: httpx.Client) -> None:
    with api.stream("POST", "/api/ask/stream", json={"question": PUTIN_QUESTION}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(response.read().decode())
    names = [name for name, _ in events]
    assert names[-3:] == ["citations", "answer", "done"]
    assert set(names[:-3]) == {"delta"} and len(names) > 5
    final = events[-2][1]
    assert "".join(data["text"] for name, data in events if name == "delta") == final["text"]
    assert events[-3][1] == final["citations"]
    assert "Vladimir Putin" in final["text"] and final["citations"]


@pytest.mark.server
def test_sse_stream_rejects_bad_input_before_streaming(api: httpx.Client) -> None:
    response = api.post("/api/ask/stream", json={"question": "   "})
    assert response.status_code == 422
    assert "empty" in response.json()["error"]


# --- the OpenAI-compatible endpoint --------------------------------------------------------------
@pytest.fixture(scope="session")
def openai_client(server: Server) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)


@pytest.mark.server
def test_openai_client_gets_an_answer_with_citations(openai_client: Any) -> None:
    completion = openai_client.chat.completions.create(
        model="anything",
        messages=[
            {"role": "system", "content": "You are a pirate."},  # ignored
            {"role": "user", "content": PUTIN_QUESTION},
        ],
    )
    assert "Vladimir Putin" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    citations = completion.model_extra["citations"]
    assert any("Putin" in c["text"] for c in citations)
    assert completion.model_extra["refused"] is False


@pytest.mark.server
def test_openai_client_streams_and_follows_up(openai_client: Any) -> None:
    first = openai_client.chat.completions.create(
        model="newsbot", messages=[{"role": "user", "content": PUTIN_QUESTION}]
    )
    stream = openai_client.chat.completions.create(
        model="newsbot",
        stream=True,
        messages=[
            {"role": "user", "content": PUTIN_QUESTION},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": FOLLOW_UP},
        ],
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    final = chunks[-1]
    assert "2,000" in text
    assert final.choices[0].finish_reason == "stop"
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    assert final.model_extra["text"] == text
    assert any("2,000" in c["text"] for c in final.model_extra["citations"])


@pytest.mark.server
def test_openai_client_lists_the_model_and_needs_the_key(
    server: Server, openai_client: Any
) -> None:
    from openai import AuthenticationError, OpenAI

    assert [m.id for m in openai_client.models.list()] == ["newsbot"]
    wrong = OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(AuthenticationError):
        wrong.chat.completions.create(
            model="newsbot", messages=[{"role": "user", "content": PUTIN_QUESTION}]
        )


def test_chat_messages_split_into_question_and_history() -> None:
    messages = [
        ChatMessage(role="system", content="ignored"),
        ChatMessage(role="user", content="first"),
        ChatMessage(role="assistant", content="reply"),
        ChatMessage(role="user", content=[{"type": "text", "text": "second"}]),
    ]
    question, history = split_chat_messages(messages)
    assert question == "second"
    assert [(t.role, t.content) for t in history] == [("user", "first"), ("assistant", "reply")]
    with pytest.raises(InvalidQuestionError, match="last message"):
        split_chat_messages(messages[:3])
    with pytest.raises(InvalidQuestionError, match="only text"):
        split_chat_messages([ChatMessage(role="user", content=[{"type": "image_url"}])])


# --- authentication ------------------------------------------------------------------------------
@pytest.mark.server
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/ask"),
        ("POST", "/api/ask/stream"),
        ("GET", "/api/documents"),
        ("DELETE", "/api/documents/caucasus-peace-talks"),
        ("GET", "/api/feedback/cases"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {KEY}", KEY])
def test_api_needs_the_key(
    server: Server, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    body = {"question": PUTIN_QUESTION}
    response = httpx.request(method, server.url + path, headers=headers, json=body, timeout=30)
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.server
def test_health_is_open_and_the_key_opens_the_rest(server: Server, api: httpx.Client) -> None:
    health = httpx.get(f"{server.url}/api/health", timeout=30)
    assert health.status_code == 200
    assert health.json()["documents"] >= 1 and health.json()["passages"] >= 20
    # which vectors answer: a new index gets onnx-int8 (BOT_EMBEDDING_BACKEND=auto)
    assert health.json()["embedding_backend"] == "onnx-int8"
    assert api.get("/api/documents").status_code == 200


# --- bad input -----------------------------------------------------------------------------------
JSON = {"content-type": "application/json"}
BAD_REQUESTS = {
    "empty question": ("POST", "/api/ask", {"json": {"question": ""}}, 422),
    "blank question": ("POST", "/api/ask", {"json": {"question": " \n\t "}}, 422),
    "100 KB question": ("POST", "/api/ask", {"json": {"question": "why " * 25_000}}, 422),
    "no question": ("POST", "/api/ask", {"json": {"history": []}}, 422),
    "question not text": ("POST", "/api/ask", {"json": {"question": 42}}, 422),
    "history not a list": ("POST", "/api/ask", {"json": {"question": "Who?", "history": "x"}}, 422),
    "history bad role": (
        "POST",
        "/api/ask",
        {"json": {"question": "Who?", "history": [{"role": "system", "content": "x"}]}},
        422,
    ),
    "history turn not text": (
        "POST",
        "/api/ask",
        {"json": {"question": "Who?", "history": [{"role": "user", "content": ["x"]}]}},
        422,
    ),
    "body is a list": ("POST", "/api/ask", {"json": ["Who?"]}, 422),
    "empty body": ("POST", "/api/ask", {"headers": JSON}, 422),
    "not JSON": ("POST", "/api/ask", {"content": b"question=Who", "headers": JSON}, 400),
    "truncated JSON": ("POST", "/api/ask", {"content": b'{"question": "Wh', "headers": JSON}, 400),
    "JSON sent as text/plain": (
        "POST",
        "/api/ask",
        {"content": b'{"question": "Who?"}', "headers": {"content-type": "text/plain"}},
        422,
    ),
    "2 MB body": (
        "POST",
        "/api/ask",
        {"json": {"question": "Who?", "history": [{"role": "user", "content": "x" * 2**21}]}},
        413,
    ),
    "2 MB chunked body": (
        "POST",
        "/api/ask",
        {"content": iter([b'{"question": "' + b"x" * 2**20] * 2 + [b'"}']), "headers": JSON},
        413,
    ),
    "stream empty question": ("POST", "/api/ask/stream", {"json": {"question": ""}}, 422),
    "openai no messages": ("POST", "/v1/chat/completions", {"json": {"messages": []}}, 422),
    "openai last message not user": (
        "POST",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "system", "content": "hi"}]}},
        422,
    ),
    "openai streamed empty question": (
        "POST",
        "/v1/chat/completions",
        {"json": {"stream": True, "messages": [{"role": "user", "content": ""}]}},
        422,
    ),
    "upload unsupported type": (
        "POST",
        "/api/documents",
        {"files": {"file": ("tool.exe", b"MZ\x90\x00binary")}},
        415,
    ),
    "upload binary .txt": (
        "POST",
        "/api/documents",
        {"files": {"file": ("notes.txt", bytes(range(256)) * 8)}},
        415,
    ),
    "upload empty file": ("POST", "/api/documents", {"files": {"file": ("e.md", b"  \n")}}, 415),
    "upload bad JSONL": (
        "POST",
        "/api/documents",
        {"files": {"file": ("feed.jsonl", b'{"id": "a", "text": "ok"}\nnot json\n')}},
        415,
    ),
    "upload over the limit": (
        "POST",
        "/api/documents",
        {"files": {"file": ("big.txt", b"Words and more words.\n" * 70_000)}},
        413,
    ),
    "upload without file": ("POST", "/api/documents", {"data": {"other": "x"}}, 422),
    "remove unknown document": ("DELETE", "/api/documents/no-such-doc", {}, 404),
    "feedback bad rating": (
        "POST",
        "/api/feedback",
        {"json": {"question": "Who?", "answer": {"text": "x"}, "rating": 5}},
        422,
    ),
    "feedback without answer": (
        "POST",
        "/api/feedback",
        {"json": {"question": "Who?", "rating": 1}},
        422,
    ),
    "unknown endpoint": ("GET", "/api/nothing-here", {}, 404),
    "wrong method": ("GET", "/api/ask", {}, 405),
    "unknown cases format": ("GET", "/api/feedback/cases?format=xml", {}, 422),
}


@pytest.mark.server
@pytest.mark.parametrize("case", list(BAD_REQUESTS), ids=list(BAD_REQUESTS))
def test_bad_input_gets_a_clear_4xx(api: httpx.Client, case: str) -> None:
    method, path, kwargs, status = BAD_REQUESTS[case]
    response = api.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error, str) and len(error) > 10
    assert "Traceback" not in error


@pytest.mark.server
def test_validation_errors_name_the_field(api: httpx.Client) -> None:
    response = api.post(
        "/api/ask", json={"question": "Who?", "history": [{"role": "robot", "content": "x"}]}
    )
    assert "history[0].role" in response.json()["error"]
    assert "'user' or 'assistant'" in response.json()["error"]


@pytest.mark.server
def test_server_survives_bad_input(api: httpx.Client) -> None:
    api.post("/api/ask", content=b"\xff\xfe\x00garbage", headers=JSON)
    assert "Vladimir Putin" in ask(api, PUTIN_QUESTION)["text"]


# --- hostile input: a 4xx with a message, and nothing stored changes ----------------------------
SURROGATE_QUESTION = b'{"question": "Who brokered the \\ud800 ceasefire?"}'
SURROGATE_CHAT = b'{"messages": [{"role": "user", "content": "Who \\udfff?"}]}'
HOSTILE = {
    "surrogate in /api/ask": (
        "POST",
        "/api/ask",
        {"content": SURROGATE_QUESTION, "headers": JSON},
        422,
        "surrogate",
    ),
    "surrogate in /api/ask/stream": (
        "POST",
        "/api/ask/stream",
        {"content": SURROGATE_QUESTION, "headers": JSON},
        422,
        "surrogate",
    ),
    "surrogate in the history": (
        "POST",
        "/api/ask",
        {
            "content": b'{"question": "Who?", "history": [{"role": "user", "content": "\\ud800"}]}',
            "headers": JSON,
        },
        422,
        "surrogate",
    ),
    "surrogate in /v1/chat/completions": (
        "POST",
        "/v1/chat/completions",
        {"content": SURROGATE_CHAT, "headers": JSON},
        422,
        "surrogate",
    ),
    "surrogate in a /v1 stream": (
        "POST",
        "/v1/chat/completions",
        {"content": SURROGATE_CHAT.replace(b"{", b'{"stream": true, ', 1), "headers": JSON},
        422,
        "surrogate",
    ),
    "surrogate in a feedback comment": (
        "POST",
        "/api/feedback",
        {
            "content": b'{"question": "Who?", "answer": {"text": "x"}, "rating": 1, '
            b'"comment": "bad \\udc00"}',
            "headers": JSON,
        },
        422,
        "surrogate",
    ),
    "surrogate in a feed article": (
        "POST",
        "/api/documents",
        {"files": {"file": ("feed.jsonl", b'{"id": "s1", "text": "Text \\ud800 here."}\n')}},
        415,
        "surrogate",
    ),
    "newline in a document id": (
        "POST",
        "/api/documents",
        {"files": {"file": ("feed.jsonl", b'{"id": "two\\nlines", "text": "Some text."}\n')}},
        415,
        "control character",
    ),
    "control character in a document id": (
        "POST",
        "/api/documents",
        {"files": {"file": ("feed.jsonl", b'{"id": "bell\\u0007", "text": "Some text."}\n')}},
        415,
        "control character",
    ),
    "two file fields": (
        "POST",
        "/api/documents",
        {
            "files": [
                ("file", ("first-article.md", b"# First\n\nThe first article.\n")),
                ("file", ("second-article.md", b"# Second\n\nThe second article.\n")),
            ]
        },
        422,
        "one file per request",
    ),
    "PDF bomb": (
        "POST",
        "/api/documents",
        {"files": {"file": ("bomb.pdf", pdf_bomb())}},
        415,
        "expands to more data",
    ),
    "Gradio: unknown v2 call": (
        "POST",
        "/gradio_api/call/v2/respond_1",
        {"json": {"data": []}},
        404,
        "no such function",
    ),
    "Gradio: unknown component": (
        "POST",
        "/gradio_api/component_server",
        {"json": {"session_hash": "x", "component_id": 99999, "fn_name": "x", "data": None}},
        404,
        "no such function",
    ),
    "Gradio: NUL in a proxied path": (
        "GET",
        "/gradio_api/proxy=/etc/passwd%00.txt",
        {},
        400,
        "could not use this request",
    ),
}


def stored_state(api: httpx.Client) -> tuple[Any, Any]:
    return api.get("/api/documents").json(), api.get("/api/feedback/cases").json()


@pytest.mark.server
@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_input_gets_a_4xx_and_changes_nothing(api: httpx.Client, case: str) -> None:
    method, path, kwargs, status, message = HOSTILE[case]
    before = stored_state(api)
    response = api.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert stored_state(api) == before
    assert "Vladimir Putin" in ask(api, PUTIN_QUESTION)["text"]  # and the server is fine


# --- documents and feedback ----------------------------------------------------------------------
ARTICLE_MD = b"""# Harbour tunnel opens in Valdoria

The Valdoria harbour tunnel opened on Friday after a decade of work, the transport ministry said.

Chief engineer Ingrid Solberg said the tunnel runs 4.2 kilometres under the bay and cost 900 million euros.
"""


@pytest.mark.server
def test_upload_markdown_then_ask_then_delete(api: httpx.Client) -> None:
    question = "How long is the Valdoria harbour tunnel?"
    uploaded = api.post("/api/documents", files={"file": ("valdoria-tunnel.md", ARTICLE_MD)})
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["added"] == ["valdoria-tunnel"]
    try:
        again = api.post("/api/documents", files={"file": ("valdoria-tunnel.md", ARTICLE_MD)})
        assert again.json()["unchanged"] == ["valdoria-tunnel"]
        listed = {d["doc_id"]: d for d in api.get("/api/documents").json()}
        assert listed["valdoria-tunnel"]["title"] == "Harbour tunnel opens in Valdoria"
        answer = ask(api, question)
        assert "4.2 kilometres" in answer["text"]
        assert {c["doc_id"] for c in answer["citations"]} == {"valdoria-tunnel"}
    finally:
        removed = api.delete("/api/documents/valdoria-tunnel")
    assert removed.status_code == 200
    assert removed.json()["doc_id"] == "valdoria-tunnel"
    assert "valdoria-tunnel" not in {d["doc_id"] for d in api.get("/api/documents").json()}
    after = ask(api, question)
    assert all(c["doc_id"] != "valdoria-tunnel" for c in after["citations"])
    assert "4.2 kilometres" not in after["text"]


@pytest.mark.server
def test_feedback_becomes_evaluation_cases(api: httpx.Client) -> None:
    answer = ask(api, PUTIN_QUESTION)
    recorded = api.post(
        "/api/feedback",
        json={"question": PUTIN_QUESTION, "answer": answer, "rating": 1, "comment": "right"},
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["citations"][0]["passage_id"] == answer["citations"][0]["passage_id"]
    cases = api.get("/api/feedback/cases").json()
    case = next(c for c in cases if c["question"] == PUTIN_QUESTION)
    assert case["answers"] == [answer["text"]]
    assert case["gold_passage_ids"] == [c["passage_id"] for c in answer["citations"]]
    lines = api.get("/api/feedback/cases", params={"format": "jsonl"}).text.splitlines()
    assert [json.loads(line) for line in lines] == cases


# --- many users at once --------------------------------------------------------------------------
PEOPLE = [
    ("Maria Keller", "she", "Lisbon"),
    ("James Ortega", "he", "Toronto"),
    ("Helen Carter", "she", "Melbourne"),
    ("David Novak", "he", "Prague"),
    ("Sarah Lindqvist", "she", "Stockholm"),
    ("Thomas Brennan", "he", "Dublin"),
    ("Anna Kowalski", "she", "Warsaw"),
    ("Peter Haddad", "he", "Beirut"),
    ("Laura Bianchi", "she", "Milan"),
    ("Michael Osei", "he", "Accra"),
    ("Emma Fischer", "she", "Munich"),
    ("Robert Tanaka", "he", "Osaka"),
    ("Julia Moreno", "she", "Seville"),
    ("Daniel Weiss", "he", "Vienna"),
    ("Claire Dubois", "she", "Lyon"),
    ("Samuel Adeyemi", "he", "Lagos"),
    ("Nina Petrova", "she", "Sofia"),
    ("George Whitfield", "he", "Edinburgh"),
    ("Olivia Santos", "she", "Porto"),
    ("Victor Lindgren", "he", "Oslo"),
]
PLACES = [
    "Aldervane",
    "Brisholm",
    "Corveth",
    "Dunmarrow",
    "Elstrand",
    "Fallowmere",
    "Glenbrack",
    "Harrowgate",
    "Islevar",
    "Jorvath",
    "Kelmsworth",
    "Lunhaven",
    "Marrowdale",
    "Northwick",
    "Ostravel",
    "Pellinore",
    "Quarrendon",
    "Rookhollow",
    "Silverbeck",
    "Tarnwood",
]


@pytest.fixture
def observatories(api: httpx.Client) -> Iterator[list[str]]:
    """Twenty look-alike articles, uploaded as one JSONL feed and removed afterwards: each
    names a different architect and city, so an answer from the wrong conversation shows."""
    lines = []
    for (name, _pronoun, city), place in zip(PEOPLE, PLACES, strict=True):
        text = (
            f"The new {place} observatory opened to visitors on Saturday after six years of "
            f"construction.\n\nThe {place} observatory was designed by the architect {name}, who "
            f"won an international competition in 2017.\n\n{name} trained as an architect in "
            f"{city} before opening a studio there."
        )
        record = {
            "id": f"observatory-{place.lower()}",
            "title": f"{place} observatory",
            "text": text,
        }
        lines.append(json.dumps(record))
    feed = ("\n".join(lines) + "\n").encode()
    response = api.post("/api/documents", files={"file": ("observatories.jsonl", feed)})
    assert response.status_code == 200, response.text
    ids = response.json()["added"] + response.json()["unchanged"]
    assert len(ids) == 20
    yield ids
    for doc_id in ids:
        api.delete(f"/api/documents/{doc_id}")


@pytest.mark.server
def test_twenty_concurrent_conversations_stay_apart(
    api: httpx.Client, observatories: list[str]
) -> None:
    start = threading.Barrier(len(PEOPLE))
    results: dict[int, tuple[Any, Any] | BaseException] = {}

    def conversation(i: int) -> None:
        place = PLACES[i]
        _name, pronoun, _city = PEOPLE[i]
        try:
            question = f"Who designed the {place} observatory?"
            start.wait(timeout=60)
            first = ask(api, question)
            history = [
                {"role": "user", "content": question},
                {"role": "assistant", "content": first["text"]},
            ]
            second = ask(api, f"Where did {pronoun} train as an architect?", history)
            results[i] = (first, second)
        except BaseException as exc:  # reported by the main thread
            results[i] = exc

    threads = [threading.Thread(target=conversation, args=(i,)) for i in range(len(PEOPLE))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    errors = {i: r for i, r in results.items() if isinstance(r, BaseException)}
    assert not errors
    assert len(results) == len(PEOPLE)
    for i, result in results.items():
        assert not isinstance(result, BaseException)
        first, second = result
        name, _pronoun, city = PEOPLE[i]
        doc_id = f"observatory-{PLACES[i].lower()}"
        assert name in first["text"], (i, first["text"])
        assert PLACES[i] in first["standalone_question"]
        assert name in second["standalone_question"], (i, second["standalone_question"])
        assert city in second["text"], (i, second["text"])
        assert {c["doc_id"] for c in first["citations"] + second["citations"]} == {doc_id}


# --- framing, CORS and documentation -------------------------------------------------------------
@pytest.mark.server
def test_only_the_embed_page_may_be_framed_by_the_portal(server: Server) -> None:
    embed = httpx.get(f"{server.url}/embed/", timeout=30)
    assert embed.status_code == 200 and "<html" in embed.text.lower()
    policy = embed.headers["content-security-policy"]
    assert policy.startswith("default-src 'self'; ")
    assert policy.endswith(f"; frame-ancestors 'self' {PORTAL}")
    assert "x-frame-options" not in embed.headers
    page = httpx.get(f"{server.url}/", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-security-policy"].endswith("; frame-ancestors 'self'")
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    bare = httpx.get(f"{server.url}/embed", timeout=30)
    assert bare.status_code == 307 and bare.headers["location"] == "embed/"


@pytest.mark.server
@pytest.mark.parametrize("page", ["", "/embed"])
def test_the_ui_upload_limit_is_the_api_limit(server: Server, page: str) -> None:
    def upload(size: int) -> httpx.Response:
        files = {"files": ("notes.txt", b"x" * size)}
        return httpx.post(f"{server.url}{page}/gradio_api/upload", files=files, timeout=60)

    assert upload(500_000).status_code == 200
    assert upload(1_500_000).status_code == 413  # BOT_MAX_UPLOAD_MB=1


@pytest.mark.server
def test_cors_allows_only_the_configured_origin(server: Server) -> None:
    def preflight(origin: str) -> httpx.Response:
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        }
        return httpx.options(f"{server.url}/api/ask", headers=headers, timeout=30)

    allowed = preflight(PORTAL)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in preflight("https://evil.example").headers


@pytest.mark.server
def test_openapi_documents_the_request_fields(server: Server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    ask_request = spec["components"]["schemas"]["AskRequest"]["properties"]
    assert "BOT_MAX_QUESTION_CHARS" in ask_request["question"]["description"]
    assert "history" in ask_request and ask_request["history"]["description"]
    assert "/v1/chat/completions" in spec["paths"] and "/api/documents" in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"].lower() == "bearer"


@pytest.mark.server
@pytest.mark.parametrize(("page", "kinds"), [("/docs", {"js", "css"}), ("/redoc", {"js"})])
def test_the_api_docs_work_offline(server: Server, page: str, kinds: set[str]) -> None:
    """The docs pages load their scripts, styles and icon from this server, never a CDN."""
    html = httpx.get(server.url + page, timeout=30)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert not re.findall(r"https?://", html.text), "the page names another host"
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html.text)
    assert {url.rsplit(".", 1)[-1] for url in assets} == {*kinds, "png"}, assets
    for url in assets:
        asset = httpx.get(server.url + url, timeout=30)
        assert asset.status_code == 200, url
        kind = url.rsplit(".", 1)[-1]
        expected = {"js": "javascript", "css": "text/css", "png": "image/png"}[kind]
        assert expected in asset.headers["content-type"], url
        # The real bundles, not an error page.
        assert len(asset.content) > (10_000 if kind != "png" else 100), url


# --- in process, around a fake service: failures on demand, exact framing --------------------
def client_for(tmp_path: Path, fail: Exception | None = None, **settings: Any) -> TestClient:
    """The API alone around a `FakeService` that answers "Canned [1]." in two pieces, or
    fails with `fail` after the first piece."""
    service = FakeService(CANNED_EVENTS[:1], fail) if fail else FakeService(CANNED_EVENTS)
    return client_around(tmp_path, service, **settings)


def client_around(tmp_path: Path, service: FakeService, **settings: Any) -> TestClient:
    config = Settings.from_env({}, data_dir=tmp_path / "data", **settings)
    app = create_app(config, service, with_ui=False)  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


def test_without_a_key_the_api_is_open(tmp_path: Path) -> None:
    response = client_for(tmp_path).post("/api/ask", json={"question": "Who?"})
    assert response.status_code == 200
    assert response.json()["text"] == "Canned [1]."


def test_a_full_queue_answers_503_with_retry_after(tmp_path: Path) -> None:
    client = client_for(tmp_path, BusyError("The server is busy. Try again."))
    response = client.post("/api/ask", json={"question": "Who?"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {"error": "The server is busy. Try again."}


def test_a_bug_is_a_json_500_without_details(tmp_path: Path) -> None:
    client = client_for(tmp_path, RuntimeError("secret internal detail"))
    response = client.post("/api/ask", json={"question": "Who?"})
    assert response.status_code == 500
    assert response.json() == {"error": INTERNAL_ERROR}
    assert "secret" not in response.text


@pytest.mark.parametrize(
    ("fail", "message"),
    [
        (InvalidQuestionError("The LLM server is gone."), "The LLM server is gone."),
        (RuntimeError("secret internal detail"), INTERNAL_ERROR),
    ],
)
def test_a_failure_mid_stream_is_an_error_event(
    tmp_path: Path, fail: Exception, message: str
) -> None:
    client = client_for(tmp_path, fail)
    response = client.post("/api/ask/stream", json={"question": "Who?"})
    assert response.status_code == 200
    assert parse_sse(response.text) == [
        ("delta", {"text": "Canned "}),
        ("error", {"error": message}),
    ]
    chunks = parse_sse(
        client.post(
            "/v1/chat/completions",
            json={"stream": True, "messages": [{"role": "user", "content": "Who?"}]},
        ).text
    )
    assert chunks[-1][1]["error"]["message"] == message
    assert ("message", "[DONE]") not in chunks


def test_the_answer_stream_is_framed_as_named_events(tmp_path: Path) -> None:
    final = canned_answer("Wer?")
    service = FakeService([Delta("Erdoğan — “quoted” "), Delta("[1]."), final])
    response = client_around(tmp_path, service).post("/api/ask/stream", json={"question": "Wer?"})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    answer = json.dumps(final.to_dict(), ensure_ascii=False)
    assert response.content.decode() == (
        'event: delta\ndata: {"text": "Erdoğan — “quoted” "}\n\n'
        'event: delta\ndata: {"text": "[1]."}\n\n'
        "event: citations\ndata: []\n\n"
        f"event: answer\ndata: {answer}\n\n"
        "event: done\ndata: {}\n\n"
    )


def test_the_openai_stream_is_data_blocks_ending_with_done(tmp_path: Path) -> None:
    client = client_for(tmp_path)
    body = {"stream": True, "messages": [{"role": "user", "content": "Who?"}]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = response.text.split("\n\n")
    assert blocks[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(b.removeprefix("data: ")) for b in blocks[:-2]]
    assert all(b.startswith("data: {") and "\n" not in b for b in blocks[:-2])
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == [
        "",
        "Canned ",
        "[1].",
        None,
    ]
    assert (
        chunks[-1]["text"] == "Canned [1]." and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    )


def test_the_official_openai_client_reads_both_answer_forms(tmp_path: Path) -> None:
    from openai import OpenAI

    client = OpenAI(base_url="http://testserver/v1", api_key="-", http_client=client_for(tmp_path))
    messages: Any = [{"role": "user", "content": "Who?"}]
    completion = client.chat.completions.create(model="newsbot", messages=messages)
    assert completion.choices[0].message.content == "Canned [1]."
    chunks = list(client.chat.completions.create(model="x", messages=messages, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Canned [1]."
    assert chunks[-1].model_extra is not None and chunks[-1].model_extra["refused"] is False


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/ask/stream", {"question": "Who?"}),
        ("/v1/chat/completions", {"stream": True, "messages": [{"role": "user", "content": "?"}]}),
    ],
)
def test_a_client_that_goes_away_ends_its_answer_stream(
    tmp_path: Path, path: str, body: dict[str, Any]
) -> None:
    """The answer stream is closed at once (which frees the answering slot), not when the
    rest of the answer would have been computed or the garbage collector gets to it."""
    import uvicorn

    service = FakeService([Delta(f"{i} ") for i in range(200)], delay_s=0.05)  # 10 s in all
    config = Settings.from_env({}, data_dir=tmp_path / "data")
    app = create_app(config, service, with_ui=False)  # type: ignore[arg-type]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.stream("POST", f"http://127.0.0.1:{port}{path}", json=body) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            assert any(next(lines).startswith("data: ") for _ in range(2))
        deadline = time.monotonic() + 3
        while service.ended_streams == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.ended_streams == 1
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- in process: request-body limits ---------------------------------------------------------
def test_a_json_body_over_the_limit_is_a_json_413(tmp_path: Path) -> None:
    client = client_for(tmp_path)
    big = {"question": "Who?", "history": [{"role": "user", "content": "x" * MAX_JSON_BYTES}]}
    declared = client.post("/api/ask", json=big)
    assert declared.status_code == 413
    assert "1024 KB limit" in declared.json()["error"]
    half = b'{"question": "' + b"x" * (MAX_JSON_BYTES // 2)
    chunked = client.post("/v1/chat/completions", content=iter([half, half, b'"}']), headers=JSON)
    assert chunked.status_code == 413
    assert "Send a shorter question" in chunked.json()["error"]
    small = client.post("/api/ask", content=iter([b'{"question": ', b'"Who?"}']), headers=JSON)
    assert small.status_code == 200


def test_an_upload_over_bot_max_upload_mb_is_a_json_413(tmp_path: Path) -> None:
    service = FakeService()
    client = client_around(tmp_path, service, max_upload_mb=2)
    response = client.post("/api/documents", files={"file": ("big.txt", b"x" * (3 * 2**20))})
    assert response.status_code == 413
    assert "2 MB limit (BOT_MAX_UPLOAD_MB)" in response.json()["error"]
    assert service.uploads == []
    # Over the JSON limit but under the upload limit: it reaches the service.
    response = client.post("/api/documents", files={"file": ("ok.txt", b"x" * (3 * 2**19))})
    assert response.status_code == 200 and response.json()["added"] == ["ok"]
    assert [(name, len(data)) for name, data in service.uploads] == [("ok.txt", 3 * 2**19)]


def test_the_body_limit_leaves_the_web_ui_alone() -> None:
    middleware = BodyLimitMiddleware(None, upload_path="/api/documents", upload_bytes=2**20)  # type: ignore[arg-type]
    assert (
        middleware.limit({"type": "http", "path": "/gradio_api/upload", "method": "POST"}) is None
    )
    assert middleware.limit({"type": "http", "path": "/v1/models", "method": "GET"}) is not None


def test_a_key_with_non_ascii_characters_is_just_wrong(tmp_path: Path) -> None:
    client = client_for(tmp_path, api_key="s3cret")
    response = client.get(
        "/v1/models", headers={"Authorization": "Bearer s3cr\xe9t".encode("latin-1")}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("login", "missing"),
    [({"ui_user": "reader"}, "BOT_UI_PASSWORD"), ({"admin_password": "pw"}, "BOT_ADMIN_USER")],
)
def test_a_half_configured_login_is_refused(
    tmp_path: Path, login: dict[str, str], missing: str
) -> None:
    config = Settings.from_env({}, data_dir=tmp_path / "data", **login)
    with pytest.raises(ConfigError, match=missing):
        create_app(config, FakeService(), with_ui=True)  # type: ignore[arg-type]


def test_the_thread_pool_has_room_for_the_whole_queue(tmp_path: Path) -> None:
    import anyio.to_thread

    config = Settings.from_env({}, data_dir=tmp_path / "data", max_queue=100)
    app = create_app(config, FakeService(), with_ui=False)  # type: ignore[arg-type]

    @app.get("/threads")
    async def threads() -> int:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    with TestClient(app) as client:  # the context runs the lifespan, as uvicorn does
        assert client.get("/threads").json() >= config.max_concurrency + config.max_queue


def test_the_ui_login_guards_both_pages_but_not_health(tmp_path: Path, article_bot: Any) -> None:
    from bot.service import Service

    config = Settings.from_env(
        {}, data_dir=tmp_path / "data", ui_user="editor", ui_password="pass-1234"
    )
    app = create_app(config, Service(config, article_bot))
    with TestClient(app, follow_redirects=False) as client:
        assert client.get("/config").status_code == 401
        assert client.get("/embed/config").status_code == 401
        assert client.get("/").headers["location"] == "login?next=/"
        assert client.get("/api/health").status_code == 200
        wrong = client.post("/embed/login", data={"username": "editor", "password": "nope"})
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
        right = client.post("/login", data={"username": "editor", "password": "pass-1234"})
        assert right.status_code == 303
        assert client.get("/config").status_code == 200
        assert client.get("/embed/config").status_code == 200


def test_a_stored_script_link_never_reaches_a_citation(tmp_path: Path) -> None:
    """Links are dropped at ingest; one stored before that (or by other code) is dropped on
    the way out, for the API, the OpenAI endpoint and the UI alike (they all ask Service)."""
    from dataclasses import replace

    from bot.service import Service
    from bot.types import Citation

    def cited(url: str) -> Citation:
        return Citation(1, "d#p1", "d", "T", "s.txt", "", url, "Text.", "Text.", 0, 5)

    answer = replace(
        canned_answer(), citations=[cited("javascript:alert(1)"), cited("https://a.b/")]
    )
    bot = SimpleNamespace(
        index=None,
        validate_question=lambda question: question,
        answer=lambda question, history=None: answer,
        stream=lambda question, history=None: iter([Delta("Canned [1]."), answer]),
    )
    service = Service(Settings.from_env({}, data_dir=tmp_path / "data"), bot)  # type: ignore[arg-type]
    streamed = list(service.stream("Who?"))[-1]
    for result in (service.ask("Who?"), streamed):
        assert isinstance(result, Answer)
        assert [c.url for c in result.citations] == ["", "https://a.b/"]
