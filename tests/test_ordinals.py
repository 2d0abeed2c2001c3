"""Ordinals: a sentence about other members of a numbered series does not answer a question
about one of them (`bot/ordinals.py`)."""

from __future__ import annotations

import pytest

from bot.ordinals import another_ordinal, ordinals

MEETINGS = (
    "The envoys held their first meeting on Jan. 14 in Moscow, and the second meeting in "
    "Vienna on Feb. 24."
)
THIRD = "They reached the agreement at their third meeting, held in Yerevan on June 9."
NEXT = "Rubinyan said the next meeting would be held in Ankara in the autumn."


@pytest.mark.parametrize(
    ("question", "sentence", "other"),
    [
        ("Where will the third meeting of the envoys take place?", MEETINGS, True),
        ("Where was the 3rd meeting held?", MEETINGS, True),
        ("Where did the envoys hold their second meeting?", MEETINGS, False),
        ("Where did they hold their third meeting?", THIRD, False),
        ("Where was the 3rd meeting held?", THIRD, False),
        # a sentence that numbers nothing is left to the reader ("next" is not a number)
        ("Where will the fourth meeting be held?", NEXT, False),
        # a question about no numbered member asks nothing of the sentence
        ("Where did the envoys meet in February?", MEETINGS, False),
    ],
)
def test_a_sentence_about_another_member_of_a_series(
    question: str, sentence: str, other: bool
) -> None:
    assert another_ordinal(ordinals(question), sentence) is other


def test_ordinals_in_words_and_digits() -> None:
    assert ordinals("the first and the 11th meeting, the Twentieth Century") == {1, 11, 20}
    assert ordinals("at 11 o'clock, the 1990s") == frozenset()
