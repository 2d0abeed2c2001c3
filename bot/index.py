"""The index: the vector store and the catalog kept in step, behind one object.

Chroma is the system of record: each passage's record holds its vector, text and every field
(`bot.records`), so replicas that share a Chroma server (each with its own data folder) all
answer from it. The catalog (passages, BM25 keyword index, document list) is this replica's
derived copy, brought up to date with other replicas' writes by `bot.sync`.

Writes follow one protocol so that a process killed at any point leaves a usable index and a
re-run completes the job with no duplicates:

1. the documents' ids go into the catalog's `pending` journal (committed);
2. their new records (vector, text, fields) are upserted into Chroma (ids are stable, so a
   repeat is harmless);
3. the documents' other records in Chroma (Chroma's own ids, not this catalog's, which may be
   behind) are deleted;
4. one change record per document goes into Chroma's change log (`bot.sync`);
5. one SQLite transaction replaces the documents' passages and keyword entries and clears
   the journal.

Until step 5 commits, searches here see the old version (vector hits are checked against the
catalog); other replicas see the new one after step 4. On opening, `recover()` finishes any
journalled document: one the catalog no longer (or never) had is deleted from Chroma, as a
removal or a first write cut short; of one it has, Chroma's newest version wins and the
catalog takes it. Removal journals and deletes from the catalog, then from Chroma, then logs
the change.

Every write holds the data folder's write lock (`bot.locks`), across processes, so a backup
or another process's recovery never sees one half done. On opening, the index catches up
with the change log (rebuilding a lost catalog from Chroma), then checks that the catalog
and Chroma hold the same passages (`bot.integrity`) and refuses to open when they do not,
saying how to repair: a lost Chroma folder must never leave the bot answering from half an
index. `verify=False` opens it anyway, for `bot doctor`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from bot import locks
from bot.catalog import Catalog, DocumentInfo
from bot.config import Settings
from bot.embeddings import (
    Embedder,
    check_backend,
    load_embedder,
    release_freed_memory,
    resolve_backend,
)
from bot.errors import DocumentNotFoundError, IndexMismatchError, ModelMismatchError
from bot.integrity import check, mismatch_message
from bot.records import now_utc
from bot.store import VectorStore, chroma_client, collection_metadata
from bot.sync import Sync, changes_name
from bot.types import Document, Passage

#: Passages per forward pass of the embedding model while ingesting. On CPU, 16 passages
#: (sorted by length by the embedder) ran at 26 passages/s and 64 at 19/s: smaller batches
#: keep the activations in cache. `Settings.batch_size` still sets how many are written at once.
FORWARD_BATCH = 16
#: How long an opening that finds the catalog and a shared Chroma server apart waits for
#: another replica's write to finish (and be logged) before it checks again.
SETTLE_SECONDS = 2.0


@dataclass
class Prepared:
    """A document split into passages, ready to be written."""

    document: Document
    content_hash: str
    passages: list[Passage]


class Index:
    """Documents, passages, vectors and the keyword index of one collection."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, verify: bool = True
    ) -> None:
        """Open (or create) the index. Raises `IndexMismatchError`, saying how to repair,
        when the catalog and the vector store disagree, unless `verify` is False."""
        self.settings = settings
        self._open_lock = locks.OpenLock(settings.data_dir)
        try:
            self.catalog = Catalog(settings.data_dir / f"{settings.collection}.sqlite")
            self._client = chroma_client(
                settings.data_dir, settings.chroma_host, settings.chroma_port
            )
            self.embedder = embedder or load_embedder(
                settings.embedding_model,
                settings.torch_threads,
                resolve_backend(settings.embedding_backend, self._recorded_backend()),
                settings.onnx_cache_dir,
            )
            self._check_catalog_model()
            self.vectors = VectorStore(self._client, settings.collection, self.embedder)
            self.sync = Sync(self, self._client)
            with self.writing():  # another process's write finishes first
                self.recover()
                self.sync.open()
                report = check(self) if verify else None
                if report is not None and not report.ok and settings.chroma_host:
                    # Another replica may be between its Chroma write and its change record.
                    time.sleep(SETTLE_SECONDS)
                    self.sync.catch_up(lock=False)
                    report = check(self)
            if report is not None and not report.ok:
                raise IndexMismatchError(mismatch_message(report, settings))
        except BaseException:
            self.close()
            raise

    def _recorded_backend(self) -> str | None:
        """The embedding backend this index was built with, as the catalog or (on a replica's
        first start) the Chroma collection records it; "torch" for an index from before the
        setting; None when there is no index yet."""
        if self.catalog.get_meta("embedding_model") is not None:
            return self.catalog.get_meta("embedding_backend") or "torch"
        meta = collection_metadata(self._client, self.settings.collection)
        if meta and meta.get("embedding_model"):
            return str(meta.get("embedding_backend") or "torch")
        return None

    def _check_catalog_model(self) -> None:
        built_with = self.catalog.get_meta("embedding_model")
        if built_with is None:
            self.catalog.set_meta("embedding_model", self.embedder.name)
            self.catalog.set_meta("embedding_backend", self.embedder.backend)
        elif built_with != self.embedder.name:
            raise ModelMismatchError(
                f"The keyword index {self.catalog.path} belongs to an index built with "
                f"{built_with!r}, but {self.embedder.name!r} is configured. Set "
                f"BOT_EMBEDDING_MODEL={built_with}, or re-index: `bot ingest --reindex PATH...`."
            )
        where = f"The keyword index {self.catalog.path}"
        check_backend(self.catalog.get_meta("embedding_backend"), self.embedder, where)

    def close(self) -> None:
        """Close the catalog (folding its write-ahead log into the file) and let go of the
        data folder. Safe to call twice; never while this thread holds `writing()`."""
        if hasattr(self, "catalog"):  # not when opening it failed
            with self.writing():  # a write in another thread finishes its group first
                self.catalog.close()
        self._open_lock.release()

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """The data folder's write lock: held by every write, a repair and `bot backup`."""
        return locks.writing(self.settings.data_dir)

    # --- writing --------------------------------------------------------------------------
    def recover(self) -> list[str]:
        """Finish writes that a killed process left half done; returns the repaired doc ids.
        The caller holds the write lock."""
        pending = self.catalog.pending()
        if not pending:
            return []
        for doc_id in pending:
            if self.catalog.document(doc_id) is None:  # a removal, or a first write, cut short
                self.vectors.delete(sorted(self.vectors.ids_of_documents([doc_id])))
            else:  # an update cut short: the newest version in Chroma wins
                found, _ = self.vectors.stored_documents([doc_id])
                if doc_id in found:
                    self.vectors.delete(found[doc_id].stale)
        self.sync.record(pending, "recover")
        self.sync.apply(pending)
        self.catalog.clear_pending(pending)
        return pending

    def write(self, batch: list[Prepared]) -> None:
        """Add or replace these documents, following the protocol in the module docstring."""
        if not batch:
            return
        passages = [passage for prepared in batch for passage in prepared.passages]
        # Embedding changes nothing stored, so it runs before the lock is taken: a backup
        # waits for the store writes only, not for the model.
        vectors = self._embed(passages)
        ingested_at = now_utc()
        documents = {
            p.document.doc_id: DocumentInfo(
                doc_id=p.document.doc_id,
                title=p.document.title,
                source=p.document.source,
                date=p.document.date,
                url=p.document.url,
                passages=len(p.passages),
                chars=len(p.document.text),
                ingested_at=ingested_at,
                content_hash=p.content_hash,
            )
            for p in batch
        }
        doc_ids = list(documents)
        with self.writing():
            self.catalog.mark_pending(doc_ids)
            self.vectors.upsert(passages, vectors, documents, time.time())
            stale = self.vectors.ids_of_documents(doc_ids) - {p.passage_id for p in passages}
            self.vectors.delete(sorted(stale))
            self.sync.record(doc_ids, "write")
            self.catalog.replace_documents(
                [(documents[p.document.doc_id], p.passages) for p in batch]
            )

    def _embed(self, passages: list[Passage]) -> Any:
        vectors = self.embedder.embed(
            [embedding_text(p) for p in passages],
            batch_size=min(self.settings.batch_size, FORWARD_BATCH),
        )
        release_freed_memory()  # else the process grows with the corpus (glibc keeps it)
        return vectors

    def store_vectors(self, passage_ids: list[str]) -> int:
        """Embed these passages again from the catalog's text and store their records (a
        repair; the caller holds the write lock). Returns how many were stored."""
        found = self.catalog.get_passages(passage_ids)
        passages = [found[pid] for pid in passage_ids if pid in found]
        if passages:
            doc_ids = sorted({p.doc_id for p in passages})
            documents = {d: info for d in doc_ids if (info := self.catalog.document(d))}
            passages = [p for p in passages if p.doc_id in documents]
            self.vectors.upsert(passages, self._embed(passages), documents, time.time())
            self.sync.record(sorted(documents), "write")
        return len(passages)

    def remove(self, doc_id: str) -> DocumentInfo:
        """Delete one document everywhere; raises DocumentNotFoundError if unknown (here and
        in Chroma: another replica's document not caught up with yet is removed too)."""
        info = self.catalog.document(doc_id)
        if info is None:
            stored, _ = self.vectors.stored_documents([doc_id])
            info = stored[doc_id].info if doc_id in stored else None
        if info is None:
            raise DocumentNotFoundError(
                f"No document with id {doc_id!r}. `bot docs` lists the ids."
            )
        with self.writing():
            ids = self.catalog.passage_ids_of(doc_id) | self.vectors.ids_of_documents([doc_id])
            self.catalog.delete_document(doc_id)
            self.vectors.delete(sorted(ids))
            self.sync.record([doc_id], "remove")
            self.catalog.clear_pending([doc_id])
        return info

    # --- reading --------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        """Every document, after catching up with other replicas' writes (throttled)."""
        self.sync.maybe_catch_up()
        return self.catalog.documents()

    def count_passages(self) -> int:
        """The passages searched here, after catching up with other replicas' writes
        (throttled): the question path calls this before it searches."""
        self.sync.maybe_catch_up()
        return self.catalog.count_passages()


def embedding_text(passage: Passage) -> str:
    """What is embedded for a passage: its title gives context the paragraph may lack."""
    if passage.title and not passage.text.startswith(passage.title):
        return f"{passage.title}. {passage.text}"
    return passage.text


def reset_index(settings: Settings) -> None:
    """Delete the collection and catalog without loading them (they may be for another model).
    Raises `DataDirInUseError` while another process (a server) has the index open."""
    path = settings.data_dir / f"{settings.collection}.sqlite"
    with locks.sole_user(settings.data_dir):
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        client = chroma_client(settings.data_dir, settings.chroma_host, settings.chroma_port)
        for name in (settings.collection, changes_name(settings.collection)):
            with contextlib.suppress(Exception):  # missing already: nothing to drop
                client.delete_collection(name)
