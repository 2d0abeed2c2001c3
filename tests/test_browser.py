"""The web UI in a real browser: headless Chromium (Debian's) driven by Playwright, against the
real server (`python app.py`) started once for the session on a free port with a temporary
data folder and corpus.

The corpus holds the project's article and a feed article whose text and title carry
`<script>` and `<img onerror>` markup, which must show as text and never run. Two tiny parent
pages on other origins frame `/embed`: one is allowed by BOT_FRAME_ANCESTORS, one is not. An
admin login is configured: the documents page at `/admin/` is reached through the login
form. Every page is watched for Content-Security-Policy violations, and a test fails on any:
the policy (`bot.headers`) must leave Gradio working. Screenshots go to tests/screenshots/
(gitignored).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from bot.procs import child_env, free_port, running_server
from tests.conftest import ARTICLE, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.server]


def find_chromium() -> Path | None:
    """Debian's /usr/bin/chromium, else `chromium` or `chromium-browser` on PATH: the same
    search, in the same order, as the Makefile's `chromium` step, which installs it if none."""
    debian = Path("/usr/bin/chromium")
    if os.access(debian, os.X_OK):
        return debian
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


CHROMIUM = find_chromium()
NO_CHROMIUM = "Chromium is missing: `make chromium` installs it (apt-get install chromium)"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "tests" / "screenshots"
STARTUP_TIMEOUT_S = 180
ANSWER_TIMEOUT_MS = 60_000
ADMIN_USER, ADMIN_PASSWORD = "editor", "edit-pw-12345"

MARKUP_ARTICLE = {
    "id": "zebulon-festival",
    "title": 'Zebulon <b>festival</b> <img src=x onerror="window.__pwned=3">',
    "date": "2024-05-01",
    "text": (
        "The harbour festival in Zebulon featured a <script>window.__pwned = 1</script> banner "
        'and an <img src=x onerror="window.__pwned=2"> picture, organisers said. '
        "${window.__pwned=4} {{constructor.constructor('window.__pwned=5')()}}\n\n"
        "The festival organiser is Marta Quill."
    ),
}
SCRIPT_TEXT = "<script>window.__pwned = 1</script>"
IMG_TEXT = '<img src=x onerror="window.__pwned=2">'


@dataclass
class Site:
    """The running bot server and the two parent pages that frame its /embed page."""

    url: str
    data_dir: Path
    allowed_parent: str
    refused_parent: str


def _serve_folder(folder: Path, port: int) -> ThreadingHTTPServer:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """`python app.py` on a free port: it ingests the temporary corpus, then serves."""
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    # Not tmp_path_factory: a pytest run elsewhere on the machine may prune its old folders
    # while this server still uses one.
    with tempfile.TemporaryDirectory(prefix="newsbot-browser-") as tmp:
        yield from _run_site(Path(tmp))


def _run_site(root: Path) -> Iterator[Site]:
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    (corpus / "feed.jsonl").write_text(json.dumps(MARKUP_ARTICLE) + "\n", encoding="utf-8")

    port, allowed_port, refused_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    parents = []
    for name, parent_port in (("allowed", allowed_port), ("refused", refused_port)):
        folder = root / name
        folder.mkdir()
        (folder / "index.html").write_text(
            f"<!doctype html><title>{name} portal</title><h1>{name} portal</h1>"
            f'<iframe id="chat" src="{url}/embed/" width="900" height="760"></iframe>'
        )
        parents.append(_serve_folder(folder, parent_port))

    env = child_env(
        BOT_DATA_DIR=str(root / "data"),
        BOT_CORPUS_DIR=str(corpus),
        BOT_PORT=str(port),
        BOT_HOST="127.0.0.1",
        BOT_FRAME_ANCESTORS=f"'self' http://127.0.0.1:{allowed_port}",
        BOT_ADMIN_USER=ADMIN_USER,
        BOT_ADMIN_PASSWORD=ADMIN_PASSWORD,
        GRADIO_ANALYTICS_ENABLED="False",
    )
    command = [sys.executable, str(ROOT / "app.py")]
    try:
        with running_server(command, url + "/embed/", root / "server.log", env, STARTUP_TIMEOUT_S):
            yield Site(
                url=url,
                data_dir=root / "data",
                allowed_parent=f"http://127.0.0.1:{allowed_port}/",
                refused_parent=f"http://127.0.0.1:{refused_port}/",
            )
    finally:
        for parent in parents:
            parent.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop running in the main thread while
    # it is open, and async tests of later modules (pytest-asyncio) cannot start their own.
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def watch_csp(page: Page) -> list[str]:
    """The Content-Security-Policy violations `page` reports, as they happen."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """A fresh browser context, so a fresh Gradio session, on the chat page; the test fails
    if the page reports a CSP violation."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    violations = watch_csp(page)
    page.goto(site.url + "/")
    page.wait_for_selector("#question textarea")
    yield page
    context.close()
    assert violations == []


