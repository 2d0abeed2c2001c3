"""The application service shared by the HTTP API and the web UI.

One `Service` per server process owns the `ChatBot` (and so the index and models, loaded
once) and adds what a multi-user server needs: a bounded number of answers computed at once
with a bounded wait queue (`BusyError` beyond it), document upload and removal, and the
feedback log. Conversations are not stored here: each request carries its own history, so
users never share state. API routes and UI callbacks are thin wrappers over these methods.
Articles and feeds from the web are ingested here too (`ingest_url`), and the feeds the
documents page watches are kept by `feeds`, a `bot.feeds.FeedWatcher` whose thread the server
starts and stops.
It also keeps what operators watch: answers counted by outcome (answered, refused, failed),
one log line per answer, the index sizes and whether the catalog and vectors agree
(`health()`, `stats()`; `bot.monitoring` turns them into Prometheus metrics).
What comes in is checked here, for both (a lone surrogate in a question, history or feedback
is refused with a 422), and what goes out carries only http(s) links (`bot.sanitize`). Who may call which
method is decided before: `bot.auth` and the API-key check in `bot.api_deps`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bot.catalog import DocumentInfo
from bot.chain import ChatBot, Delta
from bot.config import Settings
from bot.errors import (
    BotError,
    BusyError,
    InvalidQuestionError,
    UnsupportedFileError,
    UploadTooLargeError,
    WebError,
)
from bot.feeds import FEEDS_FILE, FeedWatcher, WatchedFeed, every_text
from bot.fetch import is_url
from bot.ingest import IngestReport, ingest_documents
from bot.loaders import SUPPORTED_HINT, SUPPORTED_SUFFIXES, load_file
from bot.sanitize import has_lone_surrogate, safe_url
from bot.types import Answer, Turn
from bot.web import check_feed, ingest_urls, parse_every

History = list[Turn | Mapping[str, Any]] | None

log = logging.getLogger("bot.service")

#: The shortest interval at which the documents page lets a feed be polled, in seconds: a
#: typo ("15s" for "15m") should not hammer someone's site.
MIN_FEED_EVERY_S = 60.0


class Service:
    """Answers, documents and feedback for one server process."""

    def __init__(self, settings: Settings, bot: ChatBot | None = None) -> None:
        self.settings = settings
        self.bot = bot or ChatBot(settings)
        self.index = self.bot.index
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self._write_lock = threading.Lock()  # one ingest or removal at a time
        self._feedback_lock = threading.Lock()
        self.feedback_path = settings.data_dir / "feedback.jsonl"
        self._outcomes: Counter[str] = Counter()
        self._outcomes_lock = threading.Lock()
        self.feeds = FeedWatcher(settings.data_dir / FEEDS_FILE, self.ingest_url)

    # --- answering --------------------------------------------------------------------------
    @contextmanager
    def slot(self) -> Iterator[None]:
        """Wait for one of `max_concurrency` slots; refuse when `max_queue` already wait."""
        with self._waiting_lock:
            if self._waiting >= self.settings.max_queue:
                raise BusyError(
                    "The server is busy answering other questions. Try again in a few seconds."
                )
            self._waiting += 1
        try:
            self._slots.acquire()
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()

    def ask(self, question: str, history: History = None) -> Answer:
        """The checked answer to `question` (the one entry point, with queueing)."""
        _refuse_surrogates("question or its history", question, _texts(history))
        self.bot.validate_question(question)
        with self.slot(), self._counted() as record:
            return record(_safe_links(self.bot.answer(question, history)))

    def stream(self, question: str, history: History = None) -> Iterator[Delta | Answer]:
        """Deltas then the Answer. The question is checked by this call, before any event;
        a full queue or an empty index raise when the first event is asked for."""
        _refuse_surrogates("question or its history", question, _texts(history))
        self.bot.validate_question(question)
        return self._stream(question, history)

    def _stream(self, question: str, history: History) -> Iterator[Delta | Answer]:
        with self.slot(), self._counted() as record:
            for event in self.bot.stream(question, history):
                yield record(_safe_links(event)) if isinstance(event, Answer) else event

    @contextmanager
    def _counted(self) -> Iterator[Callable[[Answer], Answer]]:
        """Count the answer given inside (answered or refused), or a failure, and log it."""
        started = time.perf_counter()
        answers: list[Answer] = []

        def record(answer: Answer) -> Answer:
            answers.append(answer)
            return answer

        outcome = "abandoned"  # a stream its client closed before the answer
        try:
            yield record
        except GeneratorExit:
            raise
        except BaseException:
            outcome = "failed"
            raise
        finally:
            if answers:
                outcome = "refused" if answers[-1].refused else "answered"
            if outcome != "abandoned":
                with self._outcomes_lock:
                    self._outcomes[outcome] += 1
            log.info(
                "answer",
                extra={
                    "outcome": outcome,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "citations": len(answers[-1].citations) if answers else 0,
                },
            )

    # --- documents --------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        return self.index.documents()

    def upload(self, filename: str, data: bytes) -> IngestReport:
        """Ingest one uploaded file; raises UnsupportedFileError with what to do."""
        name = Path(filename or "").name
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise UnsupportedFileError(
                f"{name or 'The file'}: cannot ingest this type. {SUPPORTED_HINT}"
            )
        limit = self.settings.max_upload_mb * 1024 * 1024
        if len(data) > limit:
            raise UploadTooLargeError(
                f"{name}: {len(data) / 1e6:.1f} MB is over the {self.settings.max_upload_mb} MB "
                "upload limit. Split it, or ingest it with `bot ingest`."
            )
        if not data.strip():
            raise UnsupportedFileError(f"{name}: the file is empty.")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            # Load everything first, so a bad line in a feed stores nothing of that feed.
            documents = list(load_file(path, source=name))
            with self._write_lock:
                report = ingest_documents(self.index, documents)
        log.info(
            "upload",
            extra={
                "file": name,
                "added": len(report.added),
                "updated": len(report.updated),
                "unchanged": len(report.unchanged),
                "passages": report.passages,
                "errors": len(report.errors),
            },
        )
        return report

    def ingest_url(self, url: str) -> IngestReport:
        """Ingest an article page, or every entry of an RSS/Atom feed, from the web (as
        `bot ingest URL` does). Raises a `WebError` saying why when nothing could be stored;
        entries that fail while others go in are in the report's errors."""
        url = _web_address(url)
        report = ingest_urls(self.index, [url], write_lock=self._write_lock)
        log.info(
            "ingest url",
            extra={
                "url": url,
                "added": len(report.added),
                "updated": len(report.updated),
                "unchanged": len(report.unchanged),
                "passages": report.passages,
                "errors": len(report.errors),
            },
        )
        if report.errors and not (report.added or report.updated or report.unchanged):
            raise WebError("\n".join(report.errors))
        return report

    def watch_feed(self, url: str, every: str) -> WatchedFeed:
        """Watch an RSS/Atom feed every `every` ("15m"), polling it once now."""
        every_s = parse_every(every)
        if every_s < MIN_FEED_EVERY_S:
            raise BotError(
                f"Every {every_text(every_s)} is too often: poll a feed at most once every "
                f"{every_text(MIN_FEED_EVERY_S)} (15m is usual)."
            )
        url = _web_address(url)
        check_feed(url, self.settings)
        return self.feeds.add(url, every_s)

    def remove(self, doc_id: str) -> DocumentInfo:
        with self._write_lock:
            info = self.index.remove(doc_id)
        log.info("remove", extra={"doc_id": doc_id, "passages": info.passages})
        return info

    # --- feedback ---------------------------------------------------------------------------
    def record_feedback(
        self,
        question: str,
        answer: Mapping[str, Any],
        rating: int,
        history: History = None,
        comment: str = "",
    ) -> dict[str, Any]:
        """Append a thumbs up (1) or down (-1) with the question, answer and citations."""
        if rating not in (1, -1):
            raise InvalidQuestionError("Feedback rating must be 1 (thumbs up) or -1 (thumbs down).")
        _refuse_surrogates("feedback", question, answer, comment, _texts(history))
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "rating": rating,
            "question": question,
            "history": [asdict(t) if isinstance(t, Turn) else dict(t) for t in history or []],
            "answer": answer.get("text", ""),
            "refused": bool(answer.get("refused", False)),
            "standalone_question": answer.get("standalone_question", question),
            "citations": [
                {k: c.get(k) for k in ("n", "passage_id", "doc_id", "title", "quote")}
                for c in answer.get("citations", [])
            ],
            "comment": comment,
        }
        with self._feedback_lock:
            self.feedback_path.parent.mkdir(parents=True, exist_ok=True)
            with self.feedback_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return record

    def feedback(self) -> list[dict[str, Any]]:
        if not self.feedback_path.exists():
            return []
        with self._feedback_lock:
            lines = self.feedback_path.read_text(encoding="utf-8").splitlines()
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a killed process; the others still count
        return records

    def feedback_as_cases(self) -> list[dict[str, Any]]:
        """Feedback turned into evaluation cases (the `bot eval` question-set format).

        A thumbs-up answer becomes the expected answer with its cited passages as gold; a
        thumbs-down keeps the question for a person to fill in the right answer.
        """
        cases = []
        for i, record in enumerate(self.feedback(), start=1):
            good = record["rating"] > 0
            cases.append(
                {
                    "id": f"feedback-{i}",
                    "question": record["question"],
                    "history": record.get("history", []),
                    "answers": [record["answer"]] if good and not record["refused"] else [],
                    "unanswerable": good and record["refused"],
                    "gold_passage_ids": [c["passage_id"] for c in record["citations"]]
                    if good
                    else [],
                    "needs_review": not good,
                }
            )
        return cases

    def stats(self) -> dict[str, Any]:
        """Answers by outcome, requests waiting for a slot, and the index sizes."""
        with self._outcomes_lock:
            outcomes = {k: self._outcomes[k] for k in ("answered", "refused", "failed")}
        return {"answers": outcomes, "waiting": self._waiting, **self.index_sizes()}

    def index_sizes(self) -> dict[str, Any]:
        """Documents and passages in the catalog, vectors in the store (None when it cannot
        be reached), and whether passages and vectors agree. They differ for a moment while
        documents are being written, which counts as agreeing. Other replicas' writes are
        caught up with first (throttled), so an idle replica's health stays true."""
        self.index.sync.maybe_catch_up()
        catalog = self.index.catalog
        passages = catalog.count_passages()
        try:
            vectors: int | None = self.index.vectors.count()
        except Exception:  # a Chroma server gone away: reported, not a 500
            log.warning("cannot count the vectors", exc_info=True)
            vectors = None
        return {
            "documents": catalog.count_documents(),
            "passages": passages,
            "vectors": vectors,
            "vectors_agree": vectors == passages or bool(catalog.pending()),
        }

    def health(self) -> dict[str, Any]:
        sizes = self.index_sizes()
        return {
            # "degraded": the vector store cannot be reached, or holds other passages than
            # the catalog; `bot doctor` says which.
            "status": "ok" if sizes["vectors_agree"] else "degraded",
            **sizes,
            "mode": self.bot.answerer.mode,
            "embedding_model": self.index.embedder.name,
            "embedding_backend": self.index.embedder.backend,
            "store": f"chroma server {self.settings.chroma_host}:{self.settings.chroma_port}"
            if self.settings.chroma_host
            else "embedded chroma",
            # Replicas sharing a Chroma server: the change count this one has applied and how
            # long ago it last found itself in step (`bot.sync`).
            "sync": self.index.sync.state(),
        }


