"""The chat UI's logic without a browser: escaping, citation links, the sources panel, the
per-session conversation, and what the callbacks ask of the Service (`tests.helpers.FakeService`).
tests/test_browser.py checks the same things on the real page."""

from __future__ import annotations

import html
import logging
from typing import Any

import gradio as gr
import pytest

from bot.chain import Delta
from bot.errors import BotError, EmptyIndexError
from bot.types import Answer, Citation, Turn
from bot.ui import (
    UNEXPECTED_ERROR,
    Conversation,
    Exchange,
    answer_html,
    ask_stream,
    build_ui,
    chat_messages,
    passage_html,
    record_rating,
    source_html,
    sources_html,
    standalone_text,
    text_html,
)

from .helpers import FakeService

NASTY = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned=2">',
    "a & b < c > d \"quoted\" 'single'",
    "two\nlines\n\nand a paragraph",
    "${window.x=1} {{constructor.constructor('x')()}}",
]


def citation(n: int = 1, text: str = "Before. The quote here. After.", **changes: Any) -> Citation:
    quote = changes.pop("quote", "The quote here.")
    start = changes.pop("quote_start", text.find(quote))
    fields = {
        "n": n,
        "passage_id": f"doc#p{n}",
        "doc_id": "doc",
        "title": "Title",
        "source": "doc.txt",
        "date": "2024-05-01",
        "url": "",
        "text": text,
        "quote": quote,
        "quote_start": start,
        "quote_end": changes.pop("quote_end", start + len(quote)),
    }
    return Citation(**{**fields, **changes})


def answer(
    text: str = "The answer [1].",
    citations: list[Citation] | None = None,
    question: str = "What?",
    standalone: str | None = None,
    refused: bool = False,
) -> Answer:
    return Answer(
        text=text,
        citations=[citation()] if citations is None else citations,
        refused=refused,
        question=question,
        standalone_question=standalone or question,
        retrieved=[],
    )


# --- escaping ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", NASTY)
def test_text_html_shows_exactly_the_text(text: str) -> None:
    shown = text_html(text)
    assert "<" not in shown.replace("<br>", "")
    assert html.unescape(shown.replace("<br>", "\n")) == text


@pytest.mark.parametrize("text", NASTY)
def test_answers_and_sources_escape_article_markup(text: str) -> None:
    cited = citation(text=f"{text} Quote {text}.", quote=f"Quote {text}.", title=text, date=text)
    for rendered in (
        answer_html(answer(f"“{text}” [1]", [cited]), 0),
        source_html(0, cited),
    ):
        assert "<script" not in rendered and "<img" not in rendered
        assert html.escape(text).replace("\n", "<br>") in rendered


def test_only_known_citation_markers_become_links() -> None:
    rendered = answer_html(answer("A [1] B [2] C [7] D [1, 2]", [citation(1), citation(2)]), 3)
    assert rendered.count('class="cite"') == 4
    assert '<a href="#src-3-2" class="cite"' in rendered
    assert "C [7] D" in rendered


def test_passage_marks_the_quote_at_its_offsets() -> None:
    marked = passage_html(citation(text="x <b> The quote here. y", quote="The quote here."))
    assert marked == "x &lt;b&gt; <mark>The quote here.</mark> y"


def test_passage_with_wrong_offsets_marks_the_quote_where_it_is() -> None:
    wrong = citation(text="Intro. The quote here.", quote_start=0, quote_end=6)
    assert passage_html(wrong) == "Intro. <mark>The quote here.</mark>"
    missing = citation(text="Nothing to mark.", quote="Absent.", quote_start=0, quote_end=7)
    assert "<mark>" not in passage_html(missing)


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://news.example/a?b=1&c=2", True),
        ("http://news.example/a", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:text/html,<script>x</script>", False),
    ],
)
def test_only_http_links_to_the_original(url: str, linked: bool) -> None:
    rendered = source_html(0, citation(url=url))
    assert ('class="source-link"' in rendered) is linked
    assert "javascript" not in rendered.lower() and "data:" not in rendered


# --- conversation ------------------------------------------------------------------------------
def conversation() -> Conversation:
    return Conversation(
        [
            Exchange("Who?", answer("Putin [1].", question="Who?")),
            Exchange("And then?", error="The server is busy."),
            Exchange("How many?", answer("2,000 [1].", question="How many?", standalone="More?")),
        ]
    )


