"""The evaluation runner end to end: a small run over its own corpus, the configured index, the
CLI with `--compare`, the breakdown by kind with the article bot, and the LLM judge in a run
with a fake chat model. The metric functions, question sets, scoring and comparison have their
own test files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from bot.chain import ChatBot
from bot.cli import main
from bot.compare import compare_runs
from bot.config import Settings
from bot.embeddings import Embedder
from bot.eval_report import describe_run
from bot.evaluate import answer_cases, distinct, run_eval
from bot.index import Index
from bot.ingest import ingest_paths
from bot.judge import JUDGE_PROMPT
from bot.questions import EvalCase
from bot.reader import DEFAULT_READER_DIR, load_reader
from bot.scoring import aggregate, answer_reader
from bot.types import Answer, Turn
from tests.test_questions import write_lines

# --- end to end ---------------------------------------------------------------------------------
DOCS = [
    {
        "id": "whales",
        "title": "Blue whales",
        "text": "The blue whale is the largest animal known to have ever existed. Adult blue "
        "whales can reach a length of about 30 metres and weigh up to 199 tonnes.",
    },
    {
        "id": "bridge",
        "title": "Golden Gate Bridge",
        "text": "The Golden Gate Bridge opened to traffic in 1937. It spans the strait between "
        "San Francisco Bay and the Pacific Ocean and was designed by Joseph Strauss.",
    },
    {
        "id": "coffee",
        "title": "Coffee in Ethiopia",
        "text": "Coffee plants are native to Ethiopia, where the drink has been brewed for "
        "centuries. The country remains one of the largest coffee producers in Africa.",
    },
]
QUESTIONS = [
    {
        "id": "bridge-year",
        "question": "When did the Golden Gate Bridge open to traffic?",
        "answers": ["1937", "in 1937"],
        "gold_passage_ids": ["bridge"],
        "kind": "numeric",
    },
    {
        "id": "bridge-designer",
        "question": "Who designed it?",
        "history": [
            {"role": "user", "content": "When did the Golden Gate Bridge open?"},
            {"role": "assistant", "content": "The Golden Gate Bridge opened in 1937 [1]."},
        ],
        "answers": ["Joseph Strauss"],
        "gold_quotes": ["designed by Joseph Strauss"],
        "kind": "follow-up",
    },
    {
        "id": "whale-weight",
        "question": "How much can an adult blue whale weigh?",
        "answers": ["up to 199 tonnes", "199 tonnes"],
        "gold_quotes": ["weigh up to 199 tonnes"],
        "kind": "numeric",
    },
    {
        "id": "moon",
        "question": "Who was the first person to walk on the Moon?",
        "answers": [],
        "unanswerable": True,
    },  # no kind: in the group "(none)"
]
RESULT_FIELDS = {
    "id",
    "kind",
    "mode",
    "reader",
    "question",
    "standalone_question",
    "answer",
    "refused",
    "confidence",
    "citations",
    "retrieved",
    "latency_ms",
    "scores",
}


@pytest.fixture
def tiny_set(tmp_path: Path) -> tuple[Path, Path]:
    corpus = write_lines(tmp_path / "tiny_corpus.jsonl", DOCS)
    questions = write_lines(tmp_path / "tiny_questions.jsonl", QUESTIONS)
    return questions, corpus


def _main_index_state(settings: Settings, embedder: Embedder) -> tuple[list[str], int]:
    index = Index(settings, embedder)
    try:
        return [d.doc_id for d in index.documents()], index.count_passages()
    finally:
        index.close()


def test_run_eval_end_to_end_on_its_own_corpus(
    tmp_path: Path, settings: Settings, index: Index, tiny_set: tuple[Path, Path]
) -> None:
    questions, corpus = tiny_set
    main_doc = tmp_path / "main-article.txt"
    main_doc.write_text("Nothing about bridges. " * 10, encoding="utf-8")
    ingest_paths(index, [main_doc])
    before = ([d.doc_id for d in index.documents()], index.count_passages())
    index.close()
    out = tmp_path / "out"

    report = run_eval(settings, [questions], out, corpus=[corpus], k=10)

    for name in ("results.jsonl", "metrics.json", "report.md", "report.html"):
        assert (out / name).is_file(), name
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in lines] == [q["id"] for q in QUESTIONS]
    for record in lines:
        assert set(record) >= RESULT_FIELDS
        assert len(record["retrieved"]) == min(settings.top_k, len(DOCS))
        assert set(record["retrieved"][0]) == {"passage_id", "doc_id", "score"}
        retrieved = {r["passage_id"] for r in record["retrieved"]}
        for citation in record["citations"]:
            assert set(citation) >= {
                "n",
                "passage_id",
                "doc_id",
                "title",
                "source",
                "text",
                "quote",
            }
            assert citation["passage_id"] in retrieved
            assert citation["quote"] in citation["text"]
        assert record["latency_ms"] > 0
        assert {"score", "outcome", "answered", "correct_decision"} <= set(record["scores"])
    by_id = {r["id"]: r for r in lines}
    # The corpus has 3 passages and k = 10, so every gold passage is within the k retrieved.
    assert by_id["bridge-year"]["scores"]["recall@10"] == 1.0
    assert by_id["bridge-year"]["scores"]["gold_rank"] == 1
    assert by_id["bridge-designer"]["standalone_question"] != "Who designed it?"
    assert "moon" not in by_id["bridge-year"]["answer"].lower()
    assert by_id["moon"]["gold"]["unanswerable"] is True

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == report.metrics
    assert metrics["cases"] == {
        "total": 4,
        "answerable": 3,
        "unanswerable": 1,
        "with_gold_passages": 3,
        "with_gold_answers": 3,
        "answerable_without_gold": 0,
    }
    assert metrics["citations"]["validity"] == 1.0
    assert metrics["retrieval"]["recall@10"] == 1.0
    assert set(metrics["retrieval"]) == {"recall@1", "recall@5", "recall@10", "mrr"}
    assert set(metrics["latency_ms"]) >= {"p50", "p95"}
    assert metrics["run"]["corpus"] == [str(corpus)] and metrics["run"]["passages"] == 3
    # What wrote the answers, as the answers record it: the shipped reader, by name and hash.
    reader = load_reader(str(DEFAULT_READER_DIR), settings.torch_threads).name
    assert "@" in reader
    assert metrics["run"]["mode"] == "extractive" and metrics["run"]["reader"] == reader
    assert {(r["mode"], r["reader"]) for r in lines} == {("extractive", reader)}
    # The short answer alone, over all 3 answerable cases.
    answer = metrics["answer"]
    assert answer["short_f1_all"] == pytest.approx(
        round(sum(r["scores"]["short_answer_f1"] for r in lines[:3]) / 3, 4)
    )
    assert answer["short_em_all"] <= answer["short_f1_all"] <= 1.0
    # Every metric by kind; the case without a kind is in "(none)".
    kinds = metrics["by_kind"]
    assert list(kinds) == ["numeric", "follow-up", "(none)"]
    assert [kinds[k]["n"] for k in kinds] == [2, 1, 1]
    assert kinds["(none)"]["cases.unanswerable"] == 1
    numeric = [r for r in lines if r["kind"] == "numeric"]
    assert kinds["numeric"]["overall.right"] == pytest.approx(
        sum(r["scores"]["right"] for r in numeric) / 2
    )
    assert kinds["numeric"]["retrieval.recall@10"] == 1.0

    md = (out / "report.md").read_text()
    assert "## Retrieval" in md and "## Refusal" in md and "low by nature" in md
    assert f"answers by mode extractive, reader {reader};" in md
    by_kind = md.split("## By kind")[1].split("\n## ")[0]
    assert "| kind | n | right |" in by_kind
    assert by_kind.count("\n| numeric | 2 | ") == 1 and "\n| (none) | 1 | " in by_kind
    assert "short_f1_all" in md and "a refusal or no short answer is 0" in md
    # Every answer records the reader's confidence, so the report shows what a higher refusal
    # threshold would trade, starting from the run's own.
    assert all(isinstance(r["confidence"], float) for r in lines)
    curve = metrics["refusal_curve"]
    assert curve[0]["threshold"] == settings.refusal_threshold and curve[-1]["threshold"] == 0.95
    assert curve[0]["right"] == metrics["overall"]["right"]
    assert [p["answerable_answered_rate"] for p in curve] == sorted(
        (p["answerable_answered_rate"] for p in curve), reverse=True
    )
    table = md.split("## At higher refusal thresholds")[1].split("\n## ")[0]
    assert "| threshold | answered | refused of unanswerable | contains gold | right |" in table
    assert table.count("\n| 0.") == len(curve)
    page = (out / "report.html").read_text()
    assert "<td>follow-up</td>" in page and "<th>short F1 (all)</th>" in page
    assert page.count("data:image/png;base64,") == 3
    assert "<script" not in page

    # The evaluation's corpus went to its own index; the main one is exactly as it was.
    assert _main_index_state(settings, index.embedder) == before
    assert "bridge" not in before[0]


def test_run_eval_against_the_configured_index(
    tmp_path: Path, settings: Settings, index: Index, tiny_set: tuple[Path, Path]
) -> None:
    questions, corpus = tiny_set
    ingest_paths(index, [corpus])
    index.close()
    report = run_eval(settings, [questions], tmp_path / "out", k=3)
    assert report.metrics["run"]["corpus"] == []
    assert str(settings.data_dir) in report.metrics["run"]["index"]
    assert "recall@3" in report.metrics["retrieval"]
    assert not (tmp_path / "out" / "index").exists()


def test_run_eval_on_an_empty_index_says_what_to_do(
    tmp_path: Path, settings: Settings, embedder: Embedder, tiny_set: tuple[Path, Path]
) -> None:
    with pytest.raises(Exception, match="--corpus") as error:
        run_eval(settings, [tiny_set[0]], tmp_path / "out")
    assert type(error.value).__name__ == "EmptyIndexError"


def test_cli_eval_and_compare(
    tmp_path: Path,
    embedder: Embedder,
    tiny_set: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    questions, corpus = tiny_set
    old, new, cmp = tmp_path / "old", tmp_path / "new", tmp_path / "cmp"
    # old: a threshold nothing reaches, so everything is refused; new: the default.
    monkeypatch.setenv("BOT_REFUSAL_THRESHOLD", "1")
    argv = ["eval", str(questions), "--corpus", str(corpus), "--quiet", "--k", "5"]
    assert main([*argv, "--out", str(old)]) == 0
    monkeypatch.delenv("BOT_REFUSAL_THRESHOLD")
    assert main([*argv, "--out", str(new)]) == 0
    printed = capsys.readouterr().out
    assert "recall@1" in printed and "report.html" in printed

    old_results = [json.loads(x) for x in (old / "results.jsonl").read_text().splitlines()]
    assert all(r["refused"] for r in old_results)

    comparison = compare_runs(old, new)
    verdicts = {m.name: m.verdict for m in comparison.metrics}
    assert verdicts["refusal.answerable_answered_rate"] == "better"
    assert verdicts["cases.total"] == "same"
    better = {c.id for c in comparison.better}
    assert "bridge-year" in better  # refused before, answered with 1937 now
    assert all(c.new_score > c.old_score for c in comparison.better)
    assert all(c.new_score < c.old_score for c in comparison.worse)

    assert main(["eval", "--compare", str(old), str(new), "--out", str(cmp)]) == 0
    text = (cmp / "compare.md").read_text()
    assert text.strip() in capsys.readouterr().out
    assert "refusal.answerable_answered_rate" in text and "▲ better" in text
    assert "bridge-year" in text.split("## Cases that got better")[1]
    # By kind: every answerable numeric case was refused before; now one at least is right.
    numeric = {m.name: m for m in comparison.by_kind["numeric"]}
    assert numeric["overall.right"].old == 0.0
    assert numeric["overall.right"].verdict == "better"
    assert numeric["refusal.answerable_answered_rate"].verdict == "better"
    assert "| numeric | 2 → 2 | 0.000 → " in text.split("## By kind (old → new)")[1]


def test_answer_cases_breaks_the_article_bot_down_by_kind(article_bot: ChatBot) -> None:
    putin = ("Vladimir Putin", "Putin")
    cases = [
        EvalCase(
            "direct",
            # The headline question. Its longer form, "... between Armenia and Azerbaijan?",
            # is a case of eval/article_questions.jsonl (the second-stage reader got it wrong,
            # README, "How it answers, and how well"); the quality gate counts it there.
            "Who brokered the 2020 ceasefire?",
            answers=putin,
            gold_quotes=("A cease-fire deal brokered by Russian President Vladimir Putin",),
            kind="direct",
        ),
        EvalCase(
            "follow-up",
            "How many peacekeepers has his country deployed there?",
            history=(
                Turn("user", "Who brokered the 2020 ceasefire?"),
                Turn("assistant", "Vladimir Putin [1]"),
            ),
            answers=("some 2,000", "2,000"),
            kind="follow-up",
        ),
        EvalCase(
            "off-topic", "How do I bake sourdough bread?", unanswerable=True, kind="off-topic"
        ),
        EvalCase("no-kind", "When did the Soviet Union collapse?", answers=("1991",)),
    ]
    results = answer_cases(article_bot, cases, k=5)
    assert [r["kind"] for r in results] == ["direct", "follow-up", "off-topic", None]
    assert results[1]["standalone_question"] != cases[1].question  # the follow-up was resolved
    kinds = aggregate(results, 5)["by_kind"]
    assert list(kinds) == ["direct", "follow-up", "off-topic", "(none)"]
    for r in results:
        values = kinds[r["kind"] or "(none)"]
        assert values["n"] == 1
        assert values["overall.right"] == float(r["scores"]["right"])
        assert values["overall.mean_case_score"] == r["scores"]["score"]
    # The article names Putin as the broker; sourdough is far off topic.
    assert kinds["direct"]["overall.right"] == 1.0
    assert kinds["off-topic"]["refusal.unanswerable_refused_rate"] == 1.0
    assert kinds["direct"]["retrieval.recall@5"] == 1.0
    assert kinds["follow-up"]["retrieval.recall@5"] is None  # no gold passage given


@dataclass
class ReaderAnswer(Answer):
    """An answer from an answerer that names its reader model."""

    reader: str = ""


def test_the_run_records_the_answers_mode_and_reader() -> None:
    plain = Answer("t", [], False, "q", "q", [])
    named = ReaderAnswer("t", [], False, "q", "q", [], mode="extractive", reader="squad-reader")
    assert answer_reader(plain) is None and answer_reader(named) == "squad-reader"
    assert distinct([None, "squad-reader", "other", "squad-reader"]) == "squad-reader, other"
    assert distinct([None, ""]) is None
    run = {"mode": "extractive", "reader": "squad-reader", "started": "now"}
    assert "answers by mode extractive, reader squad-reader;" in describe_run(run)


def test_cli_reports_a_malformed_question_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "fine"}\nnot json\n', encoding="utf-8")
    assert main(["eval", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{bad} line 2" in err and "Traceback" not in err
    assert main(["eval", "--out", str(tmp_path / "out")]) == 2
    assert "question file" in capsys.readouterr().err


# --- the optional LLM judge ------------------------------------------------------------------
class ScriptedChat(BaseChatModel):
    """A LangChain chat model that answers from a script: as the answerer it names Putin; as
    the judge it says yes only when the cited passage mentions what the answer claims."""

    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, **_: Any) -> ChatResult:
        self.prompts.append(messages)
        system = str(messages[0].content) if isinstance(messages[0], SystemMessage) else ""
        user = str(messages[-1].content)
        if system == JUDGE_PROMPT:
            passages, answer = user.split("\n\nAnswer: ")
            reply = "Yes." if answer.split()[0] in passages else "no"
        else:
            reply = "Joseph Strauss designed the bridge [1]."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(reply))])


def test_faithfulness_is_judged_only_when_an_llm_is_configured(
    tmp_path: Path, settings: Settings, embedder: Embedder, tiny_set: tuple[Path, Path]
) -> None:
    questions, corpus = tiny_set
    model = ScriptedChat()
    # The scripted model answers every question; refusal is left to it, so that the judge sees
    # an unsupported answer too (the reader would refuse the whale one).
    generative = settings.replace(llm_base_url="http://fake", llm_model="fake", llm_refusal="model")
    report = run_eval(generative, [questions], tmp_path / "llm", corpus=[corpus], chat_model=model)
    assert report.metrics["run"]["mode"] == "generative"
    faith = report.metrics["faithfulness"]
    answered = [r for r in report.results if not r["refused"]]
    assert faith["judged"] == len(answered) > 0
    by_id = {r["id"]: r for r in report.results}
    # The scripted answer names Strauss: supported by the bridge passage, not by the whale one.
    assert "Joseph Strauss" in by_id["bridge-designer"]["answer"]
    assert by_id["bridge-designer"]["scores"]["faithful"] is True
    assert by_id["whale-weight"]["scores"]["faithful"] is False
    assert 0.0 < faith["faithful_rate"] < 1.0

    offline = run_eval(settings, [questions], tmp_path / "offline", corpus=[corpus])
    assert "faithfulness" not in offline.metrics
    assert all("faithful" not in r["scores"] for r in offline.results)
