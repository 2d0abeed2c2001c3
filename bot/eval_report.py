"""Evaluation reports: metric tables, the table by kind, the worst cases, plots, and the
comparison of two runs.

Renders what `bot.evaluate` wrote, as `report.md` (tables and cases, no images) and a
self-contained `report.html` (the same plus plots embedded as base64 PNG, drawn with
matplotlib's Agg canvas so no display or global pyplot state is needed), and what
`bot.compare` found, as Markdown. Computes nothing that is not already in the results and
metrics, so a report can be rebuilt from a run's files.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.compare import Comparison, MetricChange

GROUPS = {
    "overall": "Overall",
    "retrieval": "Retrieval (cases with gold passages or quotes)",
    "answer": "Answers (answerable cases with gold answers)",
    "refusal": "Refusal",
    "citations": "Citations",
    "latency_ms": "Latency (ms, whole `ChatBot.answer()` call)",
    "faithfulness": "Faithfulness (LLM judge)",
    "cases": "Cases",
}

HELP = {
    "right": "answerable: answered and the text contains a gold answer; unanswerable: refused",
    "recall@1": "share of gold passages ranked first",
    "recall@5": "share of gold passages in the top 5",
    "mrr": "mean of 1 / rank of the first gold passage (0 when not in the top k)",
    "contains_gold": "the answer text contains a gold answer (normalised, on word boundaries)",
    "short_em": "exact match of the short answer (the full text when there is none)",
    "short_f1": "token F1 of the short answer (the full text when there is none)",
    "short_em_all": "exact match of the short answer alone; a refusal or no short answer is 0",
    "short_f1_all": "token F1 of the short answer alone; a refusal or no short answer is 0",
    "full_em": "exact match of the whole answer text (near 0 by nature, see notes)",
    "full_f1": "token F1 of the whole answer text (low by nature, see notes)",
    "contains_gold_when_answered": "contains-gold among the answered cases only",
    "short_answer_rate": "answered cases that carry a short answer",
    "short_answer_wrong_quote_right": "answered cases whose short answer misses the gold while "
    "the quoted text holds it (the headline is wrong)",
    "mean_case_score": "mean case score (see notes); what --compare ranks cases by",
    "answerable_answered_rate": "answerable cases the bot answered (did not refuse)",
    "answerable_accuracy": "answerable cases answered with an answer containing the gold",
    "unanswerable_refused_rate": "unanswerable cases the bot refused",
    "decision_accuracy": "cases where answering or refusing was the right call",
    "total": "count",
    "validity": "citations pointing at a retrieved passage (must be 1.0)",
    "precision": "citations pointing at a gold passage, mean per case",
    "recall": "gold passages cited, mean per case (0 when refused)",
    "p50": "median",
    "p95": "95th percentile",
    "faithful_rate": "answers the judge found fully supported by their citations",
}

NOTES = [
    "Every case goes through `ChatBot.answer()`, the same call as the chat UI, CLI and API.",
    "Normalisation is SQuAD v2's (lower case, no punctuation, no a/an/the, single spaces), with "
    "Unicode punctuation removed as well because answers quote with “ ” and dashes.",
    "**Full-text EM/F1 are low by nature**: the extractive answer quotes whole sentences, so the "
    "prediction has many more tokens than the gold span. Judge answers by contains-gold and the "
    "short-answer scores.",
    "Retrieval metrics come from one extra search with the standalone question, `k` deep; its "
    "first `top_k` entries are the passages the answerer saw (`retrieved` in results.jsonl).",
    "Right (the headline by kind): an answerable case is right when it is answered and the "
    "answer text contains a gold answer, an unanswerable one when it is refused; cases with no "
    "gold answers have no verdict.",
    "`short_em_all` / `short_f1_all`: the short answer alone against the gold answers (best "
    "over them), averaged over all answerable cases with gold answers, a refusal or an empty "
    "short answer scoring 0. `short_em` / `short_f1` fall back to the whole text when there is "
    "no short answer.",
    "By kind: every case with a `kind` is counted in its kind's row; cases without one are in "
    "the row (none). Cases of an `--unanswerable` file without a kind have kind unanswerable.",
    "Case score (used for the worst cases and `--compare`): unanswerable 1 if refused; "
    "answerable 0 if refused; else the headline is judged: 1 if the short answer (or, without "
    "one, the text) contains a gold answer, else its F1; citation recall when only gold "
    "passages are known; 1 when there is no gold at all. So a right quote under a wrong short "
    "answer scores 0, although contains-gold counts it.",
]

# The by-kind table's columns: (name in metrics.json's by_kind, column heading).
KIND_COLUMNS = [
    ("n", "n"),
    ("overall.right", "right"),
    ("refusal.answerable_answered_rate", "answered"),
    ("refusal.unanswerable_refused_rate", "refused (unans.)"),
    ("answer.contains_gold", "contains gold"),
    ("answer.short_em_all", "short EM (all)"),
    ("answer.short_f1_all", "short F1 (all)"),
    ("retrieval.recall@5", "recall@5"),
    ("retrieval.mrr", "MRR"),
    ("citations.recall", "citation recall"),
    ("latency_ms.p50", "p50 ms"),
]

COLOURS = {
    "correct": "#2e7d32",
    "refused (right)": "#2e7d32",
    "partial": "#f9a825",
    "wrong": "#c62828",
    "answered (wrong)": "#7f0000",
    "refused (wrong)": "#8e24aa",
    "answered (no gold)": "#1565c0",
}


# --- text pieces --------------------------------------------------------------------------------
def fmt(value: Any, group: str = "") -> str:
    """A metric value for a table; `group` is its group (or 'group.name')."""
    if value is None or value != value:  # None or NaN
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if group.split(".")[0] == "latency_ms":
        return f"{value:.1f}"
    return f"{value:.3f}"


def metric_tables(metrics: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(title, [(metric, value, meaning)]) for each metric group, in reading order."""
    tables = []
    for group, title in GROUPS.items():
        values = metrics.get(group)
        if not isinstance(values, dict):
            continue
        rows = []
        for name, value in values.items():
            meaning = HELP.get(name, "share of gold passages in the top k" if "@" in name else "")
            if group == "cases":
                meaning = ""
            rows.append((name, fmt(value, group), meaning))
        tables.append((title, rows))
    return tables


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    """The headline numbers, for the terminal."""
    r, a, f = metrics["retrieval"], metrics["answer"], metrics["refusal"]
    c, lat, n = metrics["citations"], metrics["latency_ms"], metrics["cases"]
    k_name = next(
        (n for n in r if n.startswith("recall@") and n not in ("recall@1", "recall@5")), ""
    )
    lines = [
        f"cases: {n['total']} ({n['answerable']} answerable, {n['unanswerable']} unanswerable)",
        f"retrieval: recall@1 {fmt(r['recall@1'])}  recall@5 {fmt(r['recall@5'])}"
        + (f"  {k_name} {fmt(r[k_name])}" if k_name else "")
        + f"  MRR {fmt(r['mrr'])}",
        f"answers: contains-gold {fmt(a['contains_gold'])}  short EM {fmt(a['short_em'])}  "
        f"short F1 {fmt(a['short_f1'])}  full-text F1 {fmt(a['full_f1'])}",
        f"short answer alone, all answerable: EM {fmt(a['short_em_all'])}  "
        f"F1 {fmt(a['short_f1_all'])}",
        f"refusal: answered {fmt(f['answerable_answered_rate'])} of answerable, refused "
        f"{fmt(f['unanswerable_refused_rate'])} of unanswerable",
        f"citations: validity {fmt(c['validity'])}  precision {fmt(c['precision'])}  "
        f"recall {fmt(c['recall'])}",
        f"latency: p50 {fmt(lat['p50'], 'latency_ms')} ms  p95 {fmt(lat['p95'], 'latency_ms')} ms",
        f"right: {fmt(metrics['overall']['right'])}"
        + "".join(
            f"  {kind} {fmt(values['overall.right'])} ({values['n']})"
            for kind, values in (metrics.get("by_kind") or {}).items()
        ),
    ]
    if "faithfulness" in metrics:
        lines.append(f"faithfulness (LLM judge): {fmt(metrics['faithfulness']['faithful_rate'])}")
    if n["answerable_without_gold"]:
        lines.append(
            f"note: {n['answerable_without_gold']} answerable cases have no gold answers or "
            "passages; only answering and latency are scored for them. If they are "
            'unanswerable, add "unanswerable": true or pass their file with --unanswerable.'
        )
    return lines


