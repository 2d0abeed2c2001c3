"""The conversation pipeline: question + history -> standalone query -> retrieval -> answer
with checked citations. `ChatBot.answer()` is the one typed entry point that the CLI, the
web UI, the HTTP API and the evaluation all call; `ChatBot.stream()` is the same with text
deltas as they are produced.

Citations are checked here, for every answerer: a marker that does not point at one of the
passages given to the answerer is removed (from the stream as it passes, and from the final
text), and `Answer.citations` is built only from passages in `Answer.retrieved`. The final
text numbers citations [1], [2], ... in reading order; an LLM's streamed deltas carry its own
numbers, so the text of the final `Answer` is the one to keep.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.answer import Answerer, Draft, make_answerer
from bot.citations import (
    CitationFilter,
    add_missing,
    build_citations,
    cited_numbers,
    renumber,
    strip_invalid,
)
from bot.config import Settings
from bot.conversation import MAX_HISTORY_TURNS, condense
from bot.dates import asks_for_recent
from bot.errors import EmptyIndexError, InvalidQuestionError
from bot.extract import question_parts
from bot.index import Index
from bot.query import prepare
from bot.retrieve import Retriever
from bot.types import Answer, Retrieved, Turn


@dataclass(frozen=True)
class Delta:
    """A piece of answer text, streamed before the final `Answer`."""

    text: str


class ChatBot:
    """Answers questions about the indexed articles."""

    def __init__(
        self, settings: Settings, index: Index | None = None, answerer: Answerer | None = None
    ) -> None:
        self.settings = settings
        self.index = index or Index(settings)
        self.retriever = Retriever(self.index, settings.candidates)
        self.answerer = answerer or make_answerer(settings, self.index.catalog.idf)

    def answer(
        self, question: str, history: Iterable[Turn | Mapping[str, Any]] | None = None
    ) -> Answer:
        """Answer `question` given the earlier turns of the conversation."""
        final = None
        for event in self.stream(question, history):
            if isinstance(event, Answer):
                final = event
        assert final is not None  # stream() always ends with the Answer
        return final

    def stream(
        self, question: str, history: Iterable[Turn | Mapping[str, Any]] | None = None
    ) -> Iterator[Delta | Answer]:
        """Yield `Delta`s as the answer is written, then the checked `Answer`."""
        started = time.perf_counter()
        question = self.validate_question(question)
        turns = parse_history(history)
        if self.index.count_passages() == 0:
            raise EmptyIndexError(
                "No articles are indexed yet. Add some with `bot ingest corpus/` (or upload "
                "them in the web UI), then ask again."
            )
        t0 = time.perf_counter()
        standalone = self.answerer.condense(question, turns)
        query = prepare(standalone, self.index.catalog)
        standalone = query.question
        t1 = time.perf_counter()
        recent = asks_for_recent(standalone)  # "latest": equally relevant hits newest first
        # Each part of a two-part question is searched on its own ("How many conditions has
        # the Front set out, and how many did Azerbaijan's proposal contain?" is about two
        # stories); a second part that leans on the first ("... and how many does it have
        # there now?") is made standalone against it, as a follow-up would be.
        parts = question_parts(standalone)
        searches = [query.search]
        if len(parts) > 1:
            first = [Turn("user", parts[0])]
            searches = [
                prepare(part if i == 0 else condense(part, first), self.index.catalog).search
                for i, part in enumerate(parts)
            ]
        retrieval = self.retriever.search_parts(searches, self.settings.top_k, recent)
        hits = retrieval.hits
        t2 = time.perf_counter()
        valid = range(1, len(hits) + 1)
        stream_filter = CitationFilter(valid)
        draft: Draft | None = None
        streamed = False
        for piece in self.answerer.stream(standalone, hits):
            if isinstance(piece, Draft):
                draft = piece
                continue
            delta = stream_filter.feed(piece)
            if delta:
                streamed = True
                yield Delta(delta)
        tail = stream_filter.flush()
        if tail:
            yield Delta(tail)
        if draft is None:
            raise RuntimeError("an answerer must end its stream with a Draft")
        t4 = time.perf_counter()
        text = strip_invalid(draft.text, valid)
        if not draft.refused and not cited_numbers(text):
            text = add_missing(text, hits)
        text, order = renumber(text)
        citations = [] if draft.refused else build_citations(text, hits, order, draft.quotes)
        if not streamed:  # an answerer that writes all at once still streams, word by word
            for match in re.finditer(r"\S+\s*", text):
                yield Delta(match.group())
        retrieved_ids = {h.passage.passage_id for h in hits}
        if any(c.passage_id not in retrieved_ids for c in citations):
            raise RuntimeError("a citation points outside the retrieved passages")
        timings = {
            "condense": (t1 - t0) * 1000,
            **retrieval.timings_ms,
            "answer": (t4 - t2) * 1000,
            "total": (time.perf_counter() - started) * 1000,
        }
        yield Answer(
            text=text,
            citations=citations,
            refused=draft.refused,
            question=question,
            standalone_question=standalone,
            retrieved=[
                Retrieved(h.passage.passage_id, h.passage.doc_id, round(h.score, 6)) for h in hits
            ],
            short_answer=draft.short_answer,
            mode=self.answerer.mode,
            reader=draft.reader or self.answerer.reader,
            confidence=None if draft.confidence is None else round(draft.confidence, 4),
            timings_ms={k: round(v, 2) for k, v in timings.items()},
        )

    def validate_question(self, question: Any) -> str:
        """The question, stripped; raises InvalidQuestionError saying what is wrong."""
        return validate_question(question, self.settings.max_question_chars)


def validate_question(question: Any, limit: int) -> str:
    """The question, stripped; raises InvalidQuestionError saying what is wrong."""
    if not isinstance(question, str):
        raise InvalidQuestionError("The question must be text.")
    question = question.replace("\x00", "").strip()
    if not question:
        raise InvalidQuestionError("The question is empty. Type a question about the articles.")
    if len(question) > limit:
        raise InvalidQuestionError(
            f"The question is {len(question):,} characters long; the limit is {limit:,}. "
            "Ask a shorter question (BOT_MAX_QUESTION_CHARS sets the limit)."
        )
    return question


def parse_history(history: Iterable[Turn | Mapping[str, Any]] | None) -> list[Turn]:
    """Turns from `Turn`s or `{"role", "content"}` mappings; raises on malformed entries."""
    turns: list[Turn] = []
    for i, item in enumerate(history or []):
        if isinstance(item, Turn):
            turns.append(item)
            continue
        if not isinstance(item, Mapping):
            raise InvalidQuestionError(f"history[{i}] must be an object with role and content.")
        role, content = item.get("role"), item.get("content")
        if role not in ("user", "assistant") or not isinstance(content, str):
            raise InvalidQuestionError(
                f"history[{i}] needs role 'user' or 'assistant' and text content."
            )
        turns.append(Turn(role, content))
    return turns[-MAX_HISTORY_TURNS:]
