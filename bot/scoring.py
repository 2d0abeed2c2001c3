"""Scoring: one case's answer -> its results.jsonl record; a run's records -> metrics.json.

This module owns what is scored per case (`score_case`), the case score and outcome that
`--compare` ranks by, the "right" verdict, and the run's metrics by group and by kind
(`aggregate`). The metric functions themselves are in `bot.metrics`; running the bot and
writing files is `bot.evaluate`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from bot.citations import strip_markers
from bot.metrics import (
    best_over,
    citation_precision,
    citation_recall,
    contains_answer,
    exact_match,
    passage_matches,
    percentile,
    recall_at_k,
    reciprocal_rank,
    token_f1,
)

if TYPE_CHECKING:
    from bot.questions import EvalCase
    from bot.types import Answer, Hit

NO_KIND = "(none)"  # the by-kind group of the cases without a kind


def score_case(
    case: EvalCase, answer: Answer, ranked: Sequence[Hit], latency_ms: float, k: int
) -> dict[str, Any]:
    """The results.jsonl record of one case: what the bot said, and every per-case score.

    `ranked` is the deep retrieval list (at least k passages) for recall@k and MRR.
    """
    text = "" if answer.refused else strip_markers(answer.text).strip()
    short = "" if answer.refused else answer.short_answer.strip()
    retrieved_ids = {r.passage_id for r in answer.retrieved}
    gold = case.gold_items
    scores: dict[str, Any] = {
        "answered": not answer.refused,
        "correct_decision": answer.refused == case.unanswerable,
        "citations": len(answer.citations),
        "valid_citations": sum(c.passage_id in retrieved_ids for c in answer.citations),
    }
    if gold:
        matches = [
            passage_matches(gold, h.passage.passage_id, h.passage.doc_id, h.passage.text)
            for h in ranked
        ]
        cited = [passage_matches(gold, c.passage_id, c.doc_id, c.text) for c in answer.citations]
        first = next((rank for rank, m in enumerate(matches, start=1) if m), None)
        scores |= {
            "gold_rank": first,
            "recall@1": recall_at_k(matches, len(gold), 1),
            "recall@5": recall_at_k(matches, len(gold), 5),
            f"recall@{k}": recall_at_k(matches, len(gold), k),
            "reciprocal_rank": reciprocal_rank(matches[:k]),  # MRR@k
            "citation_precision": citation_precision(cited),
            "citation_recall": citation_recall(cited, len(gold)) if not answer.refused else 0.0,
        }
    if case.answers:
        # The short answer when there is one, else the whole answer text.
        short_prediction = short or text
        scores |= {
            "short_answer_given": bool(short),
            "short_em": best_over(exact_match, short_prediction, case.answers),
            "short_f1": best_over(token_f1, short_prediction, case.answers),
            # The short answer alone: a refusal or a missing short answer scores 0.
            "short_answer_em": best_over(exact_match, short, case.answers) if short else 0.0,
            "short_answer_f1": best_over(token_f1, short, case.answers) if short else 0.0,
            "full_em": best_over(exact_match, text, case.answers),
            "full_f1": best_over(token_f1, text, case.answers),
            # A question of several parts is answered only when every part is.
            "contains_gold": all(contains_answer(text, part) for part in case.parts)
            if case.parts
            else contains_answer(text, case.answers),
            "short_contains_gold": bool(short) and contains_answer(short, case.answers),
        }
    scores["right"] = is_right(case, scores)
    scores["score"], scores["outcome"] = case_outcome(case, scores)
    return {
        "id": case.id,
        "kind": case.kind or None,
        "question": case.question,
        "history": [{"role": t.role, "content": t.content} for t in case.history],
        "standalone_question": answer.standalone_question,
        "answer": answer.text,
        "short_answer": answer.short_answer,
        "refused": answer.refused,
        "confidence": answer.confidence,
        "mode": answer.mode,
        "reader": answer_reader(answer),
        "citations": [
            {
                "n": c.n,
                "passage_id": c.passage_id,
                "doc_id": c.doc_id,
                "title": c.title,
                "source": c.source,
                "text": c.text,
                "quote": c.quote,
            }
            for c in answer.citations
        ],
        "retrieved": [
            {"passage_id": r.passage_id, "doc_id": r.doc_id, "score": r.score}
            for r in answer.retrieved
        ],
        "retrieved_at_k": [
            {"passage_id": h.passage.passage_id, "doc_id": h.passage.doc_id} for h in ranked[:k]
        ],
        "latency_ms": round(latency_ms, 1),
        "timings_ms": answer.timings_ms,
        "gold": {
            "answers": list(case.answers),
            "unanswerable": case.unanswerable,
            "gold_passage_ids": list(case.gold_passage_ids),
            "gold_quotes": list(case.gold_quotes),
        },
        "scores": scores,
    }


def answer_reader(answer: Answer) -> str | None:
    """The reader model that wrote the answer, when the answer records one."""
    # `Answer.reader` is newer than some answerers; an answer without it names no reader.
    return getattr(answer, "reader", None) or None


def is_right(case: EvalCase, scores: dict[str, Any]) -> bool | None:
    """The per-case verdict behind `right`: unanswerable -> refused; answerable -> answered
    with a text that contains a gold answer. None when the case has no gold answers."""
    if case.unanswerable:
        return not scores["answered"]
    if not case.answers:
        return None
    return scores["answered"] and scores["contains_gold"]


def case_outcome(case: EvalCase, scores: dict[str, Any]) -> tuple[float, str]:
    """One score in [0, 1] per case, and its outcome label; `--compare` ranks cases by it.

    Unanswerable: 1 if refused. Answerable and refused: 0. Answered with gold answers: the
    headline is judged first, since readers take it as the answer: with a short answer, 1 if
    it contains a gold answer, else its F1 (a right quote under a wrong short answer is not
    right); without one, 1 if the text contains a gold answer, else the text's F1. Answered with
    only gold passages: citation recall. Answered with no gold at all: 1 (answering was right).
    """
    if case.unanswerable:
        return (1.0, "refused (right)") if not scores["answered"] else (0.0, "answered (wrong)")
    if not scores["answered"]:
        return 0.0, "refused (wrong)"
    if case.answers:
        found = scores["short_contains_gold" if scores["short_answer_given"] else "contains_gold"]
        score = 1.0 if found else scores["short_f1"]
    elif case.gold_items:
        score = scores["citation_recall"] or 0.0
    else:
        return 1.0, "answered (no gold)"
    label = "correct" if score >= 1.0 else "partial" if score > 0 else "wrong"
    return round(score, 4), label


# --- a run's metrics ----------------------------------------------------------------------------
def aggregate(results: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    """Metrics over all cases, by group, and every one of them again by kind (`by_kind`); a
    metric with no case to measure it is None."""
    metrics: dict[str, Any] = group_metrics(results, k)
    metrics["by_kind"] = by_kind(results, k)
    return metrics


def mean(values: Iterable[Any]) -> float | None:
    """The mean of the values that are not None, to 4 places; None when there are none."""
    kept = [float(v) for v in values if v is not None]
    return round(sum(kept) / len(kept), 4) if kept else None


#: The thresholds above the run's own that `refusal_curve` reports, up to 0.95.
CURVE_STEP = 0.05


def refusal_curve(results: Sequence[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """What a higher refusal threshold would give on the same answers: for the run's threshold
    and each multiple of `CURVE_STEP` above it, the answered share of answerable cases, the
    refused share of unanswerable ones, contains-gold over the cases with gold answers, and
    `right`. An answer whose confidence is below a threshold counts as refused there (for a
    two-part question, whose confidence is its weakest part's, the bot would drop that part
    rather than refuse, which leaves it wrong all the same). Lower thresholds cannot be
    replayed: what a refused answer would have said is not known. Empty when no answer records
    a confidence (an answerer without the reader)."""
    if all(r.get("confidence") is None for r in results):
        return []
    steps = [threshold] + [
        round(n * CURVE_STEP, 2)
        for n in range(1, round(1 / CURVE_STEP))
        if n * CURVE_STEP > threshold + 1e-9
    ]
    answerable = [r for r in results if not r["gold"]["unanswerable"]]
    unanswerable = [r for r in results if r["gold"]["unanswerable"]]
    with_answers = [r for r in answerable if "contains_gold" in r["scores"]]
    judged = [r for r in results if r["scores"].get("right") is not None]

    curve = []
    for t in steps:

        def answered(r: dict[str, Any], t: float = t) -> bool:
            return not r["refused"] and (r.get("confidence") or 0.0) >= t

        curve.append(
            {
                "threshold": t,
                "answerable_answered_rate": mean(answered(r) for r in answerable),
                "unanswerable_refused_rate": mean(not answered(r) for r in unanswerable),
                "contains_gold": mean(
                    answered(r) and r["scores"]["contains_gold"] for r in with_answers
                ),
                "right": mean(
                    not answered(r)
                    if r["gold"]["unanswerable"]
                    else answered(r) and r["scores"]["right"]
                    for r in judged
                ),
            }
        )
    return curve


def by_kind(results: Sequence[dict[str, Any]], k: int) -> dict[str, dict[str, Any]]:
    """kind -> {"n": cases, "group.metric": value, ...} for every metric of `group_metrics`.

    Kinds are in order of first appearance; the cases without a kind form the group "(none)",
    last. Empty when no case has a kind: the whole run is then the one group.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault(r.get("kind") or NO_KIND, []).append(r)
    if set(groups) <= {NO_KIND}:
        return {}
    if NO_KIND in groups:
        groups[NO_KIND] = groups.pop(NO_KIND)  # last
    breakdown = {}
    for kind, rows in groups.items():
        flat = flatten_metrics(group_metrics(rows, k))
        del flat["cases.total"]  # it is "n"
        breakdown[kind] = {"n": len(rows)} | flat
    return breakdown


