"""Loading embedding models offline: packaged names, local folders, unknown names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.embeddings import Embedder, resolve_model_path
from bot.errors import ConfigError


def test_packaged_model_resolves_to_a_local_folder() -> None:
    path = resolve_model_path("all-MiniLM-L6-v2")
    assert path.is_dir() and (path / "config.json").exists()


def test_a_local_folder_is_used_as_is() -> None:
    folder = resolve_model_path("all-MiniLM-L6-v2")
    assert resolve_model_path(str(folder)) == folder


def test_an_unknown_model_says_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="never downloaded"):
        resolve_model_path("sentence-transformers/some-hub-model")
    with pytest.raises(ConfigError, match="BOT_EMBEDDING_MODEL"):
        resolve_model_path(str(tmp_path / "missing-folder"))


def test_vectors_are_unit_length_and_batched_consistently(embedder: Embedder) -> None:
    texts = [f"Sentence number {i} about the peace talks." for i in range(7)]
    one_batch = embedder.embed(texts, batch_size=64)
    small_batches = embedder.embed(texts, batch_size=2)
    assert one_batch.shape == (7, embedder.dimension) == (7, 384)
    assert np.allclose(np.linalg.norm(one_batch, axis=1), 1.0, atol=1e-5)
    assert np.allclose(one_batch, small_batches, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_similar_texts_are_closer_than_unrelated_ones(embedder: Embedder) -> None:
    q = embedder.embed_query("Who brokered the ceasefire?")
    near, far = embedder.embed(["Putin brokered the truce.", "A recipe for sourdough bread."])
    assert float(q @ near) > float(q @ far) + 0.2
