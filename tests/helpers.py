"""Helpers shared by the test modules: canned answers and a fake `Service`.

Fixtures stay in `conftest.py`; these are plain functions and classes that tests import. Free
ports and server processes come from the product's own `bot.procs`, which `bot bench` uses too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.chain import Delta
from bot.errors import UnsupportedFileError
from bot.ingest import IngestReport
from bot.types import Answer, Turn


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
