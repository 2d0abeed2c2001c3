"""Compare retrieval options (dense, BM25, fused) by recall@1/@5 on the article and SQuAD.

The article's questions come from `eval/article_questions.jsonl` (gold = a quote the right
passage contains; questions with history use their standalone form, unanswerable ones are
skipped); SQuAD's from the sample in `eval/squad2-dev-sample/` (gold = the paragraph's
document id).

    .venv/bin/python scripts/compare_retrieval.py [--squad eval/squad2-dev-sample]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.embeddings import quiet_libraries  # noqa: E402
from bot.index import Index  # noqa: E402
from bot.ingest import ingest_paths  # noqa: E402
from bot.retrieve import reciprocal_rank_fusion  # noqa: E402
from bot.types import Passage  # noqa: E402

Gold = tuple[set[str], list[str]]  # gold doc ids, gold quotes


def open_index(data_dir: Path, paths: list[Path]) -> Index:
    index = Index(Settings.from_env({}, data_dir=data_dir))
    if index.count_passages() == 0:
        ingest_paths(index, paths)
    return index


def rankings(index: Index, question: str, k: int = 30) -> dict[str, tuple[list[str], float]]:
    """Passage ids per option, best first, with the milliseconds each took."""
    t0 = time.perf_counter()
    vector = index.embedder.embed_query(question)
    dense = [pid for pid, _ in index.vectors.search(vector, k)]
    t1 = time.perf_counter()
    keyword = [pid for pid, _ in index.catalog.keyword_search(question, k)]
    t2 = time.perf_counter()
    fused = [pid for pid, _ in reciprocal_rank_fusion([dense, keyword])]
    t3 = time.perf_counter()
    return {
        "dense (MiniLM)": (dense, (t1 - t0) * 1000),
        "BM25 (FTS5, porter)": (keyword, (t2 - t1) * 1000),
        "RRF dense + BM25": (fused, (t3 - t0) * 1000),
    }


def hit(passage: Passage, gold: Gold) -> bool:
    ids, quotes = gold
    return (
        passage.doc_id in ids or passage.passage_id in ids or any(q in passage.text for q in quotes)
    )


def evaluate(index: Index, cases: list[tuple[str, Gold]]) -> dict[str, dict[str, float]]:
    totals: dict[str, list[float]] = {}
    for question, gold in cases:
        for name, (ranked, ms) in rankings(index, question).items():
            passages = index.catalog.get_passages(ranked[:5])
            found = [hit(passages[pid], gold) for pid in ranked[:5] if pid in passages]
            row = totals.setdefault(name, [0.0, 0.0, 0.0])
            row[0] += bool(found and found[0])
            row[1] += any(found)
            row[2] += ms
    n = len(cases)
    return {name: {"R@1": a / n, "R@5": b / n, "ms": c / n} for name, (a, b, c) in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--squad",
        type=Path,
        default=ROOT / "eval/squad2-dev-sample",
        help="Folder with the SQuAD 2.0 sample (default: the repository's copy).",
    )
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "newsbot-retrieval"
    )
    args = parser.parse_args()
    quiet_libraries()

    article_cases = []
    for line in (ROOT / "eval/article_questions.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        if case.get("unanswerable") or not case.get("gold_quotes"):
            continue
        question = case.get("standalone_question") or case["question"]
        if case.get("history"):
            continue  # follow-ups need the conversation; retrieval alone is measured here
        article_cases.append((question, (set(), case["gold_quotes"])))
    squad_cases = []
    for line in (args.squad / "squad2_questions.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        squad_cases.append((case["question"], (set(case["gold_passage_ids"]), [])))

    article = open_index(args.work / "article", [ROOT / "corpus"])
    squad = open_index(args.work / "squad", [args.squad / "squad2_passages.jsonl"])
    results = {
        f"article ({len(article_cases)} questions)": evaluate(article, article_cases),
        f"SQuAD ({len(squad_cases)} questions)": evaluate(squad, squad_cases),
    }
    print(
        "| option | "
        + " | ".join(f"{name} R@1 / R@5" for name in results)
        + " | ms/query (SQuAD) |"
    )
    print("|---|" + "---|" * (len(results) + 1))
    options = next(iter(results.values())).keys()
    for option in options:
        cells = [f"{r[option]['R@1']:.3f} / {r[option]['R@5']:.3f}" for r in results.values()]
        ms = list(results.values())[-1][option]["ms"]
        print(f"| {option} | " + " | ".join(cells) + f" | {ms:.1f} |")


if __name__ == "__main__":
    main()
