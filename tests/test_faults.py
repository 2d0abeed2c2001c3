"""Faults a crash or a careless operator causes, against real `bot serve` processes: after each,
the server recovers with nothing lost or stops with a message saying how to repair, and never
answers from half an index. Also what that server writes to its log and `/metrics`.

One baseline server (module-scoped) ingests the article, answers the questions, takes an
upload, answers again, runs `bot backup` while it serves, and is stopped with SIGTERM. Its data
folder then stays as it was; each fault test works on a copy of it:

- the Chroma folder removed: `bot serve` refuses with the repair message, `bot doctor
  --repair` re-embeds from the catalog, and the answers are the same as before;
- the catalog removed: `python app.py` rebuilds it from Chroma (the system of record, which
  keeps every passage's text) without embedding anything: the upload is still there and the
  answers are the same as before;
- `kill -9` in the middle of an upload: the restarted server lost nothing, the re-upload
  completes, and with the upload removed the answers are the baseline's;
- the data folder wiped and the backup restored: the same answers;
- SIGTERM: `articles.sqlite` alone, without its `-wal`, holds every document.

Answers are compared whole (text, short answer, refusal, cited passages and quotes, the
ranking), never with expected strings. Retrieval scores are rounded to 6 places: vectors
embedded again in other batches may differ in the last bits of a float.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.procs import PROJECT_ROOT, child_env, free_port, running_server

from .conftest import CORPUS

pytestmark = [pytest.mark.slow, pytest.mark.server]

KEY = "fault-test-key-7f3a9c"
ADMIN = {"username": "editor", "password": "admin-pass-5e1d"}
LLM_KEY = "llm-key-b62e0f44"  # set, never used (no LLM URL): it must not be logged either
STARTUP_SECONDS = 300

QUESTIONS = [
    "Who brokered the 2020 ceasefire?",
    "How many people died in the 2020 war?",
    "What is the capital of France?",
    "How much water may irrigation draw from Lake Sevan each year?",
]
UPLOAD_NAME = "sevan-accord.md"
UPLOAD = b"""# The Lake Sevan water accord

The Lake Sevan water accord was signed in Yerevan in March by the water ministers of Armenia
and Georgia, after two years of talks about the falling level of the lake.

Under the accord, irrigation may draw at most 170 million cubic metres from Lake Sevan each
year, and less in a dry summer, when the level falls below the mark set in the accord.
"""
FEED_ARTICLES = 150


@dataclass
class Baseline:
    data: Path  # the data folder of the stopped baseline server: copy it, never change it
    backup: Path
    log: Path
    corpus_answers: dict[str, Any]  # before the upload
    answers: dict[str, Any]  # after it
    documents: list[str]
    metrics: str
    health: dict[str, Any]
    session_cookie: str


def serve_command(port: int, *flags: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *flags,
    ]


def env_for(data: Path) -> dict[str, str]:
    return child_env(
        BOT_DATA_DIR=str(data),
        BOT_CORPUS_DIR=str(CORPUS),
        BOT_API_KEY=KEY,
        BOT_ADMIN_USER=ADMIN["username"],
        BOT_ADMIN_PASSWORD=ADMIN["password"],
        BOT_LLM_API_KEY=LLM_KEY,
        BOT_BATCH_SIZE="8",  # small write groups, so an upload can be killed midway
    )


@contextlib.contextmanager
def server(
    data: Path, log: Path, *flags: str
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """`bot serve` on `data` until the block ends (then SIGTERM), and a client with the key."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = serve_command(port, *flags)
    with running_server(command, f"{url}/api/health", log, env_for(data), STARTUP_SECONDS) as proc:
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
            yield client, proc


