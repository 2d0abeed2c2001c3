"""LangChain components over the bot: `NewsRetriever` and `NewsChat`, for users' own chains.

- `NewsRetriever` is a `langchain_core` retriever over the same hybrid retrieval the bot uses
  (`bot.retrieve.Retriever`: dense + BM25, fused), returning one `Document` per passage.
- `NewsChat` is a `Runnable` over the whole conversation pipeline (`bot.chain.ChatBot`): a
  question (and the earlier turns) in, the checked `Answer` out as a dict.

Both are configured from the same settings as the bot (`Settings.from_env()`) unless given
`settings=`, an open `index=` (or, for `NewsChat`, a `chatbot=`). The async forms run the sync
code on a worker thread: the embedding model and SQLite let go of the GIL, so this does not
block the event loop. What this module leaves out: the pipeline itself (`bot.chain`), how
generative mode calls its chat model (`bot.answer`), and ingestion.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field, PrivateAttr

from bot.chain import ChatBot, Delta, validate_question
from bot.config import Settings
from bot.dates import asks_for_recent
from bot.errors import InvalidQuestionError, InvalidRequestError
from bot.index import Index
from bot.retrieve import Retriever
from bot.types import Answer, Hit

__all__ = ["NewsChat", "NewsRetriever"]


def _positive_k(k: Any) -> int:
    # bool is an int subclass, but `k=True` is a mistake, not a count.
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidRequestError(f"k must be a whole number of at least 1 (got {k!r}).")
    return k


def hit_to_document(hit: Hit) -> Document:
    """One retrieved passage as a LangChain `Document` (text + where it comes from)."""
    p = hit.passage
    return Document(
        page_content=p.text,
        metadata={
            "passage_id": p.passage_id,
            "doc_id": p.doc_id,
            "title": p.title,
            "source": p.source,
            "url": p.url,
            "date": p.date,
            "score": round(hit.score, 6),
        },
    )


class NewsRetriever(BaseRetriever):
    """The bot's hybrid retrieval as a LangChain retriever.

    `NewsRetriever(k=3).invoke("who met in Geneva?")` returns the 3 best passages, best first;
    `invoke(query, k=1)` overrides `k` for one call. Opens the index of
    `Settings.from_env()` unless given `settings=` or an open `index=` (which it leaves open).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    k: int = Field(default=4, ge=1, description="How many passages to return.")
    settings: Settings | None = None
    index: Index | None = None

    _retriever: Retriever = PrivateAttr()
    _owns_index: bool = PrivateAttr(default=False)

    def model_post_init(self, context: Any, /) -> None:
        if self.index is None:
            self.settings = self.settings or Settings.from_env()
            self.index = Index(self.settings)
            self._owns_index = True
        else:
            self.settings = self.settings or self.index.settings
        self._retriever = Retriever(self.index, self.settings.candidates)

    def close(self) -> None:
        """Close the index if this retriever opened it."""
        if self._owns_index and self.index is not None:
            self.index.close()

    def _search(self, query: str, k: int | None) -> list[Document]:
        assert self.settings is not None  # set in model_post_init
        query = validate_question(query, self.settings.max_question_chars)
        count = self.k if k is None else _positive_k(k)
        if self._retriever.index.count_passages() == 0:
            return []
        recent = asks_for_recent(query)  # "latest": equally relevant passages newest first
        hits = self._retriever.search(query, count, recent).hits
        return [hit_to_document(h) for h in hits]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        return self._search(query, k)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
    ) -> list[Document]:
        # BaseRetriever's default async form would drop `k`; this one keeps it.
        return await run_in_executor(None, self._search, query, k)


def parse_chat_input(value: Any) -> tuple[Any, Any]:
    """(question, history) from a bare string or a `{"question", "history"}` mapping."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, Mapping):
        unknown = set(value) - {"question", "history"}
        if "question" not in value or unknown:
            raise InvalidQuestionError(
                "NewsChat takes a question string or {'question': str, 'history': "
                "[{'role': 'user' | 'assistant', 'content': str}, ...]}"
                + (f"; unknown keys: {sorted(map(str, unknown))}" if unknown else "")
                + "."
            )
        history = value.get("history")
        if history is not None and (isinstance(history, str | bytes | Mapping)):
            raise InvalidQuestionError("history must be a list of {'role', 'content'} objects.")
        return value["question"], history
    raise InvalidQuestionError(
        f"NewsChat takes a question string or a dict with 'question' (and 'history'), "
        f"not {type(value).__name__}."
    )


class NewsChat(RunnableSerializable[Any, dict[str, Any]]):
    """The bot's conversation pipeline as a LangChain `Runnable`.

    Input: a question string, or `{"question": str, "history": [{"role", "content"}, ...]}`.
    `invoke` returns `Answer.to_dict()` (`text`, `citations`, `refused`,
    `standalone_question`, ...). `stream` yields the answer's text pieces (`str`) as they are
    produced; an LLM's streamed pieces carry its own citation numbers, so when the numbered
    citations matter, use `invoke` (the final text is renumbered to match `citations`).
    Bad input raises `InvalidQuestionError` with a message saying what to send.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    settings: Settings | None = None
    index: Index | None = None
    chatbot: ChatBot | None = None

    def model_post_init(self, context: Any, /) -> None:
        if self.chatbot is None:
            settings = self.settings or (
                self.index.settings if self.index is not None else Settings.from_env()
            )
            self.chatbot = ChatBot(settings, self.index)
        self.settings = self.chatbot.settings
        self.index = self.chatbot.index

    def _bot(self) -> ChatBot:
        assert self.chatbot is not None  # set in model_post_init
        return self.chatbot

    def _events(self, value: Any) -> Iterator[Delta | Answer]:
        question, history = parse_chat_input(value)
        return self._bot().stream(question, history)

    def _answer(self, value: Any) -> dict[str, Any]:
        question, history = parse_chat_input(value)
        return self._bot().answer(question, history).to_dict()

    def _texts(self, values: Iterator[Any]) -> Iterator[str]:
        for value in values:
            for event in self._events(value):
                if isinstance(event, Delta):
                    yield event.text

    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return self._call_with_config(self._answer, input, config, **kwargs)

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[str]:  # type: ignore[override]
        yield from self._transform_stream_with_config(iter([input]), self._texts, config, **kwargs)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:  # type: ignore[override]
        # The sync stream, advanced one piece at a time on a worker thread.
        pieces = self.stream(input, config, **kwargs)
        done = object()
        while True:
            piece = await run_in_executor(config, next, pieces, done)
            if piece is done:
                return
            yield piece