def describe_run(run: dict[str, Any]) -> str:
    """One sentence on what was evaluated, how, and what wrote the answers."""
    questions = ", ".join(run.get("question_files", []))
    if run.get("unanswerable_files"):
        questions += f" + unanswerable {', '.join(run['unanswerable_files'])}"
    against = ", ".join(run.get("corpus", [])) or run.get("index", "the configured index")
    reader = f", reader {run['reader']}" if run.get("reader") else ""
    return (
        f"Run {run.get('started', '?')}: {questions} against {against}; answers by mode "
        f"{run.get('mode', '?')}{reader}; top_k {run.get('top_k', '?')}, k {run.get('k', '?')}, "
        f"refusal threshold {run.get('refusal_threshold', '?')}."
    )


BY_KIND_TITLE = "By kind (every metric, by kind, is in metrics.json under by_kind)"


def kind_table(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(headings, rows) of the main metrics by kind; no rows when no case has a kind."""
    kinds = metrics.get("by_kind") or {}
    headings = ["kind"] + [heading for _, heading in KIND_COLUMNS]
    rows = [
        [kind] + [fmt(values.get(name), name) for name, _ in KIND_COLUMNS]
        for kind, values in kinds.items()
    ]
    return headings, rows


CURVE_TITLE = "At higher refusal thresholds (the same answers, refused below each)"
CURVE_COLUMNS = [
    ("threshold", "threshold"),
    ("answerable_answered_rate", "answered"),
    ("unanswerable_refused_rate", "refused of unanswerable"),
    ("contains_gold", "contains gold"),
    ("right", "right"),
]


def curve_table(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(headings, rows) of `refusal_curve`: what raising BOT_REFUSAL_THRESHOLD would trade;
    no rows when the answers recorded no confidence."""
    headings = [heading for _, heading in CURVE_COLUMNS]
    rows = [
        [f"{point['threshold']:.2f}"] + [fmt(point[name]) for name, _ in CURVE_COLUMNS[1:]]
        for point in metrics.get("refusal_curve") or []
    ]
    return headings, rows


def worst_cases(
    results: Sequence[dict[str, Any]], limit: int = 10
) -> list[tuple[str, list[dict[str, Any]]]]:
    """(title, cases) for the wrong refusals, the lowest answer scores, the retrieval misses."""
    wrong_refusals = [r for r in results if not r["scores"]["correct_decision"]]
    low = sorted(
        (
            r
            for r in results
            if not r["refused"] and not r["gold"]["unanswerable"] and r["scores"]["score"] < 1
        ),
        key=lambda r: (r["scores"]["score"], r["scores"].get("short_f1", 0.0)),
    )
    misses = sorted(
        (r for r in results if r["scores"].get("reciprocal_rank", 1.0) < 1.0),
        key=lambda r: r["scores"]["reciprocal_rank"],
    )
    return [
        (
            f"Wrong refusals ({len(wrong_refusals)}: answerable refused or unanswerable answered)",
            wrong_refusals[:limit],
        ),
        (f"Lowest answer scores ({len(low)} answered below 1)", low[:limit]),
        (
            f"Retrieval misses ({len(misses)} with the gold passage not ranked first)",
            misses[:limit],
        ),
    ]


def _case_facts(r: dict[str, Any]) -> list[tuple[str, str]]:
    s, gold = r["scores"], r["gold"]
    expected = "unanswerable" if gold["unanswerable"] else " | ".join(gold["answers"]) or "?"
    facts = [("question", r["question"])]
    if r["history"]:
        facts.insert(0, ("history", " / ".join(t["content"][:80] for t in r["history"])))
    if r["standalone_question"] != r["question"]:
        facts.append(("searched for", r["standalone_question"]))
    facts += [
        ("expected", expected),
        ("answer", r["answer"]),
        ("short answer", r["short_answer"] or "–"),
        ("outcome", f"{s['outcome']} (score {s['score']:.2f})"),
    ]
    if "gold_rank" in s:
        facts.append(("gold rank", str(s["gold_rank"] or f"not in top {len(r['retrieved_at_k'])}")))
    for c in r["citations"]:
        facts.append((f"[{c['n']}]", f"{c['passage_id']}: {c['quote']}"))
    return facts


# --- markdown -----------------------------------------------------------------------------------
def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Sequence[dict[str, Any]], metrics: dict[str, Any]) -> str:
    lines = [
        "# Evaluation report",
        "",
        describe_run(metrics.get("run", {})) + " Plots are in report.html.",
        "",
    ]
    for title, rows in metric_tables(metrics):
        lines += [f"## {title}", "", "| metric | value | meaning |", "|---|---:|---|"]
        lines += [f"| {name} | {value} | {_md(meaning)} |" for name, value, meaning in rows]
        lines.append("")
    for title, (headings, table) in (
        (BY_KIND_TITLE, kind_table(metrics)),
        (CURVE_TITLE, curve_table(metrics)),
    ):
        if table:
            lines += [
                f"## {title}",
                "",
                "| " + " | ".join(headings) + " |",
                "|---|" + "---:|" * (len(headings) - 1),
            ]
            lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in table]
            lines.append("")
    lines += ["## Notes", ""] + [f"- {note}" for note in NOTES] + [""]
    for title, cases in worst_cases(results):
        lines += [f"## {title}", ""]
        if not cases:
            lines += ["None.", ""]
        for r in cases:
            lines.append(f"### {r['id']}")
            lines += [f"- **{name}**: {_md(value)}" for name, value in _case_facts(r)]
            lines.append("")
    return "\n".join(lines)


