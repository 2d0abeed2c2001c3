"""News from the web against a real local HTTP server: article pages with boilerplate, RSS and
Atom feeds, a non-article page, a huge page, a redirect loop and a redirect to a private
address; the private-address rule with and without BOT_ALLOW_PRIVATE_URLS; `bot watch`; the
documents page's web controls over a real `Service` (add now, watch a feed, the watch list
kept across a restart) and the server's feed-watching thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from fastapi.testclient import TestClient

from bot import fetch as fetching
from bot.admin_ui import build_admin_ui
from bot.chain import ChatBot
from bot.cli import main
from bot.config import Settings
from bot.embeddings import Embedder
from bot.errors import BotError, WebError
from bot.feeds import FEEDS_FILE
from bot.fetch import MAX_BYTES, fetch
from bot.index import Index
from bot.server import create_app
from bot.service import Service
from bot.web import article_from_html, doc_id_for_url, ingest_urls, parse_every, watch

BOILERPLATE = [
    "We use cookies to improve your experience",
    "Morning Briefing newsletter",
    "Most read",
    "Celebrity chef opens floating restaurant",
    "All rights reserved",
    "Home World Sport",
]

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title} | Coastal Times</title>
<link rel="canonical" href="{base}/news/{slug}">
<meta name="author" content="{author}">
{date_meta}
</head><body>
<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your experience.
Accept all cookies?</p></div>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li></ul></nav>
<header><p>Coastal Times</p></header>
<main><article>
<h1>{title}</h1>
<p class="byline">By {author}</p>
{paragraphs}
<aside class="promo newsletter"><p>Sign up for our Morning Briefing newsletter and get the
news delivered to your inbox every day!</p></aside>
</article></main>
<aside class="most-read"><h3>Most read</h3><ol>
<li><a href="/a">Celebrity chef opens floating restaurant</a></li>
<li><a href="/b">Ten best beaches this summer</a></li></ol></aside>
<footer><p>© 2026 Coastal Times. All rights reserved. Contact us | Privacy policy</p></footer>
</body></html>
"""

ARTICLES = {
    "bridge": (
        "Harbour bridge reopens after repairs",
        "Jane Ortega",
        "2026-03-14",
        [
            "The Harbour Bridge reopened to traffic on Saturday morning after eleven weeks of "
            "repairs to its corroded steel cables, the city's transport office said.",
            "Engineers replaced 42 suspension cables and resurfaced the deck. The work cost 18 "
            "million euros, two million more than planned, because extra corrosion was found "
            "under the eastern tower.",
            "Ferry operators, who carried an extra 9,000 passengers a day during the closure, "
            "will return to their normal timetable next week.",
        ],
    ),
    "library": (
        "City library extends opening hours",
        "Tomas Berg",
        "",  # no date on the page: the feed's date stands in
        [
            "The central library will stay open until ten in the evening from April, the "
            "culture department announced, after a survey of 3,400 readers asked for later "
            "hours.",
            "The extra hours are paid for by a grant of 600,000 euros from the regional "
            "government and will need eight more staff.",
        ],
    ),
    "harvest": (
        "Record apple harvest in the valley",
        "Mira Kovac",
        "2026-03-20",
        [
            "Orchards in the valley picked a record 51,000 tonnes of apples this season, "
            "helped by a mild spring without late frosts, the growers' cooperative said.",
            "Prices fell by a fifth at the wholesale market, and the cooperative is looking "
            "for new buyers abroad.",
        ],
    ),
}


def _page(base: str, slug: str) -> str:
    title, author, date, paragraphs = ARTICLES[slug]
    meta = f'<meta property="article:published_time" content="{date}T08:30:00Z">' if date else ""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return PAGE.format(
        title=title, author=author, base=base, slug=slug, date_meta=meta, paragraphs=body
    )


