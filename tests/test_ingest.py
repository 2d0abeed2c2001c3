"""Splitting into passages, idempotent ingest, updates, removal and recovery from a killed ingest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.embeddings import Embedder
from bot.errors import DocumentNotFoundError, ModelMismatchError
from bot.index import Index, embedding_text
from bot.ingest import ingest_documents, ingest_paths, split_passages
from bot.types import Document

from .conftest import ARTICLE, ROOT

ALPHA = "Alpha paragraph about the Baku talks and what Azerbaijan proposed."


def _doc(text: str, doc_id: str = "d1") -> Document:
    return Document(doc_id=doc_id, title="T", text=text, source="s.txt")


@pytest.mark.parametrize(
    "text",
    [
        "One paragraph that is long enough to stand on its own as a passage.\n\n" * 3,
        ARTICLE.read_text(encoding="utf-8"),
        "Short.\n\nAnother short.\n\n" + "A long sentence goes on and on. " * 80,
        "x" * 2500,
    ],
)
def test_passages_cover_the_text_with_exact_offsets(text: str) -> None:
    doc = _doc(text.strip())
    passages = split_passages(doc)
    assert passages
    for p in passages:
        assert doc.text[p.start : p.end] == p.text
        assert len(p.text) <= 1000
    assert len({p.passage_id for p in passages}) == len(passages)
    # Every non-space character of the document is in some passage.
    covered = sum(len(p.text.replace(" ", "").replace("\n", "")) for p in passages)
    assert covered == len(doc.text.replace(" ", "").replace("\n", ""))


def test_article_passages_follow_its_paragraphs() -> None:
    text = ARTICLE.read_text(encoding="utf-8").strip()
    passages = split_passages(_doc(text, "caucasus"))
    assert len(passages) == len([line for line in text.splitlines() if line.strip()])
    assert passages[9].text.startswith("Moscow has deployed some 2,000 peacekeepers")
    assert passages[9].paragraph == 10


def test_tiny_paragraphs_merge_into_the_next() -> None:
    doc = _doc(
        "BAKU, April 12\n\nAzerbaijan said on Tuesday that it was ready for peace talks with Armenia."
    )
    [passage] = split_passages(doc)
    assert passage.text.startswith("BAKU, April 12") and passage.text.endswith("Armenia.")


def test_ids_are_stable_and_change_only_with_the_paragraph() -> None:
    text = (
        "Paragraph one is about the ceasefire deal that Moscow brokered in 2020.\n\n"
        "Paragraph two is about the peacekeepers that Moscow deployed in Karabakh."
    )
    first = split_passages(_doc(text))
    again = split_passages(_doc(text))
    changed = split_passages(_doc(text.replace("peacekeepers", "envoys")))
    assert [p.passage_id for p in first] == [p.passage_id for p in again]
    assert first[0].passage_id == changed[0].passage_id
    assert first[1].passage_id != changed[1].passage_id


def test_reingest_unchanged_changes_nothing(index: Index) -> None:
    first = ingest_paths(index, [ARTICLE])
    ids = index.catalog.passage_ids_of("caucasus-peace-talks")
    second = ingest_paths(index, [ARTICLE])
    assert first.added == ["caucasus-peace-talks"] and first.passages == 21
    assert second.unchanged == ["caucasus-peace-talks"] and second.passages == 0
    assert index.catalog.passage_ids_of("caucasus-peace-talks") == ids
    assert index.vectors.count() == index.count_passages() == 21


def test_stored_vectors_read_back_by_id_and_by_page(index: Index, embedder: Embedder) -> None:
    beta = "Beta paragraph about the envoys who met in Vienna in February."
    ingest_documents(index, [_doc(f"{ALPHA}\n\n{beta}")])
    ids = sorted(index.catalog.passage_ids_of("d1"))
    passages = index.catalog.get_passages(ids)
    stored = index.vectors.get_vectors([*ids, "not-stored"])
    assert len(ids) == 2 and sorted(stored) == ids
    for pid in ids:
        expected = embedder.embed([embedding_text(passages[pid])])[0]
        assert np.allclose(stored[pid], expected, atol=1e-5)
    pages = list(index.vectors.pages(size=1))
    assert sorted(pid for page_ids, _ in pages for pid in page_ids) == ids
    for page_ids, page_vectors in pages:
        assert len(page_ids) == len(page_vectors) == 1
        assert np.allclose(page_vectors[0], stored[page_ids[0]])
    assert index.vectors.get_vectors([]) == {}


def test_changed_document_replaces_its_passages(index: Index) -> None:
    ingest_documents(
        index, [_doc(f"{ALPHA}\n\nBeta paragraph about the envoys who met in Vienna in February.")]
    )
    old = index.catalog.passage_ids_of("d1")
    report = ingest_documents(
        index,
        [
            _doc(
                f"{ALPHA}\n\nGamma paragraph, which is new and replaces the old paragraph entirely."
            )
        ],
    )
    new = index.catalog.passage_ids_of("d1")
    assert report.updated == ["d1"]
    assert len(old & new) == 1 and len(new) == 2
    assert index.vectors.count() == 2
    assert index.catalog.keyword_search("envoys", 5) == []
    assert index.catalog.keyword_search("gamma", 5)


def test_remove_deletes_everywhere(index: Index) -> None:
    ingest_documents(
        index,
        [_doc("Alpha paragraph about Baku talks.", "a"), _doc("Beta paragraph on envoys.", "b")],
    )
    index.remove("a")
    assert [d.doc_id for d in index.documents()] == ["b"]
    assert index.vectors.count() == 1
    assert index.catalog.keyword_search("baku", 5) == []
    with pytest.raises(DocumentNotFoundError, match="bot docs"):
        index.remove("a")


def test_a_model_mismatch_is_refused_with_how_to_reindex(
    settings: Settings, embedder: Embedder
) -> None:
    Index(settings, embedder).close()

    class Other(Embedder):
        name = "other-model"
        dimension = 384

        def embed_batch(self, texts: list[str]):  # type: ignore[no-untyped-def]
            return embedder.embed_batch(texts)

    with pytest.raises(ModelMismatchError, match="--reindex"):
        Index(settings, Other())


def test_feed_with_repeated_id_keeps_the_last_version(index: Index) -> None:
    report = ingest_documents(
        index, [_doc("Old text about talks.", "x"), _doc("New text about envoys.", "x")]
    )
    assert report.passages == 1
    assert index.catalog.keyword_search("envoys", 5)
    assert not index.catalog.keyword_search("talks", 5)


def test_bad_file_is_skipped_and_reported_others_go_in(index: Index, tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("A good article about the peace talks.", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01binary")
    report = ingest_paths(index, [tmp_path])
    assert report.added == ["good"]
    assert len(report.errors) == 1 and "bad.txt" in report.errors[0]


def test_a_document_with_a_bad_id_is_skipped_with_a_message(index: Index) -> None:
    good, bad = _doc("A good article about the talks.", "good"), _doc("Bad one.", "bad\nid")
    report = ingest_documents(index, [bad, good])
    assert report.added == ["good"]
    assert len(report.errors) == 1 and "control character" in report.errors[0]
    assert [d.doc_id for d in index.documents()] == ["good"]


def test_what_is_stored_holds_no_surrogate_and_no_script_link(index: Index) -> None:
    doc = Document("d", "Title \ud800", "Text \udfff about talks.", "s.txt", url="javascript:x")
    report = ingest_documents(index, [doc])
    assert report.added == ["d"]
    [(passage_id, _score)] = index.catalog.keyword_search("talks", 5)
    passage = index.catalog.get_passages([passage_id])[passage_id]
    assert passage.text == "Text \ufffd about talks."
    assert passage.title == "Title \ufffd" and passage.url == ""


KILL_SCRIPT = """
import json, sys, time
from pathlib import Path
from bot.config import Settings
from bot.index import Index, embedding_text
from bot.ingest import ingest_paths
import bot.index as index_module

