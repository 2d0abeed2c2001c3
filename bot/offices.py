"""Offices: whether the person a "Who is the president of Azerbaijan?" question gets is named
with the office asked for.

News names people by their office just before the name ("Azerbaijan's Foreign Minister Jeyhun
Bayramov", "its vice president, Ahmed Mohamed Yarow", "Turkish President Recep Tayyip
Erdoğan") or in an appositive after it ("Margaret Ellery, the State Department's senior
adviser"). When the question asks who holds an office and the answer is named with another
one, the sentence does not answer: the foreign minister is not the president, the deputy prime
minister is not the prime minister, and Turkey's president is not Jubaland's. Only that case is
judged: a question that names no office (`HEADS`), or an answer named with no office word next
to it, is left to the reader. Office words are matched with rapidfuzz, so a misspelling that the
question clean-up left ("minster") still matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.query import demonyms, known_places
from bot.text import STOPWORDS

#: Words that make a phrase an office. "counterpart" takes the office named before it ("Foreign
#: Minister X and his Armenian counterpart Y").
HEADS = frozenset(
    """ambassador adviser advisor chairman chairwoman chancellor commander counterpart director
    envoy governor king mayor minister premier president queen secretary speaker spokesman
    spokesperson spokeswoman""".split()
)
#: Words before an office that make it another office: a vice president is not the president.
QUALIFIERS = frozenset("acting assistant associate deputy former interim vice".split())
#: Words of an asked office that the answer's office may leave out ("the first president").
_OPTIONAL = frozenset(
    "current first incumbent last late new newly next present second serving sitting then "
    "third".split()
)
#: rapidfuzz ratio (0-100) at which an asked office word counts as written.
MIN_SIMILARITY = 80
#: Words before the answer that are looked at for its office; "counterpart" looks further back.
WINDOW = 6
#: How far before its office word a country or possessive counts as the office's ("Azerbaijani
#: Deputy Prime Minister").
OWNER_REACH = 3
_WHO = r"^who(?:'s|’s|s|\s+is|\s+was|\s+are|\s+were)\s+"
_ASKED = (
    # "Who is the president of Azerbaijan?", "who was the foreign minister of armenia in 2020"
    re.compile(
        _WHO + r"(?:the\s+|an?\s+)?(?P<office>[^\W\d_][\w\s-]*?)\s+(?:of|for|in)\s+"
        r"(?P<owner>[^?]+)",
        re.I,
    ),
    # "Who is Armenia's defense minister?"
    re.compile(
        _WHO + r"(?:the\s+)?(?P<owner>[\w.\s-]+?)['’]s\s+(?P<office>[^\W\d_][\w\s-]*?)\s*\??$",
        re.I,
    ),
)
_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*|[,;:.()\"“”]")


@dataclass(frozen=True)
class Office:
    """An office a question asks about: its words, and the places or bodies it belongs to."""

    words: frozenset[str]
    owners: frozenset[str]


def asked_office(question: str) -> Office | None:
    """The office a "who is the ... of X?" question asks about, or None. As typed in a hurry
    too: an office word misspelt ("minster": `is_head`), a possessive without its apostrophe
    ("armenias foreign minister": `_with_apostrophe`)."""
    for pattern in _ASKED:
        match = pattern.match(_with_apostrophe(question.strip()))
        if not match:
            continue
        words = [w.lower() for w in re.findall(r"[\w-]+", match.group("office"))]
        if not any(is_head(w) for w in words):
            return None
        # "the Turkish envoy for Somalia": Turkey's and Somalia's.
        owners = {_place(w) for w in re.findall(r"[\w-]+", match.group("owner"))}
        owners |= {_place(w) for w in words if w in demonyms()}
        office = frozenset(w for w in words if w not in STOPWORDS and w not in demonyms())
        return Office(office, frozenset(owners - STOPWORDS))
    return None


def is_head(word: str) -> bool:
    """Whether a lower-case word of a question is an office word (`HEADS`), or one misspelt:
    five letters or more and within `MIN_SIMILARITY` of one ("minster", "presidnt")."""
    if word in HEADS:
        return True
    return len(word) >= 5 and any(fuzz.ratio(word, h) >= MIN_SIMILARITY for h in HEADS)


def _with_apostrophe(question: str) -> str:
    """The question with a country's possessive typed without its apostrophe written with it
    ("armenias" -> "armenia's"): a word that, without its final "s", is a country or capital
    (`known_places`)."""

    def fix(match: re.Match[str]) -> str:
        word = match.group()
        return f"{word[:-1]}'s" if word[:-1].lower() in known_places() else word

    return re.sub(r"\b[^\W\d_]{3,}s\b", fix, question)


def office_before(text: str) -> list[str]:
    """The words just before an answer that name its office ("... by its vice president,"
    -> ["by", "its", "vice", "president"]), or none when no office word is there. Looks back
    at most `WINDOW` words (twice that for "counterpart"), and not past other punctuation than
    one comma right before the answer. Words keep their case; a possessive "'s" is dropped."""
    tokens = _TOKEN.findall(text[-300:])
    if tokens and tokens[-1] == ",":
        tokens.pop()
    words: list[str] = []
    for token in reversed(tokens):
        counterpart = any(w.lower() == "counterpart" for w in words)
        if len(words) == WINDOW * (2 if counterpart else 1) or not token[0].isalpha():
            break
        words.insert(0, _bare(token))
    return words if any(w.lower() in HEADS for w in words) else []


def office_after(text: str) -> list[str]:
    """The words of an office that follows an answer after a comma ("Margaret Ellery, the
    State Department's senior adviser for ..." -> ["the", "State", "Department", "senior",
    "adviser", "for"]), or none. At most `WINDOW` words, up to the next punctuation."""
    tokens = _TOKEN.findall(text[:300])
    if not tokens or tokens[0] != ",":
        return []
    words: list[str] = []
    for token in tokens[1:]:
        if len(words) == WINDOW or not token[0].isalpha():
            break
        words.append(_bare(token))
    return words if any(w.lower() in HEADS for w in words) else []


def other_office(office: Office | None, text: str, start: int, end: int) -> bool:
    """Whether the answer `text[start:end]` is named with another office than `office`: an
    asked word is missing, a qualifier ("deputy", "vice") the question lacks stands before the
    office word, a "Minister of State" (a junior minister) answers a question that does not ask
    for one, or a country or possessive there is not the one asked about. An answer that
    starts with its office ("Foreign Minister Jeyhun Bayramov") is judged by the office in it,
    and one with none before it by an office that follows it after a comma."""
    if office is None:
        return False
    inside = [m.end() for m in _TOKEN.finditer(text, start, end) if m.group().lower() in HEADS]
    words = office_before(text[: inside[-1] if inside else start]) or office_after(text[end:])
    if not words:
        return False
    lower = [w.lower() for w in words]
    if "state" not in office.words and "minister of state" in " ".join(lower):
        return True  # a junior minister ("Minister of State for Foreign Affairs")
    for word in office.words - _OPTIONAL:
        if not any(fuzz.ratio(word, w) >= MIN_SIMILARITY for w in lower):
            return True
    head = max(i for i, w in enumerate(lower) if w in HEADS)
    if lower[head] == "counterpart":  # the office is the one named before; the owner is here
        earlier = [i for i, w in enumerate(lower[:head]) if w in HEADS]
        near = lower[max(0, earlier[-1] - OWNER_REACH) : earlier[-1]] if earlier else []
    else:
        near = lower[max(0, head - OWNER_REACH) : head]
    if any(w in QUALIFIERS and w not in office.words for w in near):
        return True
    reach = words[max(0, head - OWNER_REACH) : head]
    owners = {_place(w) for w in reach if w[0].isupper() and _is_owner(w, text)}
    return bool(office.owners and owners and not owners & office.owners)


def _bare(token: str) -> str:
    """A word of an office without a final full stop or possessive ("Department's" ->
    "Department")."""
    return re.sub(r"['’]s$", "", token.rstrip("."))


def _place(word: str) -> str:
    """A place name or demonym, lower case, as the country it names."""
    low = word.lower()
    return demonyms().get(low, word).lower()


def _is_owner(word: str, text: str) -> bool:
    """Whether a capitalised word before an office says whose office it is: a demonym, a known
    country or capital, or a name written with a possessive in `text` ("Jubaland's")."""
    low = word.lower()
    return low in demonyms() or low in known_places() or f"{word}'s" in text or f"{word}’s" in text
