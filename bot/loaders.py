"""Reading articles from files: .txt, .md, .html/.htm, .pdf and .jsonl feeds.

`iter_input_files(paths)` walks files and folders; `load_file(path)` yields one file's
`Document`s one at a time, so a folder of thousands of articles or a large JSONL feed never
sits in memory at once. Problems with one input raise `UnsupportedFileError` naming the file
and what to do: among them a feed line with a lone surrogate or an id that is not printable
text of bounded length, and a PDF that inflates past pypdf's limit. In text pypdf extracts,
lone surrogates are replaced; links other than http(s) are dropped (`bot.sanitize`).
Splitting into passages is `bot.ingest`'s job, not this module's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from bot.errors import UnsupportedFileError
from bot.jsonl import json_objects
from bot.sanitize import clean_text, doc_id_problem, has_lone_surrogate, safe_url
from bot.types import Document

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".jsonl"}
SUPPORTED_HINT = "Supported: " + ", ".join(sorted(SUPPORTED_SUFFIXES)) + "."


def iter_input_files(paths: list[Path]) -> Iterator[Path]:
    """Files to ingest: each given file, and each supported file under each given folder."""
    for path in paths:
        if not path.exists():
            raise UnsupportedFileError(f"{path}: no such file or folder. Check the path.")
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES and not hidden:
                    yield child
        else:
            yield path


def load_file(path: Path, source: str | None = None) -> Iterator[Document]:
    """Documents in one file; `source` overrides the name shown to users (uploads)."""
    suffix = path.suffix.lower()
    source = source or path.name
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileError(
            f"{source}: files of type {suffix or '(none)'} cannot be ingested. {SUPPORTED_HINT}"
        )
    if suffix == ".jsonl":
        yield from _load_jsonl(path, source)
        return
    if suffix == ".pdf":
        text, title = _pdf_text(path, source)
    else:
        raw = _read_text(path, source)
        text, title = _html_text(raw) if suffix in HTML_SUFFIXES else (raw, "")
        if suffix in {".md", ".markdown"}:
            text, title = _markdown_text(text)
    text = clean_text(normalise_text(text))  # a PDF's UTF-16 strings may hold lone surrogates
    if not text.strip():
        raise UnsupportedFileError(f"{source}: the file has no text to ingest.")
    yield Document(
        doc_id=doc_id_for(source),
        title=clean_text(title) or _title_from_name(Path(source)),
        text=text,
        source=source,
    )


def doc_id_for(source: str) -> str:
    """A stable, readable id for a document loaded from a file name."""
    stem = Path(source).stem
    slug = re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-").lower()[:60] or "doc"
    if slug == stem.lower():
        return slug
    # Different names can slug alike; a short hash keeps their ids apart.
    return f"{slug}-{hashlib.sha1(source.encode()).hexdigest()[:6]}"


def normalise_text(text: str) -> str:
    """Unify line endings and drop trailing spaces, keeping paragraph breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def _read_text(path: Path, source: str) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise UnsupportedFileError(
            f"{source}: looks like a binary file, not text. Convert it to .txt, .md, .html or .pdf."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedFileError(
            f"{source}: is not valid UTF-8 (byte {exc.start}). Re-save it as UTF-8 and ingest again."
        ) from None


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


def _markdown_text(text: str) -> tuple[str, str]:
    """Plain text of Markdown: headings' '#' and emphasis marks dropped; first heading = title."""
    title = ""
    out = []
    for line in text.split("\n"):
        heading = re.match(r"^\s{0,3}#{1,6}\s+(.*)$", line)
        if heading:
            line = heading.group(1).strip()
            title = title or line
        line = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", line)
        line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)
        line = re.sub(r"(\*\*|__|`)", "", line)
        out.append(line)
    return "\n".join(out), title


def _html_text(raw: str) -> tuple[str, str]:
    """Visible text of an HTML page, one block element per paragraph; scripts and styles dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head", "svg", "iframe", "nav"]):
        if tag.name == "head":
            continue
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.head:
        soup.head.decompose()
    h1 = soup.find("h1")
    title = title or (h1.get_text(" ", strip=True) if h1 else "")
    blocks = [
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "blockquote",
        "pre",
        "td",
        "th",
        "div",
        "br",
    ]
    for tag in soup.find_all(blocks):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    text = soup.get_text()
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p), title


def _pdf_text(path: Path, source: str) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PyPdfError

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except LimitReachedError:
        # pypdf stops a stream that inflates past its limit (75 MB): a "zip bomb".
        raise UnsupportedFileError(
            f"{source}: this PDF expands to more data than pypdf will decompress, so it was "
            "refused. Extract its text into a .txt file and ingest that instead."
        ) from None
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        raise UnsupportedFileError(
            f"{source}: cannot read this PDF ({exc}). Check that it is a valid, unencrypted PDF."
        ) from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise UnsupportedFileError(
            f"{source}: the PDF has no extractable text (scanned images?). OCR it first."
        )
    return text, str(meta_title)


def _load_jsonl(path: Path, source: str) -> Iterator[Document]:
    """One article per line: id, title, text, and optional url and date."""
    example = '{"id": ..., "title": ..., "text": ...}'
    for _, where, record in json_objects(path, source, UnsupportedFileError, example):
        missing = [key for key in ("id", "text") if not record.get(key)]
        if missing:
            raise UnsupportedFileError(
                f"{where}: missing {', '.join(missing)}; each article needs an id and text."
            )
        if has_lone_surrogate(record):  # a "\ud800" escape: nothing downstream can encode it
            raise UnsupportedFileError(
                f"{where}: holds a lone UTF-16 surrogate (such as \\ud800), which is not valid "
                "Unicode. Fix the text and ingest the feed again."
            )
        doc_id = str(record["id"])
        problem = doc_id_problem(doc_id)
        if problem:
            raise UnsupportedFileError(f"{where}: the id {doc_id[:80]!r} {problem}.")
        text = normalise_text(str(record["text"]))
        if not text.strip():
            raise UnsupportedFileError(f"{where}: the text is empty.")
        yield Document(
            doc_id=doc_id,
            title=str(record.get("title") or doc_id),
            text=text,
            source=str(record.get("source") or source),
            date=str(record.get("date") or ""),
            url=safe_url(str(record.get("url") or "")),  # only http(s) links are kept
        )
