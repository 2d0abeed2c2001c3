"""Question sets: reading and checking the JSONL files that `bot eval` runs.

This module owns the case format and its validation: `EvalCase`, the field names it accepts
(native, RAGAS, DeepEval, SQuAD), and the files given with `--unanswerable`. It scores nothing
and runs nothing; `bot.scoring` and `bot.evaluate` do.

One case a line: `id`, `question`, optional `history` (a list of {role, content}), `answers`
(any one counts), `unanswerable`, optional `gold_passage_ids` (document or passage ids),
`gold_quotes` (text the right passage contains) and `kind` (a label such as "follow-up" or
"near-miss" that the metrics are broken down by). RAGAS (`user_input`, `reference`,
`reference_context_ids`), DeepEval (`input`, `expected_output`) and SQuAD (`is_impossible`,
answers as {"text": ...}) field names are read too. A case is unanswerable only when it says so
(or its file is passed as `--unanswerable`, whose cases also get the kind "unanswerable" when
they have none); a case with no answers and no flag is answerable with unknown gold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import BotError, InvalidQuestionError
from bot.jsonl import json_objects
from bot.types import Turn

QUESTION_FIELDS = ("question", "user_input", "input")  # native, RAGAS, DeepEval
ANSWER_FIELDS = ("answers", "reference", "expected_output", "ground_truth")
GOLD_ID_FIELDS = ("gold_passage_ids", "reference_context_ids")
UNANSWERABLE_FIELDS = ("unanswerable", "is_impossible")  # native, SQuAD 2.0
UNANSWERABLE_KIND = "unanswerable"  # the kind of a `--unanswerable` file's cases without one


class QuestionSetError(BotError):
    """A question-set file is missing or has a malformed line."""


@dataclass(frozen=True)
class EvalCase:
    """One question with what a right answer looks like."""

    id: str
    question: str
    history: tuple[Turn, ...] = ()
    answers: tuple[str, ...] = ()
    unanswerable: bool = False
    gold_passage_ids: tuple[str, ...] = ()
    gold_quotes: tuple[str, ...] = ()
    kind: str = ""  # "" = no kind
    # A question that asks several things: the gold answers of each part (all must be given).
    parts: tuple[tuple[str, ...], ...] = ()
    origin: str = ""  # "file line n", for messages

    @property
    def gold_items(self) -> list[tuple[str, str]]:
        """What a right passage must match: ("id", passage or doc id) or ("quote", text)."""
        return [("id", g) for g in self.gold_passage_ids] + [("quote", q) for q in self.gold_quotes]


def load_question_sets(
    paths: Sequence[Path], unanswerable_paths: Sequence[Path] = ()
) -> list[EvalCase]:
    """Every case of every file, in order; ids must be unique across files."""
    cases: list[EvalCase] = []
    seen: dict[str, str] = {}
    tagged = [(p, False) for p in paths] + [(p, True) for p in unanswerable_paths]
    for path, all_unanswerable in tagged:
        for case in load_question_set(path, all_unanswerable):
            if case.id in seen:
                raise QuestionSetError(
                    f"{case.origin}: id {case.id!r} was already used at {seen[case.id]}. Ids must "
                    "be unique across the question files (runs are compared by id)."
                )
            seen[case.id] = case.origin
            cases.append(case)
    if not cases:
        names = ", ".join(str(path) for path, _ in tagged)
        raise QuestionSetError(f"The question files hold no cases: {names}.")
    return cases


def load_question_set(path: Path, all_unanswerable: bool = False) -> list[EvalCase]:
    """The cases in one JSONL file; `all_unanswerable` marks every case unanswerable."""
    if not path.is_file():
        raise QuestionSetError(f"{path}: no such question file. Check the path.")
    example = '{"id": "q1", "question": "...", "answers": ["..."]}'
    return [
        parse_case(record, where, f"{path.stem}:{number}", all_unanswerable)
        for number, where, record in json_objects(path, str(path), QuestionSetError, example)
    ]


def parse_case(
    record: dict[str, Any], where: str, default_id: str, all_unanswerable: bool = False
) -> EvalCase:
    """One case from a JSON object with native, RAGAS or DeepEval field names."""
    question = _first(record, QUESTION_FIELDS)
    if not isinstance(question, str) or not question.strip():
        raise QuestionSetError(
            f"{where}: needs a non-empty text 'question' (or RAGAS 'user_input', DeepEval 'input')."
        )
    case_id = record.get("id", default_id)
    if not isinstance(case_id, str | int) or str(case_id).strip() == "":
        raise QuestionSetError(f"{where}: 'id' must be a non-empty string or number.")
    answers = _answers(_first(record, ANSWER_FIELDS), where)
    flag = _first(record, UNANSWERABLE_FIELDS)
    if flag is not None and not isinstance(flag, bool):
        raise QuestionSetError(f"{where}: 'unanswerable' must be true or false, not {flag!r}.")
    unanswerable = bool(flag) or all_unanswerable
    if unanswerable and answers:
        raise QuestionSetError(
            f"{where}: the case is unanswerable but lists answers; remove the answers or the flag."
        )
    gold_ids = _strings(_first(record, GOLD_ID_FIELDS), "gold_passage_ids", where)
    gold_quotes = _strings(record.get("gold_quotes"), "gold_quotes", where)
    kind = _kind(record.get("kind"), where) or (UNANSWERABLE_KIND if all_unanswerable else "")
    return EvalCase(
        id=str(case_id),
        question=question.strip(),
        history=tuple(_history(record.get("history"), where)),
        answers=tuple(answers),
        unanswerable=unanswerable,
        gold_passage_ids=tuple(gold_ids),
        gold_quotes=tuple(q for q in gold_quotes if q.strip()),
        kind=kind,
        parts=tuple(tuple(_answers(part, where)) for part in _parts(record.get("parts"), where)),
        origin=where,
    )


def _parts(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(p, list | str) and p for p in value):
        raise QuestionSetError(
            f"{where}: 'parts' must be a list with the gold answers of each part, e.g. "
            '[["Putin"], ["2,000", "some 2,000"]].'
        )
    return value


def _first(record: dict[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        if record.get(name) is not None:
            return record[name]
    return None


def _answers(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise QuestionSetError(f"{where}: 'answers' must be a list of strings (or one string).")
    answers = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("text"), str):  # SQuAD's raw format
            item = item["text"]
        if not isinstance(item, str):
            raise QuestionSetError(f"{where}: every answer must be a string, not {item!r}.")
        if item.strip():
            answers.append(item.strip())
    return list(dict.fromkeys(answers))


def _strings(value: Any, name: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise QuestionSetError(f"{where}: '{name}' must be a list of strings.")
    return [str(v) for v in value]


def _kind(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise QuestionSetError(
            f"{where}: 'kind' must be a non-empty text label like \"follow-up\", not {value!r}; "
            "leave it out for a case of no particular kind."
        )
    return value.strip()


def _history(value: Any, where: str) -> list[Turn]:
    from bot.chain import parse_history

    if value is None:
        return []
    if not isinstance(value, list):
        raise QuestionSetError(f"{where}: 'history' must be a list of {{role, content}} objects.")
    try:
        return parse_history(value)
    except InvalidQuestionError as exc:
        raise QuestionSetError(f"{where}: {exc}") from None
