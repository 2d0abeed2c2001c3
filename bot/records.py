"""The Chroma record of a passage: enough for Chroma alone to rebuild a replica's catalog.

Chroma is the system of record (see `bot.index`). Each passage's record holds its id, its
vector, its text (Chroma's `documents`) and metadata with every other `Passage` field plus the
fields of the catalog's `documents` table that a passage does not carry (`DocumentInfo`: the
content hash, when it was ingested, its length). Both field lists come from the dataclasses,
so a field added there flows through. `written_at` (seconds since the epoch on the writer's
clock) tells two versions of one document apart while a write is in progress or was cut short:
the newest wins.

Records written before text was kept (`SCHEMA_VERSION` "1": ids, vectors and `doc_id` only)
are unreadable here; `bot.sync` backfills them from a catalog that has the text. This module
leaves out reading and writing Chroma (`bot.store`) and the catalog (`bot.catalog`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from bot.catalog import DocumentInfo
from bot.types import Passage

#: What the records hold: "1" ids, vectors and doc_id; "2" also the text and every field.
SCHEMA_VERSION = "2"
#: Passage fields kept in the metadata (the text is Chroma's `documents`).
PASSAGE_FIELDS = tuple(f.name for f in fields(Passage) if f.name != "text")
#: Document fields a passage lacks; the passage count is the number of records.
DOCUMENT_FIELDS = tuple(
    f.name for f in fields(DocumentInfo) if f.name not in PASSAGE_FIELDS and f.name != "passages"
)
WRITTEN_AT = "written_at"


def metadata(passage: Passage, document: DocumentInfo, written_at: float) -> dict[str, Any]:
    """The metadata of one passage's record."""
    meta: dict[str, Any] = {name: getattr(passage, name) for name in PASSAGE_FIELDS}
    meta.update({name: getattr(document, name) for name in DOCUMENT_FIELDS})
    meta[WRITTEN_AT] = written_at
    return meta


def now_utc() -> str:
    """An `ingested_at` in the catalog's format (SQLite's `datetime('now')`, UTC)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


@dataclass
class StoredDocument:
    """A document as its records in Chroma hold it: the newest version's passages."""

    info: DocumentInfo
    passages: list[Passage]
    #: Record ids of older versions (another write in progress, or one cut short).
    stale: list[str] = field(default_factory=list)


def group(
    ids: Sequence[str], texts: Sequence[str | None], metadatas: Sequence[Any]
) -> tuple[dict[str, StoredDocument], set[str]]:
    """Records grouped by document: {doc_id: StoredDocument}, and the ids of documents with
    a record this schema cannot read (no text yet), which are left out."""
    versions: dict[str, dict[tuple[float, str], list[tuple[Passage, dict[str, Any]]]]] = {}
    stale_ids: dict[str, dict[tuple[float, str], list[str]]] = {}
    unreadable: set[str] = set()
    for pid, text, meta in zip(ids, texts, metadatas, strict=True):
        meta = meta or {}
        doc_id = str(meta.get("doc_id", ""))
        if text is None:
            unreadable.add(doc_id)
            continue
        try:
            passage = Passage(**{name: meta[name] for name in PASSAGE_FIELDS}, text=str(text))
            version = (float(meta[WRITTEN_AT]), str(meta["content_hash"]))
        except KeyError:
            unreadable.add(doc_id)
            continue
        versions.setdefault(doc_id, {}).setdefault(version, []).append((passage, meta))
        stale_ids.setdefault(doc_id, {}).setdefault(version, []).append(pid)
    found: dict[str, StoredDocument] = {}
    for doc_id, by_version in versions.items():
        if doc_id in unreadable:
            continue
        newest = max(by_version)
        records = sorted(by_version[newest], key=lambda r: (r[0].paragraph, r[0].start))
        passages = [p for p, _ in records]
        first, meta = records[0]
        info = DocumentInfo(
            doc_id=doc_id,
            title=first.title,
            source=first.source,
            date=first.date,
            url=first.url,
            passages=len(passages),
            **{name: meta[name] for name in DOCUMENT_FIELDS},
        )
        stale = [pid for v, pids in stale_ids[doc_id].items() if v != newest for pid in pids]
        found[doc_id] = StoredDocument(info, passages, stale)
    return found, unreadable - {""}
