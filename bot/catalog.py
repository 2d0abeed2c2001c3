"""The catalog: documents, passages and the BM25 keyword index, in one SQLite file.

SQLite's FTS5 keeps the keyword index on disk and updates it in the same transaction that adds
or removes a document's passages, so it is never rebuilt and never out of step with the
passage table. The catalog is this replica's local, derived copy of what Chroma holds (Chroma
is the system of record, `bot.records`): `bot.sync` keeps it up to date with other replicas'
writes and rebuilds it from Chroma when it is lost, without embedding anything. Searches read
it: a vector hit whose id is not here (a write not caught up with yet) is ignored.

A `pending` table is the write-ahead journal for the vector store: a document's id goes in
before its vectors are written or deleted and comes out in the transaction that finishes the
job, so a killed ingest can be repaired on the next run (see `bot.index`). The `meta` table
holds the embedding model's name and the catch-up state (`bot.sync`).
"""

from __future__ import annotations

import math
import random
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.text import STOPWORDS, compounds, content_terms, words
from bot.types import Passage

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT, source TEXT, date TEXT, url TEXT,
    content_hash TEXT NOT NULL, passages INTEGER NOT NULL, chars INTEGER NOT NULL,
    ingested_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS passages (
    rowid INTEGER PRIMARY KEY, passage_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL,
    title TEXT, source TEXT, date TEXT, url TEXT, paragraph INTEGER, start INTEGER, "end" INTEGER,
    text TEXT NOT NULL, extra TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    title, text, extra, content='passages', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts(rowid, title, text, extra) VALUES (new.rowid, new.title, new.text, new.extra);
END;
CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, title, text, extra)
    VALUES ('delete', old.rowid, old.title, old.text, old.extra);