def sign_in_as_admin(page: Page, site: Site) -> None:
    """Open the documents page through the login form, in `page`'s own browser context."""
    page.goto(site.url + "/admin/")
    page.wait_for_selector("form input[name=password]")
    page.fill("input[name=username]", ADMIN_USER)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#documents")


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def ask(page: Page, question: str) -> Locator:
    """Type a question, send it, wait for its final answer; return that answer."""
    answers = page.locator("#chat .answer.final")
    before = answers.count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    expect(answers).to_have_count(before + 1, timeout=ANSWER_TIMEOUT_MS)
    return answers.nth(before)


RECORD_PARTIALS = """() => {
  window.__partials = [];
  new MutationObserver(() => {
    const streaming = document.querySelector("#chat .answer.streaming");
    const text = streaming ? streaming.textContent : null;
    if (text && window.__partials[window.__partials.length - 1] !== text) window.__partials.push(text);
  }).observe(document.querySelector("#chat"), { subtree: true, childList: true, characterData: true });
}"""


def test_answer_streams_and_citation_opens_the_passage(page: Page) -> None:
    page.evaluate(RECORD_PARTIALS)
    answer = ask(page, "Who brokered the 2020 ceasefire?")
    expect(answer).to_contain_text("Putin")
    partials = [p for p in page.evaluate("window.__partials") if "Searching" not in p]
    assert len(partials) >= 3, f"the answer did not stream: {partials}"
    assert all(b.startswith(a) for a, b in itertools.pairwise(partials)), partials

    cite = answer.locator("a.cite", has_text="[1]")
    expect(cite).to_be_visible()
    cite.click()
    source = page.locator("#sources #src-0-1")
    expect(source).to_have_class("source active")
    expect(source.locator(".source-title")).to_have_text("Caucasus peace talks")
    expect(source.locator("mark")).to_contain_text("Putin")
    expect(source.locator(".source-text")).to_contain_text("cease-fire")
    shot(page, "answer-with-source")


def test_follow_up_shows_standalone_query_and_old_citations_still_open(page: Page) -> None:
    ask(page, "Who brokered the 2020 ceasefire?")
    standalone = page.locator("#standalone")
    expect(standalone).to_be_hidden()  # a first question is its own search query

    answer = ask(page, "How many peacekeepers has his country deployed there?")
    expect(answer).to_contain_text("2,000")
    expect(standalone).to_be_visible()
    query = page.locator("#standalone-query")
    expect(query).to_be_hidden()  # the accordion starts closed
    standalone.get_by_text("Search query used").click()
    expect(query).to_contain_text("Putin")
    expect(query).not_to_contain_text("his country")
    shot(page, "follow-up")

    # A citation in the first answer switches the panel back to that answer's sources.
    page.locator("#chat .answer.final").first.locator("a.cite").first.click()
    expect(page.locator("#sources .source-group:visible")).to_have_count(1)
    expect(page.locator("#sources .source-group:visible")).to_have_attribute("data-turn", "0")
    expect(page.locator("#sources #src-0-1")).to_have_class("source active")


