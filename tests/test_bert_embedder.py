"""The direct BERT backend gives sentence-transformers' vectors; batching by length keeps the
caller's order; model folders it does not recognise are left to sentence-transformers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.embeddings import (
    BertEmbedder,
    Embedder,
    SentenceTransformerEmbedder,
    bert_layout,
    resolve_model_path,
)

from .conftest import ARTICLE

TEXTS = [
    "Who brokered the 2020 ceasefire?",
    "",
    "   ",
    "  Spaces   around\tand\ninside  ",
    "Çavuşoğlu met Mirzoyan — “quoted” 6,500 lives; ünïcödé, 日本語 and an emoji 🙂.",
    "cease-fire CEASEFIRE Cease Fire",
    "word " * 600,  # longer than the model's 256 tokens: truncated alike
    *[p for p in ARTICLE.read_text(encoding="utf-8").split("\n\n") if p.strip()][:12],
]


@pytest.fixture(scope="module")
def reference() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2", resolve_model_path("all-MiniLM-L6-v2"))


def test_the_packaged_model_runs_on_the_direct_backend(embedder: Embedder) -> None:
    assert isinstance(embedder, BertEmbedder)
    assert embedder.dimension == 384


@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_direct_backend_gives_sentence_transformers_vectors(
    embedder: Embedder, reference: SentenceTransformerEmbedder, batch_size: int
) -> None:
    ours = embedder.embed(TEXTS, batch_size=batch_size)
    theirs = reference.embed(TEXTS, batch_size=batch_size)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    assert float(np.abs(ours - theirs).max()) < 1e-5


def test_batching_by_length_keeps_the_callers_order(embedder: Embedder) -> None:
    together = embedder.embed(TEXTS, batch_size=3)
    one_by_one = np.vstack([embedder.embed([t]) for t in TEXTS])
    assert float(np.abs(together - one_by_one).max()) < 1e-5
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_threads_may_embed_at_once(embedder: Embedder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    expected = embedder.embed(TEXTS)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: embedder.embed(TEXTS), range(8)))
    for result in results:
        assert float(np.abs(result - expected).max()) < 1e-5


@pytest.mark.parametrize(
    ("file", "change"),
    [
        ("config.json", {"model_type": "roberta"}),
        ("config.json", {"hidden_act": "gelu_new"}),
        ("1_Pooling/config.json", {"pooling_mode_cls_token": True}),
        ("sentence_bert_config.json", {"do_lower_case": True}),
    ],
)
def test_other_models_are_left_to_sentence_transformers(
    tmp_path: Path, file: str, change: dict[str, object]
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), folder)
    assert bert_layout(folder) is not None
    path = folder / file
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}), encoding="utf-8")
    assert bert_layout(folder) is None


def test_a_dense_layer_after_pooling_is_left_to_sentence_transformers(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules.insert(
        2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    )
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    assert bert_layout(folder) is None
