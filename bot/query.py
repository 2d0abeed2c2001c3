"""The question as the index understands it: misspelt words matched to the words of the indexed
articles, and demonyms given their country's name.

- **Spelling.** A word that neither the articles nor an English dictionary know ("Yerevn",
  "peacekeepres") is replaced by the closest word of the articles (rapidfuzz over the keyword
  index's terms), if one is close enough; failing that, a word typed in lower case ("wher",
  "compleatly") takes the closest English word, so the reader reads "where" and "completely".
  Known words are never changed, so a question about something the articles do not mention
  ("France") stays as asked and is refused; a capitalised unknown word is taken for a name and
  is only ever matched to the articles. The English word list is symspellpy's frequency
  dictionary (82,765 words).
- **Abbreviations** of office that news readers type ("FM", "PM", "MPs", in capitals) are spelt
  out when the articles do not use them, so search and the reader meet the articles' "foreign
  minister".
- **Demonyms.** "Azerbaijani", "Turkish" and "Russian" add "Azerbaijan", "Turkey" and "Russia"
  to the search query (countryinfo's table), so that keyword search finds articles that only
  name the country. The reader reads the question with its own words.

The catalog owns the vocabulary (`Catalog.vocabulary`, `Catalog.surface_word`); this module
only decides what to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from bot.text import STOPWORDS

#: Shortest word that is corrected; shorter ones are too ambiguous.
MIN_CORRECTED_LENGTH = 4
#: rapidfuzz ratio (0-100) a correction must reach.
MIN_SIMILARITY = 80
#: Titles people abbreviate when they type a question, spelt out as the articles write them.
ABBREVIATIONS = {
    "fm": "foreign minister",
    "pm": "prime minister",
    "mp": "member of parliament",
    "mps": "members of parliament",
    "mep": "member of the European Parliament",
    "meps": "members of the European Parliament",
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


class Vocabulary(Protocol):
    """What the clean-up needs of the keyword index (`bot.catalog.Catalog`)."""

    def vocabulary(self) -> dict[str, int]: ...

    def surface_word(self, term: str) -> str | None: ...


@dataclass(frozen=True)
class Query:
    """A question prepared for search and reading."""

    question: str  # spelling corrected: what the reader reads
    search: str  # plus country names for demonyms: what retrieval searches
    corrections: dict[str, str]  # word as asked -> word used


def prepare(question: str, vocabulary: Vocabulary) -> Query:
    """The question with misspelt words corrected, abbreviated titles spelt out and demonyms'
    countries added for search."""
    from bot.catalog import porter_stem

    terms = vocabulary.vocabulary()
    corrections: dict[str, str] = {}
    for match in _WORD.finditer(question):
        word = re.sub(r"['’]s$", "", match.group())  # "Putin's" is checked as "Putin"
        low = word.lower()
        # In capitals only: "pm" in lower case is more often the time of day.
        if low in ABBREVIATIONS and word.rstrip("s").isupper() and porter_stem(low) not in terms:
            corrections[word] = ABBREVIATIONS[low]
            continue
        if len(low) < MIN_CORRECTED_LENGTH or low in STOPWORDS or low in corrections:
            continue
        if porter_stem(low) in terms or low in english_words():
            continue
        better = closest_term(porter_stem(low), terms)
        surface = vocabulary.surface_word(better) if better else None
        if not surface and word == low:
            surface = closest_term(low, english_words())
        if surface and surface.lower() != low:
            corrections[word] = surface
    corrected = question
    for wrong, right in corrections.items():
        corrected = re.sub(rf"\b{re.escape(wrong)}\b", right, corrected)
    countries = [
        country
        for word in _WORD.findall(corrected)
        if (country := demonyms().get(word.lower())) and country.lower() not in corrected.lower()
    ]
    search = f"{corrected} ({', '.join(dict.fromkeys(countries))})" if countries else corrected
    return Query(corrected, search, corrections)


def closest_term(stem: str, terms: dict[str, int]) -> str | None:
    """The index term most like `stem` (the more frequent on a tie), or None if none is close."""
    from rapidfuzz import fuzz, process

    matches = process.extract(
        stem, list(terms), scorer=fuzz.ratio, score_cutoff=MIN_SIMILARITY, limit=5
    )
    if not matches:
        return None
    best = max(matches, key=lambda m: (m[1], terms[m[0]]))
    return str(best[0])


@cache
def english_words() -> dict[str, int]:
    """The words of symspellpy's English frequency dictionary, with their corpus counts."""
    from importlib.resources import files

    text = files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt").read_text("utf-8")
    pairs = (line.split(" ", 1) for line in text.splitlines() if line)
    return {word: int(count) for word, count in pairs}


@cache
def demonyms() -> dict[str, str]:
    """Lower-case demonym -> country name ("azerbaijani" -> "Azerbaijan")."""
    from countryinfo import all_countries

    table: dict[str, str] = {}
    for country in all_countries():
        demonym, name = country.demonym(), country.name()
        if demonym and name:
            table.setdefault(demonym.lower(), name)
    return table


@cache
def known_places() -> frozenset[str]:
    """Lower-case names of countries and capitals (countryinfo's table)."""
    return frozenset(_places())


@cache
def country_names() -> dict[str, str]:
    """Lower-case country name, capital or demonym -> lower-case country name ("moscow",
    "russian" and "russia" -> "russia"; countryinfo's table)."""
    table = dict(_places())
    for demonym, name in demonyms().items():
        table.setdefault(demonym, name.lower())
    return table


@cache
def _places() -> dict[str, str]:
    """Lower-case country name or capital -> lower-case country name."""
    from countryinfo import all_countries

    table: dict[str, str] = {}
    for country in all_countries():
        name = (country.name() or "").lower()
        for place in (name, *(c.lower() for c in _capitals(country))):
            if place:
                table.setdefault(place, name)
    return table


def _capitals(country: object) -> list[str]:
    """A country's capital or capitals: the table gives a string, or a list for a few
    ("Vatican City" is given as ['Vatican City'])."""
    try:
        capital = country.capital()  # type: ignore[attr-defined]
    except Exception:  # a few territories have no capital in the table
        return []
    if isinstance(capital, str):
        return [capital]
    return [str(c) for c in capital or []]
