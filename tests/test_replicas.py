"""Replicas sharing one Chroma server (`chroma run`), each with its own data folder: what one
writes or removes, the others answer from (or stop citing) within seconds.

In-process first, with `Index` objects on separate data folders (`BOT_SYNC_SECONDS=0`); then
two real `bot serve` processes, an upload through one and the questions to the other.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.embeddings import Embedder
from bot.index import Index
from bot.ingest import ingest_documents, ingest_paths
from bot.integrity import check
from bot.procs import child_env, free_port, running_server
from bot.service import Service
from bot.types import Document

from .conftest import ARTICLE, CORPUS
from .helpers import CannedBot

pytestmark = pytest.mark.server

KEY = "replica-key-4c1e9a"
STARTUP_SECONDS = 300
SYNC_WITHIN_S = 30

TUNNEL_MD = b"""# Harbour tunnel opens in Valdoria

Valdoria opened its harbour tunnel on Monday after six years of building work.

Chief engineer Ingrid Solberg said the tunnel runs 4.2 kilometres under the bay and cost 900
million euros.
"""
TUNNEL_QUESTION = "How long is the Valdoria harbour tunnel?"


def _replica(tmp_path: Path, name: str, port: int, collection: str) -> Settings:
    return Settings.from_env(
        {},
        data_dir=tmp_path / name,
        chroma_host="127.0.0.1",
        chroma_port=port,
        collection=collection,
        sync_seconds=0,
    )


def _catalog(index: Index) -> tuple[Any, Any]:
    return index.documents(), index.catalog.get_passages(sorted(index.catalog.passage_ids()))


def test_a_write_on_one_replica_is_caught_up_by_the_others(
    chroma_server: int, tmp_path: Path, embedder: Embedder
) -> None:
    a = Index(_replica(tmp_path, "a", chroma_server, "replicas_unit"), embedder)
    b = Index(_replica(tmp_path, "b", chroma_server, "replicas_unit"), embedder)
    try:
        assert b.count_passages() == 0
        ingest_paths(a, [ARTICLE])
        # An idle replica's health check catches up too: it stays "ok", with the new passages.
        health = Service(b.settings, CannedBot(b)).health()  # type: ignore[arg-type]
        assert (health["status"], health["passages"], health["vectors"]) == ("ok", 21, 21)
        assert b.count_passages() == 21  # caught up: text and keyword index from Chroma
        assert _catalog(b) == _catalog(a)
        assert b.catalog.keyword_search("ceasefire", 5)
        assert b.sync.state()["applied_changes"] == a.sync.version() == 1

        doc = Document("d1", "Talks", "Envoys met in Zarvosk for three days of talks.", "d1.txt")
        ingest_documents(b, [doc])
        ingest_documents(a, [replace(doc, text="Envoys met in Quillmere for five days.")])
        assert _catalog(b) == _catalog(a)
        assert b.catalog.keyword_search("quillmere", 5) and not b.catalog.keyword_search(
            "zarvosk", 5
        )

        b.remove("caucasus-peace-talks")
        assert [d.doc_id for d in a.documents()] == ["d1"]
        assert not a.catalog.keyword_search("ceasefire", 5) and check(a).ok

        # A new replica (an empty data folder) fills its catalog from Chroma at opening.
        c = Index(_replica(tmp_path, "c", chroma_server, "replicas_unit"), embedder)
        assert _catalog(c) == _catalog(a) and check(c).ok
        c.close()
    finally:
        a.close()
        b.close()


# --- two servers --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def replicas(
    chroma_server: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two `bot serve` processes on one Chroma server, each ingesting the corpus at start."""
    folder = tmp_path_factory.mktemp("replicas")
    with _serve(folder / "a", chroma_server) as a, _serve(folder / "b", chroma_server) as b:
        yield a, b


@contextlib.contextmanager
def _serve(folder: Path, chroma_port: int) -> Iterator[httpx.Client]:
    """`bot serve` on a free port with its own data folder; a client with the admin key."""
    port = free_port()
    env = child_env(
        BOT_DATA_DIR=str(folder / "data"),
        BOT_CORPUS_DIR=str(CORPUS),
        BOT_API_KEY=KEY,
        BOT_CHROMA_HOST="127.0.0.1",
        BOT_CHROMA_PORT=str(chroma_port),
        BOT_COLLECTION="replicas_served",
    )
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    with running_server(command, f"{url}/api/health", folder / "server.log", env, STARTUP_SECONDS):
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            yield client


def _cited(client: httpx.Client, question: str) -> set[str]:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return {c["doc_id"] for c in response.json()["citations"]}


def _within(seconds: float, condition: Callable[[], bool]) -> float:
    """Seconds until `condition()` held, polled; fails the test after `seconds`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.5)
    return time.monotonic() - started


def test_an_upload_to_one_server_is_answered_by_the_other_and_a_removal_too(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    health = b.get("/api/health").json()
    assert (
        health["status"] == "ok" and health["documents"] == a.get("/api/health").json()["documents"]
    )
    uploaded = a.post("/api/documents", files={"file": ("valdoria-tunnel.md", TUNNEL_MD)})
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["added"] == ["valdoria-tunnel"]

    seconds = _within(SYNC_WITHIN_S, lambda: "valdoria-tunnel" in _cited(b, TUNNEL_QUESTION))
    print(f"\nuploaded through A, cited through B after {seconds:.1f} s")  # pytest -s
    listed = {d["doc_id"]: d for d in b.get("/api/documents").json()}
    assert listed["valdoria-tunnel"]["title"] == "Harbour tunnel opens in Valdoria"
    sync = b.get("/api/health").json()["sync"]
    assert sync["applied_changes"] >= 1 and sync["seconds_since_catch_up"] is not None

    removed = b.delete("/api/documents/valdoria-tunnel")
    assert removed.status_code == 200, removed.text
    seconds = _within(SYNC_WITHIN_S, lambda: "valdoria-tunnel" not in _cited(a, TUNNEL_QUESTION))
    print(f"removed through B, no longer cited through A after {seconds:.1f} s")
    assert "valdoria-tunnel" not in {d["doc_id"] for d in a.get("/api/documents").json()}
    health_a, health_b = a.get("/api/health").json(), b.get("/api/health").json()
    assert health_a["passages"] == health_b["passages"] == health_a["vectors"]
