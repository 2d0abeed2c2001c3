"""Ingestion: documents -> passages with stable ids -> the index, idempotently and in batches.

Passages follow paragraphs: a long paragraph is split at sentence boundaries, a tiny one
(a heading, a dateline) is merged into the next. A passage id is the document id, the
paragraph number and a hash of the passage text, so re-ingesting an unchanged document
reproduces the same ids and a changed paragraph gets a new one. A document whose content hash
is already stored is skipped without embedding anything.

Documents stream from `bot.loaders` and are written in groups of about `batch_size` passages,
so memory does not grow with the corpus. A bad file, or a document whose id is not printable
text of bounded length, is reported and skipped; the others go in. What is stored holds no
lone surrogate and no link other than http(s) (`bot.sanitize`).
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.errors import BotError, UnsupportedFileError
from bot.index import Index, Prepared
from bot.loaders import SUPPORTED_HINT, iter_input_files, load_file
from bot.sanitize import clean_text, doc_id_problem, safe_url
from bot.text import sentence_spans
from bot.types import Document, Passage

#: Bump when splitting changes, so re-ingesting rewrites passages made the old way.
SPLITTER_VERSION = "1"
MAX_PASSAGE_CHARS = 1000
MIN_PASSAGE_CHARS = 60


@dataclass
class IngestReport:
    """What an ingest run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    passages: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} "
            f"unchanged; {self.passages} passages written"
        )
        if self.errors:
            text += f"; {len(self.errors)} skipped:\n  " + "\n  ".join(self.errors)
        return text


def content_hash(doc: Document) -> str:
    """Changes whenever anything stored for the document would change."""
    h = hashlib.sha256(SPLITTER_VERSION.encode())
    for part in (doc.title, doc.source, doc.date, doc.url, doc.text):
        h.update(b"\x1f" + part.encode())
    return h.hexdigest()


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Paragraph spans: blocks between blank lines, or single lines if there are no blank lines."""
    separator = r"\n[ \t]*\n+" if re.search(r"\n[ \t]*\n", text) else r"\n+"
    spans = []
    start = 0
    for match in re.finditer(separator, text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    result = []
    for s, e in spans:
        piece = text[s:e]
        if piece.strip():
            s += len(piece) - len(piece.lstrip())
            e -= len(piece) - len(piece.rstrip())
            result.append((s, e))
    return result


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Split text[start:end] into pieces of at most `limit` characters at sentence ends."""
    if end - start <= limit:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    cur_start: int | None = None
    cur_end = start
    for s, e in sentence_spans(text[start:end]):
        s, e = s + start, e + start
        if cur_start is not None and e - cur_start > limit:
            pieces.append((cur_start, cur_end))
            cur_start = None
        if cur_start is None:
            cur_start = s
        cur_end = e
        # A single sentence longer than the limit is cut at a space.
        while cur_end - cur_start > limit:
            cut = text.rfind(" ", cur_start, cur_start + limit)
            cut = cut if cut > cur_start else cur_start + limit
            pieces.append((cur_start, cut))
            cur_start = cut + 1 if text[cut : cut + 1] == " " else cut
    if cur_start is not None and cur_end > cur_start:
        pieces.append((cur_start, cur_end))
    return pieces


