"""Embedding speed and agreement of the two backends (`BOT_EMBEDDING_BACKEND`) on the same texts.

Embeds the SQuAD sample's paragraphs (title + text, as ingest does) and its questions with
`torch` and with `onnx-int8`, in alternating rounds so that both see the same machine load,
and prints passages/s and milliseconds per query of each (median of the rounds), and the
cosine between the two backends' vectors of each text. Recall is measured by `bot bench` with
each backend (README, Benchmark). The int8 file is exported into a scratch folder.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/compare_backends.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.embeddings import Embedder, load_embedder, quiet_libraries  # noqa: E402

SQUAD = ROOT / "eval" / "squad2-dev-sample"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="Timed rounds per backend.")
    parser.add_argument("--threads", type=int, default=1, help="Threads for each backend.")
    args = parser.parse_args()
    quiet_libraries()
    texts = [f"{r['title']}. {r['text']}" for r in _rows("squad2_passages.jsonl")]
    questions = [r["question"] for r in _rows("squad2_questions.jsonl")]
    with tempfile.TemporaryDirectory() as cache:
        backends = [
            load_embedder("all-MiniLM-L6-v2", args.threads, backend, Path(cache))
            for backend in ("torch", "onnx-int8")
        ]
        rates: dict[str, list[float]] = {e.backend: [] for e in backends}
        query_ms: dict[str, list[float]] = {e.backend: [] for e in backends}
        for embedder in backends:
            embedder.embed(texts[:8])  # warm up
        for _ in range(args.rounds):
            for embedder in backends:
                rates[embedder.backend].append(len(texts) / _seconds(embedder, texts))
                started = time.perf_counter()
                for question in questions:
                    embedder.embed_query(question)
                query_ms[embedder.backend].append(
                    (time.perf_counter() - started) / len(questions) * 1000
                )
        print(f"{len(texts)} passages, {len(questions)} questions, {args.threads} thread(s)")
        for backend, values in rates.items():
            print(
                f"{backend:>10}: {statistics.median(values):.1f} passages/s "
                f"(rounds {', '.join(f'{v:.1f}' for v in values)}), "
                f"{statistics.median(query_ms[backend]):.2f} ms a query"
            )
        torch, onnx = backends
        for name, items in (("passages", texts), ("questions", questions)):
            cosines = (torch.embed(items) * onnx.embed(items)).sum(axis=1)
            print(
                f"cosine torch vs onnx-int8, {name}: mean {cosines.mean():.4f}, "
                f"lowest {cosines.min():.4f}"
            )


def _rows(name: str) -> list[dict[str, str]]:
    lines = (SQUAD / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _seconds(embedder: Embedder, texts: list[str]) -> float:
    started = time.perf_counter()
    embedder.embed(texts, batch_size=16)  # ingest's forward batch (bot/index.py)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
