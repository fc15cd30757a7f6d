"""The synonym table (``synonyms.txt``): variant term sequences rewritten to one canonical sequence.

Every form is analysed with the same analyzer as the documents, so a group matches on lemmas: "国保" is the
term sequence [国保], rewritten to [国民, 健康, 保険] wherever it occurs, in documents and queries alike.
One-way lines ("A => B C") only add B and C to queries.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Terms = Callable[[str], list[str]]


@dataclass
class Synonyms:
    # first term of a variant -> [(variant terms, canonical terms)], longest variant first
    rewrites: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = field(default_factory=dict)
    # first term -> [(trigger terms, added terms)]
    expansions: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, terms: Terms) -> Synonyms:
        """Read ``path``; ``terms`` analyses one form into its term sequence (without synonyms)."""
        syn = cls()
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if "=>" in line:
                left, right = line.split("=>", 1)
                trigger = tuple(terms(left.strip()))
                added = tuple(t for form in right.split() for t in terms(form))
                if trigger and added:
                    syn.expansions.setdefault(trigger[0], []).append((trigger, added))
                continue
            forms = [tuple(terms(f)) for f in line.split()]
            canonical = forms[0]
            for variant in forms[1:]:
                if variant and variant != canonical:
                    syn.rewrites.setdefault(variant[0], []).append((variant, canonical))
        for table in (syn.rewrites, syn.expansions):
            for options in table.values():
                options.sort(key=lambda o: -len(o[0]))
        return syn

    @staticmethod
    def _match(table: dict, seq: Sequence[str], i: int) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        for pattern, replacement in table.get(seq[i], ()):
            if tuple(seq[i : i + len(pattern)]) == pattern:
                return pattern, replacement
        return None

    def rewrite(self, seq: Sequence[str]) -> list[tuple[int, int, tuple[str, ...]]]:
        """Non-overlapping rewrites as (start, end, canonical terms) over indices of ``seq``."""
        out: list[tuple[int, int, tuple[str, ...]]] = []
        i = 0
        while i < len(seq):
            hit = self._match(self.rewrites, seq, i)
            if hit:
                out.append((i, i + len(hit[0]), hit[1]))
                i += len(hit[0])
            else:
                i += 1
        return out

    def expand(self, seq: Sequence[str]) -> list[str]:
        """Terms that one-way lines add for the query ``seq``."""
        added: list[str] = []
        for i in range(len(seq)):
            hit = self._match(self.expansions, seq, i)
            if hit:
                added.extend(t for t in hit[1] if t not in seq and t not in added)
        return added
