"""Question snippets with the query's matches wrapped in <mark> (HTML-escaped)."""
from __future__ import annotations

import html
import re

from faq.analyzer import GRAM_PREFIX, Analysis

_HIRAGANA = re.compile(r"^[\u3041-\u309f]+$")
SNIPPET_CHARS = 80


def match_spans(doc: Analysis, query_terms: set[str], query_grams: set[str], short: bool) -> list[tuple[int, int]]:
    """Merged (start, end) spans of ``doc`` that match the query.

    Terms match on lemma; grams (partial words, OOV, typing in progress) match too, except all-hiragana ones
    such as "の出", which would mark particles, unless the query is very short.
    """
    spans = [(t.start, t.end) for t in doc.terms if t.text in query_terms]
    for g in doc.grams:
        if g.text in query_grams and (short or not _HIRAGANA.match(g.text[len(GRAM_PREFIX):])):
            spans.append((g.start, g.end))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def mark(text: str, spans: list[tuple[int, int]], width: int = SNIPPET_CHARS) -> str:
    """``text`` HTML-escaped with ``<mark>`` around ``spans``, cut to about ``width`` characters."""
    lo, hi = 0, len(text)
    if len(text) > width:
        first = spans[0][0] if spans else 0
        lo = max(0, min(first - width // 4, len(text) - width))
        hi = lo + width
    parts: list[str] = ["…" if lo > 0 else ""]
    pos = lo
    for s, e in spans:
        s, e = max(s, lo), min(e, hi)
        if s >= e:
            continue
        parts.append(html.escape(text[pos:s]))
        parts.append(f"<mark>{html.escape(text[s:e])}</mark>")
        pos = e
    parts.append(html.escape(text[pos:hi]))
    parts.append("…" if hi < len(text) else "")
    return "".join(parts)
