"""Citation checking: every `[n]` in an answer must point at a passage that was retrieved.

`[n]` means the n-th passage (1-based) of the list the answerer was given. Markers outside that
range are removed, both from the finished text and on the fly from a token stream
(`CitationFilter`). A non-refusal answer with no valid marker gets markers added by sentence
similarity. The final text is renumbered so citations read [1], [2], ... in order, and
`build_citations` turns each marker into a `Citation` with the supporting sentence and its
span in the passage.
"""

from __future__ import annotations

import re

from bot.text import content_terms, sentence_spans
from bot.types import Citation, Hit

# A citation marker, `[n]` or a group `[n, m]`, and the white space before it, which goes when
# the marker goes ("Putin [7]." -> "Putin."). The one definition: the UI links these markers.
MARKER = re.compile(r"(?P<space>\s?)\[(?P<numbers>\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# Markers written at the start of a sentence belong to the sentence before ("... 2020. [1]").
_LEADING_MARKERS = re.compile(rf"(?:\s*{MARKER.pattern})+")
MIN_SUPPORT = 0.34  # share of an answer sentence's content terms a passage sentence must hold


def cited_numbers(text: str) -> list[int]:
    """The passage numbers cited in `text`, in order of first appearance."""
    seen: list[int] = []
    for match in MARKER.finditer(text):
        for n in marker_numbers(match):
            if n not in seen:
                seen.append(n)
    return seen


def marker_numbers(match: re.Match[str]) -> list[int]:
    """The passage numbers of one `MARKER` match: [2, 5] for `[2, 5]`."""
    return [int(part) for part in match["numbers"].split(",")]


def strip_markers(text: str) -> str:
    """`text` without its citation markers (and the space before each)."""
    return MARKER.sub("", text)


def strip_invalid(text: str, valid: range) -> str:
    """Remove markers whose numbers are not in `valid`; keep the valid ones of a group."""

    def fix(match: re.Match[str]) -> str:
        numbers = [n for n in marker_numbers(match) if n in valid]
        if not numbers:
            return ""
        return match["space"] + "".join(f"[{n}]" for n in numbers)

    return MARKER.sub(fix, text)


class CitationFilter:
    """Drops invalid `[n]` markers from a stream of text deltas as they pass."""

    def __init__(self, valid: range) -> None:
        self.valid = valid
        self.buffer = ""

    def feed(self, delta: str) -> str:
        self.buffer += delta
        # Hold back trailing white space and a marker that is not closed yet: whether the
        # space goes depends on whether the marker stays.
        end = len(self.buffer)
        cut = self.buffer.rfind("[")
        if cut != -1 and re.fullmatch(r"\[[\d,\s]*", self.buffer[cut:]):
            end = cut
        end = len(self.buffer[:end].rstrip())
        ready, self.buffer = self.buffer[:end], self.buffer[end:]
        return strip_invalid(ready, self.valid)

    def flush(self) -> str:
        ready, self.buffer = self.buffer, ""
        return strip_invalid(ready, self.valid)


def best_sentence(passage_text: str, claim: str) -> tuple[int, int, float]:
    """The span of the passage sentence that best supports `claim`, and its support score."""
    claim_terms = set(content_terms(claim))
    best = (0, len(passage_text), 0.0)
    for start, end in sentence_spans(passage_text):
        terms = set(content_terms(passage_text[start:end]))
        score = len(claim_terms & terms) / (len(claim_terms) or 1)
        if score > best[2]:
            best = (start, end, score)
    return best


def claim_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of an answer, with markers written after a full stop kept with it."""
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        lead = _LEADING_MARKERS.match(text[start:end])
        if lead and spans:
            spans[-1] = (spans[-1][0], start + lead.end())
            start += lead.end()
            start += len(text[start:end]) - len(text[start:end].lstrip())
        if start < end:
            spans.append((start, end))
    return spans


def add_missing(text: str, hits: list[Hit]) -> str:
    """Cite each uncited sentence of `text` with the passage that supports it best, if any does."""
    spans = claim_spans(text)
    out, last = [], 0
    for start, end in spans:
        sentence = text[start:end]
        out.append(text[last:start])
        if not MARKER.search(sentence):
            scores = [
                (best_sentence(h.passage.text, sentence)[2], n) for n, h in enumerate(hits, 1)
            ]
            score, n = max(scores, default=(0.0, 0))
            if score >= MIN_SUPPORT:
                sentence = f"{sentence} [{n}]"
        out.append(sentence)
        last = end
    out.append(text[last:])
    return "".join(out)


def renumber(text: str) -> tuple[str, list[int]]:
    """Number the cited passages 1, 2, ... in order of first appearance.

    Returns the new text and, for each new number n, the passage number it had (`order[n-1]`).
    """
    order = cited_numbers(text)
    new_number = {old: new for new, old in enumerate(order, start=1)}

    def fix(match: re.Match[str]) -> str:
        return match["space"] + "".join(f"[{new_number[n]}]" for n in marker_numbers(match))

    return MARKER.sub(fix, text), order


def build_citations(
    text: str, hits: list[Hit], order: list[int], quotes: dict[int, tuple[int, int]] | None = None
) -> list[Citation]:
    """One `Citation` per marker of a renumbered `text`; raises if one points nowhere.

    `order[n-1]` is the position in `hits` (1-based) of the passage cited as [n]; `quotes`
    maps such positions to the span of the supporting sentence, where the answerer knows it.
    """
    quotes = quotes or {}
    citations = []
    for n in cited_numbers(text):
        if not 1 <= n <= len(order) or not 1 <= order[n - 1] <= len(hits):
            raise ValueError(f"citation [{n}] does not point at one of {len(hits)} passages")
        position = order[n - 1]
        passage = hits[position - 1].passage
        if position in quotes:
            start, end = quotes[position]
        else:
            claim = " ".join(_sentences_citing(text, n))
            start, end, _ = best_sentence(passage.text, claim)
        citations.append(
            Citation(
                n=n,
                passage_id=passage.passage_id,
                doc_id=passage.doc_id,
                title=passage.title,
                source=passage.source,
                date=passage.date,
                url=passage.url,
                text=passage.text,
                quote=passage.text[start:end],
                quote_start=start,
                quote_end=end,
            )
        )
    return citations


def _sentences_citing(text: str, n: int) -> list[str]:
    found = []
    for start, end in claim_spans(text):
        sentence = text[start:end]
        if n in cited_numbers(sentence):
            found.append(strip_markers(sentence))
    return found or [strip_markers(text)]