def bot(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A `bot` command on `data`, in a process of its own."""
    return run(data, "-m", "bot.cli", *args)


def run(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python ARGS...` from the project root on `data`."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env={**env_for(data), **env},
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
    )


def answer_of(client: httpx.Client, question: str) -> dict[str, Any]:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    a = response.json()
    return {
        "text": a["text"],
        "short_answer": a["short_answer"],
        "refused": a["refused"],
        "citations": [(c["passage_id"], c["quote"]) for c in a["citations"]],
        "retrieved": [(r["passage_id"], round(r["score"], 6)) for r in a["retrieved"]],
    }


def answers_of(client: httpx.Client, questions: list[str]) -> dict[str, Any]:
    return {q: answer_of(client, q) for q in questions}


def document_ids(client: httpx.Client) -> list[str]:
    response = client.get("/api/documents")
    assert response.status_code == 200, response.text
    return sorted(d["doc_id"] for d in response.json())


def copy_of(baseline: Baseline, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(baseline.data, data)
    return data


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    folder = tmp_path_factory.mktemp("baseline")
    data, log, snapshot = folder / "data", folder / "server.log", folder / "backup"
    with server(data, log) as (client, _):
        corpus_answers = answers_of(client, QUESTIONS[:3])
        upload = client.post("/api/documents", files={"file": (UPLOAD_NAME, UPLOAD)})
        assert upload.status_code == 200, upload.text
        answers = answers_of(client, QUESTIONS)
        documents = document_ids(client)
        backup = bot(data, "backup", str(snapshot))  # while the server serves
        assert backup.returncode == 0, backup.stderr

        # Requests that carry each secret, for the log test.
        client.post(
            "/api/ask", json={"question": "Who?"}, headers={"Authorization": "Bearer wrong-key-1"}
        )
        client.get(f"/api/health?api_key={KEY}", headers={"X-Request-ID": KEY})
        client.post("/login", data={**ADMIN, "password": "not-the-password", "next": "/admin/"})
        signed_in = client.post("/login", data={**ADMIN, "next": "/admin/"})
        assert signed_in.status_code == 303, signed_in.text
        session_cookie = signed_in.cookies["newsbot-session"]
        assert client.get("/admin/").status_code == 200  # the client keeps the cookie
        client.cookies.clear()

        metrics = client.get("/metrics").text
        health = client.get("/api/health").json()
    return Baseline(
        data, snapshot, log, corpus_answers, answers, documents, metrics, health, session_cookie
    )


def test_sigterm_leaves_every_document_in_the_catalog_file_alone(
    baseline: Baseline, tmp_path: Path
) -> None:
    catalog = baseline.data / "articles.sqlite"
    wal = catalog.with_name("articles.sqlite-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    alone = tmp_path / "articles.sqlite"
    shutil.copyfile(catalog, alone)  # the one file an operator might back up
    db = sqlite3.connect(alone)
    try:
        stored = sorted(row[0] for row in db.execute("SELECT doc_id FROM documents"))
        passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
    finally:
        db.close()
    assert stored == baseline.documents == ["caucasus-peace-talks", "sevan-accord"]
    assert passages == baseline.health["passages"]


def test_chroma_folder_removed_refuses_to_start_then_doctor_repairs_it(
    baseline: Baseline, tmp_path: Path
) -> None:
    data = copy_of(baseline, tmp_path)
    shutil.rmtree(data / "chroma")

    refused = bot(data, "serve", "--no-ingest", "--port", str(free_port()))
    assert refused.returncode == 2
    assert "have no vector" in refused.stderr and "bot doctor --repair" in refused.stderr

    doctor = bot(data, "doctor")
    assert (
        doctor.returncode == 1
        and f"missing vectors: {baseline.health['passages']}" in doctor.stdout
    )
    repaired = bot(data, "doctor", "--repair", "--quiet")
    assert repaired.returncode == 0, repaired.stderr
    assert f"{baseline.health['passages']} vectors re-embedded" in repaired.stdout

    with server(data, tmp_path / "server.log", "--no-ingest") as (client, _):
        health = client.get("/api/health").json()
        assert health["vectors"] == health["passages"] == baseline.health["passages"]
        assert answers_of(client, QUESTIONS) == baseline.answers


def test_catalog_removed_is_rebuilt_from_chroma_with_nothing_lost(
    baseline: Baseline, tmp_path: Path
) -> None:
    data = copy_of(baseline, tmp_path)
    for name in ("articles.sqlite", "articles.sqlite-wal", "articles.sqlite-shm"):
        (data / name).unlink(missing_ok=True)

    with server(data, tmp_path / "server.log", "--no-ingest") as (client, _):
        health = client.get("/api/health").json()
        assert health["status"] == "ok" and health["vectors"] == health["passages"]
        assert health["passages"] == baseline.health["passages"]
        assert document_ids(client) == baseline.documents  # the upload too
        assert answers_of(client, QUESTIONS) == baseline.answers
    assert "rebuilt the catalog from the vector store" in (tmp_path / "server.log").read_text()


def test_backup_wipe_restore_gives_the_same_answers(baseline: Baseline, tmp_path: Path) -> None:
    data = copy_of(baseline, tmp_path)
    shutil.rmtree(data)
    data.mkdir()
    restored = bot(data, "restore", str(baseline.backup))
    assert restored.returncode == 0, restored.stderr

    with server(data, tmp_path / "server.log", "--no-ingest") as (client, _):
        assert document_ids(client) == baseline.documents
        assert answers_of(client, QUESTIONS) == baseline.answers


def _feed() -> bytes:
    lines = [
        json.dumps(
            {
                "id": f"wire-{i}",
                "title": f"Wire report {i}",
                "text": f"Wire report number {i}: the delegation from town{i} met the mayor "
                f"of village{i} to discuss {i % 7 + 2} new bus routes and a bridge.",
            }
        )
        for i in range(FEED_ARTICLES)
    ]
    return ("\n".join(lines) + "\n").encode()


def _stored_documents(data: Path) -> int:
    db = sqlite3.connect(f"file:{data / 'articles.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        return int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
    finally:
        db.close()


def test_kill_9_during_an_upload_loses_nothing_and_the_reupload_completes(
    baseline: Baseline, tmp_path: Path
) -> None:
    data = copy_of(baseline, tmp_path)
    before = len(baseline.documents)
    feed = _feed()
    with server(data, tmp_path / "first.log", "--no-ingest") as (client, process):
        upload = threading.Thread(target=_post_quietly, args=(client, feed), daemon=True)
        upload.start()
        deadline = time.monotonic() + 240
        while _stored_documents(data) < before + 16 and time.monotonic() < deadline:
            time.sleep(0.2)
        process.kill()  # SIGKILL: no shutdown, no checkpoint
        process.wait()
        upload.join(timeout=30)
    stored = _stored_documents(data)
    assert before + 16 <= stored < before + FEED_ARTICLES, "not killed in the middle"

    with server(data, tmp_path / "second.log", "--no-ingest") as (client, _):
        health = client.get("/api/health").json()
        assert health["vectors_agree"] and health["vectors"] == health["passages"]
        assert health["documents"] == stored
        assert set(baseline.documents) <= set(document_ids(client))  # nothing lost
        again = client.post("/api/documents", files={"file": ("wire.jsonl", feed)})
        assert again.status_code == 200, again.text
        report = again.json()
        assert len(report["unchanged"]) == stored - before
        assert len(report["added"]) == before + FEED_ARTICLES - stored
        health = client.get("/api/health").json()
        assert health["documents"] == before + FEED_ARTICLES
        assert health["vectors"] == health["passages"]
        # Without the feed, the index is the baseline's again: the same answers.
        for i in range(FEED_ARTICLES):
            assert client.delete(f"/api/documents/wire-{i}").status_code == 200
        assert answers_of(client, QUESTIONS) == baseline.answers


def _post_quietly(client: httpx.Client, feed: bytes) -> None:
    """The upload the server is killed in the middle of: its connection error is expected."""
    with contextlib.suppress(httpx.HTTPError):
        client.post("/api/documents", files={"file": ("wire.jsonl", feed)})


def test_no_secret_reaches_the_log_and_every_line_is_json_with_a_request_id(
    baseline: Baseline,
) -> None:
    text = baseline.log.read_text(encoding="utf-8")
    for secret in (KEY, ADMIN["password"], LLM_KEY, baseline.session_cookie, "wrong-key-1"):
        assert secret not in text
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert not any("color_message" in r for r in records)
    requests = [r for r in records if r["logger"] == "bot.access"]
    assert len(requests) >= 12 and all(r["request_id"] for r in requests)
    assert len({r["request_id"] for r in requests}) == len(requests)
    answers = [r for r in records if r["logger"] == "bot.service" and r["message"] == "answer"]
    ids = {r["request_id"] for r in requests if r["path"] == "/api/ask"}
    assert answers and all(r["request_id"] in ids for r in answers)
    assert {r["status"] for r in requests} >= {200, 303, 401}


def test_metrics_and_health_of_a_running_server(baseline: Baseline) -> None:
    health = baseline.health
    assert health["status"] == "ok" and health["vectors_agree"]
    assert health["vectors"] == health["passages"] and health["documents"] == 2
    lines = baseline.metrics.splitlines()
    assert f"newsbot_index_vectors {float(health['vectors'])}" in lines
    assert f"newsbot_index_passages {float(health['passages'])}" in lines
    assert "newsbot_index_consistent 1.0" in lines
    given = [*baseline.corpus_answers.values(), *baseline.answers.values()]
    refused = sum(a["refused"] for a in given)
    assert 0 < refused < len(given) == 7
    assert f'newsbot_answers_total{{outcome="refused"}} {float(refused)}' in lines
    assert f'newsbot_answers_total{{outcome="answered"}} {float(len(given) - refused)}' in lines
    assert 'http_requests_total{handler="/api/ask",method="POST",status="200"} 7.0' in lines
    assert 'http_requests_total{handler="/api/ask",method="POST",status="401"} 1.0' in lines
    assert any(
        line.startswith('http_request_duration_seconds_bucket{handler="/api/ask"') for line in lines
    )
