"""Child processes: a free port, a clean environment, and a server run until it answers.

`bot bench` starts `bot serve`, `bot ask` and `chroma run` with these, and the tests start
their servers with them too. This module owns how a child is started and stopped; what it
runs, and what is measured or checked against it, is the caller's business.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

#: The folder that holds the `bot` package: a child started here imports this same code.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ServerStartError(RuntimeError):
    """A server process exited, or did not answer, before it was ready."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(variables: Mapping[str, str] | None = None, **more: str) -> dict[str, str]:
    """The environment for a child process: ours without any BOT_* variable (a developer's
    shell must not change what a child measures or serves), plus the given variables, with
    the project root first on PYTHONPATH so `python -m bot...` runs this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(variables or {}, **more)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


@contextlib.contextmanager
def running_server(
    command: list[str],
    ready_url: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 300,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` from the project root, its output in `log`, until GET `ready_url`
    answers 200; stop it when the block ends. Raises `ServerStartError`, with the log's tail,
    if the process exits or is not ready within `timeout_s`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_ready(ready_url, process, log, timeout_s)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(
                f"{process.args[0]} exited with {process.returncode}:\n{_tail(log)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:  # not listening yet, or an HTTP error while it starts
            pass
        time.sleep(0.5)
    raise ServerStartError(f"{url} did not answer within {timeout_s:.0f}s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]
