"""The shipped reader: it loads offline, finds the answering sentence and span, and gives less
evidence to a sentence that does not answer."""

from __future__ import annotations

import numpy as np
import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.reader import DEFAULT_READER_DIR, Reader, best_spans, load_reader
from tests.conftest import ARTICLE

SENTENCES = [
    "Azerbaijan said on Tuesday that it was ready for peace talks with Armenia.",
    "A cease-fire deal brokered by Russian President Vladimir Putin saw Armenia cede swathes "
    "of territory to Azerbaijan, and Moscow deployed a peacekeeping contingent in the "
    "mountainous region.",
    "Moscow has deployed some 2,000 peacekeepers in Karabakh.",
]


@pytest.fixture(scope="module")
def reader() -> Reader:
    return load_reader(str(DEFAULT_READER_DIR), Settings.from_env({}).torch_threads)


def test_best_span_lies_inside_the_sentence_and_is_short() -> None:
    start = np.array([[5.0, 0.0, 1.0, 9.0, 0.0]])
    end = np.array([[5.0, 0.0, 0.0, 2.0, 8.0]])
    mask = np.array([[False, False, True, True, True]])
    [(s, e, span, null)] = best_spans(start, end, mask, max_answer_tokens=2)
    assert (s, e) == (3, 4) and span == 17.0 and null == 10.0
    [(s, e, _, _)] = best_spans(start, end, mask, max_answer_tokens=1)
    assert (s, e) == (3, 3)


def test_reader_picks_the_answering_sentence_and_span(reader: Reader) -> None:
    scores = reader.score("Who brokered the 2020 ceasefire?", SENTENCES)
    best = max(range(len(scores)), key=lambda i: scores[i].evidence)
    assert best == 1
    span = SENTENCES[1][scores[1].start : scores[1].end]
    assert "Putin" in span
    count = reader.score("How many peacekeepers has Moscow deployed?", SENTENCES)
    assert "2,000" in SENTENCES[2][count[2].start : count[2].end]
    assert count[2].evidence > count[0].evidence


def test_no_span_starts_in_the_skipped_range(reader: Reader) -> None:
    sentence = SENTENCES[1]
    name = (sentence.index("Putin"), sentence.index("Putin") + len("Putin"))
    [free, held] = [
        reader.score("Who brokered the 2020 ceasefire?", [sentence], skip=[skip])[0]
        for skip in ((0, 0), name)
    ]
    assert "Putin" in sentence[free.start : free.end]
    assert not name[0] <= held.start < name[1] and not name[0] < held.end <= name[1]
    assert held.evidence < free.evidence


def test_a_sentence_longer_than_the_window_is_read_to_its_end(reader: Reader) -> None:
    filler = ", ".join(f"after talks in city number {n}" for n in range(12))
    sentence = f"The cease-fire, agreed {filler}, was brokered by Vladimir Putin."
    assert len(reader.tokenizer(sentence)["input_ids"]) > reader.max_length
    [score, short] = reader.score("Who brokered the cease-fire?", [sentence, SENTENCES[0]])
    assert "Putin" in sentence[score.start : score.end]
    assert short.end <= len(SENTENCES[0])  # each sentence keeps its own score, in order


def test_reader_name_names_the_weights(reader: Reader) -> None:
    assert "@" in reader.name and len(reader.name.split("@")[1]) == 12


def test_missing_weights_say_how_to_rebuild(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="train-reader"):
        load_reader(str(tmp_path), 1)
    assert ARTICLE.is_file()


def test_concurrent_scoring_gives_what_one_thread_gives(reader: Reader) -> None:
    """The server scores questions in several threads at once: each must get its own result
    (a shared tokenizer encoding two batches at once garbles them)."""
    from concurrent.futures import ThreadPoolExecutor

    questions = [
        "Who brokered the 2020 ceasefire?",
        "How many peacekeepers has Moscow deployed?",
        "When did Azerbaijan say it was ready for talks?",
    ]
    # Batches of different lengths and sizes, so garbled padding would show.
    jobs = [(q, SENTENCES[: 1 + i % 3] * (1 + i % 5)) for i, q in enumerate(questions * 12)]
    alone = [reader.score(q, s) for q, s in jobs]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(lambda job: reader.score(*job), jobs))
    assert [[(x.start, x.end) for x in r] for r in together] == [
        [(x.start, x.end) for x in r] for r in alone
    ]
    for got, want in zip(together, alone, strict=True):
        assert np.allclose([x.evidence for x in got], [x.evidence for x in want], atol=1e-4)
