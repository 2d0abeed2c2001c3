"""The evaluation runner: a question set -> every case through `ChatBot.answer()` -> per-case
results -> metrics -> files.

`run_eval()` builds the bot (over its own corpus, or the configured index), answers every case,
scores it with `bot.scoring`, and writes `results.jsonl`, `metrics.json` and, through
`bot.eval_report`, `report.md` and `report.html`. The question-set format is `bot.questions`',
the metric functions `bot.metrics`', the LLM judge `bot.judge`'s, run comparison
`bot.compare`'s, and the `bot eval` command is registered in `bot.cli`.

Retrieval depth: the bot hands `settings.top_k` passages to the answerer, and `retrieved` in
each result lists exactly those. Recall@k and MRR need a deeper list, so each case also runs
one extra `Retriever.search(standalone_question, max(k, top_k, 5))` outside the timed answer.
Fused ranking is deterministic, so its first `top_k` entries are the bot's own; the system
under test is unchanged (raising top_k would change what an LLM answerer reads).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.errors import BotError, EmptyIndexError
from bot.questions import EvalCase, QuestionSetError, load_question_sets
from bot.scoring import aggregate, refusal_curve, score_case

if TYPE_CHECKING:
    from bot.chain import ChatBot

DEFAULT_K = 10


@dataclass
class EvalReport:
    """What one evaluation run produced."""

    out_dir: Path
    results: list[dict[str, Any]]
    metrics: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)


def eval_settings(settings: Settings, out_dir: Path) -> Settings:
    """Settings for a run over its own corpus: an embedded store in OUT/index, collection 'eval'.

    The Chroma host is cleared too: on a server, a separate data folder alone would not keep
    the evaluation's collection away from the main one.
    """
    return settings.replace(data_dir=out_dir / "index", collection="eval", chroma_host="")


def run_eval(
    settings: Settings,
    question_files: Sequence[Path],
    out_dir: Path,
    corpus: Sequence[Path] | None = None,
    k: int = DEFAULT_K,
    unanswerable_files: Sequence[Path] = (),
    chat_model: Any | None = None,
    progress: bool = False,
) -> EvalReport:
    """Answer every case with `ChatBot.answer()`, score it, and write the results and reports.

    With `corpus`, the documents are ingested into a fresh index under `out_dir/index` and only
    that index is used; without it, the configured index is evaluated. When an LLM is
    configured, `chat_model` (default: the configured one) answers and judges faithfulness.
    """
    from bot.answer import make_answerer, make_chat_model
    from bot.chain import ChatBot
    from bot.index import Index, reset_index
    from bot.ingest import ingest_paths

    if k < 1:
        raise BotError("--k must be at least 1.")
    cases = load_question_sets(question_files, unanswerable_files)
    for case in cases:  # fail before loading models, not at case 300
        if len(case.question) > settings.max_question_chars:
            raise QuestionSetError(
                f"{case.origin}: the question is longer than BOT_MAX_QUESTION_CHARS "
                f"({settings.max_question_chars}); shorten it or raise the limit."
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    if corpus:
        settings = eval_settings(settings, out_dir)
        reset_index(settings)  # a re-run with another corpus must not keep old documents
        index = Index(settings)
        ingested = ingest_paths(index, list(corpus), progress=progress)
        if ingested.errors:
            raise BotError(
                "Some corpus files could not be read, so the evaluation would not be "
                "reproducible:\n  " + "\n  ".join(ingested.errors)
            )
    else:
        index = Index(settings)
    try:
        passages = index.count_passages()
        if passages == 0:
            raise EmptyIndexError(
                "The index to evaluate is empty. Ingest articles with `bot ingest PATH...`, or "
                "evaluate against documents of your own with `bot eval ... --corpus PATH`."
            )
        model = (chat_model or make_chat_model(settings)) if settings.generative else None
        answerer = make_answerer(settings, index.catalog.idf, model) if model is not None else None
        bot = ChatBot(settings, index, answerer)
        started = datetime.now(UTC)
        results = answer_cases(bot, cases, k, judge_model=model, progress=progress)
    finally:
        index.close()

    metrics = aggregate(results, k)
    metrics["refusal_curve"] = refusal_curve(results, settings.refusal_threshold)
    metrics["run"] = {
        "started": started.isoformat(timespec="seconds"),
        "question_files": [str(p) for p in question_files],
        "unanswerable_files": [str(p) for p in unanswerable_files],
        "corpus": [str(p) for p in corpus or []],
        "k": k,
        # What wrote the answers, as the answers themselves record it.
        "mode": distinct(r["mode"] for r in results),
        "reader": distinct(r["reader"] for r in results),
        "top_k": settings.top_k,
        "candidates": settings.candidates,
        "refusal_threshold": settings.refusal_threshold,
        "embedding_model": settings.embedding_model,
        "llm_model": settings.llm_model,
        "index": f"{settings.data_dir} (collection {settings.collection})",
        "passages": passages,
    }
    return write_run(out_dir, results, metrics)


def answer_cases(
    bot: ChatBot,
    cases: Sequence[EvalCase],
    k: int,
    judge_model: Any | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Every case answered by `bot` and scored; with `judge_model`, each answer that is not a
    refusal is judged for faithfulness too."""
    from bot.extract import warm_up
    from bot.judge import judge_or_none

    depth = max(k, bot.settings.top_k, 5)
    warm_up()  # load spaCy and the query path before timing anything
    bot.retriever.search("warm up", 1)
    results = []
    for case in _progress(cases, progress):
        t0 = time.perf_counter()
        answer = bot.answer(case.question, case.history)
        latency = (time.perf_counter() - t0) * 1000
        ranked = bot.retriever.search(answer.standalone_question, depth).hits
        record = score_case(case, answer, ranked, latency, k)
        if judge_model is not None and not answer.refused:
            record["scores"]["faithful"] = judge_or_none(judge_model, answer)
        results.append(record)
    return results


def write_run(out_dir: Path, results: list[dict[str, Any]], metrics: dict[str, Any]) -> EvalReport:
    """Write results.jsonl, metrics.json, report.md and report.html into `out_dir`."""
    from bot.eval_report import write_reports

    report = EvalReport(out_dir, results, metrics)
    report.files["results"] = out_dir / "results.jsonl"
    with report.files["results"].open("w", encoding="utf-8") as handle:
        for record in results:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    report.files["metrics"] = out_dir / "metrics.json"
    report.files["metrics"].write_text(
        json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    report.files |= write_reports(out_dir, results, metrics)
    return report


def distinct(values: Iterable[str | None]) -> str | None:
    """The distinct non-empty values, in order of first appearance, joined by ', '; None if
    there are none."""
    kept = list(dict.fromkeys(v for v in values if v))
    return ", ".join(kept) if kept else None


def _progress(cases: Sequence[EvalCase], enabled: bool) -> Iterable[EvalCase]:
    from tqdm import tqdm

    return tqdm(cases, unit="q", desc="eval", disable=not enabled, file=sys.stderr)
