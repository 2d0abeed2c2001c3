"""The public Gradio chat: streamed answers whose `[n]` markers open the cited passage in a
sources panel, and thumbs up/down feedback. Nothing else: the documents page is another app
(`bot.admin_ui`), so no handler here can change documents or reveal feedback.

`build_ui(service, embed)` returns the `gr.Blocks` that `bot.server` mounts at `/` (full) and
at `/embed` (compact, for iframes on a portal). Callbacks are thin wrappers over `Service`;
the HTML for messages and sources comes from the gradio-free functions below, which the
tests call directly. Each browser session keeps its own `Conversation` in `gr.State`.

Article text is untrusted: a feed can carry `<script>` or `<img onerror=...>`. Every piece of
it goes through `html.escape` before it reaches the page, in chat messages (Markdown rendering
off, so nothing is re-interpreted) and in the sources panel; Gradio's sanitizer stays on as a
second layer, and links to the original article must be http(s) (`bot.sanitize`). Left to
other modules: routes, login and headers (`bot.server`, `bot.auth`, `bot.headers`), answering
and citation checking (`bot.chain`), storage (`bot.index`).
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from bot.chain import Delta
from bot.citations import MARKER, marker_numbers
from bot.errors import BotError
from bot.sanitize import safe_url
from bot.service import Service
from bot.types import Answer, Citation, Turn

log = logging.getLogger(__name__)

EXAMPLES = (
    "Who brokered the 2020 ceasefire?",
    "How many peacekeepers has Russia deployed in Karabakh?",
    "When did Armenia and Turkey sign a peace accord?",
)
UNEXPECTED_ERROR = (
    "Something went wrong while answering. The server log has the details; please try again."
)


# --- per-session state -------------------------------------------------------------------------
@dataclass
class Exchange:
    """One question and what came back: an answer, or an error message for the user."""

    question: str
    answer: Answer | None = None
    error: str = ""


@dataclass
class Conversation:
    """One browser session's chat, held in `gr.State` so that users never share it."""

    exchanges: list[Exchange] = field(default_factory=list)

    def history(self, upto: int | None = None) -> list[Turn]:
        """The turns the bot sees for exchanges before `upto`; failed ones are left out."""
        turns: list[Turn] = []
        for exchange in self.exchanges[:upto]:
            if exchange.answer is not None:
                turns += [
                    Turn("user", exchange.question),
                    Turn("assistant", exchange.answer.text),
                ]
        return turns

    def last_answered(self) -> int | None:
        """Index of the latest exchange with an answer, if any."""
        for turn in range(len(self.exchanges) - 1, -1, -1):
            if self.exchanges[turn].answer is not None:
                return turn
        return None


# --- HTML, built here and escaped here ---------------------------------------------------------
def text_html(text: str) -> str:
    """Untrusted text as HTML that displays exactly that text, line breaks kept."""
    return html.escape(text).replace("\n", "<br>")


def cite_link(turn: int, n: int) -> str:
    return (
        f'<a href="#src-{turn}-{n}" class="cite" data-turn="{turn}" data-n="{n}" '
        f'title="Show source {n}">[{n}]</a>'
    )


