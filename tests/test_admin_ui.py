"""The documents page's logic without a browser: uploads one by one, the feedback as JSONL,
and the admin check inside every callback (`tests.helpers.FakeService` records what reaches
the service). tests/test_auth.py drives the same page through Gradio's routes, and
tests/test_browser.py in Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest

from bot.admin_ui import NOT_ADMIN, add_files, build_admin_ui, feedback_cases_jsonl
from bot.ui import Conversation, Exchange, record_rating

from .helpers import FakeService, canned_answer


def test_a_bad_upload_does_not_stop_the_others(tmp_path: Path) -> None:
    good, empty = tmp_path / "good.txt", tmp_path / "empty.txt"
    good.write_text("Some news.")
    empty.write_text(" ")
    service = FakeService()
    seen: list[tuple[int, int, str]] = []
    done, errors = add_files(service, [empty, good], lambda *step: seen.append(step))  # type: ignore[arg-type]
    assert done == ["good.txt: 1 added, 0 updated, 0 unchanged; 1 passages written"]
    assert errors == ["empty.txt: the file is empty."]
    assert seen == [(0, 2, "empty.txt"), (1, 2, "good.txt")]
    assert service.uploads == [("good.txt", b"Some news.")]


def test_feedback_export_is_jsonl_of_cases() -> None:
    service = FakeService()
    assert feedback_cases_jsonl(service) == ""  # type: ignore[arg-type]
    conv = Conversation([Exchange("Who?", canned_answer("Who?"))])
    record_rating(service, conv, 1, liked=True)  # type: ignore[arg-type]
    [case] = [json.loads(line) for line in feedback_cases_jsonl(service).splitlines()]  # type: ignore[arg-type]
    assert case["question"] == "Who?" and case["rating"] == 1


def handlers(demo: gr.Blocks) -> dict[str, Any]:
    return {fn.name: fn.fn for fn in demo.fns.values()}


def test_every_callback_checks_for_an_admin_itself(tmp_path: Path) -> None:
    """Whatever reaches a handler (Gradio runs them by name), a request that is not an
    admin's changes nothing and sees nothing."""
    service = FakeService()
    service.upload("victim.txt", b"Kept.")
    upload = tmp_path / "evil.txt"
    upload.write_text("Evil.")
    asked: list[Any] = []

    def nobody(request: Any) -> bool:
        asked.append(request)
        return False

    fns = handlers(build_admin_ui(service, nobody))  # type: ignore[arg-type]
    request = SimpleNamespace(cookies={})
    calls = {
        "upload": ([str(upload)], request, lambda *a, **k: None),
        "remove_document": ("victim", request),
        "refresh_view": (request,),
        "show": (request,),
        # The web controls (tests/test_web.py runs them against a real site and index).
        "add_now": ("https://news.example.org/rss.xml", request),
        "watch_feed": ("https://news.example.org/rss.xml", "15m", request),
        "unwatch_feed": ("https://news.example.org/rss.xml", request),
        "refresh_feeds": (request,),
        "show_feeds": (request,),
    }
    assert set(fns) == set(calls)
    for name, args in calls.items():
        with pytest.raises(gr.Error, match="Sign in as an admin"):
            fns[name](*args)
    assert len(asked) == len(calls)
    assert service.uploads == [("victim.txt", b"Kept.")] and service.removed == []
    assert NOT_ADMIN.startswith("Sign in as an admin")


def test_an_admin_adds_lists_and_removes(tmp_path: Path) -> None:
    service = FakeService()
    fns = handlers(build_admin_ui(service, lambda request: True))  # type: ignore[arg-type]
    article = tmp_path / "harbour.md"
    article.write_text("# Harbour\n\nThe harbour reopened.")
    request = SimpleNamespace(cookies={})
    progress: list[Any] = []
    result, table, _choices, _status, _files = fns["upload"](
        [str(article)], request, lambda *step, **kw: progress.append(step)
    )
    assert progress == [((0, 1),)]
    assert result.startswith("harbour.md: 1 added")
    assert [row[0] for row in table["data"]] == ["harbour"]
    result, table, *_ = fns["remove_document"]("harbour", request)
    assert result.startswith("Removed harbour") and table["data"] == []
    assert service.removed == ["harbour"]
