"""Scoring: the case score and outcome, the "right" verdict, short-answer EM/F1 over all
answerable cases (refusals count 0), and every metric broken down by kind. Answers are built
by hand here; tests/test_evaluate.py scores the real bot's."""

from __future__ import annotations

from typing import Any

import pytest

from bot.questions import EvalCase
from bot.scoring import NO_KIND, aggregate, case_outcome, refusal_curve, score_case
from bot.types import Answer


@pytest.mark.parametrize(
    ("case", "scores", "expected"),
    [
        (EvalCase("u", "q", unanswerable=True), {"answered": False}, (1.0, "refused (right)")),
        (EvalCase("u", "q", unanswerable=True), {"answered": True}, (0.0, "answered (wrong)")),
        (EvalCase("a", "q", answers=("x",)), {"answered": False}, (0.0, "refused (wrong)")),
        (
            EvalCase("a", "q", answers=("x",)),
            {"answered": True, "short_answer_given": False, "contains_gold": True, "short_f1": 0.2},
            (1.0, "correct"),
        ),
        (
            EvalCase("a", "q", answers=("x",)),
            {
                "answered": True,
                "short_answer_given": False,
                "contains_gold": False,
                "short_f1": 0.4,
            },
            (0.4, "partial"),
        ),
        (  # the quote holds the gold but the short answer in front of it is wrong
            EvalCase("a", "q", answers=("x",)),
            {
                "answered": True,
                "short_answer_given": True,
                "short_contains_gold": False,
                "contains_gold": True,
                "short_f1": 0.0,
            },
            (0.0, "wrong"),
        ),
        (
            EvalCase("a", "q", answers=("Yerevan and Moscow",)),
            {
                "answered": True,
                "short_answer_given": True,
                "short_contains_gold": False,
                "contains_gold": True,
                "short_f1": 0.8,
            },
            (0.8, "partial"),
        ),
        (
            EvalCase("a", "q", gold_quotes=("x",)),
            {"answered": True, "citation_recall": 0.0},
            (0.0, "wrong"),
        ),
        (EvalCase("a", "q"), {"answered": True}, (1.0, "answered (no gold)")),
    ],
)
def test_case_outcome(case: EvalCase, scores: dict[str, Any], expected: tuple[float, str]) -> None:
    assert case_outcome(case, scores) == expected


def test_aggregate_separates_answerable_without_gold() -> None:
    results = [
        {
            "id": "x",
            "refused": False,
            "latency_ms": 10.0,
            "gold": {"answers": [], "unanswerable": False},
            "scores": {
                "answered": True,
                "correct_decision": True,
                "citations": 1,
                "valid_citations": 1,
                "score": 1.0,
                "outcome": "answered (no gold)",
            },
        }
    ]
    metrics = aggregate(results, 10)
    assert metrics["cases"]["answerable_without_gold"] == 1
    assert metrics["retrieval"]["recall@1"] is None and metrics["answer"]["short_f1"] is None
    assert metrics["refusal"]["answerable_answered_rate"] == 1.0
    assert metrics["refusal"]["unanswerable_refused_rate"] is None
    assert metrics["overall"]["mean_case_score"] == 1.0
    assert metrics["overall"]["right"] is None  # no gold answer, so no verdict
    assert metrics["by_kind"] == {}  # no case has a kind


# --- five hand-made answers ---------------------------------------------------------------------
def _answer(text: str, short: str = "", refused: bool = False) -> Answer:
    return Answer(text, [], refused, "q", "q", [], short_answer=short)


REFUSAL = "I couldn't find that in the articles."
TOWER = ("Eiffel Tower", "the Eiffel Tower")
# (case, answer); the comments give the short answer's EM / F1 against the best gold.
CASES = [
    (  # short answer exactly a gold answer: 1 / 1; right
        EvalCase("a", "Which tower?", answers=TOWER, kind="casual"),
        _answer("The Eiffel Tower! — “It stands in Paris.” [1]", "The Eiffel Tower!"),
    ),
    (  # refused: 0 / 0; wrong
        EvalCase("b", "Which towr?", answers=TOWER, kind="casual"),
        _answer(REFUSAL, refused=True),
    ),
    (  # no short answer: 0 / 0 although the text holds the gold (so it is right)
        EvalCase("c", "whcih tower", answers=TOWER, kind="typo"),
        _answer("“The Eiffel Tower stands in Paris.” [1]"),
    ),
    (  # pred eiffel tower in paris vs gold eiffel tower: EM 0, F1 2/3; right (text holds it)
        EvalCase("d", "Which tower and where?", answers=TOWER),
        _answer(
            "the Eiffel Tower in Paris — “It stands in Paris.” [1]", "the Eiffel Tower in Paris"
        ),
    ),
    (  # unanswerable and refused: right; not in the short-answer averages
        EvalCase("e", "Which tower on the Moon?", unanswerable=True, kind="unanswerable"),
        _answer(REFUSAL, refused=True),
    ),
]


@pytest.fixture
def results() -> list[dict[str, Any]]:
    return [score_case(case, answer, [], 50.0 + i, 10) for i, (case, answer) in enumerate(CASES)]