settings = Settings.from_env({}, data_dir=Path(sys.argv[1]), batch_size=8)
original = index_module.Index.write
def slow_write(self, batch):
    original(self, batch)
    print("WROTE", flush=True)
    time.sleep(0.3)
index_module.Index.write = slow_write
ingest_paths(Index(settings), [Path(sys.argv[2])])
print("FINISHED", flush=True)
"""


@pytest.mark.slow  # two fresh processes that load the models: ~6 s
def test_killed_ingest_leaves_a_usable_index_and_rerun_completes(
    tmp_path: Path, embedder: Embedder
) -> None:
    feed = tmp_path / "feed.jsonl"
    with feed.open("w", encoding="utf-8") as handle:
        for i in range(120):
            handle.write(
                json.dumps(
                    {
                        "id": f"n{i}",
                        "title": f"News {i}",
                        "text": f"Report number {i} on the talks in city{i}.",
                    }
                )
                + "\n"
            )
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(data), str(feed)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    wrote = 0
    deadline = time.time() + 180
    while wrote < 2 and time.time() < deadline:
        if proc.stdout.readline().startswith("WROTE"):
            wrote += 1
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wrote == 2, "the ingest did not get far enough to be killed midway"

    settings = Settings.from_env({}, data_dir=data, batch_size=8)
    index = Index(settings, embedder)
    partial = index.count_passages()
    assert 0 < partial < 120
    assert index.vectors.count() == partial  # recover() dropped vectors of a half-written batch
    hits = index.catalog.keyword_search("city1", 5)
    assert hits, "the partial index answers searches"

    report = ingest_paths(index, [feed])
    assert len(report.unchanged) == partial
    assert index.count_passages() == 120
    assert index.vectors.count() == 120  # no duplicates, no orphans
    assert len({d.doc_id for d in index.documents()}) == 120