def split_passages(
    doc: Document, max_chars: int = MAX_PASSAGE_CHARS, min_chars: int = MIN_PASSAGE_CHARS
) -> list[Passage]:
    """The document's passages, in order, with offsets into `doc.text`."""
    groups: list[tuple[int, int, int]] = []  # (paragraph number, start, end)
    carry: tuple[int, int] | None = None  # a tiny paragraph waiting to be merged forward
    for number, (s, e) in enumerate(paragraph_spans(doc.text), start=1):
        if carry is not None:
            number, s = carry[0], carry[1]
            carry = None
        if e - s < min_chars:
            carry = (number, s)
            continue
        groups.extend((number, a, b) for a, b in _split_long(doc.text, s, e, max_chars))
    if carry is not None:
        last_end = paragraph_spans(doc.text)[-1][1]
        if groups and groups[-1][2] - groups[-1][1] + (last_end - carry[1]) <= max_chars:
            number, s, _ = groups.pop()  # merge a tiny last paragraph backwards
            groups.append((number, s, last_end))
        else:
            groups.append((carry[0], carry[1], last_end))
    passages = []
    seen: dict[str, int] = {}
    for number, s, e in groups:
        text = doc.text[s:e]
        digest = hashlib.sha1(text.encode()).hexdigest()[:10]
        base = f"{doc.doc_id}#p{number}-{digest}"
        seen[base] = seen.get(base, 0) + 1
        pid = base if seen[base] == 1 else f"{base}-{seen[base]}"
        passages.append(
            Passage(
                passage_id=pid,
                doc_id=doc.doc_id,
                title=doc.title,
                source=doc.source,
                date=doc.date,
                url=doc.url,
                paragraph=number,
                start=s,
                end=e,
                text=text,
            )
        )
    return passages


def ingest_documents(
    index: Index,
    documents: Iterable[Document],
    report: IngestReport | None = None,
    progress: bool = False,
    total: int | None = None,
) -> IngestReport:
    """Write documents to the index in batches; unchanged ones are skipped."""
    report = report or IngestReport()
    batch: list[Document] = []
    batch_passages = 0
    bar = _progress(progress, total)
    for doc in documents:
        problem = doc_id_problem(doc.doc_id)
        if problem:  # loaders check ids too; this covers documents built in code
            report.errors.append(f"{doc.source}: the id {doc.doc_id[:80]!r} {problem}; skipped.")
            continue
        batch.append(_cleaned(doc))
        batch_passages += max(1, len(doc.text) // MAX_PASSAGE_CHARS)
        if batch_passages >= index.settings.batch_size or len(batch) >= 500:
            _write_batch(index, batch, report)
            bar.update(len(batch))
            batch, batch_passages = [], 0
    _write_batch(index, batch, report)
    bar.update(len(batch))
    bar.close()
    return report


def _cleaned(doc: Document) -> Document:
    """The document as it may be stored: no lone surrogates (they cannot be encoded, hashed
    or embedded) and no link other than http(s)."""
    return replace(
        doc,
        title=clean_text(doc.title),
        text=clean_text(doc.text),
        source=clean_text(doc.source),
        date=clean_text(doc.date),
        url=safe_url(clean_text(doc.url)),
    )


def _write_batch(index: Index, docs: list[Document], report: IngestReport) -> None:
    if not docs:
        return
    # A feed may repeat an id; the last version wins, as if ingested one after the other.
    latest = {doc.doc_id: doc for doc in docs}
    stored = index.catalog.content_hashes(latest)
    prepared = []
    for doc in latest.values():
        digest = content_hash(doc)
        if stored.get(doc.doc_id) == digest:
            report.unchanged.append(doc.doc_id)
            continue
        (report.updated if doc.doc_id in stored else report.added).append(doc.doc_id)
        prepared.append(Prepared(doc, digest, split_passages(doc)))
    index.write(prepared)
    report.passages += sum(len(p.passages) for p in prepared)


def ingest_paths(index: Index, paths: list[Path], progress: bool = False) -> IngestReport:
    """Ingest files and folders; a file that cannot be read is reported and skipped."""
    report = IngestReport()
    files = list(iter_input_files(paths))
    if not files:
        raise UnsupportedFileError(
            "No files to ingest in " + ", ".join(map(str, paths)) + ". " + SUPPORTED_HINT
        )

    def documents() -> Iterable[Document]:
        for file in files:
            try:
                yield from load_file(file)
            except BotError as exc:
                report.errors.append(str(exc))

    return ingest_documents(index, documents(), report, progress=progress)


def _progress(enabled: bool, total: int | None):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="doc",
        desc="ingest",
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
    )