END;
CREATE TABLE IF NOT EXISTS pending (doc_id TEXT PRIMARY KEY);
"""
# Per-connection view of the keyword index's terms (FTS5 stems with the original Porter
# algorithm), for document frequencies.
VOCAB = "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, passages_fts, 'row')"

# BM25 column weights: title, text, extra (hyphen compounds). A title repeats in every passage
# of its document, so it counts for less than the passage's own words.
BM25_WEIGHTS = (0.5, 1.0, 1.0)

_COLUMNS = 'passage_id, doc_id, title, source, date, url, paragraph, start, "end", text'


@dataclass(frozen=True)
class DocumentInfo:
    """A row of `bot docs`."""

    doc_id: str
    title: str
    source: str
    date: str
    url: str
    passages: int
    chars: int
    ingested_at: str
    content_hash: str


class Catalog:
    """SQLite-backed documents, passages and keyword index for one collection."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection shared by threads (the web server); SQLite calls are serialised.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._vocabulary: tuple[Any, dict[str, int]] | None = None
        self._passage_count: tuple[Any, int] | None = None
        self._commits = 0  # this connection's own writes (data_version counts the others')
        self._closed = False
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._db.execute(VOCAB)

    def close(self) -> None:
        """Fold the write-ahead log into the database file, then close: after a clean stop
        `articles.sqlite` alone holds every write (a backup of that one file loses nothing)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside happen atomically, or not at all."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._commits += 1

    # --- metadata -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- documents ------------------------------------------------------------------------
    def content_hashes(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """Stored content hash of each of these documents that is fully ingested."""
        ids = list(doc_ids)
        found: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT doc_id, content_hash FROM documents WHERE doc_id IN ({marks}) "
                    f"AND doc_id NOT IN (SELECT doc_id FROM pending)",
                    chunk,
                )
                found.update(dict(rows.fetchall()))
        return found

    def documents(self) -> list[DocumentInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, title, source, date, url, passages, chars, ingested_at, content_hash "
                "FROM documents ORDER BY ingested_at, doc_id"
            ).fetchall()
        return [DocumentInfo(*row) for row in rows]

    def document(self, doc_id: str) -> DocumentInfo | None:
        with self._lock:
            row = self._db.execute(
                "SELECT doc_id, title, source, date, url, passages, chars, ingested_at, content_hash "
                "FROM documents WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
        return DocumentInfo(*row) if row else None

    def version(self) -> tuple[int, int]:
        """Changes whenever the catalog may have changed: a write through this object, or one
        another connection (process) committed. Costs no table read, unlike a count: at 100k
        passages `count(*)` scans an index, and a question asked for the count three times."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0]), self._commits

    def count_passages(self) -> int:
        with self._lock:
            version = self.version()
            if self._passage_count is None or self._passage_count[0] != version:
                count = int(self._db.execute("SELECT count(*) FROM passages").fetchone()[0])
                self._passage_count = (version, count)
            return self._passage_count[1]

    def count_documents(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM documents").fetchone()[0])

    def passage_ids(self) -> set[str]:
        """Every passage id (for comparing with the vector store; ~5 MB at 100k passages)."""
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT passage_id FROM passages")}

    def sample_passage_ids(self, n: int) -> list[str]:
        """Up to `n` passage ids in a row from a random place: a cheap spot check."""
        with self._lock:
            offset = random.randrange(max(self.count_passages() - n, 0) + 1)
            rows = self._db.execute(
                "SELECT passage_id FROM passages ORDER BY rowid LIMIT ? OFFSET ?", (n, offset)
            )
            return [row[0] for row in rows]

    def passage_ids_of(self, doc_id: str) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT passage_id FROM passages WHERE doc_id = ?", (doc_id,))
            return {row[0] for row in rows}

    # --- the journal ----------------------------------------------------------------------
    def mark_pending(self, doc_ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO pending(doc_id) VALUES (?)", [(d,) for d in doc_ids]
            )

    def pending(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT doc_id FROM pending")]

    def clear_pending(self, doc_ids: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM pending WHERE doc_id = ?", [(d,) for d in doc_ids])

    # --- writes ---------------------------------------------------------------------------
    def replace_documents(
        self, batch: list[tuple[DocumentInfo, list[Passage]]], removed: Iterable[str] = ()
    ) -> None:
        """Atomically replace each document's row and passages, and delete the `removed`
        documents; clears their pending marks."""
        with self.transaction() as db:
            for doc_id in removed:
                db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
                db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
                db.execute("DELETE FROM pending WHERE doc_id = ?", (doc_id,))
            for doc, passages in batch:
                db.execute("DELETE FROM passages WHERE doc_id = ?", (doc.doc_id,))
                db.executemany(
                    f"INSERT INTO passages({_COLUMNS}, extra) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            p.passage_id,
                            p.doc_id,
                            p.title,
                            p.source,
                            p.date,
                            p.url,
                            p.paragraph,
                            p.start,
                            p.end,
                            p.text,
                            " ".join(compounds(p.text)),
                        )
                        for p in passages
                    ],
                )
                db.execute(
                    "INSERT OR REPLACE INTO documents(doc_id, title, source, date, url, content_hash,"
                    " passages, chars, ingested_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        doc.doc_id,
                        doc.title,
                        doc.source,
                        doc.date,
                        doc.url,
                        doc.content_hash,
                        len(passages),
                        doc.chars,
                        doc.ingested_at,
                    ),
                )
                db.execute("DELETE FROM pending WHERE doc_id = ?", (doc.doc_id,))

    def delete_document(self, doc_id: str) -> None:
        """Remove a document and its passages, leaving it pending until its vectors are gone."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO pending(doc_id) VALUES (?)", (doc_id,))
            db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    # --- reads ----------------------------------------------------------------------------
    def get_passages(self, passage_ids: list[str]) -> dict[str, Passage]:
        """The stored passages among these ids (unknown ids are left out)."""
        if not passage_ids:
            return {}
        marks = ",".join("?" * len(passage_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM passages WHERE passage_id IN ({marks})", passage_ids
            ).fetchall()
        return {row[0]: Passage(*row) for row in rows}

    def passage_pages(self, size: int = 5000) -> Iterator[list[Passage]]:
        """Every passage, `size` at a time in storage order."""
        last = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT rowid, {_COLUMNS} FROM passages WHERE rowid > ? ORDER BY rowid "
                    "LIMIT ?",
                    (last, size),
                ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [Passage(*row[1:]) for row in rows]

    def keyword_search(self, query: str, k: int) -> list[tuple[str, float]]:
        """BM25 over title, text and compounds: (passage_id, score), best first."""
        match = fts_query(query)
        if not match:
            return []
        with self._lock:
            # The top k from the keyword index alone, then their ids: joining the passage table
            # in the ranking query looked up every matching row, not just the k kept (at 100k
            # passages the ranking took 48 ms instead of 33 ms).
            top = self._db.execute(
                "SELECT rowid, bm25(passages_fts, ?, ?, ?) AS rank FROM passages_fts "
                "WHERE passages_fts MATCH ? ORDER BY rank LIMIT ?",
                (*BM25_WEIGHTS, match, k),
            ).fetchall()
            if not top:
                return []
            marks = ",".join("?" * len(top))
            ids = dict(
                self._db.execute(
                    f"SELECT rowid, passage_id FROM passages WHERE rowid IN ({marks})",
                    [rowid for rowid, _ in top],
                ).fetchall()
            )
        return [(ids[rowid], -float(rank)) for rowid, rank in top if rowid in ids]

    def idf(self, text: str) -> dict[str, float]:
        """BM25-style IDF of each content term of `text`, keyed by `bot.text.content_terms` stem."""
        pairs = [(content_terms(w), porter_stem(w)) for w in words(text)]
        pairs = [(terms[0], fts_term) for terms, fts_term in pairs if terms]
        if not pairs:
            return {}
        fts_terms = sorted({fts_term for _, fts_term in pairs})
        marks = ",".join("?" * len(fts_terms))
        with self._lock:
            total = self.count_passages()
            df = dict(
                self._db.execute(
                    f"SELECT term, doc FROM temp.vocab WHERE term IN ({marks})", fts_terms
                ).fetchall()
            )
        result: dict[str, float] = {}
        for term, fts_term in pairs:
            n = df.get(fts_term, 0)
            result[term] = max(result.get(term, 0.0), math.log(1 + (total - n + 0.5) / (n + 0.5)))
        return result

    def vocabulary(self) -> dict[str, int]:
        """Every term of the keyword index (FTS5 Porter stems) with the number of passages that
        hold it; read again only when the passages changed."""
        with self._lock:
            version = self.version()
            if self._vocabulary is None or self._vocabulary[0] != version:
                rows = self._db.execute("SELECT term, doc FROM temp.vocab").fetchall()
                self._vocabulary = (version, {str(t): int(n) for t, n in rows})
            return self._vocabulary[1]

    def surface_word(self, term: str) -> str | None:
        """A word as the articles write it whose Porter stem is `term` ('peacekeep' ->
        'peacekeepers'), or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT p.text FROM passages_fts f JOIN passages p ON p.rowid = f.rowid "
                "WHERE passages_fts MATCH ? LIMIT 1",
                (f'text:"{term}"',),
            ).fetchone()
        if not row:
            return None
        return next((w for w in re.findall(r"[^\W\d_]+", row[0]) if porter_stem(w) == term), None)


def porter_stem(word: str) -> str:
    """The stem FTS5's porter tokenizer gives a word (the original Porter algorithm)."""
    return _porter().stemWord(word.lower())


@lru_cache(maxsize=1)
def _porter():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("porter")


def fts_query(question: str) -> str:
    """An FTS5 OR-query of the question's content words (stop words out, each word quoted)."""
    seen: list[str] = []
    for w in words(question) + compounds(question):
        w = re.sub(r"'s$", "", w).replace("'", "")
        if w in STOPWORDS or (len(w) < 2 and not w.isdigit()) or w in seen:
            continue
        seen.append(w)
    return " OR ".join(f'"{w}"' for w in seen)