# --- plots --------------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def plots(results: Sequence[dict[str, Any]], metrics: dict[str, Any]) -> dict[str, bytes]:
    """PNG images: metric bars, latency histogram, per-case outcomes."""
    images = {}
    rates = [
        (f"{group}.{name}", value)
        for group in ("retrieval", "answer", "refusal", "citations", "faithfulness")
        for name, value in (metrics.get(group) or {}).items()
        if isinstance(value, float) and name not in ("total", "judged")
    ]
    fig = _figure(7, 0.3 * len(rates) + 1)
    ax = fig.add_subplot()
    ax.barh([n for n, _ in rates][::-1], [v for _, v in rates][::-1], color="#1565c0")
    ax.set_xlim(0, 1)
    ax.set_xlabel("rate")
    ax.set_title("Metrics")
    for y, (_, v) in enumerate(rates[::-1]):
        inside = v > 0.85  # a label past the end of a long bar would leave the axes
        ax.text(
            v - 0.01 if inside else v + 0.01,
            y,
            f"{v:.2f}",
            va="center",
            fontsize=8,
            ha="right" if inside else "left",
            color="white" if inside else "black",
        )
    images["metrics"] = _png(fig)

    fig = _figure(7, 3)
    ax = fig.add_subplot()
    ax.hist([r["latency_ms"] for r in results], bins=30, color="#546e7a")
    for q, style in (("p50", "--"), ("p95", ":")):
        value = metrics["latency_ms"][q]
        if value is not None:
            ax.axvline(value, color="black", linestyle=style, label=f"{q} {value:.0f} ms")
    ax.set_xlabel("latency per question (ms)")
    ax.set_ylabel("cases")
    ax.legend()
    ax.set_title("Latency")
    images["latency"] = _png(fig)

    groups = {
        "answerable": [r for r in results if not r["gold"]["unanswerable"]],
        "unanswerable": [r for r in results if r["gold"]["unanswerable"]],
    }
    fig = _figure(8, 2.2)
    ax = fig.add_subplot()
    for y, rows in enumerate(groups.values()):
        counts = Counter(r["scores"]["outcome"] for r in rows)
        left = 0
        for outcome, colour in COLOURS.items():
            if counts[outcome]:
                ax.barh(y, counts[outcome], left=left, color=colour, label=outcome)
                ax.text(
                    left + counts[outcome] / 2,
                    y,
                    str(counts[outcome]),
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=8,
                )
                left += counts[outcome]
    ax.set_yticks(range(len(groups)), list(groups))
    ax.set_xlabel("cases")
    ax.set_title("Outcome per case")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(
        unique.values(), unique.keys(), fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5)
    )
    images["outcomes"] = _png(fig)
    return images


