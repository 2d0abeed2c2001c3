"""Settings: one dataclass, every field described; the only reader of the environment.

Each field `name` can be set with the environment variable `BOT_NAME` (upper case) and is
overridden by a CLI flag where the CLI offers one. `Settings.from_env()` is called by the entry
points, never at import time. `describe()` is what `bot config` prints, with secrets masked.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

ENV_PREFIX = "BOT_"
SECRET_FIELDS = {"llm_api_key", "api_key", "ui_password"}


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the bot."""

    data_dir: Path = _f(
        Path("data"), "Folder for the embedded Chroma store, keyword index and feedback."
    )
    corpus_dir: Path = _f(Path("corpus"), "Articles that `python app.py` ingests before serving.")
    collection: str = _f("articles", "Name of the Chroma collection (and keyword index) to use.")
    chroma_host: str = _f(
        "", "Host of a Chroma server (`chroma run`); empty means the embedded store."
    )
    chroma_port: int = _f(8000, "Port of the Chroma server when chroma_host is set.")
    embedding_model: str = _f(
        "all-MiniLM-L6-v2",
        "Embedding model: 'all-MiniLM-L6-v2' (packaged), a local folder, or an installed model "
        "package exposing get_model_path().",
    )
    torch_threads: int = _f(
        1, "Threads for torch; 1 keeps a query fast while the other core is busy."
    )
    top_k: int = _f(5, "Passages handed to the answerer (and listed as retrieved).")
    candidates: int = _f(30, "Candidates each retriever returns before fusion and re-scoring.")
    refusal_threshold: float = _f(
        0.40, "Evidence score below which the bot says the articles do not contain the answer."
    )
    max_question_chars: int = _f(2000, "Longest question accepted, in characters.")
    batch_size: int = _f(64, "Passages embedded and stored per batch while ingesting.")
    llm_base_url: str = _f(
        "", "OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, OpenAI); empty = no LLM."
    )
    llm_model: str = _f("", "Model name to request from the LLM server.")
    llm_api_key: str = _f("", "API key for the LLM server (many local servers accept any value).")
    llm_temperature: float = _f(0.0, "Sampling temperature for the LLM.")
    llm_timeout_s: float = _f(60.0, "Seconds to wait for the LLM server.")
    host: str = _f("127.0.0.1", "Address the web server listens on.")
    port: int = _f(7860, "Port the web server listens on.")
    api_key: str = _f(
        "", "If set, /api/* (but health) and /v1/* require 'Authorization: Bearer KEY'."
    )
    ui_user: str = _f("", "If set with ui_password, the web UI asks for this login.")
    ui_password: str = _f("", "Password for the web UI login.")
    cors_origins: str = _f("", "Comma-separated origins allowed to call the API from a browser.")
    frame_ancestors: str = _f(
        "'self'", "Space-separated sources allowed to frame /embed (CSP frame-ancestors)."
    )
    max_upload_mb: int = _f(50, "Largest accepted upload, in MB.")
    max_concurrency: int = _f(4, "Answers computed at once by the server; more requests wait.")
    max_queue: int = _f(64, "Requests allowed to wait for a slot before the server answers 503.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `BOT_*` variables, then `overrides` (None values are ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, f.type, raw)
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in {f.name for f in fields(cls)}:
                raise ConfigError(f"Unknown setting {name!r}.")
            values[name] = value
        return cls(**values).validated()

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes).validated()

    def validated(self) -> Settings:
        """Check ranges; raise ConfigError naming the variable to fix."""
        positive = (
            "top_k",
            "candidates",
            "max_question_chars",
            "batch_size",
            "torch_threads",
            "max_upload_mb",
            "max_concurrency",
            "max_queue",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be at least 1.")
        if self.llm_base_url and not self.llm_model:
            raise ConfigError(
                "BOT_LLM_BASE_URL is set but BOT_LLM_MODEL is not: name the model to use."
            )
        return self

    @property
    def generative(self) -> bool:
        """Whether answers come from the configured LLM instead of the extractive answerer."""
        return bool(self.llm_base_url)

    def describe(self) -> dict[str, str]:
        """Effective settings for display, with secrets masked."""
        shown = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = "****" + str(value)[-2:] if len(str(value)) > 6 else "****"
            shown[f.name] = str(value)
        return shown

    @staticmethod
    def help_texts() -> dict[str, str]:
        """Each field's description, for CLI and README."""
        return {f.name: f.metadata["help"] for f in fields(Settings)}


def _convert(name: str, type_name: Any, raw: str) -> Any:
    kind = str(type_name)
    try:
        if "Path" in kind:
            return Path(raw).expanduser()
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}; fix or unset it."
        ) from None
    return raw
