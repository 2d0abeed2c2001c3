"""The HTTP API under schemathesis: property-based requests generated from `/openapi.json`
(documented examples, boundary values, random fuzzing and stateful sequences) against a real
`bot serve`, and not one may get a 5xx. Bounded to 100 examples per operation (about half a
minute on the busy 2-core machine, plus the server's start)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.procs import child_env, free_port, running_server

from .conftest import ARTICLE

KEY = "schemathesis-key-0123"
MAX_EXAMPLES = 100
RUN_SECONDS = 240


@pytest.mark.slow
@pytest.mark.server
def test_no_generated_request_gets_a_server_error(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = child_env(
        BOT_DATA_DIR=str(tmp_path / "data"), BOT_CORPUS_DIR=str(corpus), BOT_API_KEY=KEY
    )
    serve = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with running_server(serve, f"{url}/api/health", tmp_path / "server.log", env, 300):
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{url}/openapi.json",
                "--header",
                f"Authorization: Bearer {KEY}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--workers",
                "1",
                "--seed",
                "11",
                "--generation-database",
                "none",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS,
            cwd=tmp_path,
            env=child_env(),
        )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-4000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", report)
    assert cases and int(cases[1]) > 10 * MAX_EXAMPLES and cases[1] == cases[2], report[-2000:]
    tested, total = re.search(r"Tested: (\d+)", report), re.search(r"Selected: \d+/(\d+)", report)
    assert tested and total and tested[1] == total[1], report[-2000:]  # every operation
