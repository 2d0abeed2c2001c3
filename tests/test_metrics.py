"""Metric functions: worked examples checked by hand, and SQuAD normalisation and F1 checked
against the official SQuAD v2 script's own functions (copied below as the reference)."""

from __future__ import annotations

import collections
import math
import random
import re
import string

import pytest

from bot.metrics import (
    best_over,
    citation_precision,
    citation_recall,
    contains_answer,
    exact_match,
    normalize_answer,
    passage_matches,
    percentile,
    recall_at_k,
    reciprocal_rank,
    token_f1,
)


# --- the reference: the official SQuAD v2.0 evaluation script's functions, unchanged -----------
def official_normalize_answer(s: str) -> str:
    def remove_articles(text: str) -> str:
        regex = re.compile(r"\b(a|an|the)\b", re.UNICODE)
        return re.sub(regex, " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text: str) -> str:
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def official_get_tokens(s: str) -> list[str]:
    if not s:
        return []
    return official_normalize_answer(s).split()


def official_compute_exact(a_gold: str, a_pred: str) -> int:
    return int(official_normalize_answer(a_gold) == official_normalize_answer(a_pred))


def official_compute_f1(a_gold: str, a_pred: str) -> float:
    gold_toks = official_get_tokens(a_gold)
    pred_toks = official_get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


# --- normalisation, EM and F1 -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("The Quick, brown  fox!", "quick brown fox"),
        ("an apple a day", "apple day"),
        ("Theatre of the absurd", "theatre of absurd"),  # 'the' only as a whole word
        ("A.D. 1066", "ad 1066"),  # punctuation goes before articles: 'ad' is no article
        ("Eiffel's tower", "eiffels tower"),  # the apostrophe goes, no space left in its place
        ("some 2,000", "some 2000"),
        ("“A cease-fire deal” — brokered", "ceasefire deal brokered"),  # Unicode punctuation
        ("$5.00", "500"),
        ("   ", ""),
    ],
)
def test_normalize_answer_worked_examples(text: str, normal: str) -> None:
    assert normalize_answer(text) == normal


@pytest.mark.parametrize(
    ("prediction", "gold", "em", "f1"),
    [
        # Same words after normalisation: a full match.
        ("The Eiffel Tower!", "eiffel tower", 1.0, 1.0),
        # pred eiffel tower in paris (4 tokens), gold eiffel tower (2): P 2/4, R 1, F1 2/3
        ("the Eiffel Tower in Paris", "Eiffel Tower", 0.0, 2 / 3),
        # pred tower (1), gold eiffel tower (2): P 1, R 1/2, F1 2/3
        ("Tower", "The Eiffel Tower", 0.0, 2 / 3),
        # pred eiffels tower, gold eiffel tower: only 'tower' is shared: P 1/2, R 1/2
        ("Eiffel's tower", "Eiffel Tower", 0.0, 0.5),
        # pred cat sat on mat, gold cat on mat: P 3/4, R 1, F1 6/7
        ("the cat sat on the mat", "cat on the mat", 0.0, 6 / 7),
        ("Denmark, Iceland and Norway", "Norway", 0.0, 2 * 0.25 / 1.25),
        # a duplicated token counts only as often as the gold has it: P 1/3, R 1/2, F1 0.4
        ("peace peace peace", "peace talks", 0.0, 0.4),
        ("Paris", "London", 0.0, 0.0),
        ("", "", 1.0, 1.0),  # both empty agree (the script's rule)
        ("something", "", 0.0, 0.0),
        ("", "Eiffel Tower", 0.0, 0.0),
    ],
)
def test_exact_match_and_f1_worked_examples(
    prediction: str, gold: str, em: float, f1: float
) -> None:
    assert exact_match(prediction, gold) == em
    assert token_f1(prediction, gold) == pytest.approx(f1)
    # The hand-worked values are the official script's too (all these texts are ASCII).
    assert official_compute_exact(gold, prediction) == em
    assert official_compute_f1(gold, prediction) == pytest.approx(f1)


