"""Chroma as the system of record, in one process over the embedded store: a lost catalog
rebuilt from Chroma, records from before Chroma kept text given it without re-embedding, the
throttled catch-up, a killed update finished with Chroma's newest version, and LangChain's own
`Chroma` store reading the bot's collection with its text.

Two replicas sharing a Chroma server are `test_replicas.py`'s business.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from bot.chain import ChatBot
from bot.config import Settings
from bot.embeddings import Embedder
from bot.index import Index
from bot.ingest import ingest_documents, ingest_paths
from bot.integrity import check
from bot.store import VectorStore
from bot.sync import SCHEMA
from bot.types import Document

from .conftest import ARTICLE

QUESTION = "Who brokered the 2020 ceasefire?"


def _catalog_state(index: Index) -> tuple[Any, Any]:
    ids = sorted(index.catalog.passage_ids())
    return index.catalog.documents(), index.catalog.get_passages(ids)


def test_a_lost_catalog_is_rebuilt_from_chroma_without_embedding(
    settings: Settings, embedder: Embedder
) -> None:
    index = Index(settings, embedder)
    ingest_paths(index, [ARTICLE])
    before, answer = _catalog_state(index), ChatBot(settings, index).answer(QUESTION)
    index.close()
    for suffix in ("", "-wal", "-shm"):
        (settings.data_dir / f"articles.sqlite{suffix}").unlink(missing_ok=True)

    calls: list[int] = []
    counting = _CountingEmbedder(embedder, calls)
    index = Index(settings, counting)  # type: ignore[arg-type]
    assert _catalog_state(index) == before and check(index).ok
    assert calls == []  # nothing embedded: the text came from Chroma
    assert ChatBot(settings, index).answer(QUESTION).to_dict() | {"timings_ms": {}} == (
        answer.to_dict() | {"timings_ms": {}}
    )
    index.close()


def test_records_without_text_get_it_from_the_catalog_keeping_their_vectors(
    settings: Settings, embedder: Embedder
) -> None:
    index = Index(settings, embedder)
    ingest_paths(index, [ARTICLE])
    ids = sorted(index.catalog.passage_ids())
    vectors = index.vectors.get_vectors(ids)
    # As an older version left them: id, vector and doc_id only.
    index.vectors.delete(ids)
    index.vectors._collection.add(
        ids=ids,
        embeddings=[vectors[i] for i in ids],
        metadatas=[{"doc_id": "caucasus-peace-talks"}] * len(ids),
    )
    index.catalog.set_meta(SCHEMA, "1")
    index.close()

    calls: list[int] = []
    index = Index(settings, _CountingEmbedder(embedder, calls))  # type: ignore[arg-type]
    assert calls == [] and check(index).ok
    got = index.vectors._collection.get(ids=ids, include=["documents", "embeddings"])
    texts = index.catalog.get_passages(ids)
    assert dict(zip(got["ids"], got["documents"], strict=True)) == {
        pid: p.text for pid, p in texts.items()
    }
    for pid, vector in zip(got["ids"], got["embeddings"], strict=True):
        np.testing.assert_allclose(np.asarray(vector, dtype=np.float32), vectors[pid], atol=1e-6)
    stored, unreadable = index.vectors.stored_documents(["caucasus-peace-talks"])
    rebuilt = stored["caucasus-peace-talks"].passages
    assert not unreadable and {p.passage_id: p for p in rebuilt} == texts
    index.close()


def test_the_change_log_is_counted_at_most_once_a_window(
    settings: Settings, embedder: Embedder
) -> None:
    index = Index(replace_settings(settings, sync_seconds=3600), embedder)
    counted = _CountingChanges(index.sync.changes)
    index.sync.changes = counted  # type: ignore[assignment]
    for _ in range(5):
        index.count_passages()
        index.documents()
    assert counted.counts == 1
    index.close()


def test_a_killed_update_ends_with_chromas_newest_version(
    settings: Settings, embedder: Embedder
) -> None:
    index = Index(settings, embedder)
    old = Document("d1", "Talks", "Envoys met in Vienna for three days of talks.", "d1.txt")
    new = replace(old, text="Envoys met in Geneva for five days of talks about gamma rays.")
    ingest_documents(index, [old])
    # The update wrote its records to Chroma, then the process died before the rest.
    original = index.catalog.replace_documents
    index.catalog.replace_documents = _die  # type: ignore[method-assign]
    with pytest.raises(_Killed):
        ingest_documents(index, [new])
    index.catalog.replace_documents = original  # type: ignore[method-assign]
    assert index.catalog.pending() == ["d1"]
    index.close()

    index = Index(settings, embedder)
    [passage] = index.catalog.get_passages(sorted(index.catalog.passage_ids())).values()
    assert passage.text == new.text and check(index).ok
    assert index.catalog.keyword_search("geneva", 5) and not index.catalog.keyword_search(
        "vienna", 5
    )
    index.close()


class _Killed(Exception):
    pass


def _die(*args: Any, **kwargs: Any) -> None:
    raise _Killed


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    return Settings.from_env({}, **{**settings.model_dump(), **changes})


class _CountingEmbedder:
    """The real embedder, recording each call that embeds passages."""

    def __init__(self, embedder: Embedder, calls: list[int]) -> None:
        self._embedder, self._calls = embedder, calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def embed(self, texts: list[str], *args: Any, **kwargs: Any) -> Any:
        self._calls.append(len(texts))
        return self._embedder.embed(texts, *args, **kwargs)


class _CountingChanges:
    """The change log's collection, counting `count()` requests."""

    def __init__(self, collection: Any) -> None:
        self._collection, self.counts = collection, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def count(self) -> int:
        self.counts += 1
        return int(self._collection.count())


def test_langchains_own_chroma_store_reads_the_bots_collection_with_text(
    index: Index, embedder: Embedder
) -> None:
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    class OurEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text).tolist()

    ingest_paths(index, [ARTICLE])
    store = Chroma(
        client=index._client, collection_name="articles", embedding_function=OurEmbeddings()
    )
    found = store.similarity_search(QUESTION, k=3)
    assert len(found) == 3
    passages = index.catalog.get_passages([d.id for d in found if d.id])
    assert [d.page_content for d in found] == [passages[d.id].text for d in found if d.id]
    assert any("Putin" in d.page_content for d in found)
    assert {d.metadata["doc_id"] for d in found} == {"caucasus-peace-talks"}
    assert found[0].metadata["title"] == "Caucasus peace talks"
    VectorStore(index._client, "articles", embedder)  # the model check still passes
