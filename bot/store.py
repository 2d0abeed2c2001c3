"""The vector store: one Chroma collection of passage embeddings.

Embedded (`chromadb.PersistentClient` in the data folder) by default, or a Chroma server
(`chroma run`) when a host is configured. The collection records the embedding model's name,
dimension and backend in its metadata; opening it with another model raises `ModelMismatchError`
saying how to re-index. Vectors are computed by `bot.embeddings` and passed in explicitly;
the collection still gets our embedding function so Chroma never loads its own default model.
Chroma is the system of record: each record carries the passage's text and every field the
catalog needs (`bot.records`), so any replica can rebuild its catalog from here. The change
log that tells replicas what moved is `bot.sync`'s.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot import records
from bot.catalog import DocumentInfo
from bot.embeddings import Embedder, check_backend
from bot.errors import ModelMismatchError, StoreUnavailableError
from bot.records import StoredDocument
from bot.types import Passage


class ChromaEmbeddingFunction:
    """Adapter so Chroma embeds with our model if it ever needs to embed by itself."""

    def __init__(self, model: str, embedder: Embedder | None = None) -> None:
        self.model = model
        self._embedder = embedder

    def __call__(self, input: Sequence[str]) -> list[np.ndarray]:
        if self._embedder is None:  # Chroma rebuilds this from config; load only when used
            from bot.embeddings import load_embedder

            self._embedder = load_embedder(self.model)
        return list(self._embedder.embed(list(input)))

    def embed_query(self, input: Sequence[str]) -> list[np.ndarray]:
        return self(input)

    def embed_documents(self, input: Sequence[str]) -> list[np.ndarray]:
        return self(input)

    @staticmethod
    def name() -> str:
        return "newsbot-sentence-transformers"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        return ChromaEmbeddingFunction(str(config.get("model", "")))

    def is_legacy(self) -> bool:
        return False

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]


def chroma_client(data_dir: Path, host: str = "", port: int = 8000) -> Any:
    """A Chroma client: the server at host:port if a host is given, else embedded in data_dir."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if host:
        try:
            return chromadb.HttpClient(host=host, port=port, settings=settings)
        except Exception as exc:  # chromadb raises plain ValueError/ConnectionError here
            raise StoreUnavailableError(
                f"Cannot reach the Chroma server at {host}:{port} ({exc}). Start it with "
                f"`chroma run --port {port}` or unset BOT_CHROMA_HOST to use the embedded store."
            ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=settings)


def collection_metadata(client: Any, name: str) -> dict[str, Any] | None:
    """The metadata of the collection `name` (the model and backend it was built with), or
    None when it does not exist or cannot be read; loads no model."""
    try:
        collection = client.get_collection(
            name, embedding_function=ChromaEmbeddingFunction("unknown")
        )
    except Exception:  # missing, or made with another embedding function: nothing to read
        return None
    return dict(collection.metadata or {})


