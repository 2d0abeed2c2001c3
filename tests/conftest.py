"""Shared fixtures: every test gets its own temporary store; models load once per session.

Tests never touch the project's `data/` folder or the network. `chroma_server` is a real
`chroma run` for the tests of replicas sharing one store. The embedding model is the real
packaged one (small and offline); LLMs are hand-written fakes of our own `Answerer` interface
or of LangChain's chat-model interface.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chain import ChatBot
from bot.config import Settings
from bot.embeddings import Embedder, load_embedder, quiet_libraries, resolve_backend
from bot.index import Index
from bot.ingest import ingest_paths
from bot.procs import free_port, running_server

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
ARTICLE = CORPUS / "caucasus-peace-talks.txt"
SQUAD = ROOT / "eval" / "squad2-dev-sample"

quiet_libraries()


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No BOT_* variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("BOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The embedding model as a new index gets it by default (`BOT_EMBEDDING_BACKEND=auto`),
    the same one a `bot` child process of a test loads for a new data folder."""
    defaults = Settings()
    backend = resolve_backend(defaults.embedding_backend, None)
    return load_embedder(defaults.embedding_model, 1, backend, defaults.onnx_cache_dir)


@pytest.fixture(scope="session")
def torch_embedder() -> Embedder:
    """The model on torch, for tests about the backends themselves."""
    return load_embedder("all-MiniLM-L6-v2", 1, "torch")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path / "data")


@pytest.fixture
def index(settings: Settings, embedder: Embedder) -> Iterator[Index]:
    idx = Index(settings, embedder)
    yield idx
    idx.close()


@pytest.fixture(scope="session")
def article_bot(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> ChatBot:
    """A bot over the project's article, built once for the read-only tests."""
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("article") / "data")
    idx = Index(settings, embedder)
    ingest_paths(idx, [ARTICLE])
    return ChatBot(settings, idx)


def _chroma_executable() -> str:
    found = Path(sys.executable).with_name("chroma")
    return str(found) if found.exists() else (shutil.which("chroma") or "chroma")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`chroma run` on a free port with a temporary folder; its port. Tests that share it
    use collections of their own."""
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    command = [_chroma_executable(), "run", "--path", str(path / "db")]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    heartbeat = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    with running_server(command, heartbeat, path / "server.log", timeout_s=60):
        yield port
