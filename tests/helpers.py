"""Helpers shared by the test modules: canned answers, a fake `Service`, a `ChatBot`
stand-in that answers from a can but stores for real, and a PDF bomb.

Fixtures stay in `conftest.py`; these are plain functions and classes that tests import. Free
ports and server processes come from the product's own `bot.procs`, which `bot bench` uses too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.catalog import DocumentInfo
from bot.chain import Delta, validate_question
from bot.errors import UnsupportedFileError
from bot.index import Index
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
        self.removed: list[str] = []
        self.bot = SimpleNamespace(validate_question=lambda q: q.strip())
        # The server starts and stops the feed watcher with the app; this one watches nothing.
        self.feeds = SimpleNamespace(start=lambda: None, stop=lambda: None, feeds=lambda: [])

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

    def documents(self) -> list[DocumentInfo]:
        """What was uploaded and not removed, one passage each."""
        ids = [Path(name).stem for name, _ in self.uploads]
        return [
            DocumentInfo(i, i, f"{i}.txt", "", "", 1, 0, "", "")
            for i in ids
            if i not in self.removed
        ]

    def remove(self, doc_id: str) -> DocumentInfo:
        [info] = [d for d in self.documents() if d.doc_id == doc_id]
        self.removed.append(doc_id)
        return info

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "documents": len(self.documents()), "passages": 0, "mode": "x"}


class CannedBot:
    """Stands in for `ChatBot` inside a real `Service`: the index (and so uploads, removals,
    the documents list) is real, answers are canned. For tests about who may change what,
    where the answering itself does not matter."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.answerer = SimpleNamespace(mode="extractive")

    def validate_question(self, question: Any) -> str:
        return validate_question(question, 2000)

    def answer(self, question: str, history: Any = None) -> Answer:
        return canned_answer(question)

    def stream(self, question: str, history: Any = None) -> Iterator[Delta | Answer]:
        yield from CANNED_EVENTS[:-1]
        yield canned_answer(question)


def pdf_bomb(inflated_bytes: int = 80_000_000) -> bytes:
    """A one-page PDF whose content stream is ~200 KB of zlib that inflates to
    `inflated_bytes` of valid text operators: small to upload, huge to read."""
    import zlib

    line = b"BT /F1 12 Tf 72 700 Td (Hello world) Tj ET\n"
    chunk = line * (1_000_000 // len(line))
    packer = zlib.compressobj(9)
    stream = b"".join(packer.compress(chunk) for _ in range(inflated_bytes // len(chunk)))
    stream += packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
