"""Comparing two evaluation runs: `bot eval --compare OLD_DIR NEW_DIR`.

This module owns reading a run's output folder back, which direction of each metric counts as
better, and the comparison itself: metric by metric, kind by kind, and case by case (by case
score). Rendering it as Markdown is `bot.eval_report.render_comparison`'s job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import BotError
from bot.scoring import flatten_metrics

LOWER_IS_BETTER = ("latency_ms.", "answer.short_answer_wrong_quote_right")
NEUTRAL = ("cases.", "citations.total", "faithfulness.judged")
NEUTRAL_NAMES = ("n",)  # a kind's case count


@dataclass(frozen=True)
class MetricChange:
    name: str
    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else round(self.new - self.old, 4)

    @property
    def verdict(self) -> str:
        """'better', 'worse', 'same', or 'changed' (counts, where neither is better)."""
        if self.old is None or self.new is None or self.delta == 0:
            return "same" if self.old == self.new else "changed"
        assert self.delta is not None
        if self.name.startswith(NEUTRAL) or self.name in NEUTRAL_NAMES:
            return "changed"
        lower_is_better = self.name.startswith(LOWER_IS_BETTER) or self.name.endswith("failures")
        return "better" if (self.delta < 0) == lower_is_better else "worse"


@dataclass(frozen=True)
class CaseChange:
    id: str
    question: str
    old_score: float
    new_score: float
    old_outcome: str
    new_outcome: str
    old_answer: str
    new_answer: str


@dataclass
class Comparison:
    """How a new run differs from an old one, metric by metric and case by case.

    `by_kind` maps each kind of either run to its metrics' changes (names as in metrics.json's
    `by_kind`: "n" and "group.metric"); a kind missing from one run has None on that side.
    """

    old_dir: Path
    new_dir: Path
    metrics: list[MetricChange]
    better: list[CaseChange]
    worse: list[CaseChange]
    unchanged: int
    only_old: list[str]
    only_new: list[str]
    by_kind: dict[str, list[MetricChange]]


def load_run(out_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The metrics and per-case results of an earlier `bot eval --out DIR`."""
    metrics_path, results_path = out_dir / "metrics.json", out_dir / "results.jsonl"
    if not metrics_path.is_file() or not results_path.is_file():
        raise BotError(
            f"{out_dir} is not an evaluation output folder (it needs metrics.json and "
            "results.jsonl). Run `bot eval QUESTIONS.jsonl --out DIR` first."
        )
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        results = [
            json.loads(line)
            for line in results_path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    except json.JSONDecodeError as exc:
        raise BotError(f"{out_dir}: damaged evaluation output ({exc}); re-run the eval.") from None
    return metrics, results


def metric_changes(
    old: dict[str, float | None], new: dict[str, float | None]
) -> list[MetricChange]:
    """One change per metric name of either side, old names first."""
    names = list(old) + [n for n in new if n not in old]
    return [MetricChange(n, old.get(n), new.get(n)) for n in names]


def compare_runs(old_dir: Path, new_dir: Path) -> Comparison:
    """Which metrics went up or down, overall and by kind, and which cases got better or worse
    by case score."""
    old_metrics, old_results = load_run(old_dir)
    new_metrics, new_results = load_run(new_dir)
    changes = metric_changes(flatten_metrics(old_metrics), flatten_metrics(new_metrics))
    old_kinds, new_kinds = old_metrics.get("by_kind") or {}, new_metrics.get("by_kind") or {}
    kinds = list(old_kinds) + [k for k in new_kinds if k not in old_kinds]
    by_kind = {k: metric_changes(old_kinds.get(k, {}), new_kinds.get(k, {})) for k in kinds}
    old_by_id = {r["id"]: r for r in old_results}
    new_by_id = {r["id"]: r for r in new_results}
    better, worse, unchanged = [], [], 0
    for case_id, new in new_by_id.items():
        old = old_by_id.get(case_id)
        if old is None:
            continue
        change = CaseChange(
            case_id,
            new["question"],
            old["scores"]["score"],
            new["scores"]["score"],
            old["scores"]["outcome"],
            new["scores"]["outcome"],
            old["answer"],
            new["answer"],
        )
        if change.new_score > change.old_score:
            better.append(change)
        elif change.new_score < change.old_score:
            worse.append(change)
        else:
            unchanged += 1
    better.sort(key=lambda c: c.old_score - c.new_score)
    worse.sort(key=lambda c: c.new_score - c.old_score)
    return Comparison(
        old_dir,
        new_dir,
        changes,
        better,
        worse,
        unchanged,
        only_old=[i for i in old_by_id if i not in new_by_id],
        only_new=[i for i in new_by_id if i not in old_by_id],
        by_kind=by_kind,
    )
