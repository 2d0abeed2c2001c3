"""The `onnx-int8` embedding backend: the same sentence-transformers model, exported once to
ONNX with its weights quantized to int8, run by onnxruntime.

Owns the export (done on first use and cached on disk, keyed by the model's files and the
versions of the libraries that shape the graph; never downloaded) and inference: tokenise,
run the graph, pool the token vectors as the model's own Pooling module says. Batching and
normalising are the `Embedder` base's; choosing a backend, and falling back to torch when
onnxruntime is missing, is `bot.embeddings.load_embedder`'s.

Why not sentence-transformers' own ONNX backend (`backend="onnx"`,
`export_dynamic_quantized_onnx_model`): both import `optimum.onnxruntime`, which now lives in
`optimum-onnx`, whose only release pins transformers<4.58 and would downgrade the
transformers this project runs. So the export is torch.onnx plus onnxruntime's own
`quantize_dynamic`, and inference is the few lines below.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bot.embeddings import Embedder, set_torch_threads
from bot.errors import ConfigError

BACKEND = "onnx-int8"
#: Changes whenever the export or quantization below changes, so old caches are not reused.
RECIPE = "matmul-int8-per-channel-keep-down-projections-v2"
#: Libraries whose versions change the exported graph or how it is run.
VERSIONED = ("torch", "transformers", "onnx", "onnxruntime")
#: Pooling modes of sentence-transformers' Pooling config that this backend reproduces.
POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}


class OnnxInt8Embedder(Embedder):
    """A sentence-transformers model run as an int8-quantized ONNX graph.

    One onnxruntime session and one tokenizer serve every thread: `InferenceSession.run` is
    thread-safe, and the tokenizer's truncation is set once here, so encoding does not
    reconfigure it (the torch backend's "Already borrowed" does not arise).
    """

    backend = BACKEND

    def __init__(self, name: str, path: Path, threads: int, cache_dir: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer
        from transformers import AutoConfig, AutoTokenizer

        self.name = name
        self.path = path
        self.max_length, self.pooling = model_pipeline(path)
        self.dimension = int(AutoConfig.from_pretrained(path).hidden_size)
        self.onnx_path = cached_int8_model(path, cache_dir, threads, label=name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]
        hf_tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()  # one text per run (see embed_batch)

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        # One text per run: dynamic quantization scales activations over the whole input, so
        # in a batch each text's vector shifted with its batch-mates and their padding
        # (cosine 0.994 to the same text run alone). Alone, a passage embeds the same in any
        # ingest, and no padding is computed; it was no slower than batches of 16 here.
        return np.vstack(
            [self._embed_one(encoded) for encoded in self.tokenizer.encode_batch(texts)]
        )

    def _embed_one(self, encoded: Any) -> np.ndarray:
        features = {
            "input_ids": np.array([encoded.ids], dtype=np.int64),
            "attention_mask": np.array([encoded.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoded.type_ids], dtype=np.int64),
        }
        tokens = self.session.run(None, {name: features[name] for name in self.inputs})[0][0]
        if self.pooling == "cls":
            return tokens[:1].astype(np.float32)
        return tokens.mean(axis=0, keepdims=True).astype(np.float32)


def model_pipeline(path: Path) -> tuple[int, str]:
    """The model's longest input in tokens and its pooling, from its sentence-transformers
    files. Raises `ConfigError` for a pipeline this backend does not reproduce."""
    modules = _read_json(path / "modules.json") or []
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    pooling = "mean"
    for module, kind in zip(modules, kinds, strict=True):
        if kind == "Pooling":
            config = _read_json(path / module.get("path", "") / "config.json") or {}
            chosen = [mode for key, mode in POOLING_MODES.items() if config.get(key)]
            others = [k for k, v in config.items() if k.startswith("pooling_mode") and v]
            if len(chosen) != 1 or len(others) != 1:
                kinds.append(f"Pooling({', '.join(others)})")
            else:
                pooling = chosen[0]
    unsupported = [k for k in kinds if k not in {"Transformer", "Pooling", "Normalize"}]
    if unsupported:
        raise ConfigError(
            f"BOT_EMBEDDING_BACKEND={BACKEND} runs models made of a Transformer, a mean or CLS "
            f"Pooling and Normalize; {path} also has {', '.join(unsupported)}. Set "
            "BOT_EMBEDDING_BACKEND=torch for this model."
        )
    config = _read_json(path / "sentence_bert_config.json") or {}
    return int(config.get("max_seq_length") or 512), pooling


def cached_int8_model(model_path: Path, cache_dir: Path, threads: int = 1, label: str = "") -> Path:
    """The int8 ONNX file of this model, exported into `cache_dir` the first time. `label`
    (the model's name) only makes the file name readable; the key is in `cache_key`."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "-", label or model_path.name).strip("-")
    target = cache_dir / f"{slug}-{cache_key(model_path)}.int8.onnx"
    if not target.exists():
        export_int8(model_path, target, threads)
    return target


def cache_key(model_path: Path) -> str:
    """What the exported file depends on: the model's files, the libraries, the recipe."""
    digest = hashlib.sha256(RECIPE.encode())
    for name in VERSIONED:
        digest.update(f"{name}={metadata.version(name)};".encode())
    for file in sorted(p for p in model_path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(model_path)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def export_int8(model_path: Path, target: Path, threads: int = 1) -> None:
    """Export the model's transformer to ONNX and quantize its weight matrices to int8.

    Weights are quantized per output channel, and the feed-forward down-projections stay
    fp32: on SQuAD questions, per-tensor int8 of every MatMul kept a cosine of only 0.95 to
    torch's vectors, per channel 0.994 (lowest 0.988), and keeping the down-projections
    0.997 (lowest 0.991) for about a quarter less speed (README has the figures). The file
    appears under its final name only once complete (written beside it, then renamed), so a
    process killed mid-export leaves no half file to be reused.
    """
    set_torch_threads(threads)
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    names = [
        n
        for n in AutoTokenizer.from_pretrained(model_path).model_input_names
        if n in {"input_ids", "attention_mask", "token_type_ids"}
    ]
    model = _token_vectors(AutoModel.from_pretrained(model_path).eval(), names)
    sample = tuple(torch.ones(2, 8, dtype=torch.long) for _ in names)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        fp32, int8 = Path(work) / "fp32.onnx", Path(work) / "int8.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent branches
            torch.onnx.export(
                model,
                sample,
                str(fp32),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]},
                opset_version=17,
                dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
            )
        # onnxruntime logs advice on static quantization's pre-processing to the root logger,
        # which a user would read as a problem; it does not apply to dynamic quantization.
        advice = _Drop("Please consider to run pre-processing")
        logging.getLogger().addFilter(advice)
        try:
            quantize_dynamic(
                str(fp32),
                str(int8),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
                per_channel=True,
                nodes_to_exclude=_down_projections(fp32),
            )
        finally:
            logging.getLogger().removeFilter(advice)
        os.replace(int8, target)


def _token_vectors(model: Any, names: list[str]) -> Any:
    """The transformer as a module of positional inputs that returns its token vectors: the
    exporter passes inputs by position, and the model's forward takes other arguments there."""
    import torch

    class TokenVectors(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    return TokenVectors()


def _down_projections(path: Path) -> list[str]:
    """The MatMuls whose weight maps a wider vector to a narrower one: the feed-forward
    blocks' second layer, whose GELU inputs have outliers that int8 rounds badly."""
    import onnx

    graph = onnx.load(str(path)).graph
    shapes = {i.name: list(i.dims) for i in graph.initializer}
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul"
        and any(len(shapes.get(i, [])) == 2 and shapes[i][0] > shapes[i][1] for i in node.input)
    ]


class _Drop(logging.Filter):
    """Drops log records whose message starts with `prefix`."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
