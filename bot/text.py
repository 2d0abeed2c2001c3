"""Small text utilities shared by ingestion, keyword search and answering.

Sentence spans (so quotes can be located exactly in a passage), word tokens, stemming, stop
words, and the fence that keeps passage text from closing its `<passage>` block in a prompt.
Pure functions, no models: spaCy's entity recogniser lives in `bot.extract`.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = set(
    """mr mrs ms dr prof sr jr st mt gen col lt sgt capt gov sen rep pres rev hon no vs etc inc
    ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e u.s u.k u.n approx est
    fig al""".split()
)

_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+|$)")
_PASSAGE_TAG = re.compile(r"(?i)</?\s*passage")
_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*%?|[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can cannot could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just let me more most my myself no nor not now of off on once only or
    other ought our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up upon
    very was we were what when where which while who whom whose why will with would you your
    yours yourself yourselves s t don didn doesn isn wasn weren won wouldn shouldn couldn hasn
    haven hadn many much say said says tell told give gave get got name named according
    kind type sort one ones""".split()
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text`, trimmed of surrounding white space."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if match.group().startswith(".") and _is_abbreviation(text, match.start()):
            continue
        following = text[end:].lstrip()
        # "6.5 million", "U.S. troops": a lower-case or digit continuation is not a new sentence.
        if (
            following
            and (following[0].islower() or following[0].isdigit())
            and match.group() == "."
        ):
            continue
        _add_span(text, start, end, spans)
        start = end
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        offset = start + (len(piece) - len(piece.lstrip()))
        spans.append((offset, offset + len(stripped)))


def _is_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"([A-Za-z.]+)$", text[:dot])
    if not word:
        return False
    token = word.group(1).lower().strip(".")
    return token in _ABBREVIATIONS or len(token) == 1


def words(text: str) -> list[str]:
    """Lower-case word and number tokens; 'cease-fire' gives 'cease' and 'fire'."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def compounds(text: str) -> list[str]:
    """Hyphenated words joined ('cease-fire' -> 'ceasefire'), so either spelling matches."""
    return [m.replace("-", "").lower() for m in re.findall(r"\b[^\W\d_]+(?:-[^\W\d_]+)+\b", text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """English Snowball stem of one lower-case word."""
    return _stemmer().stemWord(word)


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def content_terms(text: str, with_compounds: bool = False) -> list[str]:
    """Stemmed content words of `text`, in order, stop words and possessive 's removed.

    With `with_compounds`, hyphenated words also count joined ('cease-fire' -> 'ceasefir').
    """
    terms = [stem(c) for c in compounds(text)] if with_compounds else []
    for w in words(text):
        w = re.sub(r"'s$", "", w)
        if w in STOPWORDS or (len(w) < 2 and not w.isdigit()):
            continue
        terms.append(stem(w))
    return terms


def fence_passage(text: str) -> str:
    """Passage text made safe inside a `<passage>` block of a prompt: any `<passage` or
    `</passage` in it becomes `[passage-tag]`, so a passage cannot close its fence and pose as
    instructions."""
    return _PASSAGE_TAG.sub("[passage-tag]", text)
