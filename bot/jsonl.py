"""JSON Lines input: one JSON object a line, read one line at a time.

This module owns the line loop and the error for a line that is not a UTF-8 JSON object, which
names the file and line and shows what a good line looks like. What an object must hold is
the caller's business: article feeds (`bot.loaders`), question sets (`bot.questions`) and the
benchmark's SQuAD files (`bot.bench`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.errors import BotError


def json_objects(
    path: Path, name: str, error: type[BotError], example: str
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Each non-blank line of `path` as (line number, "NAME line N", its object).

    A line that is not a UTF-8 JSON object raises `error`, saying where and showing `example`.
    """
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{name} line {number}"
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise error(
                    f"{where}: not valid UTF-8 JSON ({exc}). Each line must be one JSON object "
                    f"like {example}."
                ) from None
            if not isinstance(record, dict):
                raise error(f"{where}: expected a JSON object, got {type(record).__name__}.")
            yield number, where, record
