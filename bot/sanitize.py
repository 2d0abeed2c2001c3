"""Untrusted input checked at the edge: text that cannot be stored, ids that cannot be used,
links that must not be clickable.

- Lone UTF-16 surrogates: a JSON string may hold one (`"\\ud800"`), which Python accepts but
  no UTF-8 encoder, tokenizer or database does. `has_lone_surrogate` finds them, so that what
  a client sends (a question, history, feedback, a feed line) is refused with a message;
  `clean_text` replaces them with U+FFFD in text a library extracted (a PDF's strings),
  where refusing the whole file for one bad character would help nobody.
- `doc_id_problem`: a document id must be printable text of bounded length, or it cannot be
  listed, shown or removed (a newline in an id breaks the HTTP route that deletes it).
- `safe_url`: only plain http(s) links survive; a `javascript:` or `data:` URL stored with an
  article must never reach a page or a portal author as a link.

The callers decide what to do with a problem: `bot.service` refuses questions, history and
feedback; `bot.loaders` refuses bad feed lines and cleans extracted text; `bot.ingest` checks
every document it stores; `bot.ui` and `bot.service` pass links through `safe_url` again on
the way out.
"""

from __future__ import annotations

import re
from typing import Any

#: Longest document id accepted, in characters.
MAX_DOC_ID_CHARS = 200

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string in `value` (nested lists, tuples and dicts, keys too) holds one."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_lone_surrogate(v) for v in value)
    return False


def doc_id_problem(doc_id: str) -> str:
    """What is wrong with `doc_id` as a document id, or "" when nothing is."""
    if not doc_id.strip():
        return "is empty"
    if len(doc_id) > MAX_DOC_ID_CHARS:
        return f"is {len(doc_id):,} characters long; the limit is {MAX_DOC_ID_CHARS}"
    if not doc_id.isprintable():
        return "holds a line break, tab or other control character; use printable text"
    return ""


def safe_url(url: str) -> str:
    """The URL if it is plain http(s), else "" (a `javascript:` link must never be clickable)."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or not url.isprintable():
        return ""
    return url
