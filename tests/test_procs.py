"""`bot.procs`: the child environment, and a server process run until it answers, then stopped."""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from pathlib import Path

import pytest

from bot.procs import PROJECT_ROOT, ServerStartError, child_env, free_port, running_server


def test_child_env_drops_our_variables_and_adds_the_given_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_API_KEY", "from-the-shell")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = child_env({"BOT_TOP_K": "3"}, BOT_DATA_DIR="/tmp/data")
    assert "BOT_API_KEY" not in env
    assert env["BOT_TOP_K"] == "3" and env["BOT_DATA_DIR"] == "/tmp/data"
    assert env["PYTHONPATH"].split(os.pathsep) == [str(PROJECT_ROOT), "/elsewhere"]
    assert env["PATH"] == os.environ["PATH"]


def test_a_free_port_can_be_bound() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))


def test_server_is_ready_inside_the_block_and_stopped_after(tmp_path: Path) -> None:
    (tmp_path / "page.txt").write_text("hello", encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}/page.txt"
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    command += ["--directory", str(tmp_path)]
    with running_server(command, url, tmp_path / "logs" / "server.log", timeout_s=30) as process:
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.read() == b"hello"
        assert process.poll() is None
    assert process.poll() is not None
    assert "GET /page.txt" in (tmp_path / "logs" / "server.log").read_text()


def test_a_server_that_exits_early_fails_with_its_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('no index here'); raise SystemExit(3)"]
    url = f"http://127.0.0.1:{free_port()}/"
    with (
        pytest.raises(ServerStartError, match="exited with 3") as caught,
        running_server(command, url, tmp_path / "log"),
    ):
        pytest.fail("the block must not run")
    assert "no index here" in str(caught.value)


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    url = f"http://127.0.0.1:{free_port()}/"
    with (
        pytest.raises(ServerStartError, match="did not answer within 1s"),
        running_server(command, url, tmp_path / "log", timeout_s=1),
    ):
        pytest.fail("the block must not run")
