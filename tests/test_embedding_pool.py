"""Threads embedding at once: each borrows its own model instance (sentence-transformers'
tokenizer is not thread-safe), the instances share one copy of the weights, and the vectors are
the ones a single thread gets."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bot.embeddings import SentenceTransformerEmbedder, resolve_model_path

TEXTS = [f"Report {i}: the envoys met in Vienna to talk about the border." for i in range(24)]


@pytest.mark.slow  # loads up to three model instances: ~6 s
def test_threads_embed_at_once_with_the_same_vectors() -> None:
    embedder = SentenceTransformerEmbedder(
        "all-MiniLM-L6-v2", resolve_model_path("all-MiniLM-L6-v2")
    )
    embedder.max_instances = 3
    expected = np.vstack([embedder.embed([t]) for t in TEXTS])
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda t: embedder.embed([t])[0], TEXTS * 4))
    for i, vector in enumerate(results):
        assert float(np.abs(vector - expected[i % len(TEXTS)]).max()) < 1e-6
    assert 1 <= embedder._instances <= 3
    assert len(embedder._idle) == embedder._instances  # every instance was given back
    weights = {next(m.parameters()).data_ptr() for m in embedder._idle}
    assert len(weights) == 1  # one copy of the weights, however many instances


def test_one_thread_loads_one_instance() -> None:
    embedder = SentenceTransformerEmbedder(
        "all-MiniLM-L6-v2", resolve_model_path("all-MiniLM-L6-v2")
    )
    for text in TEXTS[:5]:
        embedder.embed_query(text)
    assert embedder._instances == 1
