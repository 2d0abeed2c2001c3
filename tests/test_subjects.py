"""Whose deed a sentence reports: a question about one country's deed is not answered by
another country's (`bot/subjects.py`), with spaCy's real parser."""

from __future__ import annotations

import pytest

from bot.subjects import another_country, subject_countries

MOSCOW = "Moscow has deployed some 2,000 peacekeepers in Karabakh and a corridor to Armenia."
PARLIAMENT = "Armenia's parliament on Wednesday approved sending 120 peacekeepers to Kosovo."
SAID = (
    "Armenia said it would spend about 1.2 billion drams renovating its checkpoint, which has "
    "been closed since Turkey sealed the border in 1993."
)
CEDE = (
    "A cease-fire deal brokered by Russian President Vladimir Putin saw Armenia cede swathes of "
    "territory to Azerbaijan, and Moscow deployed a peacekeeping contingent in the region."
)


def _other(question: str, sentence: str, answer: str) -> bool:
    start = sentence.index(answer)
    return another_country(subject_countries(question), sentence, start, start + len(answer))


@pytest.mark.parametrize(
    ("question", "sentence", "answer", "other"),
    [
        # another country's deed, by its capital or a possessive
        ("How many peacekeepers has Turkey deployed in Karabakh?", MOSCOW, "2,000", True),
        ("How many peacekeepers does Azerbaijan have in Kosovo?", PARLIAMENT, "120", True),
        # a pronoun subject passes to the clause above: Armenia's spending, not Turkey's
        ("How much will Turkey spend renovating its checkpoint?", SAID, "1.2 billion", True),
        # the same country, by its capital or a demonym
        ("How many peacekeepers has Russia deployed in Karabakh?", MOSCOW, "2,000", False),
        ("How many Armenian peacekeepers are going to Kosovo?", PARLIAMENT, "120", False),
        # the clause that holds the answer decides, not the sentence's other clauses
        ("In what year did Turkey close its border with Armenia?", SAID, "1993", False),
        ("What did Armenia cede under the 2020 cease-fire deal?", CEDE, "swathes", False),
        # joined subjects: each counts, in either order
        (
            "When did Turkey and Armenia sign the accord?",
            "Armenia and Turkey signed the accord in 2009.",
            "2009",
            False,
        ),
        # a question whose subject is no country is not judged
        ("How much did Sahakyan say the mission would cost?", SAID, "1.2 billion", False),
    ],
)
def test_another_countrys_deed_does_not_answer(
    question: str, sentence: str, answer: str, other: bool
) -> None:
    assert _other(question, sentence, answer) is other


def test_subject_countries_reads_names_capitals_and_demonyms() -> None:
    assert subject_countries(MOSCOW) == {"russia"}
    assert subject_countries("The Turkish army crossed the border.") == {"turkey"}
    assert subject_countries("The United States hosted the talks.") == {"united states"}
    assert subject_countries("Russia, Turkey and Iran agreed to meet.") == {
        "russia",
        "turkey",
        "iran",
    }
    # only the subject's own words: the clause hanging off it names no subject
    brokered = "A deal brokered by Russian President Putin saw Armenia cede land."
    assert subject_countries(brokered) == frozenset()
