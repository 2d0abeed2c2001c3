"""Measure sentence choice and calibrate the refusal threshold of the offline answerer.

Indexes the SQuAD 2.0 sample in `eval/squad2-dev-sample/` (and the project's article) in a
scratch folder, runs retrieval + reading for every question, and prints:
- how often the top sentence contains a gold answer, and short-answer exact match;
- the evidence score's ROC AUC, answerable vs unanswerable;
- answered / refused rates at a range of thresholds;
- with --fit, a logistic regression over the evidence features, to paste into
  `bot/extract.py:EVIDENCE_WEIGHTS`.

    .venv/bin/python scripts/calibrate.py [--squad eval/squad2-dev-sample] [--fit]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.embeddings import quiet_libraries  # noqa: E402
from bot.extract import analyse_question, read, short_answer  # noqa: E402
from bot.index import Index  # noqa: E402
from bot.ingest import ingest_paths  # noqa: E402
from bot.metrics import normalize_answer as normalise  # noqa: E402
from bot.retrieve import Retriever  # noqa: E402

# Questions the article cannot answer (off-topic and near misses), for the refusal side.
ARTICLE_UNANSWERABLE = [
    "What is the capital of France?",
    "Who won the 2018 FIFA World Cup?",
    "How do I bake sourdough bread?",
    "What is the population of Armenia?",
    "Who is the president of Azerbaijan?",
    "How many peacekeepers did Turkey send to Karabakh?",
    "When was the Antalya Diplomacy Forum founded?",
    "What currency does Georgia use?",
]
ARTICLE_ANSWERABLE = [
    ("Who brokered the 2020 ceasefire?", "Vladimir Putin"),
    ("How many peacekeepers has Moscow deployed in Karabakh?", "2,000"),
    ("How many lives did the 2020 war claim?", "6,500"),
    ("When did Armenia and Turkey sign a landmark peace accord?", "2009"),
    ("Where was the second meeting of the envoys held?", "Vienna"),
    ("Who met Ararat Mirzoyan at the Antalya Diplomacy Forum?", "Çavuşoğlu"),
    ("How many conditions did Azerbaijan's proposal contain?", "five"),
    ("Which countries would the six-nation platform comprise?", "Georgia"),
]


def build(settings: Settings, paths: list[Path]) -> Retriever:
    index = Index(settings)
    if index.count_passages() == 0:
        ingest_paths(index, paths)
    return Retriever(index, settings.candidates)


def measure(retriever: Retriever, question: str, answers: list[str]) -> dict[str, float]:
    retrieval = retriever.search(question, 5)
    hits = retrieval.hits
    reading = read(
        question,
        hits,
        retriever.index.catalog.idf(question),
        retrieval.query_vector,
        retriever.index.embedder.embed,
    )
    top = reading.sentences[0].text if reading.sentences else ""
    short, _ = short_answer(reading.question, question, top) if top else ("", 99)
    gold = [normalise(a) for a in answers]
    return {
        **reading.features,
        "evidence": reading.evidence,
        "sentence_ok": float(any(g in normalise(top) for g in gold)) if gold else 0.0,
        "short_em": float(normalise(short) in gold) if gold else 0.0,
        "short_contains": float(
            any(g in normalise(short) or normalise(short) in g for g in gold) and bool(short)
        )
        if gold
        else 0.0,
        "typed_question": float(analyse_question(question).kind != "other"),
    }


def auc(pos: list[float], neg: list[float]) -> float:
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--squad",
        type=Path,
        default=ROOT / "eval/squad2-dev-sample",
        help="Folder with the SQuAD 2.0 sample (default: the repository's copy).",
    )
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "newsbot-calibrate"
    )
    parser.add_argument("--fit", action="store_true", help="Fit logistic weights (scikit-learn).")
    args = parser.parse_args()
    quiet_libraries()

    squad = build(
        Settings.from_env({}, data_dir=args.work / "squad"), [args.squad / "squad2_passages.jsonl"]
    )
    article = build(Settings.from_env({}, data_dir=args.work / "article"), [ROOT / "corpus"])
    rows: list[tuple[str, bool, dict[str, float]]] = []
    for name, answerable in (
        ("squad2_questions.jsonl", True),
        ("squad2_unanswerable.jsonl", False),
    ):
        for line in (args.squad / name).read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            rows.append(("squad", answerable, measure(squad, case["question"], case["answers"])))
    for q, a in ARTICLE_ANSWERABLE:
        rows.append(("article", True, measure(article, q, [a])))
    for q in ARTICLE_UNANSWERABLE:
        rows.append(("article", False, measure(article, q, [])))
    # The project's question set (follow-ups need the conversation, so they are left out here).
    for line in (ROOT / "eval/article_questions.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        if not case.get("history"):
            ok = not case.get("unanswerable")
            rows.append(
                ("article", ok, measure(article, case["question"], case["answers"] if ok else []))
            )
    # Off-topic: each corpus's questions asked of the other corpus.
    for line in (
        (args.squad / "squad2_questions.jsonl").read_text(encoding="utf-8").splitlines()[::3]
    ):
        rows.append(("off-topic", False, measure(article, json.loads(line)["question"], [])))
    for q, _ in ARTICLE_ANSWERABLE:
        rows.append(("off-topic", False, measure(squad, q, [])))
    answerable = [r for _, ok, r in rows if ok]
    off_topic = [r for s, _, r in rows if s == "off-topic"]
    print(f"\n== off-topic ({len(off_topic)}) vs all answerable ({len(answerable)})")
    for key in ("dense", "coverage", "evidence"):
        print(
            f"  AUC {key:10s} {auc([r[key] for r in answerable], [r[key] for r in off_topic]):.3f}"
        )
    for threshold in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6):
        refused = sum(r["evidence"] < threshold for r in off_topic) / len(off_topic)
        print(f"  threshold {threshold:.2f}: refused {refused:.3f} of off-topic")

    for source in ("squad", "article"):
        pos = [r for s, ok, r in rows if s == source and ok]
        neg = [r for s, ok, r in rows if s == source and not ok]
        print(f"\n== {source}: {len(pos)} answerable, {len(neg)} unanswerable")
        for key in ("sentence_ok", "short_em", "short_contains"):
            print(f"  {key:15s} {sum(r[key] for r in pos) / len(pos):.3f}")
        typed = [r for r in pos if r["typed_question"]]
        if typed:
            print(
                f"  short_contains on typed questions ({len(typed)}): "
                f"{sum(r['short_contains'] for r in typed) / len(typed):.3f}"
            )
        for key in (
            "dense",
            "coverage",
            "sentence",
            "key_sentence",
            "key_passage",
            "sentence_dense",
            "evidence",
        ):
            print(f"  AUC {key:10s} {auc([r[key] for r in pos], [r[key] for r in neg]):.3f}")
        for threshold in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6):
            answered = sum(r["evidence"] >= threshold for r in pos) / len(pos)
            refused = sum(r["evidence"] < threshold for r in neg) / len(neg)
            print(
                f"  threshold {threshold:.2f}: answered {answered:.3f} of answerable, "
                f"refused {refused:.3f} of unanswerable"
            )

    if args.fit:
        from sklearn.linear_model import LogisticRegression

        keys = [
            "dense",
            "coverage",
            "sentence",
            "typed",
            "key_sentence",
            "key_passage",
            "sentence_dense",
        ]
        x = [[r[k] for k in keys] for _, _, r in rows]
        y = [int(ok) for _, ok, _ in rows]
        # Each source counts about as much as SQuAD, so the article's near misses matter.
        counts = {
            src: sum(s == src for s, _, _ in rows) for src in ("squad", "article", "off-topic")
        }
        weight = [counts["squad"] / counts[s] if s != "squad" else 1.0 for s, _, _ in rows]
        model = LogisticRegression(C=1.0, class_weight="balanced").fit(x, y, sample_weight=weight)
        from sklearn.model_selection import StratifiedKFold

        article_rows = [i for i, (s, _, _) in enumerate(rows) if s == "article"]
        held_out = {}
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        labels = [y[i] for i in article_rows]
        for _, test_part in folds.split(article_rows, labels):
            test_ids = {article_rows[j] for j in test_part}
            train = [i for i in range(len(rows)) if i not in test_ids]
            fold = LogisticRegression(C=1.0, class_weight="balanced").fit(
                [x[i] for i in train],
                [y[i] for i in train],
                sample_weight=[weight[i] for i in train],
            )
            for i in test_ids:
                held_out[i] = fold.predict_proba([x[i]])[0][1]
        weights = {"bias": round(float(model.intercept_[0]), 2)}
        weights |= {k: round(float(w), 2) for k, w in zip(keys, model.coef_[0], strict=True)}
        print("\nfitted EVIDENCE_WEIGHTS =", weights)
        groups = {
            "squad answerable": [r for s, ok, r in rows if s == "squad" and ok],
            "squad unanswerable": [r for s, ok, r in rows if s == "squad" and not ok],
            "article answerable": [r for s, ok, r in rows if s == "article" and ok],
            "article unanswerable": [r for s, ok, r in rows if s == "article" and not ok],
            "off-topic": [r for s, _, r in rows if s == "off-topic"],
        }
        for threshold in (0.3, 0.4, 0.5, 0.6):
            print(f"  with fitted weights, threshold {threshold:.2f}:")
            for name, group in groups.items():
                probs = model.predict_proba([[r[k] for k in keys] for r in group])[:, 1]
                share = sum(p >= threshold for p in probs) / len(group)
                print(f"    {name:22s} answered {share:.3f}  refused {1 - share:.3f}")
            for ok, name in ((True, "answerable"), (False, "unanswerable")):
                probs = [p for i, p in held_out.items() if rows[i][1] == ok]
                share = sum(p >= threshold for p in probs) / len(probs)
                print(f"    article {name:13s} answered {share:.3f} (5-fold held out)")


if __name__ == "__main__":
    main()
