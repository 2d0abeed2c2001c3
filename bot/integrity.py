"""Whether the catalog and the vector store hold the same passages, and the repair when not.

Chroma is the system of record: each record keeps the passage's vector, text and fields
(`bot.records`); the catalog (SQLite) is this replica's derived copy. The two can part when
one of them is lost or restored alone. A lost Chroma folder leaves passages with no vector,
which dense search never finds. Orphan vectors (in Chroma, not in the catalog) are a catalog
that is behind; a lost catalog is rebuilt from Chroma when the index opens (`bot.sync`).
Either way, answers would come from half an index.

`check()` is cheap enough to run every time an index opens. It compares the counts, then
looks up a sample of ids from each side in the other. Only when these disagree does it read
every id. Measured at 100k passages (embedded Chroma): 25 ms when they agree, 0.4 s for the
full comparison. `repair_index()` first re-imports the documents of orphan vectors into the
catalog from Chroma's text (Chroma's version of a document wins); orphan records written
before Chroma kept text cannot be re-imported and are deleted. Then it re-embeds, from the
catalog's text, the passages that still have no vector. `bot doctor` prints the report and
repairs on request. This module leaves out the write protocol that keeps the two in step in
normal running (`bot.index`), catching up with other replicas (`bot.sync`) and the start-up
policy (`Index` refuses to open on a mismatch; `bot serve --repair` repairs first).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.errors import IndexMismatchError

if TYPE_CHECKING:
    from bot.index import Index

log = logging.getLogger("bot.integrity")

#: Ids of each side looked up in the other when the counts agree.
SAMPLE = 100
#: Passages re-embedded and stored at a time by a repair. A killed repair keeps what it
#: stored, and the next one goes on from there.
REPAIR_BATCH = 256
#: How many ids a message names.
EXAMPLES = 5


@dataclass
class IntegrityReport:
    """How the catalog and the vector store compare."""

    documents: int
    passages: int
    vectors: int
    #: Passage ids in the catalog without a vector.
    missing: list[str] = field(default_factory=list)
    #: Vector ids without a passage in the catalog.
    orphans: list[str] = field(default_factory=list)
    #: The documents the orphan vectors belong to.
    orphan_documents: list[str] = field(default_factory=list)
    #: Whether every id was compared (else: the counts and a sample).
    full: bool = False

    @property
    def ok(self) -> bool:
        return self.passages == self.vectors and not self.missing and not self.orphans

    def lines(self) -> list[str]:
        """The report for `bot doctor`."""
        compared = "every id" if self.full else f"the counts and a sample of {SAMPLE} ids a side"
        lines = [
            f"catalog: {self.documents} documents, {self.passages} passages",
            f"vector store: {self.vectors} vectors",
            f"compared: {compared}",
        ]
        if self.ok:
            return [*lines, "ok: every passage has its vector and every vector its passage."]
        return [
            *lines,
            f"missing vectors: {len(self.missing)} passages have none{_examples(self.missing)}",
            f"orphan vectors: {len(self.orphans)} have no passage in the catalog"
            + (
                f", from {len(self.orphan_documents)} documents the catalog does not know"
                f"{_examples(self.orphan_documents)}"
                if self.orphan_documents
                else ""
            ),
        ]


def _examples(ids: list[str]) -> str:
    if not ids:
        return ""
    shown = ", ".join(repr(i) for i in ids[:EXAMPLES])
    return f" (e.g. {shown}{', ...' if len(ids) > EXAMPLES else ''})"


def check(index: Index, sample: int = SAMPLE) -> IntegrityReport:
    """Compare the catalog and the vector store: counts and samples, every id on a doubt."""
    catalog, vectors = index.catalog, index.vectors
    passages, stored = catalog.count_passages(), vectors.count()
    report = IntegrityReport(catalog.count_documents(), passages, stored)
    if passages == stored and (passages == 0 or _samples_agree(index, sample)):
        return report
    catalog_ids, vector_ids = catalog.passage_ids(), set(vectors.ids())
    report.missing = sorted(catalog_ids - vector_ids)
    report.orphans = sorted(vector_ids - catalog_ids)
    report.orphan_documents = sorted(vectors.doc_ids_of(report.orphans))
    report.full = True
    return report


def _samples_agree(index: Index, n: int) -> bool:
    from_catalog = index.catalog.sample_passage_ids(n)
    from_vectors = index.vectors.sample_ids(n)
    return len(index.vectors.stored(from_catalog)) == len(from_catalog) and len(
        index.catalog.get_passages(from_vectors)
    ) == len(from_vectors)


def mismatch_message(report: IntegrityReport, settings: Settings) -> str:
    """Why an index will not open, and how to repair it."""
    parts = [
        f"The catalog ({settings.data_dir / (settings.collection + '.sqlite')}: "
        f"{report.passages} passages) and the vector store ({report.vectors} vectors) disagree: "
        f"{len(report.missing)} passages have no vector and {len(report.orphans)} vectors "
        "have no passage. Answers would come from half the index, so it is not used."
    ]
    if report.orphan_documents:
        parts.append(
            f"The orphan vectors belong to {len(report.orphan_documents)} documents the catalog "
            f"does not know{_examples(report.orphan_documents)}; a repair re-imports them from "
            "the vector store's text, or removes them where it keeps none (records written "
            "before it kept text): to keep those, restore the catalog from a backup "
            "(`bot restore DIR`) instead, or upload them again after the repair."
        )
    parts.append(
        "Repair with `bot doctor --repair` (re-imports orphan vectors' documents, re-embeds "
        "missing vectors from the catalog's text), or start the server with "
        "`bot serve --repair`. `bot doctor` shows the details."
    )
    return " ".join(parts)


@dataclass
class RepairResult:
    """What a repair did, and the comparison after it."""

    reembedded: int
    removed: int
    after: IntegrityReport
    #: Documents of orphan vectors re-imported into the catalog from Chroma.
    imported: int = 0


def repair_index(index: Index, progress: bool = False) -> RepairResult:
    """Re-import orphan vectors' documents from Chroma, delete orphans Chroma has no text
    for, and re-embed the passages that still have no vector.

    Holds the data folder's write lock, so that no ingest runs meanwhile; an interrupted
    repair keeps what it stored, and running it again goes on from there.
    """
    with index.writing():
        report = check(index)
        imported = 0
        if report.orphans:
            imported = index.sync.apply(report.orphan_documents)
            report = check(index)
        reembedded = 0
        with _progress(progress, len(report.missing)) as bar:
            for chunk in _chunks(report.missing, REPAIR_BATCH):
                stored = index.store_vectors(chunk)
                reembedded += stored
                bar.update(stored)
        for chunk in _chunks(report.orphans, 5000):
            index.vectors.delete(chunk)
        return RepairResult(reembedded, len(report.orphans), check(index), imported)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _progress(enabled: bool, total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="passage", desc="re-embedding", disable=not enabled or not total)


def open_index(settings: Settings, repair: bool = False) -> Index:
    """The index, checked: raises `IndexMismatchError` (saying how to repair) when the catalog
    and the vector store disagree, or, with `repair`, repairs them first."""
    from bot.index import Index

    if not repair:
        return Index(settings)
    index = Index(settings, verify=False)
    try:
        before = check(index)
        if not before.ok:
            log.warning("repairing the index: %s", "; ".join(before.lines()[3:]))
            result = repair_index(index)
            log.warning(
                "repaired: %d documents re-imported from the vector store, %d vectors "
                "re-embedded, %d orphan vectors removed",
                result.imported,
                result.reembedded,
                result.removed,
            )
            if not result.after.ok:
                raise IndexMismatchError(mismatch_message(result.after, settings))
    except BaseException:
        index.close()
        raise
    return index


# --- bot doctor ---------------------------------------------------------------------------------
def add_command(subparsers: Any) -> None:
    """Register `bot doctor`."""
    p = subparsers.add_parser(
        "doctor",
        help="Check that the catalog and the vector store agree; --repair fixes them.",
        description="Compare the passages in the catalog (SQLite) with the vectors in Chroma. "
        "Exit status 0 when they agree, 1 when they do not. --repair re-imports the documents "
        "of orphan vectors from the vector store's text (removing orphans it has no text for) "
        "and re-embeds missing vectors from the catalog's text.",
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="Re-import orphan vectors' documents, re-embed missing vectors.",
    )
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from bot.index import Index

    index = Index(settings, verify=False)
    try:
        report = check(index)
        print("\n".join(report.lines()))
        if report.ok:
            return 0
        if not args.repair:
            print("Repair with `bot doctor --repair`.")
            return 1
        result = repair_index(index, progress=not args.quiet)
        print(
            f"repaired: {result.imported} documents re-imported from the vector store, "
            f"{result.reembedded} vectors re-embedded from the catalog's text, "
            f"{result.removed} orphan vectors removed."
        )
        print("\n".join(result.after.lines()))
        return 0 if result.after.ok else 1
    finally:
        index.close()
