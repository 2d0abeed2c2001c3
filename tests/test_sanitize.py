"""Untrusted input at the edge: lone surrogates found and replaced, document ids checked,
links restricted to http(s)."""

from __future__ import annotations

import pytest

from bot.sanitize import (
    MAX_DOC_ID_CHARS,
    clean_text,
    doc_id_problem,
    has_lone_surrogate,
    safe_url,
)


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("plain text, emoji 😀 and ü", False),
        ("a\ud800b", True),
        ("trailing \udfff", True),
        (["ok", {"nested": ["x\udc00"]}], True),
        ({"key\ud83d": "value"}, True),
        (("ok", 3, None, 2.5), False),
    ],
)
def test_lone_surrogates_are_found_anywhere_in_the_data(value: object, found: bool) -> None:
    assert has_lone_surrogate(value) is found


def test_clean_text_replaces_each_surrogate_and_keeps_the_rest() -> None:
    cleaned = clean_text("Who \ud800brokered 😀 the \udfffceasefire?")
    assert cleaned == "Who \ufffdbrokered 😀 the \ufffdceasefire?"
    cleaned.encode("utf-8")  # what failed before: storing, hashing and tokenising it


@pytest.mark.parametrize(
    ("doc_id", "problem"),
    [
        ("caucasus-peace-talks", ""),
        ("news/2024/05/harbour tunnel ü", ""),
        ("a\nb", "control character"),
        ("tab\there", "control character"),
        ("bell\x07", "control character"),
        ("line\u2028separator", "control character"),
        ("   ", "empty"),
        ("x" * (MAX_DOC_ID_CHARS + 1), "characters long"),
    ],
)
def test_document_ids_must_be_printable_and_bounded(doc_id: str, problem: str) -> None:
    found = doc_id_problem(doc_id)
    assert (problem in found and bool(found)) if problem else found == ""


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://news.example/a?b=1&c=2", "https://news.example/a?b=1&c=2"),
        ("  HTTP://news.example/a ", "HTTP://news.example/a"),
        ("javascript:alert(1)", ""),
        (" JavaScript:alert(1)", ""),
        ("data:text/html,<script>x</script>", ""),
        ("vbscript:msgbox", ""),
        ("//evil.example/x", ""),
        ("https://news.example/\nset-cookie", ""),
    ],
)
def test_only_plain_http_links_survive(url: str, kept: str) -> None:
    assert safe_url(url) == kept
