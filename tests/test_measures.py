"""Measures: a number that counts another quantity than the one asked for does not answer
(`bot/measures.py`)."""

from __future__ import annotations

import pytest

from bot.measures import another_quantity, asked_quantities, quantities

KILLED = "Six Russian servicemen were killed during the mission, five of them last September."
LIVES = "In 2020, the two countries fought a war that claimed more than 6,500 lives."
DEPLOYED = "Moscow has deployed some 2,000 peacekeepers in Karabakh."
CLASHES = "The fighting killed about 400 people and displaced 56,000, according to the UN."
DETAINED = "Police said 43 protesters were detained."
CITY = "San Diego is the second largest city in the state, with 1.3 million people."


@pytest.mark.parametrize(
    ("question", "sentence", "other"),
    [
        # another quantity stated instead of the one asked for
        ("How many Russian peacekeepers were wounded during the mission?", KILLED, True),
        ("What is the population of Nagorno-Karabakh?", LIVES, True),
        ("What is the area of the region in square kilometres?", LIVES, True),
        # a death toll is always named: an unnamed number counts something else
        ("How many Russian peacekeepers have been killed in Karabakh?", DEPLOYED, True),
        # the quantity asked for, in other words of the same kind
        ("How many Russian soldiers died during the mission?", KILLED, False),
        ("How many lives did the war claim?", LIVES, False),
        ("How many people were displaced by the clashes?", CLASHES, False),
        ("How many people did the clashes kill?", CLASHES, False),
        ("Were any protesters arrested?", DETAINED, False),
        # a population may go unnamed; so may anything not in the table
        ("What is the population of San Diego?", CITY, False),
        ("How many peacekeepers has Moscow deployed?", DEPLOYED, False),
        # a question that counts nothing asks for no quantity
        ("How long was Apollo sentenced for killing Cyclopes?", DEPLOYED, False),
        ("When did the king die?", DEPLOYED, False),
    ],
)
def test_a_number_must_count_what_is_asked(question: str, sentence: str, other: bool) -> None:
    assert another_quantity(asked_quantities(question), sentence) is other


def test_the_quantities_of_a_text() -> None:
    assert quantities(CLASHES) == {"deaths", "displaced"}
    assert quantities("How many people live in Melbourne?") == frozenset()  # not "lives"
    assert quantities("The park covers 6.5 km² of forest.") == {"area"}
