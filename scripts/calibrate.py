"""Choose the refusal threshold on data the bot is never measured on, through the real pipeline.

The reader's training run holds some SQuAD 1.1 train articles out (its metadata names the seed
and count). This script indexes their paragraphs in a scratch folder and asks, through the same
`ChatBot.answer()` the UI uses (threshold 0, so nothing is refused):
- their questions (answerable);
- the same questions with a name or number swapped for another of the article that the answering
  sentence does not hold (near misses, as the reader's training made them);
- the same questions with a word swapped for another of the article's questions ("population"
  -> "area"): near misses that name what the article holds, reported but not fitted;
- the project's article questions (off-topic for this corpus).
It prints sentence choice, short-answer F1, the confidence's AUCs, and answered/refused rates at
a range of thresholds, with the threshold that answers `--answered` of the answerable questions.
With --fit it also searches the weights by which a sentence is chosen
(`bot/extract.py:CHOICE_WEIGHTS`): how often the chosen sentence holds the answer, for each.
The SQuAD 2.0 sample in eval/ is not read: it measures the result (`bot eval`).

    .venv/bin/python scripts/calibrate.py PATH/TO/squad11_train.json.gz [--answered 0.93]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.chain import ChatBot  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.embeddings import quiet_libraries  # noqa: E402
from bot.extract import CHOICE_WEIGHTS  # noqa: E402
from bot.ingest import ingest_paths  # noqa: E402
from bot.metrics import best_over, contains_answer, token_f1  # noqa: E402
from bot.reader import DEFAULT_READER_DIR, META_FILE  # noqa: E402
from bot.train_reader import (  # noqa: E402
    attribute_pool,
    auc,
    load_squad,
    sentence_questions,
    split_articles,
    swap_attribute,
    swap_pools,
    swap_question,
)

ARTICLE_QUESTIONS = ROOT / "eval" / "article_questions.jsonl"


def held_out_cases(articles: list[dict], per_article: int, seed: int) -> list[dict]:
    """Answerable questions of the held-out articles, each with a swapped near miss if one can
    be made."""
    rng = random.Random(seed)
    cases = []
    for article in articles:
        names, numbers = swap_pools(article)
        pool = attribute_pool(article)
        chosen = []
        for qa, context, spans, held in sentence_questions(article):
            a, b = spans[held]
            chosen.append((qa["question"], [x["text"] for x in qa["answers"]], context[a:b]))
        rng.shuffle(chosen)
        for question, golds, sentence in chosen[:per_article]:
            swapped = swap_question(question, sentence, names, numbers, rng)
            attribute = swap_attribute(question, sentence, pool, rng)
            cases.append(
                {"question": question, "answers": golds, "swapped": swapped, "attribute": attribute}
            )
    return cases


def held_out_records(articles: list[dict], whole: bool) -> list[dict]:
    """The held-out articles as JSONL records: one per paragraph, or with `whole` one per
    article, its paragraphs separated by blank lines."""
    if whole:
        return [
            {
                "id": article["title"],
                "title": article["title"].replace("_", " "),
                "text": "\n\n".join(p["context"] for p in article["paragraphs"]),
            }
            for article in articles
        ]
    return [
        {
            "id": f"{article['title']}-{i}",
            "title": article["title"].replace("_", " "),
            "text": paragraph["context"],
        }
        for article in articles
        for i, paragraph in enumerate(article["paragraphs"])
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="SQuAD 1.1 train JSON (.json or .json.gz)")
    parser.add_argument("--reader-dir", type=Path, default=DEFAULT_READER_DIR)
    parser.add_argument("--per-article", type=int, default=40)
    parser.add_argument("--answered", type=float, default=0.93, help="Target answered share.")
    parser.add_argument("--fit", action="store_true", help="Search CHOICE_WEIGHTS too.")
    parser.add_argument(
        "--whole-articles",
        action="store_true",
        help="Index each held-out article as one document (its paragraphs its passages), as "
        "news articles are, rather than each paragraph as a document.",
    )
    args = parser.parse_args()
    quiet_libraries()
    meta = json.loads((args.reader_dir / META_FILE).read_text())
    cfg = meta["config"]
    _, held_out = split_articles(load_squad(args.data), cfg["held_out_articles"], cfg["seed"])
    cases = held_out_cases(held_out, args.per_article, cfg["seed"] + 7)
    off_topic = [
        json.loads(line)["question"]
        for line in ARTICLE_QUESTIONS.read_text().splitlines()
        if line.strip() and not json.loads(line).get("history")
    ]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "held_out.jsonl"
        with corpus.open("w") as handle:
            for record in held_out_records(held_out, args.whole_articles):
                handle.write(json.dumps(record) + "\n")
        settings = Settings.from_env(
            {}, data_dir=Path(tmp) / "data", refusal_threshold=0.0, reader_dir=str(args.reader_dir)
        )
        bot = ChatBot(settings)
        ingest_paths(bot.index, [corpus])
        if args.fit:
            fit_choice(bot, cases)
            fit_confidence(bot, cases, off_topic)
        answerable, contains, f1s, swapped, attribute, other = [], [], [], [], [], []
        for case in cases:
            answer = bot.answer(case["question"])
            answerable.append(answer.confidence or 0.0)
            contains.append(contains_answer(answer.text, case["answers"]))
            f1s.append(best_over(token_f1, answer.short_answer, case["answers"]))
            if case["swapped"]:
                swapped.append(bot.answer(case["swapped"]).confidence or 0.0)
            if case["attribute"]:
                attribute.append(bot.answer(case["attribute"]).confidence or 0.0)
        for question in off_topic:
            other.append(bot.answer(question).confidence or 0.0)
    n = len(cases)
    print(f"reader {meta['name']}: {len(held_out)} held-out articles, {n} questions")
    print(f"answer contains gold {sum(contains) / n:.3f}; short-answer F1 {sum(f1s) / n:.3f}")
    print(f"AUC answerable vs swapped ({len(swapped)}): {auc(answerable, swapped):.3f}")
    print(f"AUC answerable vs swapped word ({len(attribute)}): {auc(answerable, attribute):.3f}")
    print(f"AUC answerable vs off-topic ({len(other)}): {auc(answerable, other):.3f}")
    print("threshold  answered  swapped refused  word-swapped refused  off-topic refused")
    for t in [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]:
        print(
            f"{t:9.2f}  {_share(answerable, t, True):8.3f}  {_share(swapped, t, False):15.3f}  "
            f"{_share(attribute, t, False):20.3f}  {_share(other, t, False):17.3f}"
        )
    ranked = sorted(answerable)
    chosen = ranked[int((1 - args.answered) * len(ranked))]
    print(
        f"threshold answering {args.answered:.0%} of answerable: {chosen:.3f} "
        f"(swapped refused {_share(swapped, chosen, False):.3f}, "
        f"word-swapped refused {_share(attribute, chosen, False):.3f}, "
        f"off-topic refused {_share(other, chosen, False):.3f})"
    )


def fit_choice(bot: ChatBot, cases: list[dict]) -> None:
    """Print the share of questions whose chosen sentence holds the answer, for a grid of
    CHOICE_WEIGHTS, best first."""
    rows = []
    for case in cases:
        hits = bot.retriever.search(case["question"], bot.settings.top_k).hits
        [part] = bot.answerer.read(case["question"], hits).parts[:1]
        rows.append(
            [
                (
                    s.evidence,
                    s.overlap,
                    s.hit_index,
                    hits[s.hit_index].dense_similarity,
                    contains_answer(s.text, case["answers"]),
                )
                for s in part.sentences
            ]
        )

    def accuracy(overlap: float, rank: float, dense: float) -> float:
        right = 0
        for row in rows:
            if row:
                best = max(
                    row, key=lambda r: r[0] + overlap * r[1] + rank / (1 + r[2]) + dense * r[3]
                )
                right += best[4]
        return right / len(rows)

    grid = [
        (accuracy(o, r, d), o, r, d)
        for o in (0, 4, 8, 12, 16, 24, 32)
        for r in (0, 1, 2, 4)
        for d in (0, 4, 8)
    ]
    grid.sort(reverse=True)
    ceiling = sum(any(r[4] for r in row) for row in rows) / len(rows)
    print(f"sentence choice by CHOICE_WEIGHTS (overlap, rank, dense), ceiling {ceiling:.3f}:")
    print(f"  reader alone {accuracy(0, 0, 0):.3f}; word overlap alone {accuracy(1000, 0, 0):.3f}")
    w = CHOICE_WEIGHTS
    print(f"  in use {accuracy(w['overlap'], w['rank'], w['dense']):.3f} ({w})")
    for value, o, r, d in grid[:5]:
        print(f"  {value:.3f}  overlap {o}, rank {r}, dense {d}")


def fit_confidence(bot: ChatBot, cases: list[dict], off_topic: list[str]) -> None:
    """Fit CONFIDENCE_WEIGHTS: a logistic regression over the chosen sentence's evidence, the
    best passage's dense similarity and the share of the question's names and numbers in the
    chosen passage, answerable (1) against swapped and off-topic (0)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    def features(question: str) -> list[float]:
        hits = bot.retriever.search(question, bot.settings.top_k).hits
        part = bot.answerer.read(question, hits).parts[0]
        evidence = part.sentences[0].evidence if part.sentences else -10.0
        return [evidence, part.dense, part.keys]

    rows, labels = [], []
    for case in cases:
        rows.append(features(case["question"]))
        labels.append(1)
        if case["swapped"]:
            rows.append(features(case["swapped"]))
            labels.append(0)
    rows += [features(q) for q in off_topic]
    labels += [0] * len(off_topic)
    model = LogisticRegression(max_iter=1000)
    held_out = cross_val_predict(model, rows, labels, cv=5, method="predict_proba")[:, 1]
    model.fit(rows, labels)
    (w_evidence, w_dense, w_keys), bias = model.coef_[0], model.intercept_[0]
    print(
        f"CONFIDENCE_WEIGHTS: bias {bias:.3f}, evidence {w_evidence:.3f}, dense {w_dense:.3f}, "
        f"keys {w_keys:.3f} "
        f"(5-fold AUC {auc([p for p, y in zip(held_out, labels, strict=True) if y], [p for p, y in zip(held_out, labels, strict=True) if not y]):.3f})"
    )


def _share(values: list[float], threshold: float, answered: bool) -> float:
    if not values:
        return float("nan")
    hits = sum((v >= threshold) == answered for v in values)
    return hits / len(values)


if __name__ == "__main__":
    main()
