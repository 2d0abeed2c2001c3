"""Follow-up questions made standalone, without an LLM.

"How many peacekeepers did his country send?" after "Who brokered the 2020 ceasefire?" (answer:
Vladimir Putin) becomes "How many peacekeepers did Vladimir Putin's country send?". Personal
pronouns (he/his/she/her) are replaced by the person the last answer named, else the most
recent person named in the conversation (never a known city or country that the entity
recogniser took for a person). "it", "its", "they" and "their" are replaced by the last answer
when that is a country or organisation ("Which country backs Azerbaijan?" - "Turkey" - "When did
it close its border?"), and "they", "their" and "them" also when it is several ("Turkey and
Armenia"). Other references (there, that) and elliptical questions ("And in
2009?") borrow the content words of the previous question instead, since guessing their
antecedent goes wrong more often than not. The LLM mode rewrites with the model instead
(`bot.answer`).
"""

from __future__ import annotations

import re

from bot.extract import entities
from bot.query import known_places
from bot.text import content_terms, words
from bot.types import Turn

# Two different windows on the conversation. The chain keeps the last MAX_HISTORY_TURNS of the
# history a request brings (`bot.chain.parse_history`), a bound on what any answerer is handed
# however long a client's history grows. Condensing a follow-up (here, and the LLM's rewrite in
# `bot.answer`) reads only the last CONDENSE_TURNS, three exchanges: a pronoun points at
# something said just now, and an older name would win over the one meant.
MAX_HISTORY_TURNS = 50
CONDENSE_TURNS = 6

# Personal pronouns, replaced by the latest person named; True for the possessive ones, which
# become "<name>'s".
_PERSONAL_PRONOUNS = {
    "he": False,
    "him": False,
    "his": True,
    "she": False,
    "her": True,
    "hers": True,
    "himself": False,
    "herself": False,
}
# Words that mark a follow-up but are too ambiguous to resolve to one entity.
# "they" may be people, countries or envoys, and "it" a treaty, a forum or a country: borrowing
# the last question's words is safer than guessing ("Was it ratified?" is not about Armenia).
_DEICTIC = {"there", "that", "this", "these", "those", "then", "they", "them", "their", "it", "its"}
# Pronouns that may stand for a country or organisation just named in an answer.
_THING_PRONOUNS = {"it": False, "its": True, "they": False, "their": True, "them": False}
# Those that may also stand for several of them ("Turkey and Armenia").
_PLURAL_PRONOUNS = {p: _THING_PRONOUNS[p] for p in ("they", "their", "them")}
_THING_LABELS = {"GPE", "ORG", "NORP"}
_SHORT_ANSWER = re.compile(r"^(.{1,80}?) \u2014 \u201c")
_FOLLOW_UP_START = re.compile(r"^\s*(and|what about|how about|also|but|so|then)\b", re.I)
MIN_CONTENT_TERMS = 2


def is_follow_up(question: str) -> bool:
    """Whether the question leans on the conversation (pronouns, ellipsis)."""
    tokens = words(question)
    if any(t in _PERSONAL_PRONOUNS or t in _DEICTIC for t in tokens):
        return True
    return (
        bool(_FOLLOW_UP_START.match(question)) or len(content_terms(question)) < MIN_CONTENT_TERMS
    )


def condense(question: str, history: list[Turn]) -> str:
    """A standalone version of `question` given the earlier turns (unchanged if not needed)."""
    question = question.strip()
    previous = [turn for turn in history if turn.content.strip()]
    if not previous or not is_follow_up(question):
        return question
    recent = list(reversed(previous[-CONDENSE_TURNS:]))  # newest first
    lead = last_short_answer(recent)
    lead_label = _label_of(lead) if lead else ""
    # The answer just given is the likeliest antecedent; then the people named, newest first.
    # A city or country that the recogniser took for a person is never a "he" or "she".
    people = ([lead] if lead_label == "PERSON" else []) + [
        text
        for turn in recent
        for text, label in entities(turn.content)
        if label == "PERSON" and text.lower() not in known_places()
    ]
    person = next((name for name in people if name.lower() not in question.lower()), None)
    # "it"/"its"/"they" take the answer just given only when that is a country or organisation
    # ("Which country backs Azerbaijan?" - "Turkey" - "When did it close its border?"), and
    # "they"/"their"/"them" when it is several ("Turkey and Armenia").
    thing = lead if lead_label in _THING_LABELS else None
    pronouns = _THING_PRONOUNS
    if lead and not thing and _is_group(lead):
        thing, pronouns = lead, _PLURAL_PRONOUNS

    resolved = question
    replaced = False
    for pronoun, possessive in _PERSONAL_PRONOUNS.items():
        pattern = re.compile(rf"\b{pronoun}\b", re.I)
        if person is None or not pattern.search(resolved):
            continue
        resolved = pattern.sub(f"{person}'s" if possessive else person, resolved)
        replaced = True
    if thing and thing.lower() not in question.lower():
        for pronoun, possessive in pronouns.items():
            pattern = re.compile(rf"\b{pronoun}\b", re.I)
            if pattern.search(resolved):
                resolved = pattern.sub(f"{thing}'s" if possessive else thing, resolved)
                replaced = True
    if not replaced or len(content_terms(resolved)) < MIN_CONTENT_TERMS + 1:
        last_question = next((t.content for t in recent if t.role == "user"), "")
        borrowed = [w for w in _content_words(last_question) if w.lower() not in resolved.lower()]
        if borrowed:
            resolved = f"{resolved.rstrip('?').rstrip()} ({' '.join(borrowed)})?"
    return resolved


def last_short_answer(recent: list[Turn]) -> str | None:
    """The short answer that led the newest assistant turn ("Vladimir Putin — “...” [1]")."""
    turn = next((t for t in recent if t.role == "assistant"), None)
    match = _SHORT_ANSWER.match(turn.content) if turn else None
    return match.group(1).strip() if match else None


def _label_of(text: str) -> str:
    """The entity label of a short answer: a known country or capital is a place (GPE)."""
    if text.lower() in known_places():
        return "GPE"
    labels = [label for ent, label in entities(text) if ent == text]
    return labels[0] if labels else ""


def _is_group(text: str) -> bool:
    """Whether a short answer names two or more countries or organisations and nothing else
    ("Turkey and Armenia", "Russia, Turkey and Iran")."""
    names = [n.strip() for n in re.split(r",\s*(?:and\s+)?|\s+and\s+", text) if n.strip()]
    return len(names) > 1 and all(_label_of(n) in _THING_LABELS for n in names)


def _content_words(text: str) -> list[str]:
    """The words of `text` that carry content, in order, as written."""
    kept = []
    for match in re.finditer(r"[\w'’-]+", text):
        word = match.group()
        if content_terms(word):
            kept.append(word)
    return list(dict.fromkeys(kept))
