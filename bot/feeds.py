"""The feeds a server watches: their list in the data folder and the thread that polls them.

`FeedWatcher` keeps the feeds added on the documents page in `watched-feeds.json` in
`BOT_DATA_DIR`, rewritten atomically (a temporary file renamed over it) after every change and
every poll, so a restarted server resumes each feed where it was: a feed is due when its
interval has passed since its last poll, whenever that was. Once `start`ed, one background
thread per process polls the due feeds until `stop`, which the server calls on shutdown.

A poll is the `poll(url)` the owner gives: the server passes `Service.ingest_url`, which
ingests through `bot.web.ingest_urls` as `bot watch` does. Left to others: what a feed holds
and how it is fetched (`bot.web`, `bot.fetch`), whether an address is a feed and how often one
may be polled (`bot.service`), and who may add or remove one (`bot.admin_ui`).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import BotError

if TYPE_CHECKING:
    from bot.ingest import IngestReport

log = logging.getLogger("bot.feeds")

FEEDS_FILE = "watched-feeds.json"
#: Seconds the watcher sleeps at most between two looks at its list.
MAX_SLEEP_S = 3600.0
#: Seconds `stop` waits for a poll under way to end (a slow site can take a minute).
STOP_WAIT_S = 5.0


@dataclass(frozen=True)
class WatchedFeed:
    """A watched feed: its address, its interval, and how its last poll went."""

    url: str
    every_s: float
    last_poll: float = 0.0  # Unix time of the last poll; 0: never polled
    last_result: str = ""  # "2 added, 0 updated, 5 unchanged"
    last_error: str = ""  # what failed in the last poll (the whole feed, or some entries)

    def due(self, now: float) -> bool:
        return now >= self.last_poll + self.every_s

    @property
    def last_poll_text(self) -> str:
        if not self.last_poll:
            return "never"
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.last_poll))


def every_text(seconds: float) -> str:
    """An interval as `bot watch --every` writes it: 90s, 15m, 2h."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


class FeedWatcher:
    """The watched feeds of one data folder, and (once started) the thread that polls them."""

    def __init__(
        self,
        path: Path,
        poll: Callable[[str], IngestReport],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._poll = poll
        self._clock = clock
        self._lock = threading.Lock()  # guards _feeds and the file
        self._feeds = self._load()
        self._wake = threading.Event()  # set on a change, and to stop
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- the list ---------------------------------------------------------------------------
    def feeds(self) -> list[WatchedFeed]:
        with self._lock:
            return list(self._feeds.values())

    def add(self, url: str, every_s: float) -> WatchedFeed:
        """Watch `url` every `every_s` seconds (a feed already watched gets the new interval),
        polling it once now. The caller has checked that it is a feed."""
        if every_s <= 0:
            raise BotError("Give a positive interval, such as 15m.")
        # Polled before it joins the list, so the thread cannot poll it at the same time.
        feed = self._polled(WatchedFeed(url, every_s))
        with self._lock:
            self._feeds[url] = feed
            self._save()
        self._wake.set()
        return feed

    def remove(self, url: str) -> WatchedFeed:
        with self._lock:
            feed = self._feeds.pop(url, None)
            if feed is None:
                raise BotError(f"{url} is not watched: choose one of the watched feeds.")
            self._save()
        return feed

    def poll_due(self) -> list[WatchedFeed]:
        """Poll every feed whose interval is up (one after the other); what they became."""
        done = []
        for feed in self.feeds():
            if self._stopping:
                break
            if feed.due(self._clock()):
                polled = self._polled(feed)
                with self._lock:
                    if feed.url not in self._feeds:
                        continue  # removed while it was polled
                    # The interval may have changed meanwhile; the poll's outcome is ours.
                    polled = replace(polled, every_s=self._feeds[feed.url].every_s)
                    self._feeds[feed.url] = polled
                    self._save()
                done.append(polled)
        return done

    def _polled(self, feed: WatchedFeed) -> WatchedFeed:
        """`feed` after one poll: when, what it added, what failed. Never raises."""
        started = self._clock()
        try:
            report = self._poll(feed.url)
        except BotError as exc:
            result, error = "not polled", str(exc)
        except Exception:  # a bug must not end the thread; the log has the traceback
            log.exception("polling feed %s failed", feed.url)
            result, error = "not polled", "an unexpected error; the server log has the details"
        else:
            result = (
                f"{len(report.added)} added, {len(report.updated)} updated, "
                f"{len(report.unchanged)} unchanged"
            )
            error = "\n".join(report.errors)
        log.info("feed polled", extra={"feed": feed.url, "result": result, "error": error})
        return replace(feed, last_poll=started, last_result=result, last_error=error)

    # --- the file ---------------------------------------------------------------------------
    def _load(self) -> dict[str, WatchedFeed]:
        if not self.path.exists():
            return {}
        known = {f.name for f in fields(WatchedFeed)}
        try:
            records = json.loads(self.path.read_text(encoding="utf-8"))["feeds"]
            feeds = [WatchedFeed(**{k: v for k, v in r.items() if k in known}) for r in records]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Not silently replaced: the next save would lose the list for good.
            raise BotError(
                f"{self.path}: cannot read the watched feeds ({exc}). Fix or delete the file, "
                "then start again."
            ) from None
        return {feed.url: feed for feed in feeds}

    def _save(self) -> None:
        """Write the list atomically: readers and a crash see the old file or the new one."""
        data: dict[str, Any] = {"feeds": [asdict(feed) for feed in self._feeds.values()]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --- the thread -------------------------------------------------------------------------
    def start(self) -> None:
        """Start polling in the background (once: a second call does nothing)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping = False
        self._wake.clear()
        self._thread = threading.Thread(target=self._run, name="feed-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; a poll under way gets `STOP_WAIT_S` to finish (the thread is a
        daemon, so one stuck on a slow site does not hold the process)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self.poll_due()
            self._wake.wait(self._seconds_to_next())

    def _seconds_to_next(self) -> float:
        now = self._clock()
        waits = [feed.last_poll + feed.every_s - now for feed in self.feeds()]
        return max(0.0, min([MAX_SLEEP_S, *waits]))