# --- HTML ---------------------------------------------------------------------------------------
_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;
padding:.25rem .6rem;text-align:left}td.v{text-align:right;font-variant-numeric:tabular-nums}
.case{border-left:3px solid #c62828;padding:.2rem .8rem;margin:.8rem 0;background:#fafafa}
.case dt{font-weight:600;float:left;clear:left;width:8rem}.case dd{margin-left:8.5rem}
img{max-width:100%}"""


def render_html(
    results: Sequence[dict[str, Any]], metrics: dict[str, Any], images: dict[str, bytes]
) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Evaluation report</title><style>{_STYLE}</style></head><body>",
        "<h1>Evaluation report</h1>",
        f"<p>{e(describe_run(metrics.get('run', {})))}</p>",
    ]
    for name, data in images.items():
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(f"<img alt='{e(name)}' src='data:image/png;base64,{encoded}'>")
    for title, rows in metric_tables(metrics):
        parts.append(
            f"<h2>{e(title)}</h2><table><tr><th>metric</th><th>value</th><th>meaning</th></tr>"
        )
        parts += [
            f"<tr><td>{e(n)}</td><td class='v'>{e(v)}</td><td>{e(m)}</td></tr>" for n, v, m in rows
        ]
        parts.append("</table>")
    for title, (headings, table) in (
        (BY_KIND_TITLE, kind_table(metrics)),
        (CURVE_TITLE, curve_table(metrics)),
    ):
        if table:
            parts.append(f"<h2>{e(title)}</h2><table><tr>")
            parts += [f"<th>{e(h)}</th>" for h in headings]
            parts.append("</tr>")
            for row in table:
                cells = [f"<td>{e(row[0])}</td>"]
                cells += [f"<td class='v'>{e(c)}</td>" for c in row[1:]]
                parts.append("<tr>" + "".join(cells) + "</tr>")
            parts.append("</table>")
    notes = "".join(f"<li>{_inline_html(note)}</li>" for note in NOTES)
    parts.append(f"<h2>Notes</h2><ul>{notes}</ul>")
    for title, cases in worst_cases(results):
        parts.append(f"<h2>{e(title)}</h2>")
        if not cases:
            parts.append("<p>None.</p>")
        for r in cases:
            facts = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _case_facts(r))
            parts.append(f"<div class='case'><h3>{e(r['id'])}</h3><dl>{facts}</dl></div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _inline_html(text: str) -> str:
    """Escaped text with Markdown's **bold** and `code` turned into HTML."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def write_reports(
    out_dir: Path, results: Sequence[dict[str, Any]], metrics: dict[str, Any]
) -> dict[str, Path]:
    """Write report.md and report.html into `out_dir`."""
    md, page = out_dir / "report.md", out_dir / "report.html"
    md.write_text(render_markdown(results, metrics), encoding="utf-8")
    page.write_text(render_html(results, metrics, plots(results, metrics)), encoding="utf-8")
    return {"report_md": md, "report_html": page}


