"""Catching up with other replicas: Chroma's change log and the local catalog kept after it.

Several `bot serve` replicas can share one Chroma server, each with its own data folder. Chroma
is the system of record (`bot.records`); each replica's catalog (passages, keyword index,
document list) is a derived copy. Every write adds one record per document it wrote or removed
to a small second collection, `{collection}__changes` (a uuid id, a 1-d dummy vector, metadata
`{doc_id, op, at}` with `at` in seconds since the epoch on the writer's clock). Its `count()`
is the version: records are only ever added.

A replica remembers in its catalog's meta table the count it has applied and the newest `at`
it saw. `catch_up()` compares counts (one `count()` request); when they differ it reads the
changes with `at >= last_at - SKEW_SECONDS`, and for each document named there that it has not
applied yet reads that document's records from Chroma and replaces (or deletes) it in the
catalog. That reads the current state, so the order of changes, repeats and this replica's own
writes do not matter. Replicas' clocks must agree within `SKEW_SECONDS`: a change stamped
earlier than that before the last one applied is not looked for.

`maybe_catch_up()` is the throttled form on the question path, the documents list and the
health check (at most once every `BOT_SYNC_SECONDS`; a thread that finds another catching up
goes on without waiting). At
opening, `open()` also gives records written before Chroma kept text their text from the
catalog (no embedding), and rebuilds a missing or empty catalog from Chroma by paging.
The change log is never pruned (one small record per document written). This module leaves
out the write protocol (`bot.index`) and the comparison of ids (`bot.integrity`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bot import records
from bot.errors import StoreUnavailableError

if TYPE_CHECKING:
    from bot.index import Index

log = logging.getLogger("bot.sync")

#: How far replicas' clocks may disagree (seconds): changes are read from this long before
#: the newest one applied.
SKEW_SECONDS = 300.0
#: Documents read from Chroma per request while catching up.
DOCUMENTS_PER_READ = 100
#: Catalog meta keys.
APPLIED = "sync_changes"
LAST_AT = "sync_at"
SCHEMA = "chroma_schema"


def changes_name(collection: str) -> str:
    """The change log's collection beside `collection`."""
    return f"{collection}__changes"


