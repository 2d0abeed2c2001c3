"""News from the web: article pages and RSS/Atom feeds as `Document`s, and `bot watch`.

- `load_url(url)` fetches a page (`bot.fetch`, under its network rules), tells a feed from an
  article by its content (`feedparser`), and yields one `Document` per article: its main text
  extracted by `trafilatura` (navigation, promos, "most read" boxes, footers and cookie banners
  dropped), with title, author, canonical URL and publication date. A feed entry's own date
  stands in when its page has none. One failing feed entry is reported through `on_error` and
  the others still load. A page with no article text, or a body that is not a web page, is a
  `WebError` saying so.
- `ingest_urls` stores what `load_url` yields through `bot.ingest`, so an unchanged page costs
  no embedding (content hash). It is the one way a URL is ingested: by `bot ingest URL`, by
  `watch` (`bot watch`), and by the server's documents page and feed watcher (`bot.service`,
  `bot.feeds`), which pass their write lock so that pages are fetched before it is taken.
- `check_feed` tells whether an address is a feed, before the documents page watches it.

Fetching is `bot.fetch`'s job; splitting into passages and storing are `bot.ingest`'s.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from bot.errors import BotError, WebError
from bot.fetch import Fetched, fetch, is_url
from bot.sanitize import clean_text, safe_url
from bot.types import Document

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.index import Index
    from bot.ingest import IngestReport

#: Main text shorter than this (in characters) means the page is not an article.
MIN_ARTICLE_CHARS = 200


def doc_id_for_url(url: str) -> str:
    """A stable, printable, bounded id from a (canonical) URL: host and path as a slug, plus a
    short hash so that URLs that slug alike stay apart."""
    parts = urlsplit(url)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.hostname or ''}{parts.path}").strip("-")
    digest = hashlib.sha1(url.encode()).hexdigest()[:8]
    return f"{slug.lower()[:80] or 'page'}-{digest}"


def article_from_html(html: bytes | str, url: str, fallback_date: str = "") -> Document:
    """The article in a page: main text, title, author, canonical URL and date."""
    import trafilatura

    result = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        # The date from the page's markup and URL only: an extensive search takes a footer's
        # "© 2026" for 2026-01-01, and the feed's own date is the better fallback.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    text = (result.text or "") if result is not None else ""
    if len(text.strip()) < MIN_ARTICLE_CHARS:
        raise WebError(
            f"{url}: no article text found on this page (it looks like an index, login or "
            "error page). Give the address of an article, or of an RSS/Atom feed."
        )
    assert result is not None
    paragraphs = [line.strip() for line in clean_text(text).split("\n") if line.strip()]
    canonical = _canonical(safe_url(result.url or ""), url)
    title = clean_text(result.title or "") or canonical
    if paragraphs and paragraphs[0] == title:  # trafilatura repeats the headline as line one
        paragraphs = paragraphs[1:] or paragraphs
    host = urlsplit(canonical).hostname or ""
    author = clean_text(result.author or "")
    return Document(
        doc_id=doc_id_for_url(canonical),
        title=title,
        text="\n\n".join(paragraphs),
        source=f"{host} ({author})" if author else host,
        date=result.date or fallback_date,
        url=canonical,
    )


def _canonical(declared: str, fetched: str) -> str:
    """The page's declared canonical URL when it is on the same site as the fetched one; a page
    naming another site's address must not take over (and overwrite) that site's document."""

    def site(url: str) -> str:
        return (urlsplit(url).hostname or "").removeprefix("www.")

    return declared if declared and site(declared) == site(fetched) else fetched


def parse_feed(body: bytes) -> Any | None:
    """The parsed feed if `body` is RSS or Atom, else None."""
    import feedparser

    head = body[:2048].lstrip().lower()
    if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
        return None  # feedparser accepts many HTML pages as a "feed" with no entries
    feed = feedparser.parse(body)
    return feed if feed.version and feed.entries else None


def _check_is_html(page: Fetched) -> None:
    """Refuse a body that is not a web page (a PDF, an image) before parsing it as HTML."""
    kind = page.content_type.split(";")[0].strip().lower()
    if kind and not (kind.startswith("text/") or "html" in kind or "xml" in kind):
        raise WebError(
            f"{page.url}: is {kind}, not a web page. Download it and ingest the file instead."
        )


def _entry_date(entry: Any) -> str:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", parsed) if parsed else ""


def load_url(
    url: str, settings: Settings, on_error: Callable[[str], None] | None = None
) -> Iterator[Document]:
    """The articles at `url`: one for an article page, one per entry for a feed. A failing
    entry goes to `on_error` (or is raised when none is given); the others still load."""
    page = fetch(url, settings.allow_private_urls)
    feed = parse_feed(page.body)
    if feed is None:
        _check_is_html(page)
        yield article_from_html(page.body, page.url)
        return
    for entry in feed.entries:
        link = urljoin(page.url, entry.get("link") or "") if entry.get("link") else ""
        try:
            if not is_url(link):
                raise WebError(
                    f"{url}: an entry ({entry.get('title', '?')!r}) has no http(s) link."
                )
            article = fetch(link, settings.allow_private_urls)
            _check_is_html(article)
            yield article_from_html(article.body, article.url, _entry_date(entry))
        except BotError as exc:
            if on_error is None:
                raise
            on_error(str(exc))


def check_feed(url: str, settings: Settings) -> None:
    """Raise a `WebError` unless `url` is an RSS or Atom feed with entries."""
    page = fetch(url, settings.allow_private_urls)
    if parse_feed(page.body) is None:
        raise WebError(
            f"{url}: not an RSS or Atom feed with entries, so there is nothing to watch. Give "
            "the site's feed address, or add this page once as an article."
        )


def ingest_urls(
    index: Index,
    urls: Iterable[str],
    report: IngestReport | None = None,
    progress: bool = False,
    write_lock: AbstractContextManager[Any] | None = None,
) -> IngestReport:
    """Ingest article pages and feeds; a URL or entry that fails is reported and skipped.

    Without `write_lock` pages are stored as they arrive (memory stays flat for the CLI). With
    it, every page is fetched first and the lock held only while storing, so a server's
    uploads and removals wait for the storing, never for a slow site.
    """
    from bot.ingest import IngestReport, ingest_documents

    report = report or IngestReport()

    def documents() -> Iterator[Document]:
        for url in urls:
            try:
                yield from load_url(url, index.settings, report.errors.append)
            except BotError as exc:
                report.errors.append(str(exc))

    if write_lock is None:
        return ingest_documents(index, documents(), report, progress=progress)
    fetched = list(documents())
    with write_lock:
        return ingest_documents(index, fetched, report, progress=progress)


def parse_every(text: str) -> float:
    """Seconds in an interval such as '90s', '15m', '2h' or a bare number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise BotError(f"{text!r} is not an interval: give one such as 90s, 15m or 2h.")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def watch(
    index: Index,
    feeds: list[str],
    every_s: float,
    rounds: int | None = None,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> list[IngestReport]:
    """Poll `feeds` every `every_s` seconds for `rounds` rounds (None: forever), ingesting new
    and changed articles; a feed that fails is logged and the others carry on."""
    from bot.ingest import IngestReport

    reports: list[IngestReport] = []
    done = 0
    while rounds is None or done < rounds:
        if done:
            sleep(every_s)
        done += 1
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        total = IngestReport()
        for feed in feeds:
            report = ingest_urls(index, [feed])
            log(f"{stamp} round {done} {feed}: {report.summary()}")
            for name in ("added", "updated", "unchanged", "errors"):
                getattr(total, name).extend(getattr(report, name))
            total.passages += report.passages
        reports.append(total)
    return reports


def add_command(sub: Any) -> None:
    """Register `bot watch`."""
    p = sub.add_parser(
        "watch",
        help="Re-poll RSS/Atom feeds and ingest new or changed articles.",
        description="Every --every, fetch each feed and ingest its entries' articles; unchanged "
        "articles cost nothing, and a feed that fails is logged while the others carry on.",
    )
    p.add_argument("feeds", nargs="+", metavar="FEED_URL", help="RSS or Atom feed addresses.")
    p.add_argument(
        "--every", default="15m", help="Interval between polls: 90s, 15m, 2h (default 15m)."
    )
    p.add_argument(
        "--rounds", type=int, default=None, help="Stop after this many polls (default: never)."
    )
    p.set_defaults(func=cmd_watch)


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from bot.index import Index

    every_s = parse_every(args.every)
    bad = [feed for feed in args.feeds if not is_url(feed)]
    if bad:
        raise BotError(f"{bad[0]}: not an http(s) address. `bot watch` takes feed URLs.")
    if args.rounds is not None and args.rounds < 1:
        raise BotError("--rounds must be at least 1.")
    index = Index(settings)
    try:
        watch(index, args.feeds, every_s, args.rounds, log=lambda line: print(line, flush=True))
    finally:
        index.close()
    return 0