def _web_address(url: str) -> str:
    """The address stripped, or a `WebError` saying what to give instead."""
    url = (url or "").strip()
    _refuse_surrogates("address", url)
    if not url:
        raise WebError("Give the address of an article page or of an RSS/Atom feed first.")
    if not is_url(url):
        raise WebError(
            f"{url[:200]}: not a web address. Give one that starts with https:// (or http://)."
        )
    return url


def _texts(history: History) -> Any:
    """The history as plain data for `has_lone_surrogate`; anything that is not a list is left
    for the answerer's own check to refuse."""
    if not isinstance(history, list | tuple):
        return None
    return [turn.content if isinstance(turn, Turn) else turn for turn in history]


def _refuse_surrogates(what: str, *values: Any) -> None:
    """Refuse text that no encoder accepts, saying so, before it is answered or stored."""
    if any(has_lone_surrogate(value) for value in values):
        raise InvalidQuestionError(
            f"The {what} holds a lone UTF-16 surrogate (such as \\ud800), which is not valid "
            "Unicode. Send the text as valid UTF-8."
        )


def _safe_links(answer: Answer) -> Answer:
    """The answer with every citation's URL plain http(s) or empty: whatever is stored, a
    `javascript:` link never reaches a page or a portal."""
    if all(c.url == safe_url(c.url) for c in answer.citations):
        return answer
    citations = [replace(c, url=safe_url(c.url)) for c in answer.citations]
    return replace(answer, citations=citations)
