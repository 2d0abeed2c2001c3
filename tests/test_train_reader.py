"""`bot train-reader` on a tiny SQuAD fixture: the made negatives, the training loop, and that
what it writes loads and scores. A few steps only: this checks the path, not the quality."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import ConfigError
from bot.reader import CARD_FILE, META_FILE, WEIGHTS_FILE, Reader, load_reader
from bot.train_reader import (
    OverlapRanker,
    TrainConfig,
    auc,
    load_squad,
    make_examples,
    negate_question,
    swap_attribute,
    swap_question,
)

FIXTURE = Path(__file__).parent / "fixtures" / "squad11-tiny.json"


def test_made_examples_hold_their_answer_and_negatives_do_not() -> None:
    articles = load_squad(FIXTURE)
    config = TrainConfig(
        data=str(FIXTURE),
        out="",
        questions=1000,
        swap_rate=1.0,
        overlap_negatives=2,
        attribute_rate=1.0,
        negation_rate=1.0,
    )
    examples = make_examples(articles, config, random.Random(0))
    kinds = {e.kind for e in examples}
    assert {"positive", "paragraph", "article", "overlap", "attribute", "negation"} <= kinds
    answering = {e.sentence for e in examples if e.kind == "positive"}
    golds = {
        qa["question"].strip(): qa["answers"][0]["text"]
        for a in articles
        for p in a["paragraphs"]
        for qa in p["qas"]
    }
    for ex in examples:
        if ex.kind == "positive":
            assert ex.start is not None and ex.end is not None
            assert ex.sentence[ex.start : ex.end] == golds[ex.question]
        elif ex.kind in ("paragraph", "article", "overlap"):
            assert ex.start is None
            assert golds[ex.question].lower() not in ex.sentence.lower()
        else:  # a changed question against its own answering sentence
            assert ex.start is None and ex.question not in golds and ex.sentence in answering


def test_overlap_negatives_are_the_sentences_sharing_most_words_with_the_question() -> None:
    ranker = OverlapRanker(
        [
            "The treaty was signed in Vienna in 1867.",
            "Vienna hosted the treaty talks for a year.",
            "Budapest grew quickly after the war.",
        ]
    )
    ranked = ranker.ranked("Where were the treaty talks held?")
    assert ranked[:2] == [
        "Vienna hosted the treaty talks for a year.",
        "The treaty was signed in Vienna in 1867.",
    ]
    assert "Budapest grew quickly after the war." not in ranked  # shares no word


@pytest.mark.parametrize(
    ("question", "negated"),
    [
        ("Who was the first president of Kenya?", "Who was not the first president of Kenya?"),
        ("When was the treaty signed?", "When was the treaty not signed?"),
        ("What did Beyonce release in 2003?", "What did Beyonce not release in 2003?"),
        ("Who wrote the novel?", "Who did not write the novel?"),
        ("Why didn't he go?", None),  # already negated
    ],
)
def test_negated_questions_negate_the_main_verb(question: str, negated: str | None) -> None:
    assert negate_question(question) == negated


def test_swap_replaces_a_name_the_sentence_holds_with_one_it_does_not() -> None:
    sentence = "The treaty was signed in Vienna by Austria and Hungary in 1867."
    swapped = swap_question(
        "When did Austria sign the treaty?", sentence, ["Austria", "Prussia"], [], random.Random(1)
    )
    assert swapped == "When did Prussia sign the treaty?"
    assert (
        swap_question("When was it signed?", sentence, ["Prussia"], ["1870"], random.Random(1))
        is None
    )


def test_auc_counts_pairs() -> None:
    assert auc([2.0, 3.0], [1.0, 0.0]) == 1.0
    assert auc([1.0], [1.0]) == 0.5
    assert auc([0.0, 2.0], [1.0]) == 0.5


def test_missing_training_data_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"SQuAD 1\.1 train"):
        load_squad(tmp_path / "nope.json.gz")


@pytest.mark.slow
def test_train_reader_command_writes_a_model_that_loads_and_scores(tmp_path: Path) -> None:
    out = tmp_path / "reader"
    args = [
        "train-reader", str(FIXTURE), "--out", str(out), "--max-steps", "3",
        "--held-out-articles", "1", "--batch-size", "4", "--threads", "1",
    ]  # fmt: skip
    assert main(args) == 0
    meta = json.loads((out / META_FILE).read_text())
    assert meta["steps"] == 3 and meta["pairs"] > 10
    assert len(meta["loss_curve"]) == 1  # logged at the last step
    assert meta["weights"]["bytes"] == (out / WEIGHTS_FILE).stat().st_size
    card = (out / CARD_FILE).read_text()
    assert "CC BY-SA 4.0" in card and meta["weights"]["sha256"] in card
    assert not (out / "checkpoint.pt").exists()  # finished: nothing to resume
    reader = load_reader(str(out), 1)
    assert isinstance(reader, Reader)
    sentence = "The capital of Cyprus is Nicosia."
    [score] = reader.score("What is the capital of Cyprus?", [sentence])
    assert 0 <= score.start <= score.end <= len(sentence)


@pytest.mark.slow
def test_a_continued_run_starts_from_the_first_and_leaves_its_questions_out(
    tmp_path: Path,
) -> None:
    common = ["--held-out-articles", "1", "--batch-size", "4", "--threads", "1"]
    first, second = tmp_path / "first", tmp_path / "second"
    args = ["train-reader", str(FIXTURE), "--questions", "6", "--max-steps", "2", *common]
    assert main([*args, "--out", str(first)]) == 0
    assert main([*args, "--out", str(second), "--init-from", str(first), "--lr", "3e-5"]) == 0
    meta = json.loads((second / META_FILE).read_text())
    assert (
        meta["previous"]["weights"]["sha256"]
        == json.loads((first / META_FILE).read_text())["weights"]["sha256"]
    )
    assert meta["config"]["init_from"] == str(first) and meta["config"]["lr"] == 3e-5
    card = (second / CARD_FILE).read_text()
    assert "Stage 1 of 2" in card and "Stage 2 of 2" in card
    assert "--init-from /tmp/reader-stage1" in card and "--lr 3e-05" in card
    # A third stage continues the second, leaving out both earlier stages' questions.
    third = tmp_path / "third"
    more = ["--init-from", str(second), "--overlap-negatives", "1"]
    assert main([*args, "--out", str(third), *more]) == 0
    card = (third / CARD_FILE).read_text()
    assert "Stage 3 of 3" in card and "continued from stage 2's weights" in card
    assert "--out /tmp/reader-stage2" in card and "--init-from /tmp/reader-stage2" in card
    assert "--overlap-negatives 1.0" in card
    # A stage with no question left to draw says so rather than training on nothing.
    rest = ["train-reader", str(FIXTURE), "--questions", "10000", "--max-steps", "2", *common]
    assert main([*rest, "--out", str(tmp_path / "none"), "--init-from", str(third)]) != 0
    # The same seed must keep the same articles out, or the held-out check would be seen.
    clash = [*args, "--out", str(tmp_path / "x"), "--init-from", str(first), "--seed", "7"]
    assert main(clash) != 0


def test_continued_examples_skip_the_questions_already_trained_on() -> None:
    articles = load_squad(FIXTURE)
    config = TrainConfig(data=str(FIXTURE), out="", questions=10_000)
    everything = make_examples(articles, config, random.Random(1))
    questions = {ex.question for ex in everything if ex.kind == "positive"}
    skip = frozenset(sorted(questions)[: len(questions) // 2])
    rest = make_examples(articles, config, random.Random(1), skip)
    kept = {ex.question for ex in rest if ex.kind == "positive"}
    assert kept and not kept & skip and kept == questions - skip


def test_attribute_swap_asks_about_a_word_the_sentence_does_not_hold() -> None:
    sentence = "The population of the city was 120,000 in 2010."
    rng = random.Random(3)
    swapped = swap_attribute("What was the population of the city?", sentence, ["area"], rng)
    assert swapped == "What was the area of the city?"
    # nothing the sentence holds to swap, or nothing to swap it for
    assert swap_attribute("Who founded it?", sentence, ["area"], rng) is None
    assert swap_attribute("What was the population?", sentence, ["population"], rng) is None
