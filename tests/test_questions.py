"""Question sets: the native, RAGAS, DeepEval and SQuAD field names, the `kind` field,
`--unanswerable` files, and a clear message naming file and line for every malformed line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.questions import QuestionSetError, load_question_set, load_question_sets


def write_lines(path: Path, records: list[Any]) -> Path:
    """A JSONL file: dicts as JSON, strings as they are (for malformed lines)."""
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n",
        encoding="utf-8",
    )
    return path


def test_native_format_with_history_and_gold(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "q.jsonl",
        [
            {
                "id": "f1",
                "question": " How many did he send? ",
                "history": [
                    {"role": "user", "content": "Who brokered it?"},
                    {"role": "assistant", "content": "Vladimir Putin."},
                ],
                "answers": ["some 2,000", "2,000", "2,000"],
                "unanswerable": False,
                "gold_passage_ids": ["doc-1"],
                "gold_quotes": ["some 2,000 peacekeepers"],
                "kind": " follow-up ",
            },
            "",
            {"id": "u1", "question": "Who won?", "answers": [], "unanswerable": True},
        ],
    )
    first, second = load_question_set(path)
    assert first.id == "f1" and first.question == "How many did he send?"
    assert [(t.role, t.content) for t in first.history] == [
        ("user", "Who brokered it?"),
        ("assistant", "Vladimir Putin."),
    ]
    assert first.answers == ("some 2,000", "2,000")  # duplicates dropped
    assert first.gold_items == [("id", "doc-1"), ("quote", "some 2,000 peacekeepers")]
    assert not first.unanswerable
    assert first.kind == "follow-up"
    # Flagged unanswerable in an ordinary file: no kind is made up for it.
    assert second.unanswerable and second.answers == () and second.kind == ""


def test_ragas_deepeval_and_squad_field_names(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "mixed.jsonl",
        [
            {"user_input": "Who led them?", "reference": "Rollo", "reference_context_ids": ["p7"]},
            {"input": "Which year?", "expected_output": "1991"},
            {"question": "Where?", "answers": [{"text": "Vienna", "answer_start": 3}]},
            {"question": "Impossible?", "answers": [], "is_impossible": True},
        ],
    )
    ragas, deepeval, squad, impossible = load_question_set(path)
    assert (ragas.question, ragas.answers, ragas.gold_passage_ids) == (
        "Who led them?",
        ("Rollo",),
        ("p7",),
    )
    assert ragas.id == "mixed:1"  # no id: file stem and line
    assert (deepeval.question, deepeval.answers, deepeval.id) == (
        "Which year?",
        ("1991",),
        "mixed:2",
    )
    assert squad.answers == ("Vienna",)
    assert impossible.unanswerable


def test_no_answers_and_no_flag_is_answerable_with_unknown_gold(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", [{"id": "x", "question": "Why?", "answers": []}])
    (case,) = load_question_set(path)
    assert not case.unanswerable and case.answers == () and case.gold_items == []
    (marked,) = load_question_sets([], unanswerable_paths=[path])
    assert marked.unanswerable


def test_unanswerable_file_cases_get_that_kind_unless_they_name_one(tmp_path: Path) -> None:
    answerable = write_lines(
        tmp_path / "a.jsonl", [{"id": "a1", "question": "Who?", "answers": ["X"]}]
    )
    impossible = write_lines(
        tmp_path / "u.jsonl",
        [
            {"id": "u1", "question": "Who won?", "answers": []},
            {"id": "u2", "question": "Who lost?", "kind": "near-miss"},
        ],
    )
    a1, u1, u2 = load_question_sets([answerable], unanswerable_paths=[impossible])
    assert (a1.kind, a1.unanswerable) == ("", False)
    assert (u1.kind, u1.unanswerable) == ("unanswerable", True)
    assert (u2.kind, u2.unanswerable) == ("near-miss", True)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "question": "ok"', "not valid UTF-8 JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"id": "a", "answers": ["x"]}', "needs a non-empty text 'question'"),
        ('{"id": "a", "question": "   "}', "needs a non-empty text 'question'"),
        ('{"id": "a", "question": "q", "answers": 5}', "'answers' must be a list"),
        ('{"id": "a", "question": "q", "answers": [1]}', "every answer must be a string"),
        ('{"id": "a", "question": "q", "unanswerable": "yes"}', "must be true or false"),
        ('{"id": "a", "question": "q", "unanswerable": true, "answers": ["x"]}', "lists answers"),
        (
            '{"id": "a", "question": "q", "history": [{"role": "bot", "content": "x"}]}',
            "history[0]",
        ),
        ('{"id": "a", "question": "q", "history": "hello"}', "'history' must be a list"),
        ('{"id": "a", "question": "q", "gold_quotes": {"a": 1}}', "'gold_quotes' must be a list"),
        ('{"id": "", "question": "q"}', "'id' must be"),
        ('{"id": "a", "question": "q", "kind": ["typo"]}', "'kind' must be a non-empty text"),
        ('{"id": "a", "question": "q", "kind": " "}', "'kind' must be a non-empty text"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "question": "fine"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(QuestionSetError) as error:
        load_question_set(path)
    assert f"{path} line 3" in str(error.value)
    assert message in str(error.value)


def test_duplicate_ids_across_files_and_missing_files_are_errors(tmp_path: Path) -> None:
    a = write_lines(tmp_path / "a.jsonl", [{"id": "same", "question": "one?"}])
    b = write_lines(tmp_path / "b.jsonl", [{"id": "same", "question": "two?"}])
    with pytest.raises(QuestionSetError, match=r"b.jsonl line 1: id 'same' was already used"):
        load_question_sets([a, b])
    with pytest.raises(QuestionSetError, match="no such question file"):
        load_question_sets([tmp_path / "missing.jsonl"])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(QuestionSetError, match="hold no cases"):
        load_question_sets([empty])


def test_parts_hold_the_gold_answers_of_each_part(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "q.jsonl",
        [
            {
                "id": "two",
                "question": "Who and how many?",
                "answers": ["Putin", "2,000"],
                "parts": [["Putin"], ["2,000", "some 2,000"]],
            },
            {"id": "bad", "question": "Who?", "answers": ["x"], "parts": "Putin"},
        ],
    )
    with pytest.raises(QuestionSetError, match="'parts' must be a list"):
        load_question_set(path)
    path = write_lines(tmp_path / "ok.jsonl", [json.loads(path.read_text().splitlines()[0])])
    [case] = load_question_set(path)
    assert case.parts == (("Putin",), ("2,000", "some 2,000"))
