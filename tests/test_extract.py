"""Reading without the model: question parts, which lines can be quoted, and how the reader's
scores turn into the chosen sentence and short answer (a fake reader of our own interface)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from bot.extract import (
    CONFIDENCE_WEIGHTS,
    UNNAMED_PENALTY,
    UNTYPED_EVIDENCE,
    candidate_spans,
    context_question,
    heading_or_dateline,
    key_share,
    names_someone,
    question_parts,
    read,
    short_answer,
)
from bot.reader import SpanScore
from bot.types import Hit, Passage


def _confidence(evidence: float, dense: float, keys: float = 1.0) -> float:
    w = CONFIDENCE_WEIGHTS
    z = w["bias"] + w["evidence"] * evidence + w["dense"] * dense + w["keys"] * keys
    return 1 / (1 + math.exp(-z))


def _hit(text: str, n: int = 0) -> Hit:
    passage = Passage(f"p{n}", "doc", "Title", "src", "", "", n, 0, len(text), text)
    return Hit(passage, 1.0, 0.5)


@dataclass
class KeywordReader:
    """Answers questions that contain `cue` with the first occurrence of `answer` in a
    sentence, with evidence 3; anything else gets no answer with evidence -3."""

    answer: str
    cue: str = ""
    name: str = "fake"

    def score(
        self, question: str, sentences: list[str], skip: list[tuple[int, int]] | None = None
    ) -> list[SpanScore]:
        scores = []
        for s, (a, b) in zip(sentences, skip or [(0, 0)] * len(sentences), strict=True):
            at = s.find(self.answer) if self.cue in question else -1
            if a <= at < b:
                at = s.find(self.answer, b)
            if at >= 0:
                scores.append(SpanScore(at, at + len(self.answer), 3.0, 0.0))
            else:
                scores.append(SpanScore(0, 0, -3.0, 0.0))
        return scores


def test_two_questions_in_one_are_split_and_a_bare_question_word_borrows_the_rest() -> None:
    assert question_parts(
        "Who brokered the cease-fire and how many peacekeepers did Moscow send?"
    ) == ["Who brokered the cease-fire?", "how many peacekeepers did Moscow send?"]
    assert question_parts("Who signed the accord and when?") == [
        "Who signed the accord?",
        "when signed the accord?",
    ]
    assert question_parts("Where did Armenia and Azerbaijan meet?") == [
        "Where did Armenia and Azerbaijan meet?"
    ]
    assert question_parts("Who met? Where?")[0] == "Who met? Where?"  # too short to split
    # a second part of its own (if only of small words) is asked as it is
    assert question_parts("How many is Armenia sending and how many does it have now?") == [
        "How many is Armenia sending?",
        "how many does it have now?",
    ]
    # a second "how many" that leaves out what is counted counts what the first part counts
    assert (
        question_parts(
            "How many conditions has the front set out, and how many did Baku's proposal contain?"
        )[1]
        == "how many conditions did Baku's proposal contain?"
    )
    assert (
        question_parts("How many Russian troops have left and how many are still there?")[1]
        == "how many Russian troops are still there?"
    )


def test_headings_and_datelines_are_never_quoted() -> None:
    assert heading_or_dateline("Armenia and Azerbaijan agree to talk")
    assert heading_or_dateline("MOSCOW (Reuters) -")
    assert not heading_or_dateline("Armenia and Azerbaijan agreed to talk.")
    text = (
        "Peace talks resume in Vienna\n"
        "VIENNA, Nov. 9 (Reuters) - The envoys met in Vienna on Monday. They talked for hours."
    )
    spans = candidate_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "The envoys met in Vienna on Monday.",
        "They talked for hours.",
    ]


def test_a_hard_wrapped_sentence_stays_one_sentence_and_is_quoted_on_one_line() -> None:
    text = (
        "Tunnel opens in Valdoria\n"
        "Chief engineer Ingrid Solberg said the tunnel cost 900\nmillion euros.\n"
        "It opened on Monday."
    )
    assert [text[a:b] for a, b in candidate_spans(text)] == [
        "Chief engineer Ingrid Solberg said the tunnel cost 900\nmillion euros.",
        "It opened on Monday.",
    ]
    hits = [_hit(text)]
    reading = read("How much did the tunnel cost?", hits, {}, KeywordReader("900 million euros"))
    best = reading.parts[0].sentences[0]
    assert best.text == "Chief engineer Ingrid Solberg said the tunnel cost 900 million euros."
    assert short_answer(hits, best) == "900 million euros"


def test_the_reader_chooses_the_sentence_and_its_span_is_the_short_answer() -> None:
    hits = [
        _hit("The talks were held in Vienna. Putin brokered the cease-fire in 2020.", 0),
        _hit("Moscow sent some 2,000 peacekeepers.", 1),
    ]
    reading = read("Who brokered the cease-fire?", hits, {}, KeywordReader("Putin"))
    [part] = reading.parts
    best = part.sentences[0]
    assert best.text == "Putin brokered the cease-fire in 2020."
    assert short_answer(hits, best) == "Putin"
    assert reading.reader == "fake"
    nothing = read("Who brokered the cease-fire?", hits, {}, KeywordReader("Erdogan"))
    assert reading.evidence > nothing.evidence
    assert reading.evidence == pytest.approx(_confidence(3.0, 0.5))
    assert nothing.evidence == pytest.approx(_confidence(-3.0, 0.5))


def test_the_weakest_part_decides_the_evidence() -> None:
    hits = [_hit("Putin brokered the cease-fire in 2020.", 0)]
    reading = read(
        "Who brokered the cease-fire and how many peacekeepers were sent?",
        hits,
        {},
        KeywordReader("Putin", cue="brokered"),
    )
    assert len(reading.parts) == 2
    first, second = reading.parts
    assert first.evidence == pytest.approx(_confidence(3.0, 0.5))
    # "how many" with no number in any span: no answer, whatever the reader or the passages'
    # similarity and names say
    assert second.sentences[0].evidence == UNTYPED_EVIDENCE
    assert second.evidence == 0.0
    assert reading.evidence == second.evidence


def test_a_hyphenated_duration_answers_a_how_long_question() -> None:
    hits = [_hit("The two neighbors fought a 44-day war over Karabakh in 2020.")]
    reading = read("How long did the war last?", hits, {}, KeywordReader("44-day"))
    assert reading.parts[0].sentences[0].evidence == 3.0  # not UNTYPED_EVIDENCE
    year = read("How long did the war last?", hits, {}, KeywordReader("2020"))
    assert year.parts[0].sentences[0].evidence == UNTYPED_EVIDENCE


@pytest.mark.parametrize("amount", ["£304m", "$1.3bn", "50 million euros", "1.2 billion drams"])
def test_an_amount_with_a_unit_answers_a_how_much_question(amount: str) -> None:
    hits = [_hit(f"BSkyB agreed to pay {amount} for the rights.")]
    reading = read("How much did BSkyB pay for the rights?", hits, {}, KeywordReader(amount))
    assert reading.parts[0].sentences[0].evidence == 3.0  # not UNTYPED_EVIDENCE
    # a count is no amount of money, though it answers a "how much" that asks no money
    hits = [_hit("BSkyB agreed to pay a dozen for the rights.")]
    dozen = read("How much did BSkyB pay for the rights?", hits, {}, KeywordReader("a dozen"))
    assert dozen.parts[0].sentences[0].evidence == UNTYPED_EVIDENCE
    hits = [_hit("BSkyB bought a dozen of the packages.")]
    dozen = read("How much of the rights did BSkyB buy?", hits, {}, KeywordReader("a dozen"))
    assert dozen.parts[0].sentences[0].evidence == 3.0
    hits = [_hit("BSkyB agreed to pay at the 11th meeting.")]
    ordinal = read("How much did BSkyB pay for the rights?", hits, {}, KeywordReader("11th"))
    assert ordinal.parts[0].sentences[0].evidence == UNTYPED_EVIDENCE


def test_the_names_and_numbers_asked_about_must_be_in_the_passage() -> None:
    text = "Moscow has deployed some 2,000 peacekeepers in Karabakh."
    assert key_share("How many peacekeepers has Moscow deployed in Karabakh?", text) == 1.0
    assert key_share("How many peacekeepers has Turkey deployed in Karabakh?", text) == 0.5
    assert key_share("how many peacekeepers are there", text) == 1.0  # nothing to check
    assert key_share("When did the Turkish government close the border?", "Turkey did.") == 1.0
    # news style spells small numbers out
    four = "Sky picked up the remaining four packages."
    assert key_share("Who bought the remaining 4 packages?", four) == 1.0
    assert key_share("Who bought the remaining 5 packages?", four) == 0.0
    # a place's adjective is held by the place's name
    cabinet = "The Cabinet of Victoria consists of elected representatives."
    assert key_share("Who can be in the Victorian cabinet?", cabinet) == 1.0
    assert key_share("Who can be in the Tasmanian cabinet?", cabinet) == 0.0


def test_the_names_asked_about_may_stand_in_another_passage_of_the_same_article() -> None:
    hits = [
        _hit("A cease-fire brokered by Putin ended the war.", 0),
        Hit(
            Passage("q", "doc", "Title", "src", "", "", 1, 0, 9, "In 2020 a war broke out."),
            0.5,
            0.5,
        ),
    ]
    reading = read("Who brokered the 2020 cease-fire?", hits, {}, KeywordReader("Putin"))
    assert reading.parts[0].keys == 1.0


def test_a_passage_without_the_name_asked_about_lowers_the_confidence() -> None:
    hits = [_hit("Moscow has deployed some 2,000 peacekeepers in Karabakh.")]
    reader = KeywordReader("some 2,000")
    right = read("How many peacekeepers has Moscow deployed?", hits, {}, reader)
    # (not another country: its subject rules that out, see
    # test_another_countrys_deed_does_not_answer_a_question_about_a_country)
    swapped = read("How many peacekeepers has NATO deployed?", hits, {}, reader)
    assert right.evidence == pytest.approx(_confidence(3.0, 0.5, 1.0))
    assert swapped.evidence == pytest.approx(_confidence(3.0, 0.5, 0.0))


@dataclass
class ListReader:
    """Finds each of `answers` in a sentence, with evidence falling in list order."""

    answers: list[str]
    name: str = "fake"

    def score(
        self, question: str, sentences: list[str], skip: list[tuple[int, int]] | None = None
    ) -> list[SpanScore]:
        scores = []
        for s in sentences:
            found = [(i, a) for i, a in enumerate(self.answers) if a in s]
            if found:
                i, a = found[0]
                at = s.find(a)
                scores.append(SpanScore(at, at + len(a), 3.0 - i, 0.0))
            else:
                scores.append(SpanScore(0, 0, -3.0, 0.0))
        return scores


def test_the_second_part_of_a_question_is_not_answered_with_the_first_parts_span() -> None:
    text = "Armenia is sending 120 peacekeepers to Kosovo. It has 40 soldiers there now."
    hits = [_hit(text, 0)]
    question = "How many peacekeepers is Armenia sending and how many does it have there now?"
    first, second = read(question, hits, {}, ListReader(["120", "40"])).parts
    assert short_answer(hits, first.sentences[0]) == "120"
    assert short_answer(hits, second.sentences[0]) == "40"
    # with nothing else the reader takes for an answer, the part is not answered (rather than
    # answered with the first part's 120 again); the first part still is
    first, second = read(question, hits, {}, ListReader(["120"])).parts
    assert short_answer(hits, second.sentences[0]) == "120"
    assert second.sentences[0].evidence <= UNTYPED_EVIDENCE and second.evidence == 0.0
    assert first.evidence > 0.5


def test_names_and_numbers_the_passage_holds_elsewhere_are_left_out_of_the_readers_question() -> (
    None
):
    passage = (
        "In 2020, Armenia and Azerbaijan fought a war. "
        "A cease-fire deal brokered by Vladimir Putin ended it."
    )
    sentence = "A cease-fire deal brokered by Vladimir Putin ended it."
    question = "Who brokered the 2020 cease-fire between Armenia and Azerbaijan?"
    assert (
        context_question(question, sentence, passage) == "Who brokered the cease-fire between and?"
    )
    # what the sentence holds stays, and so does a name the passage does not hold at all
    assert context_question("Who brokered Putin's deal?", sentence, passage) == (
        "Who brokered Putin's deal?"
    )
    assert context_question("Did Turkey broker the 2020 deal?", sentence, passage) == (
        "Did Turkey broker the deal?"
    )


def test_each_sentence_is_read_with_its_own_context_question() -> None:
    hits = [_hit("In 2020 a war broke out. Putin brokered the cease-fire.", 0)]
    asked: list[str] = []

    @dataclass
    class Recording(KeywordReader):
        def score(
            self, question: str, sentences: list[str], skip: list[tuple[int, int]] | None = None
        ) -> list[SpanScore]:
            asked.append(question)
            return super().score(question, sentences)

    reading = read("Who brokered the 2020 cease-fire?", hits, {}, Recording("Putin"))
    assert sorted(asked) == ["Who brokered the 2020 cease-fire?", "Who brokered the cease-fire?"]
    assert short_answer(hits, reading.parts[0].sentences[0]) == "Putin"


def test_a_who_question_is_not_answered_by_a_span_that_names_no_one() -> None:
    countries = "In December, the two countries appointed special envoys."
    envoys = "The special envoys were Serdar Kılıç and Ruben Rubinyan."
    hits = [_hit(f"{countries} {envoys}")]
    reader = ListReader(["the two countries", "Serdar Kılıç"])  # evidence 3 and 2
    # "the two countries" names no person, body or country: its evidence is lowered, and the
    # sentence that names the envoys is chosen
    [part] = read("Who were the special envoys?", hits, {}, reader).parts
    assert part.sentences[0].text == envoys
    lowered = next(c for c in part.sentences if c.text == countries)
    assert lowered.evidence == pytest.approx(3.0 - UNNAMED_PENALTY)
    # a question that asks for something else is read as the reader reads it
    [part] = read("What were the special envoys?", hits, {}, reader).parts
    assert part.sentences[0].text == countries and part.sentences[0].evidence == 3.0


@pytest.mark.parametrize(
    ("sentence", "span", "named"),
    [
        ("Talks were chaired by Khalid Al-Mansouri on Monday.", "Khalid Al-Mansouri", True),
        # a name the entity recogniser misses still counts by its capital letter ...
        (
            "The fighting between Jubaland forces and federal troops went on.",
            "Jubaland forces",
            True,
        ),
        # ... and so does a sentence's first word that is not a common one
        ("Sky bought the remaining four packages.", "Sky", True),
        ("Talks were led by Ömerli delegates.", "Ömerli delegates", True),  # not only A-Z
        ("The rest would be withdrawn by the end of June.", "The rest", False),
        (
            "Opposition lawmakers argued that the soldiers were needed at home.",
            "the soldiers",
            False,
        ),
        ("The peace talks began on Monday.", "Monday", False),  # a date, not someone
    ],
)
def test_a_span_names_someone(sentence: str, span: str, named: bool) -> None:
    start = sentence.index(span)
    assert names_someone(sentence, start, start + len(span)) is named


MOSCOW = "Moscow has deployed some 2,000 peacekeepers in Karabakh."
KILLED = "Six Russian servicemen were killed during the mission."
SERIES = "The first meeting was held in Moscow, and the second in Vienna."
COST = "The mission would cost about 1.8 billion drams a year."
SIGNED = "Armenia and Turkey signed a landmark accord in 2009 to open their border."
KREMLIN = "Russia has begun withdrawing its peacekeepers, the Kremlin confirmed on Wednesday."
MEETING = "A meeting took place between Foreign Minister Mevlüt Çavuşoğlu and Ararat Mirzoyan."
PROPOSAL = "Azerbaijan sent a proposal containing five conditions to normalize relations."
VILLAGES = "The four villages, abandoned in the early 1990s, cover an area of 6.5 square km."


@pytest.mark.parametrize(
    ("sentence", "span", "question", "answers"),
    [
        # another country's deed (bot/subjects.py): Moscow is Russia's capital
        (MOSCOW, "2,000", "How many peacekeepers has Turkey deployed in Karabakh?", False),
        (MOSCOW, "2,000", "How many peacekeepers has Russia deployed in Karabakh?", True),
        # another quantity (bot/measures.py): the wounded are not the dead
        (KILLED, "Six", "How many Russian peacekeepers were wounded?", False),
        (KILLED, "Six", "How many Russian peacekeepers died?", True),
        # another member of a series (bot/ordinals.py)
        (SERIES, "Vienna", "Where will the third meeting be held?", False),
        (SERIES, "Vienna", "Where was the second meeting held?", True),
        # a date told in the past, for a question about the future (bot/tense.py)
        (SIGNED, "2009", "When will the border between Turkey and Armenia open?", False),
        (SIGNED, "2009", "When did Armenia and Turkey sign the accord?", True),
        # the source of a report, for a question about a deed (bot/sources.py)
        (KREMLIN, "Kremlin", "Who commands the Russian peacekeepers?", False),
        (KREMLIN, "Kremlin", "Who confirmed the withdrawal?", True),
        # who spoke, for a question about what was said
        (MEETING, "Mevlüt Çavuşoğlu", "What did the Turkish FM say about the meeting?", False),
        (MEETING, "Mevlüt Çavuşoğlu", "Who met Mirzoyan?", True),
        # no list, for a question that asks for several things; no names, when it asks for them
        (PROPOSAL, "normalize relations", "What are the five conditions in the proposal?", False),
        (PROPOSAL, "normalize relations", "Why did Azerbaijan send the proposal?", True),
        (
            VILLAGES,
            "abandoned in the early 1990s, cover",
            "What are the names of the four villages?",
            False,
        ),
        (
            "The four villages are Baganis Ayrum, Ashagi Askipara and Kheyrimli.",
            "Baganis Ayrum, Ashagi Askipara and Kheyrimli",
            "What are the names of the four villages?",
            True,
        ),
        # no amount of money, for a question about money; the currency may follow the span
        (PROPOSAL, "five conditions", "what's azerbaijan offering money-wise?", False),
        (COST, "1.8 billion", "How much will the mission cost?", True),
    ],
)
def test_a_span_that_answers_something_else_is_ruled_out(
    sentence: str, span: str, question: str, answers: bool
) -> None:
    [part] = read(question, [_hit(sentence)], {}, ListReader([span])).parts  # evidence 3
    if answers:
        assert part.sentences[0].evidence == 3.0
    else:
        assert part.sentences[0].evidence <= UNTYPED_EVIDENCE and part.evidence == 0.0


def test_the_sentence_that_gives_what_is_asked_for_is_chosen() -> None:
    pledge = "Qatar has pledged $50 million for the reconstruction of the north."
    hits = [_hit(f"{PROPOSAL} {pledge}")]
    reader = ListReader(["five conditions", "$50 million"])  # evidence 3 and 2
    [part] = read("What is Qatar offering, money-wise?", hits, {}, reader).parts
    assert part.sentences[0].text == pledge
