"""`bot bench` on a tiny corpus: the code path runs end to end and reports sane figures.

No timing is asserted: speed is measured by running the benchmark, not by tests. The server,
cold-start and Chroma-server parts start processes of their own and are skipped here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.bench import (
    SQUAD_DIR,
    BenchOptions,
    build_corpus,
    run_benchmark,
    write_corpus,
)
from bot.cli import build_parser
from bot.config import Settings
from bot.errors import ConfigError
from bot.ingest import split_passages
from bot.loaders import load_file

from .conftest import ROOT, SQUAD

#: The figures docs/benchmark.md reports: every run must have them.
REQUIRED_KEYS = (
    "passages",
    "ingest_passages_per_s",
    "raw_encode_passages_per_s",
    "peak_rss_mb",
    "query_p50_ms",
    "query_p95_ms",
    "baseline_query_p50_ms",
    "recall_at_5",
    "baseline_recall_at_5",
)


def test_default_inputs_ship_with_the_repository() -> None:
    assert SQUAD_DIR == SQUAD and SQUAD_DIR.is_relative_to(ROOT)
    for name in ("squad2_passages.jsonl", "squad2_questions.jsonl", "squad2_unanswerable.jsonl"):
        assert (SQUAD_DIR / name).stat().st_size > 0, name


def test_squad_option_reaches_the_corpus_and_a_missing_folder_says_what_to_do(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-sample"
    args = build_parser().parse_args(["bench", "--squad", str(missing), "--out", str(tmp_path)])
    assert args.squad == missing and args.article.exists()
    with pytest.raises(ConfigError, match="--squad") as caught:
        args.func(args, Settings.from_env({}))
    assert str(missing / "squad2_passages.jsonl") in str(caught.value)


@pytest.mark.parametrize("passages", [200, 1000])
def test_corpus_has_exactly_the_asked_passages_all_distinct(passages: int) -> None:
    corpus = build_corpus(passages)
    split = [p for doc in corpus.documents for p in split_passages(doc)]
    assert len(split) == passages == len(corpus.texts)
    assert len({p.text for p in split}) == passages
    gold = {doc_id for q in corpus.questions for doc_id in q.gold_doc_ids}
    assert corpus.questions and gold <= {doc.doc_id for doc in corpus.documents}


def test_corpus_is_the_same_every_time_and_grows_by_adding() -> None:
    small, large = build_corpus(300), build_corpus(600)
    assert build_corpus(300).texts == small.texts
    assert set(small.texts) <= set(large.texts)


def test_fillers_never_contain_a_gold_paragraphs_sentence() -> None:
    corpus = build_corpus(1000)
    gold_docs = {doc_id for q in corpus.questions for doc_id in q.gold_doc_ids}
    gold_text = " ".join(d.text for d in corpus.documents if d.doc_id in gold_docs)
    fillers = [d for d in corpus.documents if d.doc_id.startswith("filler-")]
    assert fillers
    for doc in fillers[:20]:
        for paragraph in doc.text.split("\n\n"):
            assert paragraph not in gold_text


def test_corpus_file_loads_through_the_real_loader(tmp_path: Path) -> None:
    corpus = build_corpus(200)
    path = tmp_path / "corpus.jsonl"
    write_corpus(corpus, path)
    loaded = list(load_file(path))
    assert [d.doc_id for d in loaded] == [d.doc_id for d in corpus.documents]


@pytest.mark.slow  # ingests 200 passages, then the query benchmark and its baseline: ~30 s
def test_benchmark_runs_end_to_end_on_a_tiny_corpus(tmp_path: Path) -> None:
    options = BenchOptions(
        passages=200,
        out_dir=tmp_path / "bench",
        questions=20,
        raw_sample=100,
        cold_start=False,
        server=False,
        chroma_server=False,
        squad_dir=SQUAD,
    )
    result = run_benchmark(options, Settings.from_env({}))
    json.dumps(result)  # what --json prints
    for key in REQUIRED_KEYS:
        assert key in result, key
    assert result["passages"] == result["index_passages"] == 200
    assert result["questions"] == 20
    assert result["ingest_passages_per_s"] > 0 and result["raw_encode_passages_per_s"] > 0
    assert 100 < result["peak_rss_mb"] < 8000
    assert 0 < result["query_p50_ms"] <= result["query_p95_ms"]
    assert 0 < result["baseline_query_p50_ms"] <= result["baseline_query_p95_ms"]
    assert 0.5 <= result["recall_at_5"] <= 1 and 0.3 <= result["baseline_recall_at_5"] <= 1
    # The baseline's collection holds our vectors; its own (torch) embedding of the same texts
    # is the same to float precision on torch, and within int8 rounding on onnx-int8.
    same = 1e-4 if result["embedding_backend"] == "torch" else 0.05
    assert result["baseline_vector_max_abs_diff"] < same
    assert result["torch_threads"] == 1
    # 200 passages: a catalog and a Chroma folder, each something but not absurd.
    assert 0 < result["catalog_disk_mb"] < 50 and 0 < result["chroma_disk_mb"] < 200
    assert result["index_disk_mb"] == round(result["catalog_disk_mb"] + result["chroma_disk_mb"], 1)
    # The default ("auto") is decided once for the new index: the faster backend.
    assert result["embedding_backend"] == result["settings"]["embedding_backend"] == "onnx-int8"


def test_raw_encode_runs_on_the_backend_ingest_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import embeddings
    from bot.bench import measure_raw_encode, measured_env

    asked: list[tuple[object, ...]] = []

    class Counting(embeddings.Embedder):
        name, dimension, backend = "all-MiniLM-L6-v2", 3, "onnx-int8"

        def embed_batch(self, texts: list[str]):  # type: ignore[no-untyped-def]
            return np.ones((len(texts), 3), dtype=np.float32)

    def fake_load(*args: object) -> embeddings.Embedder:
        asked.append(args)
        return Counting()

    monkeypatch.setattr(embeddings, "load_embedder", fake_load)
    settings = Settings.from_env({}, data_dir=tmp_path / "data", embedding_backend="onnx-int8")
    result = measure_raw_encode(settings, [f"text {i}" for i in range(20)], 10)
    assert result["raw_texts"] == 10 and result["raw_encode_passages_per_s"] > 0
    assert asked and asked[0][2] == "onnx-int8"
    assert measured_env(settings)["BOT_EMBEDDING_BACKEND"] == "onnx-int8"  # the ingest process
