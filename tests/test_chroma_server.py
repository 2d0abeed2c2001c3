"""The multi-machine mode: the index in a real Chroma server started with `chroma run`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.chain import ChatBot
from bot.config import Settings
from bot.embeddings import Embedder
from bot.errors import StoreUnavailableError
from bot.index import Index
from bot.ingest import ingest_paths
from bot.procs import free_port

from .conftest import ARTICLE

pytestmark = pytest.mark.server


def _server_settings(tmp_path: Path, port: int, collection: str) -> Settings:
    return Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        chroma_host="127.0.0.1",
        chroma_port=port,
        collection=collection,
    )


def _remote_collection(port: int, name: str) -> Any:
    """The collection as a plain Chroma client sees it on the server."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.HttpClient(
        host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    return client.get_collection(name)


def test_index_lives_in_the_chroma_server(
    chroma_server: int, tmp_path: Path, embedder: Embedder
) -> None:
    settings = _server_settings(tmp_path, chroma_server, "server_articles")
    index = Index(settings, embedder)
    report = ingest_paths(index, [ARTICLE])
    assert report.passages == 21
    assert not (tmp_path / "data" / "chroma").exists()  # nothing in the embedded store

    remote = _remote_collection(chroma_server, "server_articles")
    assert remote.count() == 21
    assert remote.metadata["embedding_model"] == "all-MiniLM-L6-v2"

    answer = ChatBot(settings, index).answer("Who brokered the 2020 ceasefire?")
    assert answer.short_answer.endswith("Vladimir Putin")
    assert answer.citations[0].passage_id in {r.passage_id for r in answer.retrieved}

    index.remove("caucasus-peace-talks")
    assert remote.count() == 0


def test_an_unreachable_server_gives_a_clear_error(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings.from_env(
        {}, data_dir=tmp_path / "data", chroma_host="127.0.0.1", chroma_port=free_port()
    )
    with pytest.raises(StoreUnavailableError, match="chroma run"):
        Index(settings, embedder)


def test_vectors_lost_on_the_server_are_found_and_repaired(
    chroma_server: int, tmp_path: Path, embedder: Embedder
) -> None:
    from bot.errors import IndexMismatchError
    from bot.integrity import check, repair_index

    settings = _server_settings(tmp_path, chroma_server, "server_checked")
    index = Index(settings, embedder)
    ingest_paths(index, [ARTICLE])
    index.close()
    remote = _remote_collection(chroma_server, "server_checked")
    remote.delete(ids=remote.get(include=[])["ids"])  # as if the server had lost the vectors

    with pytest.raises(IndexMismatchError, match="21 passages have no vector"):
        Index(settings, embedder)
    index = Index(settings, embedder, verify=False)
    result = repair_index(index)
    assert result.reembedded == 21 and result.after.ok and check(index).ok
    assert _remote_collection(chroma_server, "server_checked").count() == 21
    index.close()
