"""Reading .txt, .md, .html, .pdf and .jsonl inputs, and refusing what cannot be read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import UnsupportedFileError
from bot.loaders import doc_id_for, iter_input_files, load_file

from .helpers import pdf_bomb


def test_txt_keeps_text_and_names_the_document(tmp_path: Path) -> None:
    path = tmp_path / "Peace Talks.txt"
    path.write_text("First paragraph here.\n\nSecond one.\n", encoding="utf-8")
    [doc] = load_file(path)
    assert doc.text == "First paragraph here.\n\nSecond one."
    assert doc.title == "Peace talks"
    assert doc.source == "Peace Talks.txt"
    assert doc.doc_id == doc_id_for("Peace Talks.txt")


def test_html_keeps_visible_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Talks resume</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><h1>Talks resume</h1><p>Baku said it was <b>ready</b>.</p>"
        "<p>Yerevan agreed.</p><noscript>enable js</noscript></body></html>",
        encoding="utf-8",
    )
    [doc] = load_file(path)
    assert doc.title == "Talks resume"
    assert doc.text == "Talks resume\n\nBaku said it was ready.\n\nYerevan agreed."
    for hidden in ("alert", "color:red", "enable js"):
        assert hidden not in doc.text


def test_markdown_heading_becomes_title(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text(
        "# Envoys meet\n\nThe **envoys** met in [Vienna](http://x).\n", encoding="utf-8"
    )
    [doc] = load_file(path)
    assert doc.title == "Envoys meet"
    assert "The envoys met in Vienna." in doc.text


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 10, "Moscow has deployed some 2,000 peacekeepers in Karabakh.")
    path = tmp_path / "report.pdf"
    pdf.output(str(path))
    [doc] = load_file(path)
    assert "2,000 peacekeepers" in doc.text


def test_jsonl_feed_yields_one_document_per_line(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    rows = [
        {
            "id": "a1",
            "title": "One",
            "text": "Alpha text.",
            "url": "http://a",
            "date": "2022-04-12",
        },
        {"id": "a2", "title": "Two", "text": "Beta text."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    docs = list(load_file(path))
    assert [d.doc_id for d in docs] == ["a1", "a2"]
    assert docs[0].url == "http://a" and docs[0].date == "2022-04-12"
    assert docs[1].title == "Two" and docs[1].date == ""


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bin.txt", b"\x00\x01\x02binary", "binary"),
        ("latin.txt", "caf\xe9".encode("latin-1"), "UTF-8"),
        ("empty.txt", b"   \n", "no text"),
        ("image.png", b"\x89PNG", "cannot be ingested"),
        ("bad.jsonl", b'{"id": "x", "text": "ok"}\nnot json\n', "line 2"),
        ("noid.jsonl", b'{"text": "no id"}\n', "missing id"),
        ("broken.pdf", b"%PDF-1.4 garbage", "PDF"),
        ("surrogate.jsonl", b'{"id": "s", "text": "bad \\ud800 text"}\n', "line 1: .*surrogate"),
        ("newline-id.jsonl", b'{"id": "a\\nb", "text": "Text."}\n', "line 1: the id .*control"),
        ("long-id.jsonl", b'{"id": "' + b"x" * 300 + b'", "text": "Text."}\n', "limit is 200"),
    ],
)
def test_bad_files_raise_a_clear_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnsupportedFileError, match=message):
        list(load_file(path))


def test_folders_are_walked_for_supported_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Text A is here.", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("Text B is here.", encoding="utf-8")
    (tmp_path / "skip.csv").write_text("x,y", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.txt").write_text("hidden", encoding="utf-8")
    files = list(iter_input_files([tmp_path]))
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a.txt", "sub/b.md"]


def test_missing_path_says_so(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFileError, match="no such file"):
        list(iter_input_files([tmp_path / "nope"]))


def test_title_and_id_come_from_the_given_source_name(tmp_path: Path) -> None:
    path = tmp_path / "upload.txt"
    path.write_text("Harbour reopened after the storm, the port authority said.", encoding="utf-8")
    [doc] = load_file(path, source="harbour-news.txt")
    assert doc.title == "Harbour news"
    assert doc.doc_id == "harbour-news" and doc.source == "harbour-news.txt"


def test_feed_links_other_than_http_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    rows = [
        {"id": "js", "text": "Alpha text.", "url": "javascript:alert(document.cookie)"},
        {"id": "web", "text": "Beta text.", "url": "https://news.example/beta"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert [d.url for d in load_file(path)] == ["", "https://news.example/beta"]


def test_a_pdf_bomb_is_refused_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pdf"
    path.write_bytes(pdf_bomb())
    assert path.stat().st_size < 1_000_000
    with pytest.raises(UnsupportedFileError, match=r"expands to more data .* \.txt"):
        list(load_file(path))
