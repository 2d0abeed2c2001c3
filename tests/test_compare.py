"""`bot eval --compare` on hand-written run folders: which direction is better, cases only in
one run, and the per-kind deltas. tests/test_evaluate.py compares two real runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.compare import compare_runs
from bot.eval_report import render_comparison


def _run(folder: Path, metrics: dict[str, Any], cases: dict[str, float]) -> Path:
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    lines = [
        json.dumps({"id": i, "question": i, "answer": "a", "scores": {"score": s, "outcome": "x"}})
        for i, s in cases.items()
    ]
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _metrics(latency: float, cases: int) -> dict[str, Any]:
    return {
        "latency_ms": {"p50": latency},
        "answer": {"short_f1": 0.5, "short_answer_wrong_quote_right": latency / 1000},
        "cases": {"total": cases},
        "run": {"k": 5},
    }


def test_compare_reports_cases_only_in_one_run_and_worse_latency(tmp_path: Path) -> None:
    old = _run(tmp_path / "old", _metrics(100.0, 3), {"a": 1.0, "b": 0.0, "c": 0.5})
    new = _run(tmp_path / "new", _metrics(150.0, 3), {"a": 0.5, "b": 0.0, "d": 1.0})
    comparison = compare_runs(old, new)
    verdicts = {m.name: m.verdict for m in comparison.metrics}
    assert verdicts == {
        "latency_ms.p50": "worse",
        "answer.short_f1": "same",
        "answer.short_answer_wrong_quote_right": "worse",  # more wrong headlines
        "cases.total": "same",
    }
    assert "| cases.total | 3 | 3 | +0 |" in render_comparison(comparison)
    assert [c.id for c in comparison.worse] == ["a"] and comparison.better == []
    assert comparison.unchanged == 1
    assert (comparison.only_old, comparison.only_new) == (["c"], ["d"])
    assert comparison.by_kind == {}  # runs from before kinds, or without any
    assert "By kind" not in render_comparison(comparison)
    with pytest.raises(Exception, match="not an evaluation output folder"):
        compare_runs(tmp_path, new)


def test_compare_gives_per_kind_deltas(tmp_path: Path) -> None:
    old_metrics = _metrics(100.0, 4) | {
        "by_kind": {
            "typo": {"n": 2, "overall.right": 0.5, "latency_ms.p50": 90.0},
            "near-miss": {"n": 2, "overall.right": 1.0, "latency_ms.p50": 110.0},
        }
    }
    new_metrics = _metrics(100.0, 5) | {
        "by_kind": {
            "typo": {"n": 2, "overall.right": 1.0, "latency_ms.p50": 95.0},
            "near-miss": {"n": 2, "overall.right": 0.5, "latency_ms.p50": 110.0},
            "two-part": {"n": 1, "overall.right": 0.0, "latency_ms.p50": 120.0},
        }
    }
    old = _run(tmp_path / "old", old_metrics, {"a": 1.0})
    new = _run(tmp_path / "new", new_metrics, {"a": 1.0})
    comparison = compare_runs(old, new)
    assert list(comparison.by_kind) == ["typo", "near-miss", "two-part"]
    verdicts = {
        kind: {m.name: (m.old, m.new, m.delta, m.verdict) for m in changes}
        for kind, changes in comparison.by_kind.items()
    }
    assert verdicts["typo"] == {
        "n": (2, 2, 0, "same"),
        "overall.right": (0.5, 1.0, 0.5, "better"),
        "latency_ms.p50": (90.0, 95.0, 5.0, "worse"),  # slower is worse, by kind too
    }
    assert verdicts["near-miss"]["overall.right"] == (1.0, 0.5, -0.5, "worse")
    # A kind new in this run has nothing to compare with.
    assert verdicts["two-part"]["overall.right"] == (None, 0.0, None, "changed")
    text = render_comparison(comparison)
    section = text.split("## By kind (old → new)")[1]
    assert "| typo | 2 → 2 | 0.500 → 1.000 (+0.5 ▲) |" in section
    assert "| near-miss | 2 → 2 | 1.000 → 0.500 (-0.5 ▼) |" in section
    assert "| two-part | – → 1 | – → 0.000 |" in section
    assert "90.0 → 95.0 (+5 ▼)" in section
