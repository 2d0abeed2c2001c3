"""Locks on the data folder, shared by every process and thread that opens it.

Two files in `BOT_DATA_DIR`, locked with flock(2). The kernel releases a lock when its
process dies, so a `kill -9` never leaves a stale one behind.

- `.writing.lock`, exclusive: held for each write to the index (one group of documents, a
  removal, a repair, the recovery when an index opens) and by `bot backup` while it copies.
  So a backup never sees a write half done, and writes wait while a backup copies.
- `.open.lock`, shared: held by every open index for as long as it is open. `bot restore`
  takes it exclusively without waiting, so it never swaps the files under a running server.

Each acquisition opens the file anew. flock(2) treats separate opens as separate owners,
even in one process, so threads exclude each other too. A lock is never taken twice by one
thread (that would wait for itself). This module leaves out what the locks protect: that is
the business of `bot.index` and `bot.backup`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from bot.errors import DataDirInUseError

WRITING = ".writing.lock"
OPEN = ".open.lock"


def _open(data_dir: Path, name: str) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    return os.open(data_dir / name, os.O_RDWR | os.O_CREAT, 0o644)


@contextlib.contextmanager
def writing(data_dir: Path) -> Iterator[None]:
    """Hold the data folder's write lock (waiting for any other writer or backup)."""
    fd = _open(data_dir, WRITING)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class OpenLock:
    """A shared hold on the data folder for as long as an index is open."""

    def __init__(self, data_dir: Path) -> None:
        self._fd: int | None = _open(data_dir, OPEN)
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:  # an index dropped without close() lets go too
        self.release()


@contextlib.contextmanager
def sole_user(data_dir: Path) -> Iterator[None]:
    """Hold the data folder alone, or raise `DataDirInUseError` at once if any process (this
    one included) has an index open on it."""
    fd = _open(data_dir, OPEN)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirInUseError(
                f"{data_dir} is in use: a server or another `bot` command has it open. "
                "Stop it first, then run this again."
            ) from None
        yield
    finally:
        os.close(fd)
