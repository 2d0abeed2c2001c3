"""Tense: a "when will" question is not answered by a date that a sentence tells in the past
(`bot/tense.py`), with spaCy's real parser."""

from __future__ import annotations

import pytest

from bot.tense import asks_future, told_in_past


@pytest.mark.parametrize(
    ("sentence", "date", "past"),
    [
        ("Armenia and Turkey signed a peace accord in 2009 to open their border.", "2009", True),
        ("The accord was signed in 2009.", "2009", True),
        (
            "The envoys agreed on Friday to open the border to citizens of third countries.",
            "Friday",
            True,
        ),
        # a plan told in the past perfect, since ended
        (
            "Russia began withdrawing, ending a mission that had been due to run until 2025.",
            "2025",
            True,
        ),
        # the future, the future in the past, and a plan still on
        ("The talks are expected to open in May.", "May", False),
        ("Erdoğan will open the talks on Tuesday.", "Tuesday", False),
        ("The rest would be withdrawn by the end of June.", "the end of June", False),
        (
            "Turkey said that cargo flights between Istanbul and Yerevan would start from Aug. 1.",
            "Aug. 1",
            False,
        ),
    ],
)
def test_a_date_told_in_the_past(sentence: str, date: str, past: bool) -> None:
    start = sentence.index(date)
    assert told_in_past(sentence, start, start + len(date)) is past


@pytest.mark.parametrize(
    ("question", "future"),
    [
        ("When will the border between Turkey and Armenia reopen?", True),
        ("when is the treaty going to be signed", True),
        ("When are the talks expected to resume?", True),
        ("What year will the mission end?", True),
        ("When did the border close?", False),
        ("When was the accord signed?", False),
    ],
)
def test_a_question_about_the_future(question: str, future: bool) -> None:
    assert asks_future(question) is future
