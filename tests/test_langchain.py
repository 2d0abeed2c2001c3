"""`bot.langchain`: the standard LangChain retriever tests, `k` per call, the `Document`
metadata, and `NewsChat` answering, following up, refusing, batching, streaming, composing
and rejecting bad input, sync and async, over the project's article and the real embedder; and
generative mode's LCEL answer chain (its prompt and streamed text, with a fake chat model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_tests.integration_tests import RetrieversIntegrationTests

from bot.answer import SYSTEM_PROMPT, llm_chains
from bot.chain import ChatBot
from bot.config import Settings
from bot.embeddings import Embedder
from bot.errors import InvalidQuestionError, InvalidRequestError
from bot.index import Index
from bot.ingest import ingest_paths
from bot.langchain import NewsChat, NewsRetriever
from tests.conftest import ARTICLE

QUERY = "Who brokered the 2020 ceasefire?"
OFF = "How long did the 2020 war between Armenia and Azerbaijan last?"  # not in the article


@pytest.fixture(scope="module")
def article_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Index]:
    """The project's article indexed once, in a temporary folder, for this module."""
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("lc") / "data")
    idx = Index(settings, embedder)
    ingest_paths(idx, [ARTICLE])
    yield idx
    idx.close()


class TestNewsRetrieverStandard(RetrieversIntegrationTests):
    """langchain-tests' standard retriever suite, over the article's index."""

    @pytest.fixture(autouse=True)
    def _use_index(self, article_index: Index) -> None:
        self._index = article_index

    @property
    def retriever_constructor(self) -> type[NewsRetriever]:
        return NewsRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"index": self._index}

    @property
    def retriever_query_example(self) -> str:
        return QUERY


def test_documents_carry_passage_text_and_metadata(article_index: Index) -> None:
    docs = NewsRetriever(index=article_index, k=2).invoke(QUERY)
    assert len(docs) == 2
    passages = article_index.catalog.get_passages([d.metadata["passage_id"] for d in docs])
    for doc in docs:
        passage = passages[doc.metadata["passage_id"]]
        assert doc.page_content == passage.text
        assert doc.metadata == {
            "passage_id": passage.passage_id,
            "doc_id": passage.doc_id,
            "title": passage.title,
            "source": passage.source,
            "url": passage.url,
            "date": passage.date,
            "score": doc.metadata["score"],
        }
    assert docs[0].metadata["score"] >= docs[1].metadata["score"] > 0
    assert docs[0].metadata["doc_id"] == "caucasus-peace-talks"


def test_same_ranking_as_the_bot(article_index: Index) -> None:
    retriever = NewsRetriever(index=article_index)
    bot = ChatBot(article_index.settings, article_index)
    expected = [h.passage.passage_id for h in bot.retriever.search(QUERY, 4).hits]
    assert [d.metadata["passage_id"] for d in retriever.invoke(QUERY)] == expected


async def test_k_per_call_async(article_index: Index) -> None:
    retriever = NewsRetriever(index=article_index, k=4)
    assert len(await retriever.ainvoke(QUERY, k=2)) == 2
    assert len(await retriever.ainvoke(QUERY)) == 4


