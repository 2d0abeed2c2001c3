"""Helpers shared by the test modules: free ports, server processes, and a fake `Service`.

Fixtures stay in `conftest.py`; these are plain functions and classes that tests import.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.chain import Delta
from bot.errors import UnsupportedFileError
from bot.ingest import IngestReport
from bot.types import Answer, Turn

from .conftest import ROOT


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**variables: str) -> dict[str, str]:
    """The environment for a server process: ours without any BOT_* variable of the
    developer's shell, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(variables)
    return env


@contextlib.contextmanager
def running_server(
    command: list[str],
    ready_url: str,
    log: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 300,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` from the project root, with its output in `log`, until GET `ready_url`
    answers 200; stop it when the block ends. The test fails, showing the log's tail, if the
    process exits or does not get ready within `timeout_s`."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        _wait_until_ready(ready_url, process, log, timeout_s)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited with {process.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:  # not listening yet, or an HTTP error while it starts
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout_s:.0f}s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def canned_answer(question: str = "Who?") -> Answer:
    return Answer("Canned [1].", [], False, question, question, [])


#: The stream of a canned answer, in two pieces.
CANNED_EVENTS: list[Delta | Answer] = [Delta("Canned "), Delta("[1]."), canned_answer()]


class FakeService:
    """Stands in for `Service` (API routes and UI callbacks): streams the events it was
    given, `delay_s` apart, then raises `error` if one is set; records what it is asked,
    rated and sent, and how many streams have ended (run out, failed or closed early: the
    real service frees an answering slot then)."""

    def __init__(
        self,
        events: list[Delta | Answer] | None = None,
        error: Exception | None = None,
        delay_s: float = 0.0,
    ) -> None:
        self.events = events or []
        self.error = error
        self.delay_s = delay_s
        self.ended_streams = 0
        self.asked: list[tuple[str, list[Turn]]] = []
        self.ratings: list[dict[str, Any]] = []
        self.uploads: list[tuple[str, bytes]] = []
        self.bot = SimpleNamespace(validate_question=lambda q: q.strip())

    def stream(self, question: str, history: Any = None) -> Iterator[Delta | Answer]:
        self.asked.append((question, list(history or [])))
        try:
            for event in self.events:
                time.sleep(self.delay_s)
                yield event
            if self.error:
                raise self.error
        finally:
            self.ended_streams += 1

    def ask(self, question: str, history: Any = None) -> Answer:
        """The last Answer of the stream (or its error)."""
        answers = [e for e in self.stream(question, history) if isinstance(e, Answer)]
        assert answers, "this FakeService was given no Answer to return"
        return answers[-1]

    def record_feedback(
        self, question: str, answer: dict, rating: int, history: Any, comment: str = ""
    ) -> dict[str, Any]:
        record = {
            "question": question,
            "answer": answer,
            "rating": rating,
            "history": history,
            "comment": comment,
        }
        self.ratings.append(record)
        return record

    def feedback_as_cases(self) -> list[dict[str, Any]]:
        return [{"id": f"feedback-{i}", **r} for i, r in enumerate(self.ratings, start=1)]

    def upload(self, filename: str, data: bytes) -> IngestReport:
        if not data.strip():
            raise UnsupportedFileError(f"{filename}: the file is empty.")
        self.uploads.append((filename, data))
        return IngestReport(added=[Path(filename).stem], passages=1)

    def health(self) -> dict[str, Any]:
        return {"status": "ok"}