def _ascii_texts(seed: int, count: int) -> list[str]:
    """Random ASCII texts rich in what normalisation touches: case, punctuation, articles,
    spacing."""
    rng = random.Random(seed)
    pieces = ["The", "the", "a", "An", "an", "A.", "Eiffel", "tower", "theatre", "1,000"]
    pieces += [*string.punctuation, " ", "  ", "\t", "x", "Y"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(count)]


@pytest.mark.parametrize("seed", range(5))
def test_normalisation_em_and_f1_equal_the_official_script_on_ascii(seed: int) -> None:
    texts = _ascii_texts(seed, 60)
    for text in texts:
        assert normalize_answer(text) == official_normalize_answer(text), repr(text)
    for prediction, gold in zip(texts, reversed(texts), strict=True):
        assert exact_match(prediction, gold) == official_compute_exact(gold, prediction)
        assert token_f1(prediction, gold) == pytest.approx(official_compute_f1(gold, prediction))


def test_unicode_punctuation_is_the_one_deliberate_difference() -> None:
    # The official script keeps “ ” and ’, so a quoted answer would not match its gold.
    assert official_compute_f1("Eiffel Tower", "“Eiffel Tower”") == 0
    assert token_f1("“Eiffel Tower”", "Eiffel Tower") == 1.0
    assert exact_match("Eiffel’s", "Eiffel's") == 1.0


def test_best_over_takes_the_best_acceptable_answer() -> None:
    answers = ["10th century", "the first half of the 10th century", "10th"]
    assert best_over(exact_match, "10th", answers) == 1.0
    assert best_over(token_f1, "in the 10th century", answers) == pytest.approx(0.8)
    assert best_over(token_f1, "anything", []) == 0.0


def test_contains_answer_is_normalised_and_word_bounded() -> None:
    text = "some 2,000 — “Moscow has deployed some 2,000 peacekeepers in Karabakh.” [1]"
    assert contains_answer(text, ["2,000"])
    assert contains_answer(text, ["nothing", "The Peacekeepers"])
    assert not contains_answer("100 troops", ["10"])
    assert not contains_answer(text, ["", "   "])


# --- retrieval and citations -------------------------------------------------------------------
def test_recall_at_k_and_mrr_worked_example() -> None:
    # ranks: 1 no gold, 2 gold item 0, 3 nothing, 4 gold item 1
    matches: list[set[int]] = [set(), {0}, set(), {1}]
    assert recall_at_k(matches, 2, 1) == 0.0
    assert recall_at_k(matches, 2, 2) == 0.5
    assert recall_at_k(matches, 2, 4) == 1.0
    assert recall_at_k(matches, 2, 10) == 1.0
    assert reciprocal_rank(matches) == 0.5
    assert reciprocal_rank([set(), set()]) == 0.0
    assert recall_at_k([], 1, 5) == 0.0


def test_citation_precision_and_recall_worked_example() -> None:
    cited: list[set[int]] = [{0}, set(), {0}]  # two citations of gold item 0, one off target
    assert citation_precision(cited) == pytest.approx(2 / 3)
    assert citation_recall(cited, 2) == 0.5
    assert citation_precision([]) is None
    assert citation_recall([], 0) is None


def test_passage_matches_by_id_doc_id_and_quote() -> None:
    gold = [("id", "doc-a"), ("id", "doc-b#p2-x"), ("quote", "the ceasefire  was BROKERED")]
    text = "A ceasefire was brokered by Russia."
    assert passage_matches(gold, "doc-a#p1-y", "doc-a", "unrelated") == {0}
    assert passage_matches(gold, "doc-b#p2-x", "doc-b", "unrelated") == {1}
    assert passage_matches(gold, "doc-c#p1-z", "doc-c", text) == {2}
    assert passage_matches(gold, "doc-c#p1-z", "doc-c", "ceasefire was brokers") == set()


def test_percentile_interpolates_like_numpy() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))  # nothing measured shows as a gap, not an error