def _rss(base: str, slugs: list[str]) -> str:
    items = "".join(
        f"<item><title>{ARTICLES[s][0]}</title><link>{base}/news/{s}</link>"
        f"<pubDate>Tue, 10 Mar 2026 07:00:00 GMT</pubDate></item>"
        for s in slugs
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Coastal Times</title>'
        f"<link>{base}/</link><description>News</description>{items}</channel></rss>"
    )


def _atom(base: str, slugs: list[str]) -> str:
    entries = "".join(
        f'<entry><title>{ARTICLES[s][0]}</title><link href="{base}/news/{s}"/>'
        f"<id>{base}/news/{s}</id><updated>2026-03-11T07:00:00Z</updated></entry>"
        for s in slugs
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Coastal Times</title><id>{base}/</id><updated>2026-03-11T07:00:00Z</updated>"
        f"{entries}</feed>"
    )


class _Handler(SimpleHTTPRequestHandler):
    """Files from the site folder, plus redirects the tests need."""

    def do_GET(self) -> None:
        redirects = {
            "/loop-a": "/loop-b",
            "/loop-b": "/loop-a",
            "/to-private": "http://10.255.255.1/secret",
            "/moved": "/news/bridge",
        }
        if self.path in redirects:
            self.send_response(302)
            self.send_header("Location", redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/endless":  # no Content-Length: only reading the body finds its size
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(MAX_BYTES // 65536 + 10):
                    self.wfile.write(b"<p>" + b"y" * 65533)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading at the limit, as it should
            return
        if self.path == "/slow":  # answers after the client's (shortened) timeout
            time.sleep(1.5)
        super().do_GET()

    def guess_type(self, path: str | Path) -> str:
        if str(path).endswith(".pdf"):
            return "application/pdf"
        return "application/rss+xml" if str(path).endswith(".xml") else "text/html"

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that stops reading a huge page resets the connection: expected here


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A threaded HTTP server on 127.0.0.1 serving a folder of pages and feeds."""
    root = tmp_path / "site"
    (root / "news").mkdir(parents=True)
    server = _Server(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for slug in ARTICLES:
        (root / "news" / slug).write_text(_page(base, slug), encoding="utf-8")
    (root / "rss.xml").write_text(_rss(base, ["bridge", "library"]), encoding="utf-8")
    (root / "atom.xml").write_text(_atom(base, ["bridge", "harvest"]), encoding="utf-8")
    (root / "index.html").write_text(
        "<html><head><title>Coastal Times</title></head><body><nav><a href='/'>Home</a>"
        "<a href='/world'>World</a></nav><p>Latest headlines</p></body></html>",
        encoding="utf-8",
    )
    (root / "report.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    (root / "huge").write_text("<p>" + "x" * (MAX_BYTES + 10) + "</p>", encoding="ascii")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, root
    server.shutdown()
    server.server_close()


@pytest.fixture
def web_index(tmp_path: Path, embedder: Embedder) -> Iterator[Index]:
    idx = Index(
        Settings.from_env({}, data_dir=tmp_path / "data", allow_private_urls=True), embedder
    )
    yield idx
    idx.close()


def _texts(index: Index) -> dict[str, tuple[str, str, str]]:
    """Stored documents: doc_id -> (joined passage text, url, date)."""
    out = {}
    for doc in index.documents():
        ids = sorted(index.catalog.passage_ids_of(doc.doc_id))
        passages = list(index.catalog.get_passages(ids).values())
        text = " ".join(p.text for p in sorted(passages, key=lambda p: p.start))
        assert {(p.url, p.date) for p in passages} == {(doc.url, doc.date)}
        out[doc.doc_id] = (text, doc.url, doc.date)
    return out


def test_an_article_page_is_stored_without_its_boilerplate(
    site: tuple[str, Path], web_index: Index
) -> None:
    base, _ = site
    report = ingest_urls(web_index, [f"{base}/news/bridge"])
    assert report.errors == [] and len(report.added) == 1
    (doc_id,) = report.added
    assert doc_id == doc_id_for_url(f"{base}/news/bridge")
    text, url, date = _texts(web_index)[doc_id]
    assert "42 suspension cables" in text and "normal timetable" in text
    for junk in BOILERPLATE:
        assert junk not in text
    assert url == f"{base}/news/bridge" and date == "2026-03-14"
    (doc,) = web_index.documents()
    assert doc.title == "Harbour bridge reopens after repairs"
    assert "Jane Ortega" in doc.source


def test_a_citation_carries_the_url_and_date_and_boilerplate_is_not_answered(
    site: tuple[str, Path], web_index: Index
) -> None:
    base, _ = site
    ingest_urls(web_index, [f"{base}/news/bridge"])
    bot = ChatBot(web_index.settings, web_index)
    answer = bot.answer("How many suspension cables did engineers replace?", [])
    assert not answer.refused and "42" in answer.text
    assert answer.citations[0].url == f"{base}/news/bridge"
    assert answer.citations[0].date == "2026-03-14"
    promo = bot.answer("What is the Morning Briefing newsletter?", [])
    assert promo.refused


def test_rss_and_atom_feeds_ingest_every_entry_and_rerunning_adds_nothing(
    site: tuple[str, Path], web_index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = site
    embedded: list[str] = []
    real_embed_batch = web_index.embedder.embed_batch

    def counting(texts: list[str]) -> Any:
        embedded.extend(texts)
        return real_embed_batch(texts)

    monkeypatch.setattr(web_index.embedder, "embed_batch", counting)
    report = ingest_urls(web_index, [f"{base}/rss.xml", f"{base}/atom.xml"])
    assert report.errors == []
    assert len(report.added) == 3  # bridge is in both feeds: stored once
    stored = _texts(web_index)
    library = stored[doc_id_for_url(f"{base}/news/library")]
    assert "3,400 readers" in library[0]
    assert library[2] == "2026-03-10"  # the page has no date: the RSS pubDate stands in
    assert stored[doc_id_for_url(f"{base}/news/harvest")][2] == "2026-03-20"
    assert len(embedded) == 7
    again = ingest_urls(web_index, [f"{base}/rss.xml", f"{base}/atom.xml"])
    assert len(embedded) == 7  # unchanged pages: fetched and hashed, never embedded
    assert again.added == [] and again.updated == [] and again.passages == 0  # no embedding
    assert len(again.unchanged) == 3


def test_one_failing_feed_entry_is_reported_and_the_others_ingest(
    site: tuple[str, Path], web_index: Index
) -> None:
    base, root = site
    (root / "rss.xml").write_text(
        _rss(base, ["bridge"]).replace(
            "</channel>",
            f"<item><link>{base}/gone</link></item><item><title>No link</title></item></channel>",
        ),
        encoding="utf-8",
    )
    report = ingest_urls(web_index, [f"{base}/rss.xml"])
    assert len(report.added) == 1
    assert len(report.errors) == 2 and "404" in report.errors[0]
    assert "'No link'" in report.errors[1] and "no http(s) link" in report.errors[1]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/index.html", "no article text found"),
        ("/huge", "the limit is"),
        ("/endless", "over the limit"),
        ("/loop-a", "redirects"),
    ],
)
def test_pages_that_are_refused_say_why(site: tuple[str, Path], path: str, message: str) -> None:
    base, _ = site
    with pytest.raises(WebError, match=message):
        page = fetch(base + path, allow_private=True)
        article_from_html(page.body, page.url)


def test_every_redirect_hop_is_checked(
    site: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = site
    # The test server is on loopback: count loopback as public, so that only the redirect's
    # target (10.255.255.1, never connected to) is a private address.
    monkeypatch.setattr(
        fetching, "_is_public", lambda address: address.is_loopback or address.is_global
    )
    assert b"42 suspension cables" in fetch(f"{base}/moved").body
    with pytest.raises(WebError, match=r"10\.255\.255\.1.*BOT_ALLOW_PRIVATE_URLS"):
        fetch(f"{base}/to-private")


def test_a_redirect_is_followed_to_the_article(site: tuple[str, Path], web_index: Index) -> None:
    base, _ = site
    report = ingest_urls(web_index, [f"{base}/moved"])
    assert report.added == [doc_id_for_url(f"{base}/news/bridge")]


def test_a_loopback_url_is_refused_unless_private_urls_are_allowed(
    site: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = site
    assert main(["ingest", "--quiet", f"{base}/news/bridge"]) == 1
    err = capsys.readouterr()
    assert "127.0.0.1" in err.out and "BOT_ALLOW_PRIVATE_URLS" in err.out
    with pytest.raises(WebError, match="only http"):
        fetch("file:///etc/passwd")


def test_cli_ingests_a_feed_and_a_non_article_page_exits_1(
    site: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = site
    monkeypatch.setenv("BOT_ALLOW_PRIVATE_URLS", "true")
    assert main(["ingest", "--quiet", f"{base}/rss.xml"]) == 0
    assert "2 added" in capsys.readouterr().out
    assert main(["ingest", "--quiet", f"{base}/index.html"]) == 1
    out = capsys.readouterr().out
    assert "no article text found" in out and "Traceback" not in out
    assert main(["ingest", "--quiet", f"{base}/report.pdf"]) == 1
    assert "is application/pdf, not a web page" in capsys.readouterr().out


def test_watch_ingests_an_entry_added_between_rounds(
    site: tuple[str, Path], web_index: Index
) -> None:
    base, root = site
    lines: list[str] = []

    def between_rounds(seconds: float) -> None:
        assert seconds == 900
        (root / "rss.xml").write_text(_rss(base, ["bridge", "library", "harvest"]))

    reports = watch(
        web_index,
        [f"{base}/rss.xml", f"{base}/missing.xml"],
        parse_every("15m"),
        rounds=2,
        log=lines.append,
        sleep=between_rounds,
    )
    assert len(reports[0].added) == 2 and len(reports[0].errors) == 1  # the missing feed
    assert reports[1].added == [doc_id_for_url(f"{base}/news/harvest")]
    assert len(reports[1].unchanged) == 2 and reports[1].passages == 2
    assert len(lines) == 4 and "round 2" in lines[2] and "1 added" in lines[2]
    assert "404" in lines[3]  # the failing feed is logged, the other carried on


def test_watch_command_runs_the_given_rounds(
    site: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = site
    monkeypatch.setenv("BOT_ALLOW_PRIVATE_URLS", "true")
    assert main(["watch", f"{base}/atom.xml", "--every", "0.01s", "--rounds", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "round 1" in out[0] and "2 added" in out[0]
    assert "round 2" in out[1] and "0 added" in out[1] and "2 unchanged" in out[1]
    assert main(["watch", f"{base}/atom.xml", "--every", "soon"]) == 2


def test_a_canonical_url_on_another_site_is_not_taken(site: tuple[str, Path]) -> None:
    base, _ = site
    page = _page(base, "bridge").replace(f"{base}/news/bridge", "https://other.example.com/x")
    doc = article_from_html(page, f"{base}/news/bridge")
    assert doc.url == f"{base}/news/bridge" and doc.doc_id == doc_id_for_url(doc.url)


@pytest.mark.parametrize(
    "url", ["https://news.example.org/a", "https://news.example.org/" + "x" * 500]
)
def test_document_ids_from_urls_are_printable_bounded_and_stable(url: str) -> None:
    doc_id = doc_id_for_url(url)
    assert doc_id == doc_id_for_url(url) and doc_id.isprintable() and len(doc_id) <= 100
    assert doc_id != doc_id_for_url(url + "b")


# --- the documents page's web controls and the feed watcher ------------------------------------
def _service(index: Index) -> Service:
    from .helpers import CannedBot

    return Service(index.settings, CannedBot(index))  # type: ignore[arg-type]


def _page_handlers(service: Service, admin: bool = True) -> dict[str, Any]:
    demo = build_admin_ui(service, lambda request: admin)
    return {fn.name: fn.fn for fn in demo.fns.values()}


ADMIN_REQUEST = object()


def test_an_admin_watches_a_feed_and_the_list_survives_a_restart(
    site: tuple[str, Path], web_index: Index
) -> None:
    base, _ = site
    service = _service(web_index)
    fns = _page_handlers(service)
    result, documents, _choices, _status, feeds, feed_choices = fns["watch_feed"](
        f"{base}/rss.xml", "30m", ADMIN_REQUEST
    )
    assert result.startswith(f"Watching {base}/rss.xml every 30m. First poll: 2 added")
    assert {row[0] for row in documents["data"]} == {
        doc_id_for_url(f"{base}/news/bridge"),
        doc_id_for_url(f"{base}/news/library"),
    }
    [[url, every, polled, outcome, error]] = feeds["data"]
    assert (url, every, outcome, error) == (
        f"{base}/rss.xml",
        "30m",
        "2 added, 0 updated, 0 unchanged",
        "",
    )
    assert polled.endswith("UTC") and feed_choices.choices == [(url, url)]
    # Re-opened (a restarted server): the list, with its last poll, comes back from the file.
    again = _service(web_index)
    [feed] = again.feeds.feeds()
    assert (feed.url, feed.every_s, feed.last_result) == (url, 1800, outcome)
    assert not feed.due(time.time())  # polled a moment ago: not before its interval is up
    assert fns["show_feeds"](ADMIN_REQUEST)[0]["data"] == feeds["data"]
    result, feeds, _ = _page_handlers(again)["unwatch_feed"](url, ADMIN_REQUEST)
    assert "Stopped watching" in result and feeds["data"] == []
    assert _service(web_index).feeds.feeds() == []
    assert len(web_index.documents()) == 2  # its articles stay


def test_an_admin_adds_an_article_or_a_feed_now(site: tuple[str, Path], web_index: Index) -> None:
    base, root = site
    fns = _page_handlers(_service(web_index))
    result, documents, *_ = fns["add_now"](f"  {base}/news/harvest ", ADMIN_REQUEST)
    assert result.startswith("1 added") and len(documents["data"]) == 1
    (root / "rss.xml").write_text(
        _rss(base, ["bridge"]).replace(
            "</channel>", f"<item><link>{base}/gone</link></item></channel>"
        )
    )
    result, documents, *_ = fns["add_now"](f"{base}/rss.xml", ADMIN_REQUEST)
    assert result.startswith("1 added") and "1 not added" in result and "404" in result
    assert len(documents["data"]) == 2


@pytest.mark.parametrize(
    ("handler", "args", "message"),
    [
        ("add_now", ["ftp://example.org/a"], "not a web address"),
        ("add_now", [""], "Give the address"),
        ("add_now", ["{base}/index.html"], "no article text found"),
        ("add_now", ["{base}/report.pdf"], "not a web page"),
        ("add_now", ["{base}/slow"], "did not answer within"),
        ("watch_feed", ["{base}/news/bridge", "15m"], "not an RSS or Atom feed"),
        ("watch_feed", ["{base}/rss.xml", "15s"], "too often"),
        ("watch_feed", ["{base}/rss.xml", "soon"], "not an interval"),
        ("watch_feed", ["{base}/missing.xml", "15m"], "404"),
        ("unwatch_feed", ["{base}/rss.xml"], "is not watched"),
        ("unwatch_feed", [None], "Choose the feed"),
    ],
)
def test_bad_web_input_on_the_documents_page_says_what_to_do(
    site: tuple[str, Path],
    web_index: Index,
    monkeypatch: pytest.MonkeyPatch,
    handler: str,
    args: list[Any],
    message: str,
) -> None:
    base, _ = site
    monkeypatch.setattr(fetching, "TIMEOUT_S", 0.3)
    service = _service(web_index)
    with pytest.raises(gr.Error, match=message) as raised:
        _page_handlers(service)[handler](
            *[a.format(base=base) if a else a for a in args], ADMIN_REQUEST
        )
    assert "Traceback" not in str(raised.value)
    assert web_index.documents() == [] and service.feeds.feeds() == []
    assert not (web_index.settings.data_dir / FEEDS_FILE).exists()


def test_a_private_address_is_refused_on_the_documents_page_unless_allowed(
    site: tuple[str, Path], index: Index
) -> None:
    base, _ = site
    assert not index.settings.allow_private_urls
    fns = _page_handlers(_service(index))
    for handler, args in (
        ("add_now", [f"{base}/news/bridge"]),
        ("watch_feed", [f"{base}/rss.xml", "1h"]),
    ):
        with pytest.raises(gr.Error, match="BOT_ALLOW_PRIVATE_URLS"):
            fns[handler](*args, ADMIN_REQUEST)
    assert index.documents() == []


def test_web_controls_refuse_a_request_that_is_not_an_admins(
    site: tuple[str, Path], web_index: Index
) -> None:
    base, _ = site
    service = _service(web_index)
    service.feeds.add(f"{base}/atom.xml", 3600)  # watched already: the intruder would remove it
    before = len(web_index.documents())
    fns = _page_handlers(service, admin=False)
    calls = {
        "add_now": (f"{base}/rss.xml",),
        "watch_feed": (f"{base}/rss.xml", "15m"),
        "unwatch_feed": (f"{base}/atom.xml",),
        "refresh_feeds": (),
        "show_feeds": (),
    }
    for name, args in calls.items():
        with pytest.raises(gr.Error, match="Sign in as an admin"):
            fns[name](*args, object())
    assert len(web_index.documents()) == before == 2
    assert [f.url for f in service.feeds.feeds()] == [f"{base}/atom.xml"]


def test_the_server_polls_watched_feeds_in_a_thread_it_stops_on_shutdown(
    site: tuple[str, Path], web_index: Index
) -> None:
    base, root = site
    service = _service(web_index)
    service.feeds.add(
        f"{base}/rss.xml", 0.2
    )  # the page allows a minute at least; a test waits less
    assert len(web_index.documents()) == 2
    (root / "rss.xml").write_text(_rss(base, ["bridge", "library", "harvest"]), encoding="utf-8")
    harvest = doc_id_for_url(f"{base}/news/harvest")
    with TestClient(create_app(web_index.settings, service, with_ui=False)):
        assert service.feeds.running
        deadline = time.monotonic() + 30
        while harvest not in {d.doc_id for d in web_index.documents()}:
            assert time.monotonic() < deadline, "the watcher never polled the feed again"
            time.sleep(0.1)
    assert not service.feeds.running
    [feed] = service.feeds.feeds()
    assert feed.last_error == "" and "unchanged" in feed.last_result


def test_an_unreadable_watch_list_stops_the_service_with_what_to_do(
    site: tuple[str, Path], web_index: Index
) -> None:
    base, _ = site
    path = web_index.settings.data_dir / FEEDS_FILE
    service = _service(web_index)
    service.feeds.add(f"{base}/missing.xml", 3600)  # its poll fails, and that is kept too
    [feed] = _service(web_index).feeds.feeds()
    assert feed.last_result == "not polled" and "404" in feed.last_error
    assert [p.name for p in path.parent.glob(f".{FEEDS_FILE}*")] == []  # no temporary file left
    path.write_text('{"feeds": [{"url": ', encoding="utf-8")  # cut short by hand
    with pytest.raises(BotError, match=r"cannot read the watched feeds.*Fix or delete"):
        _service(web_index)
    assert path.read_text(encoding="utf-8") == '{"feeds": [{"url": '  # left for the admin