def test_default_settings_come_from_the_environment(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "env-data"
    idx = Index(Settings.from_env({}, data_dir=data), embedder)
    ingest_paths(idx, [ARTICLE])
    idx.close()
    monkeypatch.setenv("BOT_DATA_DIR", str(data))
    retriever = NewsRetriever(k=1)
    try:
        assert retriever.settings is not None and retriever.settings.data_dir == data
        [doc] = retriever.invoke(QUERY)
        assert doc.metadata["doc_id"] == "caucasus-peace-talks"
    finally:
        retriever.close()


def test_empty_index_returns_no_documents(index: Index) -> None:
    assert NewsRetriever(index=index).invoke(QUERY) == []


@pytest.mark.parametrize("k", [0, -1, "3", True])
def test_bad_k_is_refused_clearly(article_index: Index, k: Any) -> None:
    with pytest.raises(InvalidRequestError, match="k must be a whole number"):
        NewsRetriever(index=article_index).invoke(QUERY, k=k)


def test_empty_query_is_refused_clearly(article_index: Index) -> None:
    with pytest.raises(InvalidQuestionError, match="empty"):
        NewsRetriever(index=article_index).invoke("   ")


def test_retriever_in_a_users_chain(article_index: Index) -> None:
    """The README's example: the retriever feeds a prompt in the user's own LCEL chain."""
    seen: list[str] = []

    def format_docs(docs: list[Document]) -> str:
        return "\n\n".join(f"[{d.metadata['title']}] {d.page_content}" for d in docs)

    def record(prompt: Any) -> Any:
        seen.append(prompt.to_string())
        return prompt

    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    chain = (
        {
            "context": NewsRetriever(index=article_index, k=3) | format_docs,
            "question": RunnablePassthrough(),
        }
        | prompt
        | RunnableLambda(record)
        | FakeListChatModel(responses=["Vladimir Putin."])
        | StrOutputParser()
    )
    assert chain.invoke(QUERY) == "Vladimir Putin."
    [text] = seen
    assert f"Question: {QUERY}" in text
    assert text.count("[") >= 3  # three passages, each with its title


# --- NewsChat -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chat(article_index: Index) -> NewsChat:
    return NewsChat(index=article_index)


def test_chat_answers_with_citations(chat: NewsChat) -> None:
    answer = chat.invoke({"question": QUERY})
    assert answer["refused"] is False
    assert answer["short_answer"].endswith("Vladimir Putin")
    assert answer["citations"] and answer["citations"][0]["doc_id"] == "caucasus-peace-talks"
    assert "[1]" in answer["text"]
    assert answer["question"] == QUERY


def test_chat_takes_a_bare_string(chat: NewsChat) -> None:
    assert chat.invoke(QUERY)["text"] == chat.invoke({"question": QUERY})["text"]


def test_chat_follows_up_from_history(chat: NewsChat) -> None:
    first = chat.invoke(QUERY)
    follow = chat.invoke(
        {
            "question": "How many peacekeepers has his country deployed there?",
            "history": [
                {"role": "user", "content": QUERY},
                {"role": "assistant", "content": first["text"]},
            ],
        }
    )
    assert "Putin" in follow["standalone_question"]
    assert "2,000" in follow["short_answer"]


def test_chat_refuses_off_topic(chat: NewsChat) -> None:
    answer = chat.invoke(OFF)
    assert answer["refused"] is True
    assert answer["citations"] == []


def test_chat_batch_matches_invoke(chat: NewsChat) -> None:
    questions = [QUERY, OFF]
    answers = chat.batch(questions)
    assert [a["text"] for a in answers] == [chat.invoke(q)["text"] for q in questions]


def test_chat_streams_text_pieces(chat: NewsChat) -> None:
    pieces = list(chat.stream(QUERY))
    assert len(pieces) > 1 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == chat.invoke(QUERY)["text"]


async def test_chat_async_forms(chat: NewsChat) -> None:
    expected = chat.invoke(QUERY)["text"]
    assert (await chat.ainvoke(QUERY))["text"] == expected
    pieces = [p async for p in chat.astream(QUERY)]
    assert len(pieces) > 1 and "".join(pieces) == expected
    [a, b] = await chat.abatch([QUERY, {"question": QUERY, "history": []}])
    assert a["text"] == b["text"] == expected


def test_chat_composes(chat: NewsChat) -> None:
    chain = (
        RunnableLambda(lambda year: {"question": f"Who brokered the {year} ceasefire?"})
        | chat
        | RunnableLambda(lambda answer: (answer["refused"], len(answer["citations"])))
    )
    assert chain.invoke("2020") == (False, len(chat.invoke(QUERY)["citations"]))
    assert chain.batch(["2020"]) == [chain.invoke("2020")]
    # Streaming a chain that ends in NewsChat streams its text.
    streamed = "".join((RunnableLambda(lambda q: {"question": q}) | chat).stream(QUERY))
    assert streamed == chat.invoke(QUERY)["text"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        (42, "not int"),
        ({"text": QUERY}, "unknown keys"),
        ({"question": 3}, "must be text"),
        ({"question": QUERY, "history": "earlier"}, "history must be a list"),
        ({"question": QUERY, "history": [{"role": "system", "content": "x"}]}, "history\\[0\\]"),
    ],
)
def test_chat_bad_input_says_what_to_send(chat: NewsChat, value: Any, message: str) -> None:
    with pytest.raises(InvalidQuestionError, match=message):
        chat.invoke(value)
    with pytest.raises(InvalidQuestionError, match=message):
        list(chat.stream(value))


# --- generative mode's LCEL chain -----------------------------------------------------------


class _Prompts(BaseCallbackHandler):
    def __init__(self) -> None:
        self.messages: list[list[BaseMessage]] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **_: Any
    ) -> None:
        self.messages.extend(messages)


def test_answer_chain_streams_text_and_keeps_braces_in_passages_as_data() -> None:
    prompts = _Prompts()
    model = GenericFakeChatModel(messages=iter(["Putin brokered it [1]."]), callbacks=[prompts])
    answer_chain, _ = llm_chains(model)
    passages = '<passage n="1">A {question} and {passages} left as written.</passage>'
    pieces = list(answer_chain.stream({"passages": passages, "question": "Who?"}))
    assert len(pieces) > 1 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == "Putin brokered it [1]."
    [[system, human]] = prompts.messages
    assert system.content == SYSTEM_PROMPT
    assert human.content == f"<passages>\n{passages}\n</passages>\n\nQuestion: Who?"
