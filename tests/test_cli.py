"""The `bot` command: each subcommand end to end, and bad input as a clear message + exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from bot.cli import EXIT_USER_ERROR, main
from bot.config import Settings
from bot.types import Citation

from .conftest import ARTICLE, ROOT


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # loads the models in-process and ingests the article: ~9 s
def test_ingest_docs_ask_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    code, out, _ = run(capsys, "--data-dir", data, "ingest", "--quiet", str(ARTICLE))
    assert code == 0 and "1 added" in out and "21 passages" in out

    code, out, _ = run(capsys, "--data-dir", data, "ingest", "--quiet", str(ARTICLE))
    assert code == 0 and "1 unchanged" in out and "0 passages written" in out

    code, out, _ = run(capsys, "--data-dir", data, "docs", "--json")
    [doc] = [json.loads(line) for line in out.splitlines()]
    assert doc["doc_id"] == "caucasus-peace-talks" and doc["passages"] == 21

    code, out, _ = run(
        capsys, "--data-dir", data, "ask", "--json", "Who brokered the 2020 ceasefire?"
    )
    answer = json.loads(out)
    assert code == 0
    assert answer["short_answer"].endswith("Vladimir Putin")
    assert set(answer) >= {
        "text",
        "citations",
        "refused",
        "standalone_question",
        "retrieved",
        "timings_ms",
    }
    citation = answer["citations"][0]
    assert set(citation) == {f.name for f in fields(Citation)}

    code, out, _ = run(capsys, "--data-dir", data, "ask", "What is the capital of France?")
    assert code == 0 and "couldn't find" in out

    code, out, _ = run(capsys, "--data-dir", data, "remove", "caucasus-peace-talks")
    assert code == 0 and "Removed caucasus-peace-talks" in out
    code, out, _ = run(capsys, "--data-dir", data, "docs")
    assert "No documents yet" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "empty"),
        (["ask", "   "], "empty"),
        (["ask", "x" * 100_000], "limit"),
        (["ask", "Who brokered the ceasefire?"], "bot ingest"),
        (["remove", "no-such-doc"], "bot docs"),
        (["ingest", "/no/such/path"], "no such file"),
        (["ingest", "EMPTY_DIR"], "No files to ingest"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "empty") if a == "EMPTY_DIR" else a for a in args]
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "data"), *args)
    assert code == EXIT_USER_ERROR
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_binary_and_non_utf8_files_are_reported_and_nothing_stored_is_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    assert run(capsys, "--data-dir", data, "ingest", "--quiet", str(ARTICLE))[0] == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(bytes(range(256)))
    (bad / "latin1.txt").write_bytes("Café crème in Baku".encode("latin-1"))
    code, out, _ = run(capsys, "--data-dir", data, "ingest", "--quiet", str(bad))
    assert code == 1
    assert "binary.txt" in out and "latin1.txt" in out and "UTF-8" in out
    code, out, _ = run(capsys, "--data-dir", data, "docs", "--json")
    assert [json.loads(line)["doc_id"] for line in out.splitlines()] == ["caucasus-peace-talks"]
    code, out, _ = run(
        capsys, "--data-dir", data, "ask", "--json", "How many peacekeepers has Moscow deployed?"
    )
    assert "2,000" in json.loads(out)["short_answer"]


def test_config_prints_settings_with_secrets_masked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_LLM_API_KEY", "sk-very-secret-key")
    monkeypatch.setenv("BOT_TOP_K", "7")
    code, out, _ = run(capsys, "config")
    assert code == 0
    assert "BOT_TOP_K=7" in out
    assert "sk-very-secret-key" not in out and "BOT_LLM_API_KEY=****ey" in out


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BOT_TOP_K", "many", "BOT_TOP_K must be a whole number, at least 1 (got many)."),
        (
            "BOT_REFUSAL_THRESHOLD",
            "1.7",
            "BOT_REFUSAL_THRESHOLD must be between 0 and 1 (got 1.7).",
        ),
        ("BOT_PORT", "0", "BOT_PORT must be between 1 and 65535 (got 0)."),
    ],
)
def test_bad_setting_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    code, out, err = run(capsys, "config")
    assert code == EXIT_USER_ERROR and out == ""
    assert err == f"error: {message}\n"


def test_a_bad_flag_value_is_checked_like_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--chroma-port", "70000", "docs")
    assert code == EXIT_USER_ERROR
    assert err == "error: BOT_CHROMA_PORT must be between 1 and 65535 (got 70000).\n"


def test_a_bad_setting_stops_start_up_without_a_stack_trace(tmp_path: Path) -> None:
    env = {**os.environ, "BOT_REFUSAL_THRESHOLD": "1.7", "BOT_DATA_DIR": str(tmp_path / "d")}
    for command in (["-m", "bot.cli", "serve"], ["app.py"]):
        result = subprocess.run(
            [sys.executable, *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == EXIT_USER_ERROR, command
        assert result.stderr == (
            "error: BOT_REFUSAL_THRESHOLD must be between 0 and 1 (got 1.7).\n"
        ), command


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.cli import build_parser, settings_from_args

    monkeypatch.setenv("BOT_COLLECTION", "from_env")
    args = build_parser().parse_args(["--collection", "from_flag", "config"])
    assert settings_from_args(args).collection == "from_flag"
    assert Settings.from_env().collection == "from_env"


def test_console_script_runs_in_a_fresh_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--data-dir", str(tmp_path / "d"), "ask", ""],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == EXIT_USER_ERROR
    assert "The question is empty" in result.stderr and "Traceback" not in result.stderr