def flatten_metrics(metrics: dict[str, Any]) -> dict[str, float | None]:
    """Numeric metrics as 'group.name' -> value (the run description and by_kind left out)."""
    flat: dict[str, float | None] = {}
    for group, values in metrics.items():
        if group in ("run", "by_kind") or not isinstance(values, dict):
            continue
        for name, value in values.items():
            if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
                flat[f"{group}.{name}"] = value
    return flat


def group_metrics(results: Sequence[dict[str, Any]], k: int) -> dict[str, dict[str, Any]]:
    """The metric groups (overall, cases, retrieval, answer, refusal, citations, latency and,
    when judged, faithfulness) over the given cases."""
    answerable = [r for r in results if not r["gold"]["unanswerable"]]
    unanswerable = [r for r in results if r["gold"]["unanswerable"]]
    with_passages = [r for r in answerable if "gold_rank" in r["scores"]]
    with_answers = [r for r in answerable if "short_f1" in r["scores"]]
    answered_with_answers = [r for r in with_answers if not r["refused"]]
    no_gold = [r for r in answerable if not r["gold"]["answers"] and "gold_rank" not in r["scores"]]
    s = [r["scores"] for r in results]
    citations = sum(x["citations"] for x in s)
    latencies = [r["latency_ms"] for r in results]

    def p(q: float) -> float | None:
        return round(percentile(latencies, q), 1) if latencies else None

    metrics: dict[str, dict[str, Any]] = {
        "overall": {
            "right": mean(x.get("right") for x in s),
            "mean_case_score": mean(x["score"] for x in s),
        },
        "cases": {
            "total": len(results),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "with_gold_passages": len(with_passages),
            "with_gold_answers": len(with_answers),
            "answerable_without_gold": len(no_gold),
        },
        "retrieval": {
            "recall@1": mean(r["scores"]["recall@1"] for r in with_passages),
            "recall@5": mean(r["scores"]["recall@5"] for r in with_passages),
            f"recall@{k}": mean(r["scores"][f"recall@{k}"] for r in with_passages),
            "mrr": mean(r["scores"]["reciprocal_rank"] for r in with_passages),
        },
        "answer": {
            "contains_gold": mean(r["scores"]["contains_gold"] for r in with_answers),
            "short_em": mean(r["scores"]["short_em"] for r in with_answers),
            "short_f1": mean(r["scores"]["short_f1"] for r in with_answers),
            "short_em_all": mean(r["scores"]["short_answer_em"] for r in with_answers),
            "short_f1_all": mean(r["scores"]["short_answer_f1"] for r in with_answers),
            "full_em": mean(r["scores"]["full_em"] for r in with_answers),
            "full_f1": mean(r["scores"]["full_f1"] for r in with_answers),
            "contains_gold_when_answered": mean(
                r["scores"]["contains_gold"] for r in answered_with_answers
            ),
            "short_answer_wrong_quote_right": mean(
                r["scores"]["short_answer_given"]
                and not r["scores"]["short_contains_gold"]
                and r["scores"]["contains_gold"]
                for r in answered_with_answers
            ),
            "short_answer_rate": mean(
                r["scores"]["short_answer_given"] for r in answered_with_answers
            ),
        },
        "refusal": {
            "answerable_answered_rate": mean(not r["refused"] for r in answerable),
            "answerable_accuracy": mean(
                (not r["refused"]) and r["scores"]["contains_gold"] for r in with_answers
            ),
            "unanswerable_refused_rate": mean(r["refused"] for r in unanswerable),
            "decision_accuracy": mean(x["correct_decision"] for x in s),
        },
        "citations": {
            "total": citations,
            "validity": round(sum(x["valid_citations"] for x in s) / citations, 4)
            if citations
            else None,
            "precision": mean(r["scores"]["citation_precision"] for r in with_passages),
            "recall": mean(r["scores"]["citation_recall"] for r in with_passages),
        },
        "latency_ms": {
            "p50": p(50),
            "p95": p(95),
            "mean": round(sum(latencies) / len(latencies), 1) if latencies else None,
            "max": max(latencies) if latencies else None,
        },
    }
    judged = [x["faithful"] for x in s if x.get("faithful") is not None]
    if any("faithful" in x for x in s):
        metrics["faithfulness"] = {
            "judged": len(judged),
            "faithful_rate": mean(judged),
            "judge_failures": sum(1 for x in s if "faithful" in x and x["faithful"] is None),
        }
    return metrics
