"""Tense: a question about what will happen is not answered by what a sentence says happened.

"When will the border between Turkey and Armenia reopen?" against "Armenia and Turkey signed
a landmark peace accord in 2009 to restore ties and open their shared border": the date is the
signing's, told in the past. News dates what it reports by the day it was said ("the two
envoys agreed on Friday to open the border to citizens of third countries"), so a "when will"
question often finds a past day in the very sentence about the plan. When a question asks when
something will happen and the date span's own verb is in the past tense ("signed", "was
signed", "agreed"), or it dates a plan told in the past perfect ("a mission that had been due
to run until 2025", since ended), the span does not answer. A verb in the future or the
future in the past ("will open", "would be withdrawn by the end of June", "would start from
Aug. 1") does.

spaCy's parser is `bot.references`'s, under its lock.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.references import parse

#: A question that asks when something will happen.
_FUTURE = re.compile(
    r"\bwhen (?:will|(?:is|are) [\w\s'’-]+? (?:going|due|expected|set|scheduled) to)\b"
    r"|\b(?:what|which) (?:year|date|day|month) will\b|\bhow soon\b",
    re.I,
)
#: Words before a verb that put it in the future, or the future in the past.
_MODALS = {"will", "would", "shall", "'ll", "’ll", "wo"}


def asks_future(question: str) -> bool:
    """Whether `question` asks when something will happen ("When will the border open?")."""
    return bool(_FUTURE.search(question))


@lru_cache(maxsize=4096)
def told_in_past(sentence: str, start: int, end: int) -> bool:
    """Whether the verb that `sentence[start:end]` (a date) belongs to is in the past tense,
    with no modal before it ("signed in 2009", "was signed in 2009", "agreed on Friday"), or
    a plan told in the past perfect ("had been due to run until 2025"); not "will open on
    Friday", "would be withdrawn by the end of June" or "is expected to open in May"."""
    doc = parse(sentence)
    inside = [t for t in doc if start <= t.idx < end]
    if not inside:
        return False
    token = next((t for t in inside if not start <= t.head.idx < end), inside[0])
    while token.pos_ not in ("VERB", "AUX") and token.head.i != token.i:
        token = token.head
    if token.pos_ not in ("VERB", "AUX"):
        return False
    helpers = [c for c in token.children if c.dep_ in ("aux", "auxpass")]
    if any(c.lower_ in _MODALS for c in helpers):
        return False
    if token.tag_ == "VBD" or any(c.tag_ == "VBD" for c in helpers):
        return True
    # a plan told in the past perfect: "a mission that had been due to run until 2025"
    while token.dep_ in ("xcomp", "acomp") and token.head.i != token.i:
        token = token.head
    return any(c.dep_ == "aux" and c.lower_ == "had" for c in token.children)