def test_article_markup_shows_as_text_and_never_runs(page: Page, site: Site) -> None:
    answer = ask(page, "What did the harbour festival in Zebulon feature?")
    expect(answer).to_contain_text(SCRIPT_TEXT)
    expect(answer).to_contain_text(IMG_TEXT)
    answer.locator("a.cite").first.click()
    source = page.locator("#sources .source.active")
    expect(source.locator(".source-title")).to_have_text(MARKUP_ARTICLE["title"])
    expect(source.locator(".source-date")).to_have_text(MARKUP_ARTICLE["date"])
    expect(source.locator("mark")).to_contain_text(SCRIPT_TEXT)
    expect(source).to_contain_text("${window.__pwned=4}")
    expect(source).to_contain_text("{{constructor.constructor('window.__pwned=5')()}}")

    shot(page, "markup-in-chat")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#chat script, #sources script").count() == 0

    sign_in_as_admin(page, site)
    expect(page.locator("#documents")).to_contain_text(MARKUP_ARTICLE["title"])
    shot(page, "markup-in-documents")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#documents script").count() == 0


def test_new_conversation_forgets_chat_history_and_sources(page: Page) -> None:
    ask(page, "Who brokered the 2020 ceasefire?")
    expect(page.locator("#sources .source")).not_to_have_count(0)
    page.click("#new-conversation")
    expect(page.locator("#chat .message-row")).to_have_count(0)
    expect(page.locator("#sources .source")).to_have_count(0)
    expect(page.locator("#sources .sources-empty")).to_be_visible()
    # The server side forgot too: a follow-up now has no earlier turn to resolve "his" from.
    ask(page, "How many peacekeepers has his country deployed there?")
    expect(page.locator("#standalone")).to_be_hidden()
    expect(page.locator("#chat .message-row")).to_have_count(2)
    # The chat's own bin button starts over as well.
    page.locator("#chat button[aria-label='Clear']").click()
    expect(page.locator("#chat .message-row")).to_have_count(0)
    expect(page.locator("#sources .sources-empty")).to_be_visible()


def test_conversations_are_per_browser_session(browser: Browser, page: Page, site: Site) -> None:
    ask(page, "Who brokered the 2020 ceasefire?")
    other = browser.new_context().new_page()
    other.goto(site.url + "/")
    other.wait_for_selector("#question textarea")
    expect(other.locator("#chat .message-row")).to_have_count(0)
    ask(other, "How many peacekeepers has his country deployed there?")
    expect(other.locator("#standalone")).to_be_hidden()
    expect(page.locator("#chat .message-row")).to_have_count(2)
    other.context.close()


def test_embed_is_framed_only_by_allowed_origins(browser: Browser, site: Site) -> None:
    allowed = browser.new_context(viewport={"width": 1000, "height": 900}).new_page()
    violations = watch_csp(allowed)
    allowed.goto(site.allowed_parent)
    frame = allowed.frame_locator("#chat")
    expect(frame.locator("#question textarea")).to_be_visible(timeout=30_000)
    expect(frame.get_by_role("tab", name="Documents")).to_have_count(0)
    expect(frame.locator("#export-feedback")).to_have_count(0)
    frame.locator("#question textarea").fill(
        "How many peacekeepers has Russia deployed in Karabakh?"
    )
    frame.locator("#question textarea").press("Enter")
    answer = frame.locator("#chat .answer.final")
    expect(answer).to_contain_text("2,000", timeout=ANSWER_TIMEOUT_MS)
    answer.locator("a.cite").first.click()
    expect(frame.locator("#sources .source.active mark")).to_contain_text("2,000")
    shot(allowed, "embed-allowed")
    allowed.context.close()
    assert violations == []

    refused = browser.new_context().new_page()
    messages: list[str] = []
    refused.on("console", lambda message: messages.append(message.text))
    refused.goto(site.refused_parent)
    refused.wait_for_load_state("load")
    embedded = next(f for f in refused.frames if f != refused.main_frame)
    expect(refused.frame_locator("#chat").locator("#question textarea")).to_have_count(0)
    assert embedded.url.startswith("chrome-error://"), embedded.url
    assert any("frame-ancestors" in m and "blocked" in m for m in messages), messages
    shot(refused, "embed-refused")
    refused.context.close()


