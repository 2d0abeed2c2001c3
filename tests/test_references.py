"""An opening pronoun read as the subject of the sentence before (spaCy's packaged English
model), and the reader given that text but answering from the sentence's own words."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.extract import read, short_answer
from bot.reader import SpanScore
from bot.references import read_as
from bot.types import Hit, Passage

COUNCIL = (
    "On Monday, Armenia's security council accused Azerbaijan of preparing the ground for "
    "fresh provocations."
)


@pytest.mark.parametrize(
    ("before", "sentence", "expected"),
    [
        (COUNCIL, "It urged Baku to start talks.", "Armenia's security council urged Baku"),
        (
            "Turkish Foreign Minister Mevlüt Çavuşoğlu welcomed the agreement.",
            "He called the talks fruitful.",
            "Turkish Foreign Minister Mevlüt Çavuşoğlu called",
        ),
        ("The talks resumed in Doha on Monday.", "They are chaired by Qatar.", "The talks are"),
        (
            "The peacekeepers left their posts on Friday.",
            "Their commander stayed.",
            "The peacekeepers' commander",
        ),
        (
            "Jeyhun Bayramov, who leads the delegation, arrived on Tuesday.",
            "His counterpart came later.",
            "Jeyhun Bayramov's counterpart",
        ),
        (COUNCIL, "On Tuesday, it urged Baku to talk.", "On Tuesday, Armenia's security council"),
        (
            "In 2020, Armenia and Azerbaijan fought a war over Nagorno-Karabakh.",
            "They agreed a cease-fire in November.",
            "Armenia and Azerbaijan agreed",
        ),
        (
            "William the Conqueror was the first Norman king of England.",
            "In 1066, he won at Hastings.",
            "In 1066, William won",
        ),
    ],
)
def test_an_opening_pronoun_is_read_as_the_subject_before(
    before: str, sentence: str, expected: str
) -> None:
    resolved = read_as(sentence, before)
    assert expected in resolved.text
    # The sentence's own words stand around the antecedent, and offsets map back onto them.
    end = resolved.at + resolved.length
    assert resolved.text[: resolved.at] == sentence[: resolved.written(resolved.at)]
    assert resolved.text[end:] == sentence[resolved.written(end) :]


@pytest.mark.parametrize(
    ("before", "sentence"),
    [
        ("The talks resumed in Doha on Monday.", "He said they would last two weeks."),  # no person
        ("The talks resumed in Doha on Monday.", "It was the first round in a year."),  # plural
        ("Putin spoke to reporters.", "It was a short statement."),  # a person is not "it"
        ("Putin spoke to reporters.", "Putin said the deal would hold."),  # no pronoun
        ("", "It urged Baku to start talks."),  # first sentence of the passage
    ],
)
def test_a_pronoun_that_does_not_agree_is_left_as_written(before: str, sentence: str) -> None:
    resolved = read_as(sentence, before)
    assert resolved.text == sentence
    assert (resolved.at, resolved.length, resolved.shift) == (0, 0, 0)


@dataclass
class WordReader:
    """Finds `answer` in a sentence that names the security council, outside the skipped
    range, and records what it read."""

    answer: str
    name: str = "fake"

    def __post_init__(self) -> None:
        self.read: list[tuple[str, tuple[int, int]]] = []

    def score(
        self, question: str, sentences: list[str], skip: list[tuple[int, int]] | None = None
    ) -> list[SpanScore]:
        skipped = skip or [(0, 0)] * len(sentences)
        self.read += list(zip(sentences, skipped, strict=True))
        scores = []
        for sentence, (a, b) in zip(sentences, skipped, strict=True):
            at = sentence.find(self.answer)
            if a <= at < b:
                at = sentence.find(self.answer, b)
            if at >= 0 and "security council" in sentence:
                scores.append(SpanScore(at, at + len(self.answer), 3.0, 0.0))
            else:
                scores.append(SpanScore(0, 0, -3.0, 0.0))
        return scores


def test_the_reader_reads_the_resolved_sentence_and_the_answer_is_quoted_as_written() -> None:
    text = f"{COUNCIL} It urged Baku to start talks on a peace treaty."
    passage = Passage("p0", "doc", "Title", "src", "", "", 0, 0, len(text), text)
    hits = [Hit(passage, 1.0, 0.5)]
    reader = WordReader("start talks on a peace treaty")
    reading = read("What did Armenia's security council urge Baku to do?", hits, {}, reader)
    best = reading.parts[0].sentences[0]
    assert best.text == "It urged Baku to start talks on a peace treaty."
    assert short_answer(hits, best) == "start talks on a peace treaty"
    resolved = "Armenia's security council urged Baku to start talks on a peace treaty."
    assert (resolved, (0, len("Armenia's security council"))) in reader.read


def test_an_answer_in_the_opening_phrase_is_quoted_as_written() -> None:
    text = f"{COUNCIL} On Tuesday, it urged Baku to start talks."
    passage = Passage("p0", "doc", "Title", "src", "", "", 0, 0, len(text), text)
    hits = [Hit(passage, 1.0, 0.5)]
    reading = read(
        "When did Armenia's security council urge Baku?", hits, {}, WordReader("Tuesday")
    )
    best = reading.parts[0].sentences[0]
    assert best.text.startswith("On Tuesday, it urged")
    assert short_answer(hits, best) == "Tuesday"


def test_a_span_in_the_antecedent_is_not_an_answer() -> None:
    text = f"{COUNCIL} It urged Baku to start talks."
    passage = Passage("p0", "doc", "Title", "src", "", "", 0, 0, len(text), text)
    hits = [Hit(passage, 1.0, 0.5)]
    # The only span that would answer is the antecedent, which the quoted sentence lacks.
    reading = read("Who urged Baku?", hits, {}, WordReader("Armenia's security council"))
    resolved = next(s for s in reading.parts[0].sentences if s.text.startswith("It urged"))
    assert resolved.evidence < 0


def test_the_source_of_a_report_is_not_the_antecedent() -> None:
    before = "Erdoğan will open the talks on Tuesday, Turkish officials said."
    # The main clause is Erdoğan's, a person, so "They" stays as written.
    assert read_as("They will then be chaired by an envoy.", before).length == 0
    assert read_as("He will fly home on Friday.", before).text.startswith("Erdoğan will fly")
    speaker = "Putin said the deal would hold."
    assert read_as("He added that talks would follow.", speaker).text.startswith("Putin added")
