"""Sources: the subject of a verb of saying does not answer a "who" question about a deed the
sentence does not name (`bot/sources.py`), with spaCy's real parser."""

from __future__ import annotations

import pytest

from bot.sources import asked_deed, only_the_source

KREMLIN = (
    "Russia has begun withdrawing the peacekeeping contingent it deployed in Nagorno-Karabakh, "
    "the Kremlin confirmed on Wednesday."
)
COMMANDER = "The contingent's commander, Lt. Gen. Alexei Vorontsov, said 400 troops had left."
LAWMAKERS = "Opposition lawmakers argued that the soldiers were needed at home."


@pytest.mark.parametrize(
    ("question", "deed"),
    [
        ("Who commands the Russian peacekeeping contingent?", "command"),
        ("Who brokered the 2020 ceasefire?", "broker"),
        ("Who will chair the talks?", "chair"),
        # no deed: "be", "have", or a saying
        ("Who is the president of Azerbaijan?", ""),
        ("Who has the most seats?", ""),
        ("Who said the talks had failed?", ""),
    ],
)
def test_the_deed_a_question_asks_about(question: str, deed: str) -> None:
    assert asked_deed(question) == deed


@pytest.mark.parametrize(
    ("question", "sentence", "answer", "source"),
    [
        # the source of the report, in a sentence that names no command
        ("Who commands the Russian peacekeeping contingent?", KREMLIN, "Kremlin", True),
        # the speaker named with the deed ("commander") answers; so does "opposition"
        ("Who commands the Russian peacekeeping contingent?", COMMANDER, "Alexei Vorontsov", False),
        ("Who opposed the deployment?", LAWMAKERS, "Opposition lawmakers", False),
        # no deed asked about: nothing to judge
        ("Who confirmed the withdrawal?", KREMLIN, "Kremlin", False),
    ],
)
def test_a_source_is_not_the_doer(question: str, sentence: str, answer: str, source: bool) -> None:
    start = sentence.index(answer)
    deed = asked_deed(question)
    assert only_the_source(deed, sentence, start, start + len(answer)) is source