class VectorStore:
    """Passage vectors in one Chroma collection, tied to one embedding model."""

    def __init__(self, client: Any, name: str, embedder: Embedder) -> None:
        self.embedder = embedder
        self.name = name
        try:
            self._collection = client.get_or_create_collection(
                name=name,
                embedding_function=ChromaEmbeddingFunction(embedder.name, embedder),
                metadata={
                    "embedding_model": embedder.name,
                    "embedding_dimension": embedder.dimension,
                    "embedding_backend": embedder.backend,
                    "hnsw:space": "cosine",
                },
            )
        except Exception as exc:
            if "embedding function" in str(exc).lower():
                raise ModelMismatchError(
                    _mismatch_message(name, "another model", embedder.name)
                ) from None
            raise StoreUnavailableError(
                f"Cannot open the Chroma collection {name!r}: {exc}"
            ) from None
        self._check_model()

    def _check_model(self) -> None:
        meta = self._collection.metadata or {}
        built_with = meta.get("embedding_model")
        dimension = meta.get("embedding_dimension")
        if built_with != self.embedder.name or (
            dimension and int(dimension) != self.embedder.dimension
        ):
            raise ModelMismatchError(_mismatch_message(self.name, built_with, self.embedder.name))
        check_backend(meta.get("embedding_backend"), self.embedder, f"The index {self.name!r}")

    def count(self) -> int:
        return int(self._collection.count())

    def upsert(
        self,
        passages: Sequence[Passage],
        vectors: np.ndarray | Sequence[np.ndarray],
        documents: Mapping[str, DocumentInfo],
        written_at: float,
    ) -> None:
        """Store these passages' vectors with their text and fields (`bot.records`);
        `documents` holds the document of each."""
        if passages:
            self._collection.upsert(
                ids=[p.passage_id for p in passages],
                embeddings=vectors,
                documents=[p.text for p in passages],
                metadatas=[records.metadata(p, documents[p.doc_id], written_at) for p in passages],
            )

    def add_text(
        self, passages: Sequence[Passage], documents: Mapping[str, DocumentInfo], written_at: float
    ) -> int:
        """Give stored records of these passages their text and fields, keeping their vectors
        (records written before Chroma kept the text). Returns how many were stored."""
        stored = self.get_vectors([p.passage_id for p in passages])
        keep = [p for p in passages if p.passage_id in stored]
        if keep:
            # The vectors go along: without them Chroma would embed the text again.
            self._collection.update(
                ids=[p.passage_id for p in keep],
                embeddings=[stored[p.passage_id] for p in keep],
                documents=[p.text for p in keep],
                metadatas=[records.metadata(p, documents[p.doc_id], written_at) for p in keep],
            )
        return len(keep)

    def delete(self, ids: list[str]) -> None:
        if ids:
            self._collection.delete(ids=ids)

    def ids_of_documents(self, doc_ids: list[str]) -> set[str]:
        """Every record id Chroma holds for these documents: what a write replaces and a
        removal deletes, whatever this replica's catalog knows."""
        if not doc_ids:
            return set()
        where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": doc_ids}}
        return set(self._collection.get(where=where, include=[])["ids"])

    def stored_documents(self, doc_ids: list[str]) -> tuple[dict[str, StoredDocument], set[str]]:
        """These documents as Chroma holds them (absent ones are left out), and the ids of
        those with records that carry no text yet (`bot.records.group`)."""
        if not doc_ids:
            return {}, set()
        where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": doc_ids}}
        got = self._collection.get(where=where, include=["documents", "metadatas"])
        return records.group(got["ids"], got["documents"], got["metadatas"])

    def record_pages(
        self, size: int = 5000
    ) -> Iterator[tuple[list[str], list[str | None], list[Any]]]:
        """Every stored (ids, texts, metadatas), `size` at a time: for rebuilding a catalog."""
        for offset in range(0, self.count(), size):
            got = self._collection.get(
                limit=size, offset=offset, include=["documents", "metadatas"]
            )
            yield list(got["ids"]), list(got["documents"]), list(got["metadatas"])

    def get_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these passage ids; ids that are not stored are left out."""
        if not ids:
            return {}
        got = self._collection.get(ids=ids, include=["embeddings"])
        return {
            pid: np.asarray(vector, dtype=np.float32)
            for pid, vector in zip(got["ids"], got["embeddings"], strict=True)
        }

    def pages(self, size: int = 5000) -> Iterator[tuple[list[str], list[np.ndarray]]]:
        """Every stored (ids, vectors), `size` at a time: for copying the vectors elsewhere."""
        for offset in range(0, self.count(), size):
            got = self._collection.get(limit=size, offset=offset, include=["embeddings"])
            yield list(got["ids"]), list(got["embeddings"])

    def ids(self, size: int = 5000) -> Iterator[str]:
        """Every stored id, fetched `size` at a time."""
        for offset in range(0, self.count(), size):
            yield from self._collection.get(limit=size, offset=offset, include=[])["ids"]

    def sample_ids(self, n: int) -> list[str]:
        """Up to `n` stored ids in a row from a random place: a cheap spot check."""
        offset = random.randrange(max(self.count() - n, 0) + 1)
        return list(self._collection.get(limit=n, offset=offset, include=[])["ids"])

    def stored(self, ids: list[str], size: int = 5000) -> set[str]:
        """Those of these ids that have a vector."""
        found: set[str] = set()
        for i in range(0, len(ids), size):
            found.update(self._collection.get(ids=ids[i : i + size], include=[])["ids"])
        return found

    def doc_ids_of(self, ids: list[str], size: int = 5000) -> set[str]:
        """The documents these stored vectors belong to (from the metadata Chroma keeps)."""
        found: set[str] = set()
        for i in range(0, len(ids), size):
            got = self._collection.get(ids=ids[i : i + size], include=["metadatas"])
            found.update(str((meta or {}).get("doc_id", "")) for meta in got["metadatas"])
        return found - {""}

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Nearest passages: (passage_id, cosine similarity), best first."""
        # Chroma returns fewer than k when it holds fewer, so there is no count() first: that
        # was a second request per question, a round trip to a Chroma server.
        result = self._collection.query(
            query_embeddings=[vector], n_results=k, include=["distances"]
        )
        return [
            (pid, 1.0 - float(dist))
            for pid, dist in zip(result["ids"][0], result["distances"][0], strict=True)
        ]


def _mismatch_message(collection: str, built_with: object, configured: str) -> str:
    return (
        f"The index {collection!r} was built with the embedding model {built_with!r}, but "
        f"{configured!r} is configured. Either set BOT_EMBEDDING_MODEL={built_with} again, or "
        f"re-index with the new model: `bot ingest --reindex PATH...` (or choose a new "
        f"BOT_COLLECTION)."
    )
