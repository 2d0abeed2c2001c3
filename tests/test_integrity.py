"""The catalog and the vector store compared at every opening, `bot doctor` and its repair,
the data folder's locks, and the catalog's write-ahead log folded in when it closes.

In-process, over small documents with the real embedding model. The faults are made through
the stores' own interfaces (vectors deleted or added behind the catalog's back); deleting the
folders of a stopped server is `test_faults.py`'s business.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bot import locks
from bot.cli import main
from bot.config import Settings
from bot.embeddings import Embedder
from bot.errors import DataDirInUseError, IndexMismatchError
from bot.index import Index
from bot.ingest import ingest_documents
from bot.integrity import check, open_index, repair_index
from bot.types import Document


def _docs(n: int, prefix: str = "d") -> list[Document]:
    return [
        Document(
            doc_id=f"{prefix}{i}",
            title=f"Report {i}",
            text=f"The talks in city{i} went on for {i + 2} days, longer than anyone expected.\n\n"
            f"Delegates from country{i} signed a memorandum on trade, energy and transport.",
            source=f"{prefix}{i}.txt",
        )
        for i in range(n)
    ]


@pytest.fixture
def filled(settings: Settings, embedder: Embedder) -> Index:
    index = Index(settings, embedder)
    ingest_documents(index, _docs(6))
    return index


def test_an_index_in_step_passes_on_counts_and_a_sample(filled: Index) -> None:
    report = check(filled)
    assert report.ok and not report.full
    assert (report.documents, report.passages, report.vectors) == (6, 12, 12)


def test_missing_vectors_stop_the_opening_and_a_repair_restores_the_same_vectors(
    filled: Index, settings: Settings, embedder: Embedder
) -> None:
    lost = sorted(filled.catalog.passage_ids_of("d2") | filled.catalog.passage_ids_of("d4"))
    before = filled.vectors.get_vectors(lost)
    filled.vectors.delete(lost)
    filled.close()

    with pytest.raises(IndexMismatchError) as refused:
        Index(settings, embedder)
    message = str(refused.value)
    assert "4 passages have no vector" in message and "bot doctor --repair" in message
    assert "bot serve --repair" in message

    index = Index(settings, embedder, verify=False)
    report = check(index)
    assert report.full and report.missing == lost and not report.orphans
    result = repair_index(index)
    assert (result.reembedded, result.removed) == (4, 0) and result.after.ok
    after = index.vectors.get_vectors(lost)
    for pid in lost:
        np.testing.assert_allclose(after[pid], before[pid], atol=1e-5)
    index.close()
    Index(settings, embedder).close()  # opens again


def _legacy_records(index: Index, ids: list[str], doc_id: str) -> None:
    """Vector records as versions before Chroma kept the text wrote them: id, vector, doc_id."""
    vectors = index.embedder.embed(list(ids))
    index.vectors._collection.upsert(
        ids=ids, embeddings=vectors, metadatas=[{"doc_id": doc_id}] * len(ids)
    )


def test_orphan_vectors_without_text_are_named_by_document_and_removed(
    filled: Index, settings: Settings, embedder: Embedder
) -> None:
    ghost_ids = ["ghost-1", "ghost-2", "ghost-3"]
    _legacy_records(filled, ghost_ids, "gone-upload")
    report = check(filled)
    assert report.orphans == ghost_ids and report.orphan_documents == ["gone-upload"]
    filled.close()

    with pytest.raises(IndexMismatchError) as refused:
        Index(settings, embedder)
    message = str(refused.value)
    assert "'gone-upload'" in message and "bot restore DIR" in message

    index = open_index(settings, repair=True)  # what `bot serve --repair` does
    assert check(index).ok and index.vectors.count() == 12
    assert index.vectors.stored(ghost_ids) == set()
    index.close()


def test_orphan_vectors_with_text_are_re_imported_into_the_catalog(
    filled: Index, settings: Settings, embedder: Embedder
) -> None:
    # The catalog lost two documents that Chroma, the system of record, still holds.
    lost = {d: filled.catalog.document(d) for d in ("d1", "d4")}
    passages = filled.catalog.get_passages(
        sorted(filled.catalog.passage_ids_of("d1") | filled.catalog.passage_ids_of("d4"))
    )
    filled.catalog.replace_documents([], removed=list(lost))
    report = check(filled)
    assert report.orphan_documents == ["d1", "d4"] and len(report.orphans) == 4
    filled.close()
    with pytest.raises(IndexMismatchError, match="re-imports them"):
        Index(settings, embedder)

    index = Index(settings, embedder, verify=False)
    result = repair_index(index)
    assert (result.imported, result.reembedded, result.removed) == (2, 0, 0)
    assert result.after.ok
    for doc_id, info in lost.items():
        assert index.catalog.document(doc_id) == info  # every field, from Chroma
    assert index.catalog.get_passages(sorted(passages)) == passages
    assert index.catalog.keyword_search("city4", 5)  # back in the keyword index too
    index.close()


def test_equal_counts_with_other_ids_are_caught_by_the_sample(filled: Index) -> None:
    # One passage lost its vector and one vector has no passage: the counts still agree.
    [gone] = sorted(filled.catalog.passage_ids_of("d1"))[:1]
    filled.vectors.delete([gone])
    _legacy_records(filled, ["stray"], "elsewhere")
    assert filled.count_passages() == filled.vectors.count()
    report = check(filled)  # 12 ids a side: the sample holds them all
    assert not report.ok and report.full
    assert report.missing == [gone] and report.orphans == ["stray"]


def test_bot_doctor_reports_then_repairs(
    filled: Index, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lost = sorted(filled.catalog.passage_ids_of("d0"))
    filled.vectors.delete(lost)
    filled.close()
    data = str(settings.data_dir)

    assert main(["--data-dir", data, "doctor"]) == 1
    out = capsys.readouterr().out
    assert "catalog: 6 documents, 12 passages" in out and "vector store: 10 vectors" in out
    assert "missing vectors: 2 passages" in out and "bot doctor --repair" in out

    assert main(["--data-dir", data, "doctor", "--repair", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2 vectors re-embedded" in out and "0 orphan vectors removed" in out
    assert main(["--data-dir", data, "doctor"]) == 0
    assert "ok: every passage has its vector" in capsys.readouterr().out


def test_commands_that_read_the_index_refuse_a_broken_one(
    filled: Index, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    filled.vectors.delete(sorted(filled.catalog.passage_ids_of("d3")))
    filled.close()
    for command in (["docs"], ["ask", "How long did the talks in city3 go on?"]):
        assert main(["--data-dir", str(settings.data_dir), *command]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: The catalog") and "bot doctor --repair" in err


def test_health_reports_vectors_beside_passages(filled: Index) -> None:
    from bot.service import Service

    from .helpers import CannedBot

    service = Service(filled.settings, CannedBot(filled))  # type: ignore[arg-type]
    health = service.health()
    assert (health["passages"], health["vectors"], health["vectors_agree"]) == (12, 12, True)
    assert health["status"] == "ok"
    filled.vectors.delete(sorted(filled.catalog.passage_ids_of("d5")))
    health = service.health()
    assert (health["passages"], health["vectors"], health["vectors_agree"]) == (12, 10, False)
    assert health["status"] == "degraded"


def test_closing_the_catalog_folds_the_write_ahead_log_into_the_file(filled: Index) -> None:
    path = filled.catalog.path
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the writes sit in the log until then
    filled.close()
    assert not wal.exists() or wal.stat().st_size == 0
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)  # the file alone
    assert db.execute("SELECT count(*) FROM documents").fetchone()[0] == 6
    db.close()
    filled.close()  # twice is fine


def test_a_write_waits_for_the_write_lock(filled: Index, tmp_path: Path) -> None:
    done = threading.Event()

    def write() -> None:
        ingest_documents(filled, _docs(1, prefix="late"))
        done.set()

    with locks.writing(filled.settings.data_dir):  # as `bot backup` holds it
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(3)  # embedding one document takes well under this
        assert not done.is_set(), "the write did not wait for the lock"
    writer.join(timeout=60)
    assert done.is_set() and filled.catalog.document("late0") is not None


def test_the_data_folder_cannot_be_taken_alone_while_an_index_is_open(filled: Index) -> None:
    with (
        pytest.raises(DataDirInUseError, match="Stop it first"),
        locks.sole_user(filled.settings.data_dir),
    ):
        pass
    filled.close()
    with locks.sole_user(filled.settings.data_dir):
        pass
