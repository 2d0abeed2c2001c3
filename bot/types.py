"""Plain data shared by every layer: documents, passages, search hits, citations, answers.

Nothing here does I/O or imports the rest of the package. `Answer.to_dict()` is the one JSON
shape of an answer, used by the CLI (`bot ask --json`), the HTTP API and the evaluation files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: Role
    content: str


@dataclass(frozen=True)
class Document:
    """A whole article as loaded from a file or a JSONL feed line."""

    doc_id: str
    title: str
    text: str
    source: str
    date: str = ""
    url: str = ""


@dataclass(frozen=True)
class Passage:
    """A paragraph-sized piece of a document; the unit that is embedded, searched and cited.

    `start` and `end` are character offsets of `text` in the document's text, so
    `document.text[start:end] == text`.
    """

    passage_id: str
    doc_id: str
    title: str
    source: str
    date: str
    url: str
    paragraph: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Hit:
    """A retrieved passage and its fused score (higher is better)."""

    passage: Passage
    score: float
    dense_similarity: float = 0.0


@dataclass(frozen=True)
class Citation:
    """A numbered reference `[n]` in an answer, pointing at one retrieved passage.

    `quote` is the supporting sentence, at `quote_start:quote_end` in `text` (the whole passage).
    """

    n: int
    passage_id: str
    doc_id: str
    title: str
    source: str
    date: str
    url: str
    text: str
    quote: str
    quote_start: int
    quote_end: int


@dataclass(frozen=True)
class Retrieved:
    """One entry of the ranked retrieval list reported with an answer."""

    passage_id: str
    doc_id: str
    score: float


@dataclass
class Answer:
    """What the bot says to one question, with everything needed to check it."""

    text: str
    citations: list[Citation]
    refused: bool
    question: str
    standalone_question: str
    retrieved: list[Retrieved]
    short_answer: str = ""
    mode: str = "extractive"
    reader: str = ""  # the model that read the passages (name@weights hash), if any
    # The reader's probability that the passages answer (the weakest part's, for a two-part
    # question); the bot refuses below BOT_REFUSAL_THRESHOLD. None when no reader was used.
    confidence: float | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready data."""
        return asdict(self)
