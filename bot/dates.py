"""Dates in news: an article's date read from its stored text, questions that ask for recent
news, and relative time words ("last week", "on Tuesday") that need the article's date.

- `article_date` reads a stored date ("2026-03-14", "14 March 2026", "Tue, 10 Mar 2026 ...")
  with dateutil; an empty or unreadable one is None, which sorts as the oldest.
- `asks_for_recent` tells a question that wants the newest news ("latest", "this week",
  "recent", "recently", "newest"); `newest_first` orders the items that are within a margin of
  the best by date, newest first, for such questions only (`bot.retrieve` on fused scores,
  `bot.extract` on the sentence choice).
- `relative_time` finds a time word in a quoted sentence whose meaning depends on when the
  article was written; `as_of` is the note the answer adds after such a quote.

Where the preference applies and where the note goes are the callers' business.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import TypeVar

# "latest", "this week", "recent(ly)", "newest", "most recent", "so far this month".
_RECENT = re.compile(
    r"\b(?:latest|newest|recent(?:ly)?|this\s+(?:week|month)|lately|up\s+to\s+date)\b", re.I
)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NUMBER = (
    r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a\s+few|several)"
)
# A time that means something only next to the day it was written.
_RELATIVE = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|"
    rf"(?:last|this|next|past|coming)\s+(?:week(?:end)?|month|year|{_DAYS}|night|morning)|"
    rf"{_NUMBER}\s+(?:day|week|month|year)s?\s+ago|"
    rf"(?:on\s+)?(?:{_DAYS})|"
    r"earlier\s+(?:today|this\s+(?:week|month|year)))\b",
    re.I,
)


T = TypeVar("T")


@lru_cache(maxsize=4096)
def article_date(text: str) -> date | None:
    """The date in an article's stored date text, or None when there is none or it is not
    a date."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    from dateutil import parser

    try:
        return parser.parse(text, default=datetime(1, 1, 1)).date()
    except (ValueError, OverflowError):
        return None


def asks_for_recent(question: str) -> bool:
    """Whether a question asks for the newest news ("latest", "this week", "recent")."""
    return bool(_RECENT.search(question))


def newest_first(
    items: Sequence[T], score: Callable[[T], float], when: Callable[[T], str], within: float
) -> list[T]:
    """`items` (best `score` first) with those scoring within `within` of the best ordered by
    date, newest first; the rest follow in their order. Undated items count as the oldest, and
    items of one date keep their order."""
    if not items:
        return list(items)
    best = score(items[0])
    close = [item for item in items if score(item) >= best - within]
    rest = [item for item in items if score(item) < best - within]
    # sorted() is stable: ties (one date, or no date) keep their relevance order.
    close = sorted(close, key=lambda item: article_date(when(item)) or date.min, reverse=True)
    return close + rest


def relative_time(sentence: str) -> str:
    """The first relative time word in `sentence` ("last week", "on Tuesday"), or ""."""
    match = _RELATIVE.search(sentence)
    return match.group() if match else ""


def as_of(date_text: str) -> str:
    """The note for a quote that holds a relative time: "(as of 12 March 2024)", or "" when
    the date cannot be read."""
    day = article_date(date_text)
    return f"(as of {day.day} {day:%B %Y})" if day else ""
