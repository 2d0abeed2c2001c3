"""Measures: whether the number a sentence gives counts what the question asks to count.

News reports a handful of quantities that exclude one another: the dead are not the wounded,
a death toll is not a population, the displaced are not the detained. "How many Russian
peacekeepers were wounded during the mission?" is not answered by "Six Russian servicemen were
killed during the mission", nor "What is the population of Nagorno-Karabakh?" by "... a war
... that claimed more than 6,500 lives", however close the sentence is otherwise. Only that
case is judged: when the question asks for one of these quantities and the sentence states
others but not that one. A sentence that states none of them ("the region is home to 120,000
people") is left to the reader.
"""

from __future__ import annotations

import re
from functools import cache

#: The quantities, each with the words that state it (lower case, as written).
QUANTITIES = {
    "deaths": "killed kill kills killing dead die died dies death deaths lives fatalities toll",
    "wounded": "wounded wounding injured injuring injuries injury",
    "displaced": "displaced displacing displacement refugees homeless evacuated",
    "detained": "arrested arrest arrests detained detention detentions jailed imprisoned",
    "population": "population populations inhabitants residents",
    "area": "area square hectares hectare acres acre km2 km²",
}
#: The quantities a sentence always names when it gives them: a death toll says "killed",
#: "died" or "lives". A number in a sentence that does not name the one asked for counts
#: something else ("How many Russian peacekeepers have been killed?" against "Moscow has
#: deployed some 2,000 peacekeepers"). A population or an area may go unnamed ("a city of 1.3
#: million", "covering 6.5 square kilometers"), so for those only a rival quantity counts.
NAMED = frozenset({"deaths", "wounded", "displaced", "detained"})


#: A question that asks for a count or a measure: "How many were wounded?", "What is the
#: population of ...?"; not "How long was he jailed for killing ...?" or "When did she die?".
_COUNT = re.compile(r"\bhow (?:many|much)\b|\bnumber of\b|\btoll\b|\bpopulation\b|\barea\b", re.I)


@cache
def _words() -> dict[str, str]:
    """Each word of `QUANTITIES` -> its quantity."""
    return {word: name for name, listed in QUANTITIES.items() for word in listed.split()}


def quantities(text: str) -> frozenset[str]:
    """The quantities that `text` states or asks for."""
    table = _words()
    return frozenset(table[w] for w in re.findall(r"[\w²]+", text.lower()) if w in table)


def asked_quantities(question: str) -> frozenset[str]:
    """The quantities that `question` asks to count or measure (none if it asks no count)."""
    return quantities(question) if _COUNT.search(question) else frozenset()


def another_quantity(asked: frozenset[str], sentence: str) -> bool:
    """Whether the number in `sentence` counts something else than the quantities asked for
    (`asked`, from `asked_quantities(question)`): the sentence states none of them, and states
    another quantity or leaves unnamed one that is always named (`NAMED`)."""
    if not asked:
        return False
    stated = quantities(sentence)
    return not (stated & asked) and bool(stated or asked & NAMED)
