"""Ordinals: the second meeting is not the third.

"Where will the third meeting of the envoys take place?" against "The envoys held their first
meeting on Jan. 14 in Moscow, and the second meeting in Vienna on Feb. 24": the sentence is
about the same meetings, and the reader answers "Vienna". When the question asks about one of
a numbered series (an ordinal: "third", "3rd") and the sentence numbers others but not that
one, its answer is about another of the series. A sentence that numbers nothing is left to the
reader; "next" and "last" are not numbers ("the next meeting" may well be the third).
"""

from __future__ import annotations

import re

_WORDS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()
_ORDINAL = re.compile(r"\b(?:(\d+)(?:st|nd|rd|th)|(" + "|".join(_WORDS) + r"))\b", re.I)


def ordinals(text: str) -> frozenset[int]:
    """The ordinal numbers `text` holds: "third" and "3rd" are both 3."""
    return frozenset(
        int(digits) if digits else _WORDS.index(word.lower()) + 1
        for digits, word in _ORDINAL.findall(text)
    )


def another_ordinal(asked: frozenset[int], sentence: str) -> bool:
    """Whether `sentence` numbers other members of a series than the ones asked about
    (`asked`, from `ordinals(question)`) and none of those."""
    if not asked:
        return False
    held = ordinals(sentence)
    return bool(held) and not (held & asked)
