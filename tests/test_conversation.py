"""Follow-ups resolved to an antecedent of the right kind: a person for he/she, the country or
organisation just given as the answer for it/its/they, or several of them for they/their."""

from __future__ import annotations

from bot.conversation import condense, last_short_answer
from bot.types import Turn


def _answered(question: str, answer: str) -> list[Turn]:
    return [Turn("user", question), Turn("assistant", answer)]


def test_she_is_the_person_just_named_never_a_city() -> None:
    history = _answered(
        "Who is the spokeswoman of Armenia's Foreign Ministry?",
        "Ani Badalyan — “Yerevan said on Monday, its spokeswoman Ani Badalyan told reporters.” [1]",
    )
    assert condense("What did her country accuse the peacekeepers of?", history) == (
        "What did Ani Badalyan's country accuse the peacekeepers of?"
    )


def test_it_is_the_country_just_given_as_the_answer() -> None:
    history = _answered(
        "Which country has been the main backer of Azerbaijan?",
        "Turkey — “Turkey has been the main backer of Azerbaijan.” [1]",
    )
    assert condense("When did it close its border with Armenia?", history) == (
        "When did Turkey close Turkey's border with Armenia?"
    )


def test_they_are_the_countries_just_given_as_the_answer() -> None:
    history = _answered(
        "Which two countries agreed to open the Margara-Alican crossing?",
        "Turkey and Armenia — “The special envoys of Turkey and Armenia agreed ...” [1]",
    )
    assert condense("When did they sign a landmark peace accord?", history) == (
        "When did Turkey and Armenia sign a landmark peace accord?"
    )
    # "it" is one thing, never the two
    assert "Turkey and Armenia" not in condense("When was it opened?", history)
    # an answer that is not all countries or organisations is not a "they"
    history = _answered("Who met?", "Turkey and some envoys — “Turkey and some envoys met.” [1]")
    assert "Turkey and some envoys" not in condense("When did they meet again?", history)


def test_it_without_a_country_or_organisation_borrows_the_last_question() -> None:
    history = _answered(
        "When was the accord signed?", "2009 — “The accord was signed in 2009.” [1]"
    )
    standalone = condense("Was it ever ratified?", history)
    assert "2009" not in standalone and "accord" in standalone


def test_the_short_answer_is_read_off_the_last_assistant_turn() -> None:
    turns = [
        Turn("assistant", "Vladimir Putin — “... brokered by Vladimir Putin ...” [1]"),
        Turn("user", "Who brokered it?"),
    ]
    assert last_short_answer(turns) == "Vladimir Putin"
    assert last_short_answer([Turn("assistant", "I couldn't find that in the articles.")]) is None
