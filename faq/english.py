"""English query words: lower case, a small suffix stemmer, stop words, and the English→Japanese gloss."""
from __future__ import annotations

import re
from pathlib import Path

STOP_WORDS = frozenset(
    "a an and are as at be been but by can could do does did for from get got have has how i if in into is "
    "it its me my of on or our please should so that the their them then there these this to us want was "
    "we what when where which who why will with would you your about need tell know".split()
)

WORD_RE = re.compile(r"[a-z][a-z0-9']*")


def stem(word: str) -> str:
    """A deliberately small, consistent stemmer (plural, -ing, -ed, final e): moving/move -> mov."""
    w = word.lower().removesuffix("'s").strip("'")
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("sses", "xes", "ches", "shes", "zes", "ses")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            break
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


class Gloss:
    """English word sequences (stemmed) → Japanese terms, read from ``glossary_en.txt``."""

    def __init__(self, entries: dict[tuple[str, ...], list[str]]) -> None:
        self.entries = entries
        self.longest = max((len(k) for k in entries), default=1)

    @classmethod
    def load(cls, path: Path) -> Gloss:
        entries: dict[tuple[str, ...], list[str]] = {}
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line or "=" not in line:
                continue
            left, right = line.split("=", 1)
            japanese = right.split()
            for alternative in left.split(","):
                phrase = tuple(stem(w) for w in WORD_RE.findall(alternative.lower()))
                if phrase:
                    entries.setdefault(phrase, []).extend(japanese)
        return cls(entries)

    def translate(self, stems: list[str]) -> list[str]:
        """Japanese terms for a sequence of stemmed English words, longest phrase first."""
        out: list[str] = []
        i = 0
        while i < len(stems):
            for n in range(min(self.longest, len(stems) - i), 0, -1):
                hit = self.entries.get(tuple(stems[i : i + n]))
                if hit:
                    out.extend(hit)
                    i += n
                    break
            else:
                i += 1
        return out
