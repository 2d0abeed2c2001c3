"""The onnx-int8 embedding backend: close to torch's vectors, exported once, falls back to
torch without onnxruntime, and an index built on one backend refuses the other."""

from __future__ import annotations

import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bot import onnx_embedder
from bot.config import Settings
from bot.embeddings import Embedder, load_embedder, resolve_model_path
from bot.errors import ConfigError, ModelMismatchError
from bot.index import Index
from bot.ingest import ingest_paths
from bot.onnx_embedder import OnnxInt8Embedder
from bot.store import VectorStore, chroma_client

from .conftest import ARTICLE

MODEL = "all-MiniLM-L6-v2"
SENTENCES = [
    "Who brokered the ceasefire between Armenia and Azerbaijan?",
    "The foreign ministers met in Washington to sign the peace declaration.",
    "A recipe for sourdough bread needs flour, water, salt and patience.",
    "The Normans were the people who gave their name to Normandy, a region in France.",
    "Oxygen is a chemical element with symbol O and atomic number 8.",
    "Short.",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx(onnx_cache: Path) -> OnnxInt8Embedder:
    return OnnxInt8Embedder(MODEL, resolve_model_path(MODEL), 1, onnx_cache)


def test_onnx_vectors_are_close_to_torch_ones(
    onnx: OnnxInt8Embedder, torch_embedder: Embedder
) -> None:
    int8, fp32 = onnx.embed(SENTENCES), torch_embedder.embed(SENTENCES)
    assert int8.shape == fp32.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cosines = (int8 * fp32).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
    # close, not equal: that is why an index is tied to one backend
    assert not np.allclose(int8, fp32, atol=1e-4)
    # the same text embeds the same whatever it is batched with
    assert np.allclose(onnx.embed(SENTENCES[:1]), int8[:1], atol=1e-5)


def test_the_export_is_cached_and_reused(
    onnx: OnnxInt8Embedder, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert onnx.onnx_path.parent == onnx_cache and onnx.onnx_path.exists()
    before = onnx.onnx_path.stat().st_mtime_ns

    def no_second_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("exported again although the cache holds the model")

    monkeypatch.setattr(onnx_embedder, "export_int8", no_second_export)
    again = OnnxInt8Embedder(MODEL, resolve_model_path(MODEL), 1, onnx_cache)
    assert again.onnx_path == onnx.onnx_path
    assert onnx.onnx_path.stat().st_mtime_ns == before
    assert [p.name for p in onnx_cache.iterdir()] == [onnx.onnx_path.name]  # no leftovers
    assert np.allclose(again.embed(SENTENCES[:2]), onnx.embed(SENTENCES[:2]))


def test_the_cache_key_follows_the_model_files(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    first = onnx_embedder.cache_key(folder)
    (folder / "config.json").write_text('{"changed": true}', encoding="utf-8")
    assert onnx_embedder.cache_key(folder) != first


def test_a_pipeline_it_cannot_reproduce_is_refused(tmp_path: Path) -> None:
    (tmp_path / "modules.json").write_text(
        '[{"path": "", "type": "sentence_transformers.models.Transformer"},'
        ' {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}]',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="BOT_EMBEDDING_BACKEND=torch"):
        OnnxInt8Embedder("odd", tmp_path, 1, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # refused before any export


def test_without_onnxruntime_it_falls_back_to_torch_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
    with caplog.at_level(logging.WARNING, logger="bot.embeddings"):
        fallback = load_embedder.__wrapped__(MODEL, 1, "onnx-int8", tmp_path / "onnx")
    assert fallback.backend == "torch"
    assert "onnxruntime" in fallback.note and "onnxruntime" in caplog.text
    assert not (tmp_path / "onnx").exists()  # nothing exported
    # with no index yet, it builds one (on torch) and reopens it
    settings = Settings.from_env({}, data_dir=tmp_path / "data", embedding_backend="onnx-int8")
    Index(settings, fallback).close()
    Index(settings, fallback).close()


def test_a_cache_folder_it_cannot_write_falls_back_to_torch_saying_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would go", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.embeddings"):
        fallback = load_embedder.__wrapped__(MODEL, 1, "onnx-int8", blocked / "onnx")
    assert fallback.backend == "torch"
    assert "BOT_CACHE_DIR" in fallback.note and "BOT_CACHE_DIR" in caplog.text


def test_an_unknown_backend_says_which_exist() -> None:
    with pytest.raises(ConfigError, match="torch, onnx-int8"):
        load_embedder.__wrapped__(MODEL, 1, "onnx-fp16")
    with pytest.raises(ConfigError, match="BOT_EMBEDDING_BACKEND"):
        Settings.from_env({"BOT_EMBEDDING_BACKEND": "tensorflow"})


def test_a_torch_index_refuses_the_onnx_backend_and_back(
    tmp_path: Path, torch_embedder: Embedder, onnx: OnnxInt8Embedder
) -> None:
    torch_settings = Settings.from_env({}, data_dir=tmp_path / "torch")
    index = Index(torch_settings, torch_embedder)
    ingest_paths(index, [ARTICLE])
    index.close()
    with pytest.raises(ModelMismatchError, match="BOT_EMBEDDING_BACKEND=torch") as refused:
        Index(torch_settings, onnx)
    assert "'torch' embedding backend" in str(refused.value) and "--reindex" in str(refused.value)

    onnx_settings = Settings.from_env({}, data_dir=tmp_path / "onnx")
    index = Index(onnx_settings, onnx)
    ingest_paths(index, [ARTICLE])
    assert index.vectors.count() > 0
    index.close()
    with pytest.raises(ModelMismatchError, match="BOT_EMBEDDING_BACKEND=onnx-int8"):
        Index(onnx_settings, torch_embedder)
    Index(onnx_settings, onnx).close()  # the same backend still opens it


def test_the_vector_store_alone_refuses_the_other_backend(
    tmp_path: Path, torch_embedder: Embedder, onnx: OnnxInt8Embedder
) -> None:
    client = chroma_client(tmp_path / "data")
    VectorStore(client, "articles", onnx)
    with pytest.raises(ModelMismatchError, match=r"The index 'articles'.*'onnx-int8'"):
        VectorStore(client, "articles", torch_embedder)


def test_an_onnx_index_refuses_the_torch_fallback_saying_why(
    tmp_path: Path, onnx: OnnxInt8Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "data", embedding_backend="onnx-int8")
    Index(settings, onnx).close()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    fallback = load_embedder.__wrapped__(MODEL, 1, "onnx-int8", tmp_path / "onnx")
    with pytest.raises(ModelMismatchError, match="onnxruntime is not installed"):
        Index(settings, fallback)


def test_threads_share_one_session_safely(onnx: OnnxInt8Embedder) -> None:
    texts = [f"Envoy {i} spoke about the talks in Baku. " * (1 + i % 4) for i in range(24)]
    alone = [onnx.embed([t]) for t in texts]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(lambda t: onnx.embed([t]), texts))
    assert all(np.allclose(a, b) for a, b in zip(alone, together, strict=True))


def test_auto_keeps_an_index_backend_and_gives_a_new_index_onnx(
    tmp_path: Path, torch_embedder: Embedder
) -> None:
    cache = {"cache_dir": tmp_path / "cache"}
    old = Settings.from_env({}, data_dir=tmp_path / "old", **cache)
    index = Index(old, torch_embedder)  # built on torch, as every index before the setting
    ingest_paths(index, [ARTICLE])
    index.close()
    reopened = Index(old)  # BOT_EMBEDDING_BACKEND=auto, the default
    assert reopened.embedder.backend == "torch" and reopened.count_passages() > 0
    reopened.close()

    new = Settings.from_env({}, data_dir=tmp_path / "new", **cache)
    index = Index(new)
    assert index.embedder.backend == "onnx-int8"
    assert list((tmp_path / "cache" / "onnx").glob("*.onnx"))  # exported to the shared cache
    ingest_paths(index, [ARTICLE])
    passages = index.count_passages()
    index.close()
    # A replica's first start: no catalog yet, so the Chroma collection says which backend.
    for path in (tmp_path / "new").glob("articles.sqlite*"):
        path.unlink()
    replica = Index(new)
    assert replica.embedder.backend == "onnx-int8" and replica.count_passages() == passages
    replica.close()