def test_history_leaves_out_failed_exchanges() -> None:
    assert conversation().history() == [
        Turn("user", "Who?"),
        Turn("assistant", "Putin [1]."),
        Turn("user", "How many?"),
        Turn("assistant", "2,000 [1]."),
    ]
    assert conversation().history(upto=2) == conversation().history(upto=1)


def test_chat_has_two_messages_per_exchange() -> None:
    messages = chat_messages(conversation())
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert "chat-error" in messages[3]["content"] and "busy" in messages[3]["content"]
    assert 'href="#src-2-1"' in messages[5]["content"]


def test_sources_panel_shows_the_latest_answer_and_keeps_earlier_ones() -> None:
    panel = sources_html(conversation())
    assert '<section class="source-group" data-turn="0" hidden>' in panel
    assert '<section class="source-group" data-turn="2">' in panel
    assert 'data-turn="1"' not in panel  # the failed exchange has no sources
    assert 'id="src-0-1"' in panel and 'id="src-2-1"' in panel
    refused = Conversation([Exchange("Q", answer("No.", [], refused=True))])
    assert "No sources" in sources_html(refused)
    assert "sources-empty" in sources_html(Conversation())


def test_standalone_query_is_shown_only_when_it_differs() -> None:
    assert standalone_text(conversation()) == "More?"
    assert standalone_text(Conversation(conversation().exchanges[:1])) == ""
    assert standalone_text(Conversation(conversation().exchanges[:2])) == ""  # latest failed


# --- callbacks' work ---------------------------------------------------------------------------
def test_ask_stream_yields_growing_text_then_keeps_the_checked_answer() -> None:
    final = answer("Checked [1].", question="How many?")
    service = FakeService([Delta("Some "), Delta("text"), final])
    conv = conversation()
    assert list(ask_stream(service, "How many?", conv)) == ["Some ", "Some text"]  # type: ignore[arg-type]
    assert service.asked == [("How many?", conversation().history())]
    assert conv.exchanges[-1] == Exchange("How many?", final)


def test_ask_stream_shows_a_bot_error_as_a_message() -> None:
    service = FakeService(error=EmptyIndexError("No articles are indexed yet."))
    conv = Conversation()
    assert list(ask_stream(service, "Q", conv)) == []  # type: ignore[arg-type]
    assert conv.exchanges == [Exchange("Q", error="No articles are indexed yet.")]


def test_ask_stream_hides_a_bug_from_the_user_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    service = FakeService([Delta("Part")], error=RuntimeError("secret internals"))
    conv = Conversation()
    with caplog.at_level(logging.ERROR, logger="bot.ui"):
        assert list(ask_stream(service, "Q", conv)) == ["Part"]  # type: ignore[arg-type]
    assert conv.exchanges[-1].error == UNEXPECTED_ERROR
    assert "secret internals" in caplog.text


def test_a_rating_goes_to_the_rated_answer_with_its_history() -> None:
    service = FakeService()
    conv = conversation()
    record_rating(service, conv, 5, liked=False)  # type: ignore[arg-type]
    [rating] = service.ratings
    assert (rating["question"], rating["rating"]) == ("How many?", -1)
    assert rating["answer"]["text"] == "2,000 [1]."
    assert rating["history"] == conv.history(upto=2)
    with pytest.raises(BotError, match="error report"):
        record_rating(service, conv, 3, liked=True)  # type: ignore[arg-type]
    with pytest.raises(BotError, match="Wait for the answer"):
        record_rating(service, conv, 7, liked=True)  # type: ignore[arg-type]


# --- the page ----------------------------------------------------------------------------------
@pytest.mark.parametrize("embed", [False, True])
def test_build_ui_renders_messages_as_escaped_html_only(embed: bool) -> None:
    demo = build_ui(FakeService(), embed=embed)  # type: ignore[arg-type]
    blocks = list(demo.blocks.values())
    [chatbot] = [b for b in blocks if isinstance(b, gr.Chatbot)]
    assert (chatbot.render_markdown, chatbot.sanitize_html, chatbot.latex_delimiters) == (
        False,
        True,
        [],
    )
    # The public chat holds no way to change documents or export feedback (bot.admin_ui does).
    assert not [b for b in blocks if isinstance(b, gr.File | gr.Tab)]
    handlers = {fn.name for fn in demo.fns.values()}
    assert handlers.isdisjoint({"upload", "remove_document", "export_feedback"}), handlers
