"""Sources: who reports a deed is not who did it.

News attributes what it reports: "Russia has begun withdrawing its peacekeepers ..., the
Kremlin confirmed on Wednesday". Asked "Who commands the Russian peacekeeping contingent?", the
reader takes the one name in the sentence, "Kremlin", which is only the source. When a "who"
question asks about a deed (its main verb is not "be", "have", or a verb of saying) that the
sentence does not name (no word that starts with the verb's stem, or whose stem it starts
with: "commands" is named by "commander", "opposed" by "opposition"), and
the answer is the subject of a verb of saying ("the Kremlin confirmed", "officials said"), the
answer is the source, not the doer. "The contingent's commander, Lt. Gen. Alexei Vorontsov,
said ..." still answers: it names the command.

spaCy's parser is `bot.references`'s, under its lock.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.references import parse
from bot.text import content_terms, stem

#: Verbs of saying (lemmas): their subject is a source.
SAYING = frozenset(
    """say tell add state announce report confirm note claim write declare insist describe
    argue deny warn accuse urge""".split()
)
#: Main verbs of a question that ask about no deed.
_NO_DEED = frozenset("be is are was were been have has had do does did get gets got".split())


@lru_cache(maxsize=4096)
def asked_deed(question: str) -> str:
    """The stem of the deed a "who" question asks about (its main verb: "Who commands the
    contingent?" -> "command"), or "" when it asks about none or about a saying."""
    doc = parse(question)
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None or root.pos_ != "VERB":
        return ""
    if root.lower_ in _NO_DEED or root.lower_ in _saying_forms():
        return ""
    return stem(root.lower_)


@lru_cache(maxsize=4096)
def only_the_source(deed: str, sentence: str, start: int, end: int) -> bool:
    """Whether the answer `sentence[start:end]` is the subject of a verb of saying in a
    sentence that does not name `deed` (a stem, from `asked_deed`)."""
    if not deed or any(
        t.startswith(deed) or (len(t) >= 4 and deed.startswith(t)) for t in content_terms(sentence)
    ):
        return False
    forms = _saying_forms()
    if not any(w in forms for w in re.findall(r"[a-z]+", sentence.lower())):
        return False  # no verb of saying: no need to parse
    doc = parse(sentence)
    for token in doc:
        if start <= token.idx < end and token.dep_ in ("nsubj", "appos"):
            verb = token.head if token.dep_ == "nsubj" else token.head.head
            if verb.lower_ in forms:
                return True
    return False


@lru_cache(maxsize=1)
def _saying_forms() -> frozenset[str]:
    """The forms of the verbs of saying, as written ("confirmed", "says")."""
    regular = SAYING - {"say", "tell", "write", "deny"}
    forms = {f"{v}d" if v.endswith("e") else f"{v}ed" for v in regular}
    forms |= SAYING | {f"{v}s" for v in regular}
    return frozenset(forms | set("says said tells told writes wrote written denies denied".split()))
