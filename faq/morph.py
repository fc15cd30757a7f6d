"""Morphological analysis backends: each turns normalised text into morphemes with lemma and part of speech.

``fugashi`` + ``unidic-lite`` is the default: UniDic lemmas fold orthographic variants (ゴミ/ごみ/塵 -> 塵,
引越し -> 引っ越し, 子ども -> 子供, 問合せ -> 問い合わせ). ``sudachipy`` + ``sudachidict_core`` (normalized
form, split mode A) is kept as an alternative for comparison (bench/faq.py measures both).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Morpheme:
    surface: str
    lemma: str
    pos1: str  # 名詞, 動詞, 助詞, ...
    pos2: str
    unknown: bool  # not in the dictionary (out of vocabulary)


Backend = Callable[[str], list[Morpheme]]


def fugashi_backend() -> Backend:
    """MeCab via fugashi with the UniDic dictionary shipped in the ``unidic-lite`` wheel."""
    import fugashi

    tagger = fugashi.Tagger()

    def analyse(text: str) -> list[Morpheme]:
        out: list[Morpheme] = []
        for w in tagger(text):
            f = w.feature
            lemma = f.lemma or w.surface
            # UniDic writes loanword lemmas as "カード-card"; keep the Japanese part.
            if "-" in lemma and not lemma.startswith("-"):
                lemma = lemma.split("-", 1)[0]
            out.append(Morpheme(w.surface, lemma, f.pos1 or "", f.pos2 or "", bool(w.is_unk)))
        return out

    return analyse


def sudachi_backend() -> Backend:
    """SudachiPy, split mode A, normalized forms, dictionary from the ``sudachidict_core`` wheel."""
    from sudachipy import Dictionary, SplitMode

    tokenizer = Dictionary(dict="core").create(SplitMode.A)

    def analyse(text: str) -> list[Morpheme]:
        out: list[Morpheme] = []
        for m in tokenizer.tokenize(text):
            pos = m.part_of_speech()
            out.append(Morpheme(m.surface(), m.normalized_form(), pos[0], pos[1], m.is_oov()))
        return out

    return analyse


BACKENDS: dict[str, Callable[[], Backend]] = {"fugashi": fugashi_backend, "sudachi": sudachi_backend}
