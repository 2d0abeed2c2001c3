"""Settings: one pydantic-settings model, every field described; the only reader of the environment.

Each field `name` can be set with the environment variable `BOT_NAME` (upper case) and is
overridden by a CLI flag where the CLI offers one. `Settings.from_env()` is the one place that
reads the environment, called by the entry points, never at import time; `Settings(...)` alone
is the defaults plus what it is given. A value of the wrong type or out of range (a port outside
1-65535, a count below 1, a threshold outside 0-1) raises `ConfigError` naming the variable, so
start-up stops with a message instead of a stack trace. `describe()` is what `bot config`
prints, with secrets masked. The README's configuration table is checked against the fields'
defaults and descriptions (`tests/test_readme.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.errors import ConfigError

ENV_PREFIX = "BOT_"
SECRET_FIELDS = {"llm_api_key", "api_key", "ui_password", "admin_password"}


class Settings(BaseSettings):
    """Everything configurable about the bot."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,  # BOT_X= (empty) means "use the default", as if unset
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
    )

    data_dir: Path = Field(
        Path("data"),
        description="Folder for the embedded Chroma store, keyword index and feedback.",
    )
    corpus_dir: Path = Field(
        Path("corpus"), description="Articles that `python app.py` ingests before serving."
    )
    cache_dir: Path = Field(
        Path("~/.cache/newsbot"),
        description="Folder for files made from the models, never downloaded: the onnx-int8 "
        "export of the embedding model. Shared by every data folder; safe to delete.",
    )
    collection: str = Field(
        "articles", description="Name of the Chroma collection (and keyword index) to use."
    )
    chroma_host: str = Field(
        "", description="Host of a Chroma server (`chroma run`); empty means the embedded store."
    )
    chroma_port: int = Field(
        8000, description="Port of the Chroma server when chroma_host is set.", ge=1, le=65535
    )
    sync_seconds: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="How often, at most, a question or the documents list first checks the "
        "Chroma change log for other replicas' writes (one count() each time); 0 checks every "
        "time.",
    )
    embedding_model: str = Field(
        "all-MiniLM-L6-v2",
        description="Embedding model: 'all-MiniLM-L6-v2' (packaged), a local folder, or an "
        "installed model package exposing get_model_path().",
    )
    embedding_backend: Literal["auto", "torch", "onnx-int8"] = Field(
        "auto",
        description="What runs the embedding model: 'torch', or 'onnx-int8' (exported once to "
        "an int8 ONNX file in cache_dir, run by onnxruntime; about 3 times faster). An index is "
        "tied to one; 'auto' takes the one the index was built with, and onnx-int8 for a new "
        "index.",
    )
    torch_threads: int = Field(
        1, ge=1, description="Threads for torch; 1 keeps a query fast while the other core is busy."
    )
    top_k: int = Field(
        5, ge=1, description="Passages handed to the answerer (and listed as retrieved)."
    )
    candidates: int = Field(
        30, ge=1, description="Candidates each retriever returns before fusion and re-scoring."
    )
    refusal_threshold: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Reader confidence below which the bot says the articles do not contain "
        "the answer.",
    )
    reader_dir: str = Field(
        "",
        description="Folder of the trained reader's weights (`bot train-reader --out`); empty "
        "= the shipped ones.",
    )
    max_question_chars: int = Field(
        2000, ge=1, description="Longest question accepted, in characters."
    )
    batch_size: int = Field(
        64, ge=1, description="Passages embedded and stored per batch while ingesting."
    )
    llm_base_url: str = Field(
        "",
        description="OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, OpenAI); empty = no LLM.",
    )
    llm_model: str = Field("", description="Model name to request from the LLM server.")
    llm_api_key: str = Field(
        "", description="API key for the LLM server (many local servers accept any value)."
    )
    llm_temperature: float = Field(0.0, ge=0, description="Sampling temperature for the LLM.")
    llm_timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for the LLM server.")
    llm_max_tokens: int = Field(
        512,
        ge=1,
        description="Most tokens the LLM may write per reply (answer or condensed question).",
    )
    llm_refusal: Literal["reader", "model"] = Field(
        "reader",
        description="Generative mode: who decides that the articles do not answer. 'reader': the "
        "trained reader's confidence, as in extractive mode (the LLM is not asked); 'model': "
        "the LLM's own words.",
    )
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(7860, description="Port the web server listens on.", ge=1, le=65535)
    api_key: str = Field(
        "",
        description="If set, /api/* (but health) and /v1/* require 'Authorization: Bearer KEY'.",
    )
    ui_user: str = Field("", description="If set with ui_password, the web UI asks for this login.")
    ui_password: str = Field("", description="Password for the web UI login.")
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed to call the API from a browser."
    )
    frame_ancestors: str = Field(
        "'self'",
        description="Space-separated sources allowed to frame /embed (CSP frame-ancestors).",
    )
    max_upload_mb: int = Field(50, ge=1, description="Largest accepted upload, in MB.")
    max_concurrency: int = Field(
        4, ge=1, description="Answers computed at once by the server; more requests wait."
    )
    max_queue: int = Field(
        64,
        ge=1,
        description="Requests allowed to wait for a slot before the server answers 503.",
    )
    admin_user: str = Field(
        "",
        description="If set with admin_password, this login opens the documents page at "
        "/admin/ (add, replace and remove documents; export feedback).",
    )
    admin_password: str = Field("", description="Password for the admin login.")
    session_minutes: int = Field(
        480,
        ge=1,
        le=43200,
        description="Minutes a web login (UI or admin) lasts before it must be repeated.",
    )
    forwarded_allow_ips: str = Field(
        "",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are trusted ('*' for any); empty trusts none.",
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        description="Server log lines: 'json' (one object a line, with a request id) or 'text'.",
    )
    allow_private_urls: bool = Field(
        False,
        description="Let `bot ingest URL`, `bot watch` and the documents page fetch private, "
        "loopback and link-local addresses (a server on your own network); off, such URLs are "
        "refused.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the given values: the environment is read by `from_env` alone (from os.environ or
        # a mapping a test or child process hands it), so `Settings()` is always the defaults.
        return (init_settings,)

    @field_validator("data_dir", "corpus_dir")
    @classmethod
    def _expand_home(cls, path: Path) -> Path:
        return path.expanduser()

    @property
    def onnx_cache_dir(self) -> Path:
        """Where the onnx-int8 export of the embedding model is kept (`cache_dir` is shown
        unexpanded, `~/...`, in help and in the README's table)."""
        return self.cache_dir.expanduser() / "onnx"

    @model_validator(mode="after")
    def _llm_needs_a_model(self) -> Settings:
        if self.llm_base_url and not self.llm_model:
            raise ValueError(
                "BOT_LLM_BASE_URL is set but BOT_LLM_MODEL is not: name the model to use."
            )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `BOT_*` variables (`os.environ`, or `environ` when given), then
        `overrides` (the CLI's flags; None values are ignored). Raises `ConfigError`."""
        _check_names(overrides)
        source = EnvSettingsSource(cls) if environ is None else _MappingSource(cls, environ)
        given = {name: value for name, value in overrides.items() if value is not None}
        return cls._checked({**source(), **given})

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed, checked like `from_env`."""
        _check_names(changes)
        return self._checked({**self.model_dump(), **changes})

    @classmethod
    def _checked(cls, values: dict[str, Any]) -> Settings:
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(" ".join(_problem(error) for error in exc.errors())) from None

    @property
    def generative(self) -> bool:
        """Whether answers come from the configured LLM instead of the extractive answerer."""
        return bool(self.llm_base_url)

    def describe(self) -> dict[str, str]:
        """Effective settings for display, with secrets masked."""
        shown = {}
        for name in type(self).model_fields:
            value = str(getattr(self, name))
            if name in SECRET_FIELDS and value:
                value = "****" + value[-2:] if len(value) > 6 else "****"
            shown[name] = value
        return shown


class _MappingSource(EnvSettingsSource):
    """`BOT_*` variables read from a given mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The hook pydantic-settings' own .env source overrides. Names are looked up in lower
        # case (the settings are case-insensitive); empty values count as unset.
        return {name.lower(): value for name, value in self._environ.items() if value != ""}


def _check_names(values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(
            f"Unknown setting {unknown[0]!r}; the settings are: {', '.join(Settings.model_fields)}."
        )


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_KINDS = {int: "a whole number", float: "a number"}


def _problem(error: Any) -> str:
    """One validation error as a sentence naming the variable and what it must be."""
    if not error["loc"]:  # a check across fields: its message already says what to do
        return str(error["ctx"]["error"])
    name = str(error["loc"][0])
    variable = ENV_PREFIX + name.upper()
    field = Settings.model_fields[name]
    got = error["input"]
    bounds = _bounds(field)
    if error["type"] in _RANGE_ERRORS:
        return f"{variable} must be {bounds} (got {got})."
    if field.annotation in _KINDS:
        need = _KINDS[field.annotation] + (f", {bounds}" if bounds else "")
        return f"{variable} must be {need} (got {got})."
    return f"{variable}: {error['msg']} (got {got})."


def _bounds(field: FieldInfo) -> str:
    """The field's range in words: 'between 1 and 65535', 'at least 1', 'more than 0'."""
    limits = {
        kind: getattr(m, kind)
        for m in field.metadata
        for kind in ("ge", "le", "gt")
        if getattr(m, kind, None) is not None
    }
    if "ge" in limits and "le" in limits:
        return f"between {limits['ge']} and {limits['le']}"
    if "ge" in limits:
        return f"at least {limits['ge']}"
    if "gt" in limits:
        return f"more than {limits['gt']}"
    return ""
