"""Snippets: a window of an article around where a search matched, marks included.

Pure functions of the text and the normalised terms to mark. Marks are offsets into
the snippet text, so each renderer decides how to show them (bold on a terminal,
``«»`` in JSON) and scraped text never becomes markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watchlist.normalise import normalise_with_spans
from watchlist.terms import TermIndex

WINDOW = 160
OPEN, CLOSE = "«", "»"


@dataclass(frozen=True)
class Snippet:
    text: str
    marks: tuple[tuple[int, int], ...]
    """``(start, end)`` offsets into ``text`` of the matched words."""
    field: str = "text"

    def marked(self, open_mark: str = OPEN, close_mark: str = CLOSE) -> str:
        """The snippet with every mark wrapped (for JSON and CSV)."""
        parts, position = [], 0
        for start, end in self.marks:
            parts += [self.text[position:start], open_mark, self.text[start:end], close_mark]
            position = end
        parts.append(self.text[position:])
        return "".join(parts)


def term_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of ``text`` where any of the normalised ``terms`` occurs."""
    if not text or not terms:
        return []
    index = TermIndex()
    for term in terms:
        index.add(term)
    normalised = normalise_with_spans(text)
    return merge(normalised.span(hit.start, hit.end) for hit in index.find(normalised.text))


def merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def make_snippet(
    text: str, spans: Sequence[tuple[int, int]], field: str = "text", width: int = WINDOW
) -> Snippet:
    """About ``width`` characters of ``text`` around the first span (the start if none),
    cut at spaces, with ``…`` where text was cut; whitespace runs become one space."""
    first = spans[0][0] if spans else 0
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start, first) if spans else text.find(" ", start)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", max(start, spans[0][1] if spans else start), end)
        end = space if space > start else end
    pieces: list[str] = ["…"] if start > 0 else []
    marks = []
    offset = len(pieces[0]) if pieces else 0
    position = start
    for span_start, span_end in spans:
        if span_start < position or span_end > end:
            continue
        pieces.append(text[position:span_start])
        offset += span_start - position
        marks.append((offset, offset + span_end - span_start))
        pieces.append(text[span_start:span_end])
        offset += span_end - span_start
        position = span_end
    pieces.append(text[position:end])
    if end < len(text):
        pieces.append("…")
    return _collapse("".join(pieces), marks, field)


def _collapse(text: str, marks: list[tuple[int, int]], field: str) -> Snippet:
    """Turn newlines and runs of whitespace into single spaces, keeping marks aligned."""
    out: list[str] = []
    new_position = [0] * (len(text) + 1)
    previous_space = False
    for index, char in enumerate(text):
        new_position[index] = len(out)
        if char.isspace():
            if not previous_space:
                out.append(" ")
            previous_space = True
        else:
            out.append(char)
            previous_space = False
    new_position[len(text)] = len(out)
    moved = tuple((new_position[a], new_position[b]) for a, b in marks)
    return Snippet("".join(out), moved, field)