class Sync:
    """One replica's catch-up with the shared change log."""

    def __init__(self, index: Index, client: Any) -> None:
        self.index = index
        self.every_s = index.settings.sync_seconds
        try:
            self.changes = client.get_or_create_collection(
                changes_name(index.settings.collection), embedding_function=None
            )
        except Exception as exc:
            raise StoreUnavailableError(
                f"Cannot open the Chroma change log {changes_name(index.settings.collection)!r}: "
                f"{exc}"
            ) from None
        self._busy = threading.Lock()
        self._checked = float("-inf")  # monotonic time of the last count() compared
        self._in_step_at: float | None = None  # monotonic time the catalog was last in step
        #: Change ids applied (or written here) with their `at`, within the window read again.
        self._seen: dict[str, float] = {}

    # --- the log -------------------------------------------------------------------------
    def record(self, doc_ids: list[str], op: str) -> None:
        """Log that these documents were written ("write"), removed ("remove") or finished
        after a killed write ("recover"). The caller holds the write lock and has finished
        with Chroma's records of them."""
        if not doc_ids:
            return
        at = time.time()
        ids = [uuid.uuid4().hex for _ in doc_ids]
        self.changes.add(
            ids=ids,
            embeddings=[[0.0]] * len(ids),
            metadatas=[{"doc_id": d, "op": op, "at": at} for d in doc_ids],
        )
        self._seen.update(dict.fromkeys(ids, at))
        catalog = self.index.catalog
        applied = int(catalog.get_meta(APPLIED) or 0)
        if self.changes.count() == applied + len(ids):  # nobody else wrote meanwhile
            self._save(applied + len(ids), max(self._last_at(), at))

    def version(self) -> int:
        return int(self.changes.count())

    # --- catching up ---------------------------------------------------------------------
    def maybe_catch_up(self) -> None:
        """`catch_up()` unless one ran in the last `BOT_SYNC_SECONDS` or runs right now. A
        Chroma server that cannot be reached is logged: answers come from what is here."""
        now = time.monotonic()
        if now - self._checked < self.every_s or not self._busy.acquire(blocking=False):
            return
        try:
            self._checked = now
            self.catch_up()
        except Exception:
            log.warning("cannot catch up with the change log", exc_info=True)
        finally:
            self._busy.release()

    def catch_up(self, lock: bool = True) -> list[str]:
        """Apply other replicas' changes to the catalog; returns the documents read again.
        `lock=False` when the caller already holds the write lock (the opening)."""
        total = self.version()
        catalog = self.index.catalog
        if total == int(catalog.get_meta(APPLIED) or 0):
            self._in_step_at = time.monotonic()
            return []
        last_at = self._last_at()
        got = self.changes.get(
            where={"at": {"$gte": last_at - SKEW_SECONDS}}, include=["metadatas"]
        )
        fresh = [
            (cid, meta)
            for cid, meta in zip(got["ids"], got["metadatas"], strict=True)
            if cid not in self._seen
        ]
        doc_ids = list(dict.fromkeys(str(meta["doc_id"]) for _, meta in fresh))
        newest = max([last_at, *(float(meta["at"]) for _, meta in fresh)])
        with self.index.writing() if lock else contextlib.nullcontext():
            self.apply(doc_ids)
            self._save(total, newest)
            # Under the lock: `record()` adds this replica's own changes to the same dict.
            for cid, meta in zip(got["ids"], got["metadatas"], strict=True):
                self._seen[cid] = float(meta["at"])
            self._seen = {c: at for c, at in self._seen.items() if at >= newest - SKEW_SECONDS}
        self._in_step_at = time.monotonic()
        if doc_ids:
            log.info("caught up: %d documents changed elsewhere", len(doc_ids))
        return doc_ids

    def apply(self, doc_ids: list[str]) -> int:
        """Make these documents in the catalog what Chroma holds: replaced, or deleted when
        Chroma has none. One whose records carry no text yet is left as it is. The caller
        holds the write lock. Returns how many were replaced."""
        replaced = 0
        for chunk in _chunks(doc_ids, DOCUMENTS_PER_READ):
            found, unreadable = self.index.vectors.stored_documents(chunk)
            self.index.catalog.replace_documents(
                [(stored.info, stored.passages) for stored in found.values()],
                removed=[d for d in chunk if d not in found and d not in unreadable],
            )
            replaced += len(found)
        return replaced

    def state(self) -> dict[str, Any]:
        """For `/api/health`: the change count applied, and how long ago the catalog was last
        found in step with the change log (None: not yet)."""
        return {
            "applied_changes": int(self.index.catalog.get_meta(APPLIED) or 0),
            "seconds_since_catch_up": None
            if self._in_step_at is None
            else round(time.monotonic() - self._in_step_at, 3),
        }

    # --- opening -------------------------------------------------------------------------
    def open(self) -> None:
        """At opening, with the write lock held: old records get their text, a missing or
        empty catalog is rebuilt from Chroma, and other replicas' changes are applied."""
        catalog, vectors = self.index.catalog, self.index.vectors
        if catalog.get_meta(SCHEMA) != records.SCHEMA_VERSION:
            if catalog.count_passages():
                self.backfill()
            catalog.set_meta(SCHEMA, records.SCHEMA_VERSION)
        if catalog.count_passages() == 0 and vectors.count() > 0:
            self.rebuild()
        elif catalog.get_meta(APPLIED) is None:  # a catalog older than the change log
            self._save(self.version(), time.time())
        else:
            self.catch_up(lock=False)
        self._in_step_at = time.monotonic()

    def backfill(self) -> int:
        """Give every record this catalog has a passage for its text and fields, keeping the
        vectors. Returns how many records were given text."""
        catalog, vectors = self.index.catalog, self.index.vectors
        documents = {d.doc_id: d for d in catalog.documents()}
        written_at, done = time.time(), 0
        for page in catalog.passage_pages(1000):
            page = [p for p in page if p.doc_id in documents]
            done += vectors.add_text(page, documents, written_at)
        log.warning("gave %d vector records their text and fields from the catalog", done)
        return done

    def rebuild(self) -> int:
        """Fill the catalog from Chroma's records, without embedding. Returns the number of
        documents."""
        started, total = time.time(), self.version()
        ids: list[str] = []
        texts: list[str | None] = []
        metadatas: list[Any] = []
        for page_ids, page_texts, page_metadatas in self.index.vectors.record_pages():
            ids += page_ids
            texts += page_texts
            metadatas += page_metadatas
        found, unreadable = records.group(ids, texts, metadatas)
        stored = list(found.values())
        for i in range(0, len(stored), 500):
            self.index.catalog.replace_documents(
                [(d.info, d.passages) for d in stored[i : i + 500]]
            )
        self._save(total, started)
        log.warning(
            "rebuilt the catalog from the vector store: %d documents, %d passages%s",
            len(found),
            sum(len(d.passages) for d in stored),
            f"; {len(unreadable)} documents have no text there" if unreadable else "",
        )
        return len(found)

    # --- state ---------------------------------------------------------------------------
    def _last_at(self) -> float:
        return float(self.index.catalog.get_meta(LAST_AT) or 0.0)

    def _save(self, applied: int, last_at: float) -> None:
        catalog = self.index.catalog
        with catalog.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(APPLIED, str(applied)), (LAST_AT, repr(last_at))],
            )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