def test_short_answer_alone_counts_refusals_and_missing_short_answers_as_zero(
    results: list[dict[str, Any]],
) -> None:
    scores = {r["id"]: r["scores"] for r in results}
    assert [scores[i]["short_answer_em"] for i in "abcd"] == [1.0, 0.0, 0.0, 0.0]
    assert [scores[i]["short_answer_f1"] for i in "abc"] == [1.0, 0.0, 0.0]
    assert scores["d"]["short_answer_f1"] == pytest.approx(2 / 3)
    assert "short_answer_f1" not in scores["e"]  # unanswerable: no gold answers to match
    # The older short_f1 falls back to the whole text when there is no short answer.
    assert scores["c"]["short_f1"] > 0
    answer = aggregate(results, 10)["answer"]
    assert answer["short_em_all"] == pytest.approx(1 / 4)  # over the 4 answerable cases
    assert answer["short_f1_all"] == pytest.approx(round((1 + 0 + 0 + 2 / 3) / 4, 4))
    assert answer["short_f1_all"] < answer["short_f1"]


def test_right_verdict(results: list[dict[str, Any]]) -> None:
    right = {r["id"]: r["scores"]["right"] for r in results}
    assert right == {"a": True, "b": False, "c": True, "d": True, "e": True}
    assert aggregate(results, 10)["overall"]["right"] == pytest.approx(4 / 5)


def test_every_metric_is_broken_down_by_kind(results: list[dict[str, Any]]) -> None:
    metrics = aggregate(results, 10)
    kinds = metrics["by_kind"]
    # Order of first appearance; the cases without a kind last, as "(none)".
    assert list(kinds) == ["casual", "typo", "unanswerable", NO_KIND]
    assert [kinds[k]["n"] for k in kinds] == [2, 1, 1, 1]
    assert kinds["casual"]["overall.right"] == 0.5
    assert kinds["casual"]["answer.short_f1_all"] == 0.5
    assert kinds["casual"]["refusal.answerable_answered_rate"] == 0.5
    assert kinds["typo"]["overall.right"] == 1.0 and kinds["typo"]["answer.short_f1_all"] == 0.0
    assert kinds["unanswerable"]["refusal.unanswerable_refused_rate"] == 1.0
    assert kinds["unanswerable"]["answer.short_f1_all"] is None
    assert kinds[NO_KIND]["answer.short_f1_all"] == pytest.approx(0.6667)
    assert kinds["casual"]["latency_ms.p50"] == 50.5  # the median of 50 and 51 ms
    # Every top-level metric appears in every kind (the case count as "n").
    top = {
        f"{group}.{name}"
        for group, values in metrics.items()
        if group not in ("run", "by_kind")
        for name in values
    }
    for values in kinds.values():
        assert set(values) == (top - {"cases.total"}) | {"n"}
    # Counts by kind add up to the whole run.
    assert sum(v["n"] for v in kinds.values()) == metrics["cases"]["total"]


def test_a_two_part_question_is_right_only_when_every_part_is_answered() -> None:
    case = EvalCase(
        "two",
        "Who brokered the cease-fire and how many peacekeepers were sent?",
        answers=("Putin", "2,000"),
        parts=(("Putin",), ("2,000", "some 2,000")),
        kind="two-part",
    )
    one = score_case(case, _answer("Putin — “Putin brokered it.” [1]", "Putin"), [], 1.0, 10)
    both = score_case(
        case, _answer("Putin — “...” [1] some 2,000 — “...” [2]", "Putin; some 2,000"), [], 1.0, 10
    )
    assert not one["scores"]["contains_gold"] and not one["scores"]["right"]
    assert both["scores"]["contains_gold"] and both["scores"]["right"]


def test_refusal_curve_replays_higher_thresholds_on_the_same_answers(
    results: list[dict[str, Any]],
) -> None:
    # The hand-made answers with the reader's confidence: a 0.9, b refused at 0.3, c 0.7,
    # d 0.62, e refused at 0.4.
    for r, confidence in zip(results, [0.9, 0.3, 0.7, 0.62, 0.4], strict=True):
        r["confidence"] = confidence
    curve = refusal_curve(results, 0.6)
    assert [p["threshold"] for p in curve] == [0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    at = {p["threshold"]: p for p in curve}
    # At the run's own threshold the curve is the run itself.
    metrics = aggregate(results, 10)
    assert at[0.6]["answerable_answered_rate"] == metrics["refusal"]["answerable_answered_rate"]
    assert at[0.6]["contains_gold"] == metrics["answer"]["contains_gold"] == 0.75
    assert at[0.6]["right"] == metrics["overall"]["right"] == 0.8
    # 0.65 refuses d (right, at 0.62): answered 2 of 4, right 3 of 5.
    assert at[0.65]["answerable_answered_rate"] == 0.5
    assert at[0.65]["contains_gold"] == 0.5 and at[0.65]["right"] == 0.6
    assert at[0.95] == {
        "threshold": 0.95,
        "answerable_answered_rate": 0.0,
        "unanswerable_refused_rate": 1.0,
        "contains_gold": 0.0,
        "right": 0.2,
    }


def test_refusal_curve_is_empty_without_confidences(results: list[dict[str, Any]]) -> None:
    assert all(r["confidence"] is None for r in results)  # the answers recorded none
    assert refusal_curve(results, 0.6) == []
