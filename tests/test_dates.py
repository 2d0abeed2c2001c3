"""Dates in answers (`bot.dates` and its callers): a "latest" question prefers the newer of two
articles that say much the same, other questions are ranked as before, and a quote that says
"last week" from a dated article is followed by "(as of <date>)", its citation intact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from bot.chain import ChatBot
from bot.citations import MARKER, cited_numbers
from bot.dates import article_date, as_of, asks_for_recent, newest_first, relative_time
from bot.index import Index
from bot.ingest import ingest_documents
from bot.types import Document

OLDER = Document(
    "diesel-2-march",
    "Diesel price rises again",
    "The price of diesel at the pump rose to 1.82 euros a litre last week, the national energy "
    "agency said on Monday.\n\nHauliers said the higher diesel price would push up the cost of "
    "food deliveries.",
    "energy.example",
    "2026-03-02",
)
NEWER = Document(
    "diesel-16-march",
    "Diesel price climbs",
    "The price of diesel rose to 1.95 euros a litre, the national energy agency said.\n\n"
    "Farmers asked the government for help with fuel costs before the spring sowing.",
    "energy.example",
    "2026-03-16",
)
UNDATED = Document(
    "ferry-strike",
    "Ferry crews strike",
    "Ferry crews walked out on Tuesday over pay, and the harbour authority cancelled all "
    "crossings to the islands until further notice.",
    "harbour.example",
    "",
)


@pytest.fixture
def bot(index: Index) -> Iterator[ChatBot]:
    ingest_documents(index, [OLDER, NEWER, UNDATED])
    yield ChatBot(index.settings, index)


def test_a_latest_question_prefers_the_newer_of_two_similar_articles(bot: ChatBot) -> None:
    plain = bot.answer("How much does diesel cost?")
    recent = bot.answer("How much does diesel cost this week?")
    assert not recent.refused and "1.95" in recent.text
    assert [c.doc_id for c in recent.citations] == [NEWER.doc_id]
    assert recent.citations[0].date == "2026-03-16"
    # Without the preference the older article ranks first for this question: the newer one
    # was moved up, out of fused-score order.
    unpreferred = bot.retriever.search(recent.standalone_question, bot.settings.top_k).hits
    assert unpreferred[0].passage.doc_id == OLDER.doc_id
    assert recent.retrieved[0].doc_id == NEWER.doc_id
    scores = [r.score for r in recent.retrieved]
    assert scores != sorted(scores, reverse=True)
    # Any other question is ranked by fused score alone.
    scores = [r.score for r in plain.retrieved]
    assert scores == sorted(scores, reverse=True)
    expected = bot.retriever.search(plain.standalone_question, bot.settings.top_k).hits
    assert [r.passage_id for r in plain.retrieved] == [h.passage.passage_id for h in expected]


def test_the_langchain_retriever_prefers_recent_news_too(bot: ChatBot) -> None:
    from bot.langchain import NewsRetriever

    retriever = NewsRetriever(k=2, index=bot.index)
    latest = retriever.invoke("How much does diesel cost this week?")
    assert latest[0].metadata["doc_id"] == NEWER.doc_id
    unpreferred = bot.retriever.search("How much does diesel cost this week?", 2).hits
    assert unpreferred[0].passage.doc_id == OLDER.doc_id


def test_a_quote_with_a_relative_time_says_as_of_the_articles_date(bot: ChatBot) -> None:
    answer = bot.answer("What did the price of diesel at the pump rise to last week?")
    assert not answer.refused and "1.82" in answer.text
    assert "last week" in answer.citations[0].quote
    assert answer.text.endswith("[1] (as of 2 March 2026)")
    assert cited_numbers(answer.text) == [1] and len(answer.citations) == 1
    assert answer.citations[0].date == "2026-03-02"
    # An undated article's "on Tuesday" gets no note: there is no date to give.
    strike = bot.answer("When did the ferry crews walk out?")
    assert not strike.refused and "on Tuesday" in strike.citations[0].quote
    assert "as of" not in strike.text and MARKER.search(strike.text)
    # A dated quote without a relative time gets none either.
    plain = bot.answer("What did farmers ask the government for?")
    assert not plain.refused and "as of" not in plain.text


@pytest.mark.parametrize(
    ("question", "recent"),
    [
        ("What is the latest on the ceasefire?", True),
        ("What happened this week in Yerevan?", True),
        ("Any recent news about the bridge?", True),
        ("Who has recently resigned?", True),
        ("What happened last week in Yerevan?", False),
        ("Who brokered the ceasefire?", False),
    ],
)
def test_questions_that_ask_for_recent_news(question: str, recent: bool) -> None:
    assert asks_for_recent(question) is recent


@pytest.mark.parametrize(
    ("sentence", "found"),
    [
        ("The bridge reopened on Saturday morning.", "on Saturday"),
        ("Prices rose last week, the agency said.", "last week"),
        ("Talks ended yesterday in Doha.", "yesterday"),
        ("The deal was signed three days ago.", "three days ago"),
        ("Earlier this month the minister resigned.", "Earlier this month"),
        ("The deal was signed on 9 November 2020.", ""),
        ("The weekly market is held in the square.", ""),
    ],
)
def test_relative_times_in_a_sentence(sentence: str, found: str) -> None:
    assert relative_time(sentence) == found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-14", date(2026, 3, 14)),
        ("2026-03-14T08:30:00Z", date(2026, 3, 14)),
        ("14 March 2026", date(2026, 3, 14)),
        ("Tue, 10 Mar 2026 07:00:00 GMT", date(2026, 3, 10)),
        ("", None),
        ("not a date", None),
    ],
)
def test_article_dates_are_read_whatever_their_form(text: str, expected: date | None) -> None:
    assert article_date(text) == expected


def test_as_of_and_newest_first() -> None:
    assert as_of("2024-03-12") == "(as of 12 March 2024)" and as_of("") == ""
    items = [
        ("a", 10.0, "2026-01-01"),
        ("b", 9.5, ""),
        ("c", 9.0, "2026-02-01"),
        ("d", 1.0, "2027"),
    ]
    ordered = newest_first(items, lambda i: i[1], lambda i: i[2], within=1.0)
    # c is newest of the three close ones, b (no date) last of them; d is too far to move up.
    assert [i[0] for i in ordered] == ["c", "a", "b", "d"]
    assert newest_first([], lambda i: 0.0, lambda i: "", 1.0) == []