def answer_html(answer: Answer, turn: int) -> str:
    """An answer as a chat message: escaped text, each known `[n]` a link to its source."""
    known = {c.n for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        numbers = marker_numbers(match)
        if not all(n in known for n in numbers):
            return match.group(0)
        return match["space"] + "".join(cite_link(turn, n) for n in numbers)

    # Escaping leaves markers as they are; `[1, 2]` groups are linked number by number.
    body = MARKER.sub(link, text_html(answer.text))
    # Classes, not data- attributes: the chat's sanitizer drops data- attributes.
    kind = "answer final refused" if answer.refused else "answer final"
    return f'<div class="{kind}">{body}</div>'


def streaming_html(text: str) -> str:
    """The answer so far, while it streams (markers are not linked until the text is final)."""
    shown = text_html(text) if text else '<span class="pending">Searching the articles…</span>'
    return f'<div class="answer streaming">{shown}</div>'


def error_html(message: str) -> str:
    return f'<div class="answer chat-error">⚠ {text_html(message)}</div>'


def passage_html(citation: Citation) -> str:
    """The whole passage with the supporting sentence in <mark>, all of it escaped."""
    text, quote = citation.text, citation.quote
    start, end = citation.quote_start, citation.quote_end
    if not (0 <= start < end <= len(text)) or (quote and text[start:end] != quote):
        # Offsets that do not match the quote would highlight the wrong words; find it instead.
        start = text.find(quote) if quote else -1
        end = start + len(quote)
    if start < 0 or end <= start:
        return text_html(text)
    return (
        f"{text_html(text[:start])}<mark>{text_html(text[start:end])}</mark>{text_html(text[end:])}"
    )


def source_html(turn: int, citation: Citation) -> str:
    meta = [f'<span class="source-title">{text_html(citation.title)}</span>']
    if citation.date:
        meta.append(f'<span class="source-date">{text_html(citation.date)}</span>')
    if citation.source:
        meta.append(f'<span class="source-origin">{text_html(citation.source)}</span>')
    url = safe_url(citation.url)
    if url:
        meta.append(
            f'<a class="source-link" href="{html.escape(url)}" target="_blank" '
            'rel="noopener noreferrer">original article</a>'
        )
    return (
        f'<article class="source" id="src-{turn}-{citation.n}" data-n="{citation.n}" '
        f'tabindex="-1"><header><span class="source-n">[{citation.n}]</span> '
        f'{" · ".join(meta)}</header><p class="source-text">{passage_html(citation)}</p>'
        "</article>"
    )


def sources_html(conversation: Conversation) -> str:
    """The sources panel: one group per answer, the latest shown; a click on `[n]` in any
    answer shows that answer's group and highlights source n (see CLICK_JS)."""
    shown = conversation.last_answered()
    groups = []
    for turn, exchange in enumerate(conversation.exchanges):
        if exchange.answer is None:
            continue
        items = [source_html(turn, c) for c in exchange.answer.citations] or [
            '<p class="no-sources">No sources: the articles do not answer this question.</p>'
        ]
        hidden = "" if turn == shown else " hidden"
        groups.append(
            f'<section class="source-group" data-turn="{turn}"{hidden}>'
            f'<p class="source-question">Sources for <q>{text_html(exchange.question)}</q></p>'
            f"{''.join(items)}</section>"
        )
    if not groups:
        groups = [
            '<p class="sources-empty">Ask a question, then click a citation such as [1] in '
            "the answer to read the passage it comes from.</p>"
        ]
    return f'<div class="sources">{"".join(groups)}</div>'


def exchange_messages(turn: int, exchange: Exchange) -> list[dict[str, str]]:
    if exchange.answer is not None:
        reply = answer_html(exchange.answer, turn)
    else:
        reply = error_html(exchange.error or UNEXPECTED_ERROR)
    return [
        {"role": "user", "content": text_html(exchange.question)},
        {"role": "assistant", "content": reply},
    ]


def chat_messages(conversation: Conversation) -> list[dict[str, str]]:
    """The Chatbot value: two messages per exchange, so assistant message i is exchange i // 2."""
    messages = []
    for turn, exchange in enumerate(conversation.exchanges):
        messages += exchange_messages(turn, exchange)
    return messages


def standalone_text(conversation: Conversation) -> str:
    """The search query of the latest answer, if it differs from the question asked."""
    turn = conversation.last_answered()
    if turn is None or turn != len(conversation.exchanges) - 1:
        return ""
    answer = conversation.exchanges[turn].answer
    assert answer is not None
    return "" if answer.standalone_question == answer.question else answer.standalone_question


# --- what the callbacks do -------------------------------------------------------------------
def ask_stream(service: Service, question: str, conversation: Conversation) -> Iterator[str]:
    """Yield the growing answer text, then append the finished exchange to `conversation`.

    A `BotError` becomes an exchange showing its message; anything else is a bug, logged with
    its traceback, and the user sees a generic message instead of a stack trace.
    """
    exchange = Exchange(question)
    text = ""
    try:
        for event in service.stream(question, conversation.history()):
            if isinstance(event, Delta):
                text += event.text
                yield text
            else:
                exchange.answer = event  # the final, checked text replaces the streamed one
    except BotError as exc:
        exchange.error = str(exc)
    except Exception:
        log.exception("Answering %r failed", question)
        exchange.error = UNEXPECTED_ERROR
    conversation.exchanges.append(exchange)


def record_rating(
    service: Service, conversation: Conversation, message_index: int, liked: bool
) -> None:
    """Store a thumbs up or down for the assistant message at `message_index`."""
    turn = message_index // 2
    if not 0 <= turn < len(conversation.exchanges):
        raise BotError("Wait for the answer to finish, then rate it.")
    exchange = conversation.exchanges[turn]
    if exchange.answer is None:
        raise BotError("Only answers can be rated; this message is an error report.")
    service.record_feedback(
        exchange.question,
        exchange.answer.to_dict(),
        1 if liked else -1,
        conversation.history(turn),
    )


def health_line(service: Service) -> str:
    # Not the store's address: the page may be public, the Chroma server is not.
    health = service.health()
    return (
        f"{health['documents']} documents, {health['passages']} passages · {health['mode']} answers"
    )


# --- page assets -------------------------------------------------------------------------------
# `mount_gradio_app` overwrites a Blocks' css=, js= and head=, so the styles and the click
# handler travel inside a gr.HTML component instead: a <style> element in its value and the
# handler in its js_on_load, which run however the server mounts the app.
CSS = """
#chat .answer .cite { font-weight: 600; text-decoration: none; color: var(--color-accent);
  cursor: pointer; padding: 0 1px; }
#chat .answer .cite:hover, #chat .answer .cite:focus { text-decoration: underline; }
#chat .answer .pending { color: var(--body-text-color-subdued); font-style: italic; }
#chat .chat-error { color: var(--error-text-color, #b91c1c); }
#sources .source { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 8px 10px; margin: 0 0 8px; scroll-margin: 12px; }
#sources .source.active { border-color: var(--color-accent);
  box-shadow: 0 0 0 2px var(--color-accent-soft, rgba(249, 115, 22, 0.25)); }
#sources .source-title { font-weight: 600; }
#sources .source-date, #sources .source-origin, #sources .source-question {
  color: var(--body-text-color-subdued); font-size: 0.9em; }
#sources .source-text { margin: 6px 0 0; line-height: 1.5; }
#sources mark { background: #fde68a; color: #111; padding: 0 2px; border-radius: 2px; }
#newsbot-assets { display: none; }
"""
EMBED_CSS = """
.gradio-container { padding: 4px 8px !important; }
footer { display: none !important; }
"""
CLICK_JS = """
if (!window.__newsbotCitations) {
  window.__newsbotCitations = true;
  // Capture phase: runs before the chat component sees the click, so the link never navigates.
  document.addEventListener("click", (event) => {
    const link = event.target.closest ? event.target.closest("a.cite") : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const source = document.getElementById((link.getAttribute("href") || "").slice(1));
    if (!source) return;
    const group = source.closest(".source-group");
    document.querySelectorAll("#sources .source-group").forEach((g) => { g.hidden = g !== group; });
    document.querySelectorAll("#sources .source.active").forEach((s) => s.classList.remove("active"));
    source.classList.add("active");
    source.scrollIntoView({ behavior: "smooth", block: "nearest" });
    source.focus({ preventScroll: true });
  }, true);
}
"""


# --- the page ----------------------------------------------------------------------------------
def build_ui(service: Service, embed: bool = False) -> gr.Blocks:
    """The chat app; `embed=True` gives the compact chat-only page for iframes."""
    with gr.Blocks(title="News chat", analytics_enabled=False) as demo:
        gr.HTML(
            f"<style>{CSS}{EMBED_CSS if embed else ''}</style>",
            js_on_load=CLICK_JS,
            elem_id="newsbot-assets",
        )
        if embed:
            _chat_area(service, embed=True)
            return demo
        gr.Markdown(
            "## News chat\nAnswers come only from the indexed articles; click a citation "
            "such as [1] to read the passage it comes from."
        )
        status = gr.Markdown(elem_id="status")
        _chat_area(service, embed=False)
        demo.load(
            shown_errors(lambda: health_line(service)), outputs=status, api_visibility="private"
        )
    return demo


def _chat_area(service: Service, embed: bool) -> None:
    conversation = gr.State(Conversation())
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            chatbot = gr.Chatbot(
                elem_id="chat",
                show_label=False,
                height=420 if embed else 540,
                # Messages are HTML built (and escaped) by this module: no Markdown or LaTeX
                # pass may re-interpret article text; the sanitizer stays as a second layer.
                render_markdown=False,
                sanitize_html=True,
                allow_tags=False,
                latex_delimiters=[],
                buttons=[],
                feedback_options=("Like", "Dislike"),
                placeholder="Ask about the news articles. Answers cite their sources as [1], [2].",
            )
            with gr.Row():
                question = gr.Textbox(
                    elem_id="question",
                    show_label=False,
                    placeholder="Ask a question about the articles…",
                    lines=1,
                    max_lines=4,
                    scale=5,
                    autofocus=not embed,  # in an iframe, focus would scroll the portal page
                )
                ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
            with gr.Row(elem_id="examples"):
                example_buttons = [gr.Button(text, size="sm") for text in EXAMPLES]
            with gr.Row():
                new = gr.Button("New conversation", size="sm", scale=0, elem_id="new-conversation")
            with gr.Accordion(
                "Search query used", open=False, visible=False, elem_id="standalone"
            ) as standalone_box:
                standalone = gr.HTML(elem_id="standalone-query", js_on_load=None)
        with gr.Column(scale=2, min_width=260):
            sources = gr.HTML(
                sources_html(Conversation()),
                elem_id="sources",
                label="Sources",
                show_label=True,
                container=True,
                padding=True,
                js_on_load=None,
            )

    outputs = [chatbot, conversation, sources, standalone_box, standalone, question]

    def respond(text: str, conv: Conversation) -> Iterator[tuple[Any, ...]]:
        unchanged = tuple(gr.skip() for _ in outputs)
        try:
            text = service.bot.validate_question(text)
        except BotError as exc:
            warn(str(exc))
            yield unchanged
            return
        shown = chat_messages(conv)
        asked = {"role": "user", "content": text_html(text)}
        waiting = {"role": "assistant", "content": streaming_html("")}
        yield ([*shown, asked, waiting], *unchanged[1:-1], "")
        for partial in ask_stream(service, text, conv):
            streaming = {"role": "assistant", "content": streaming_html(partial)}
            yield ([*shown, asked, streaming], *unchanged[1:])
        query = standalone_text(conv)
        yield (
            chat_messages(conv),
            conv,
            sources_html(conv),
            gr.Accordion(visible=bool(query), open=False),
            f'<p class="standalone-query">{text_html(query)}</p>' if query else "",
            gr.skip(),
        )

    chat_options: dict[str, Any] = {
        "inputs": [question, conversation],
        "outputs": outputs,
        "show_progress": "hidden",  # the chat shows its own "Searching…" line
        # Service bounds the answers computed at once, for the UI and the API together.
        "concurrency_limit": None,
        "api_visibility": "private",
    }
    events = [
        question.submit(respond, **chat_options),
        ask.click(respond, **chat_options),
    ]
    for button, text in zip(example_buttons, EXAMPLES, strict=True):
        fill = button.click(
            _constant(text), outputs=question, queue=False, api_visibility="private"
        )
        events.append(fill.then(respond, **chat_options))

    def restart() -> tuple[Any, ...]:
        fresh = Conversation()
        return [], fresh, sources_html(fresh), gr.Accordion(visible=False), "", ""

    # The chat's own clear (bin) button must forget the conversation too.
    for clear in (new.click, chatbot.clear):
        clear(restart, outputs=outputs, cancels=events, queue=False, api_visibility="private")

    @shown_errors
    def rate(conv: Conversation, like: gr.LikeData) -> None:
        if like.liked not in (True, False) or not isinstance(like.index, int):
            return  # a rating taken back: the feedback log only appends
        record_rating(service, conv, like.index, bool(like.liked))
        gr.Info("Thanks, your feedback is saved.")

    chatbot.like(rate, inputs=[conversation], api_visibility="private")


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


def warn(message: str) -> None:
    """A warning toast. Gradio renders toast text as HTML, so the message is escaped."""
    gr.Warning(html.escape(message))


def shown_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A callback whose errors reach the user as a message: a BotError's own, or for a bug a
    generic one (the traceback goes to the server log, never to the page)."""

    @functools.wraps(fn)  # keeps the signature Gradio reads for gr.Progress and gr.LikeData
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except BotError as exc:
            raise gr.Error(html.escape(str(exc)), print_exception=False) from None
        except Exception:
            log.exception("UI callback %s failed", fn.__name__)
            raise gr.Error(UNEXPECTED_ERROR, print_exception=False) from None

    return wrapper
