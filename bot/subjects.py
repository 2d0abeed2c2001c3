"""Whose deed a sentence reports: a question about what one country did is not answered by
what another country did.

"How many peacekeepers has Turkey deployed in Nagorno-Karabakh?" against "Moscow has deployed
some 2,000 peacekeepers in Karabakh": the reader reads the question without the names that the
sentence lacks but its passage holds (`bot.extract.context_question`), so it sees "How many
peacekeepers has deployed in Nagorno-Karabakh?" and answers. Here the subjects are compared
instead: when the question's subject is a country ("Turkey", or a demonym before it: "the
Turkish army") and the sentence's subjects name a country, by name, capital or demonym, but
not that one ("Moscow has deployed ...", "Armenia's parliament approved ..."), the sentence
reports someone else's deed. Only countries count, from countryinfo's closed list
(`bot.query.country_names`), so a name the entity recogniser misreads never does; a subject's
own words count (the head, its possessive, compound and adjective), not the clauses hanging
off it ("A cease-fire deal brokered by Russian President Vladimir Putin saw Armenia cede ...":
no country).

spaCy's parser is `bot.references`'s, under its lock.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

from bot.query import country_names
from bot.references import parse

#: Dependency labels of a subject.
_SUBJECTS = {"nsubj", "nsubjpass"}
#: A subject's own words that can name its country: "Armenia's parliament", "the Turkish army".
_OWN = {"poss", "compound", "amod"}


@lru_cache(maxsize=4096)
def subject_countries(text: str, start: int = 0, end: int = 0) -> frozenset[str]:
    """The countries (lower case) that the subject of a clause of `text` names, by name,
    capital or demonym ("Moscow has deployed ..." -> {"russia"}). The clause is the one that
    holds `text[start:end]` (the answer), or with no span the main one; a pronoun subject
    ("Armenia said it would spend ...") passes to the clause above. Cached: the same sentence
    is read again by the next part and the next question."""
    names = country_names()
    lower = text.lower()
    if not any(w in names for w in re.findall(r"[^\W\d_]+", lower)) and not any(
        name in lower for name in _several_words()
    ):
        return frozenset()  # no country named at all: no need to parse
    doc = parse(text)
    inside = [t for t in doc if start <= t.idx < end] if end > start else []
    token = inside[0] if inside else next((t for t in doc if t.dep_ == "ROOT"), None)
    while token is not None:
        subjects = [
            joined
            for c in token.children
            if c.dep_ in _SUBJECTS and c.pos_ != "PRON"
            for joined in _joined(c)
        ]
        if subjects:
            words = [
                w.text for t in subjects for w in [t, *(c for c in t.children if c.dep_ in _OWN)]
            ]
            # "the United States": the subject with the compound words before it
            words += [
                " ".join([c.text for c in t.lefts if c.dep_ == "compound"] + [t.text])
                for t in subjects
            ]
            return frozenset(names[w.lower()] for w in words if w.lower() in names)
        token = None if token.head.i == token.i else token.head
    return frozenset()


@cache
def _several_words() -> list[str]:
    """The country names, capitals and demonyms of more than one word ("united states")."""
    return [name for name in country_names() if " " in name]


def _joined(token):  # type: ignore[no-untyped-def]
    """A subject and the subjects joined to it ("Russia, Turkey and Iran")."""
    return [token] + [t for c in token.children if c.dep_ == "conj" for t in _joined(c)]


def another_country(asked: frozenset[str], sentence: str, start: int, end: int) -> bool:
    """Whether the question's subject names countries (`asked`: its `subject_countries`) and
    the subject of the sentence's clause that holds the answer `sentence[start:end]` names only
    other ones (see the module's docstring)."""
    if not asked:
        return False
    theirs = subject_countries(sentence, start, end)
    return bool(theirs) and not theirs & asked