# --- comparison ---------------------------------------------------------------------------------
def render_comparison(comparison: Comparison) -> str:
    """The comparison as Markdown: metric table, then cases better and worse."""
    c = comparison
    lines = [
        f"# Comparison: {c.old_dir} → {c.new_dir}",
        "",
        "| metric | old | new | change | |",
        "|---|---:|---:|---:|---|",
    ]
    for m in c.metrics:
        group = m.name.split(".")[0]
        delta = "–" if m.delta is None else f"{m.delta:+.4g}"
        mark = {"better": "▲ better", "worse": "▼ worse"}.get(m.verdict, "")
        lines.append(f"| {m.name} | {fmt(m.old, group)} | {fmt(m.new, group)} | {delta} | {mark} |")
    ups = sum(m.verdict == "better" for m in c.metrics)
    downs = sum(m.verdict == "worse" for m in c.metrics)
    lines += [
        "",
        f"{ups} metrics better, {downs} worse. Cases: {len(c.better)} better, {len(c.worse)} "
        f"worse, {c.unchanged} unchanged (by case score).",
        "",
    ]
    if c.by_kind:
        lines += _kind_comparison(c.by_kind)
    for title, changes in (("Cases that got worse", c.worse), ("Cases that got better", c.better)):
        lines += [f"## {title} ({len(changes)})", ""]
        for ch in changes:
            lines += [
                f"- **{ch.id}** {_md(ch.question)}: {ch.old_score:.2f} ({ch.old_outcome}) → "
                f"{ch.new_score:.2f} ({ch.new_outcome})",
                f"  - old: {_md(ch.old_answer)}",
                f"  - new: {_md(ch.new_answer)}",
            ]
        lines.append("")
    if c.only_old or c.only_new:
        lines.append(f"Only in the old run: {', '.join(c.only_old) or 'none'}.")
        lines.append(f"Only in the new run: {', '.join(c.only_new) or 'none'}.")
    return "\n".join(lines).rstrip()


def _kind_comparison(by_kind: dict[str, list[MetricChange]]) -> list[str]:
    """The main metrics by kind, old → new with the change; all of them are in metrics.json."""
    headings = ["kind"] + [heading for _, heading in KIND_COLUMNS]
    lines = [
        "## By kind (old → new)",
        "",
        "| " + " | ".join(headings) + " |",
        "|---|" + "---:|" * (len(headings) - 1),
    ]
    for kind, changes in by_kind.items():
        named = {m.name: m for m in changes}
        cells = [_md(kind)]
        for name, _ in KIND_COLUMNS:
            m = named.get(name)
            if m is None:
                cells.append("–")
                continue
            cell = f"{fmt(m.old, name)} → {fmt(m.new, name)}"
            if m.delta:
                mark = {"better": " ▲", "worse": " ▼"}.get(m.verdict, "")
                cell += f" ({m.delta:+.4g}{mark})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]