def test_feedback_is_stored_and_exported_as_eval_cases(page: Page, site: Site) -> None:
    question = "How many peacekeepers has Russia deployed in Karabakh?"
    ask(page, question)
    page.locator("#chat button[aria-label='Like']").last.click()
    expect(page.get_by_text("Thanks, your feedback is saved.")).to_be_visible()
    records = (site.data_dir / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(records[-1])
    assert (record["question"], record["rating"]) == (question, 1)
    assert "2,000" in record["answer"] and record["citations"]

    sign_in_as_admin(page, site)
    with page.expect_download() as download:
        page.click("#export-feedback")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    cases = [json.loads(line) for line in lines]
    case = next(c for c in cases if c["question"] == question)
    assert case["answers"] and case["gold_passage_ids"] == [
        c["passage_id"] for c in record["citations"]
    ]


def test_the_chat_has_no_documents_and_the_admin_page_needs_a_login(page: Page, site: Site) -> None:
    expect(page.get_by_role("tab", name="Documents")).to_have_count(0)
    expect(page.locator("#export-feedback, #upload-files")).to_have_count(0)
    page.goto(site.url + "/admin/")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill("input[name=username]", ADMIN_USER)
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    page.fill("input[name=username]", ADMIN_USER)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#documents")).to_contain_text("caucasus-peace-talks")
    assert page.url == site.url + "/admin/"
    page.click("#sign-out")
    page.goto(site.url + "/admin/")
    expect(page.locator("h1")).to_have_text("Sign in")


def test_documents_upload_list_and_remove(page: Page, site: Site, tmp_path: Path) -> None:
    sign_in_as_admin(page, site)
    table = page.locator("#documents")
    expect(table).to_contain_text("caucasus-peace-talks")

    article = tmp_path / "quillon-lighthouse.md"
    article.write_text("# Quillon lighthouse\n\nThe Quillon lighthouse reopened in May.\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    page.set_input_files("#upload-files input[type=file]", [str(article), str(empty)])
    page.click("#add-documents")
    result = page.locator("#upload-result textarea")
    expect(result).to_have_value(re.compile("quillon-lighthouse.md: 1 added"), timeout=60_000)
    expect(result).to_have_value(re.compile("Not added: empty.txt: the file is empty"))
    expect(page.get_by_text("empty.txt: the file is empty.").first).to_be_visible()
    expect(table).to_contain_text("Quillon lighthouse")
    shot(page, "documents")

    page.locator("#remove-id input").click()
    page.get_by_role("option", name="quillon-lighthouse").click()
    page.click("#remove-document")
    expect(result).to_have_value(re.compile("Removed quillon-lighthouse"))
    expect(table).not_to_contain_text("Quillon lighthouse")
    expect(table).to_contain_text("caucasus-peace-talks")


@pytest.mark.parametrize(("path", "title"), [("/docs", ".swagger-ui .title"), ("/redoc", "h1")])
def test_the_api_docs_render_under_the_csp(
    browser: Browser, site: Site, path: str, title: str
) -> None:
    page = browser.new_context().new_page()
    violations = watch_csp(page)
    page.goto(site.url + path)
    expect(page.locator(title).first).to_contain_text("Newsbot", timeout=30_000)
    page.wait_for_timeout(1000)  # workers and lazy assets
    page.context.close()
    # ReDoc's "powered by" logo comes from its CDN: blocked, as every other host is.
    assert [v for v in violations if "https://cdn.redoc.ly/" not in v] == []
