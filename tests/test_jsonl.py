"""`bot.jsonl.json_objects`: line numbers count blank lines, and a bad line raises the caller's
error naming the file and line, with the caller's example of a good line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError, UnsupportedFileError
from bot.jsonl import json_objects


def test_objects_come_with_their_line_numbers_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(b'{"id": "a"}\n\n  \n{"id": "b", "n": 2}\n')
    assert list(json_objects(path, "feed.jsonl", ConfigError, "{}")) == [
        (1, "feed.jsonl line 1", {"id": "a"}),
        (4, "feed.jsonl line 4", {"id": "b", "n": 2}),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"id": "a"}\n{"id": \n', r"upload\.jsonl line 2: not valid UTF-8 JSON .*like \{good\}"),
        (b'{"id": "\xff"}\n', r"upload\.jsonl line 1: not valid UTF-8 JSON"),
        (b'{"id": "a"}\n[1, 2]\n', r"upload\.jsonl line 2: expected a JSON object, got list\."),
    ],
)
def test_a_bad_line_raises_the_callers_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "stored-name.jsonl"
    path.write_bytes(content)
    with pytest.raises(UnsupportedFileError, match=message):
        list(json_objects(path, "upload.jsonl", UnsupportedFileError, "{good}"))
