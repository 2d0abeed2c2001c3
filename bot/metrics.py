"""Metric functions: pure, on strings and numbers, each checked against worked examples.

This module owns SQuAD answer normalisation, exact match and token F1, answer-contains-gold,
matching passages against gold ids and quotes, recall@k, reciprocal rank, citation precision
and recall, and percentiles (also used by `bot bench`). It knows nothing of cases, answers or
files: `bot.scoring` applies these to one case and to a whole run.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no a/an/the, single spaces.

    The steps and their order are the official SQuAD v2 script's, and on ASCII text the result
    is the same. One addition: every Unicode punctuation character goes too (the script removes
    only ASCII `string.punctuation`), because answers quote with “ ” and use dashes and ’.
    """
    text = text.lower()
    text = "".join(
        ch
        for ch in text
        if ch not in string.punctuation and not unicodedata.category(ch).startswith("P")
    )
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised texts are equal, as in the official SQuAD v2 script."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 after normalisation, as in the official SQuAD v2 script."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_over(
    metric: Callable[[str, str], float], prediction: str, answers: Sequence[str]
) -> float:
    """The best score of `prediction` against any of the acceptable answers."""
    return max((metric(prediction, a) for a in answers), default=0.0)


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether a normalised answer occurs in the normalised text, on word boundaries
    ('10' is not found in '100')."""
    haystack = f" {normalize_answer(text)} "
    return any((needle := normalize_answer(a)) and f" {needle} " in haystack for a in answers)


def passage_matches(
    gold_items: Sequence[tuple[str, str]], passage_id: str, doc_id: str, text: str
) -> set[int]:
    """Indices of the gold items this passage satisfies: its passage or doc id is a gold id,
    or its normalised text contains a gold quote."""
    normal = f" {normalize_answer(text)} "
    found = set()
    for i, (kind, value) in enumerate(gold_items):
        if kind == "id":
            hit = value in (passage_id, doc_id)
        else:
            hit = bool(q := normalize_answer(value)) and f" {q} " in normal
        if hit:
            found.add(i)
    return found


def recall_at_k(matches: Sequence[set[int]], n_gold: int, k: int) -> float:
    """Share of the gold items satisfied by one of the first k ranked passages.

    `matches[i]` is the set of gold items the (i+1)-th passage satisfies. With one gold item
    (SQuAD), this is the usual hit rate.
    """
    if n_gold == 0:
        return 0.0
    return len(set().union(*matches[:k])) / n_gold if matches[:k] else 0.0


def reciprocal_rank(matches: Sequence[set[int]]) -> float:
    """1 / the rank of the first passage that satisfies any gold item; 0 if none does."""
    return next((1.0 / rank for rank, m in enumerate(matches, start=1) if m), 0.0)


def citation_precision(cited: Sequence[set[int]]) -> float | None:
    """Share of citations that point at a gold passage; None without citations."""
    return sum(1 for m in cited if m) / len(cited) if cited else None


def citation_recall(cited: Sequence[set[int]], n_gold: int) -> float | None:
    """Share of the gold items that some citation satisfies; None without gold."""
    return len(set().union(*cited)) / n_gold if n_gold else None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated between ranks (numpy's default);
    NaN when there are no values, so a benchmark stage that measured nothing shows a gap."""
    import numpy as np

    return float(np.percentile(values, q)) if len(values) else float("nan")
