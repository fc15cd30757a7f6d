"""Text normalisation for FAQ search: NFKC, lower case, kana folding, with a map back to the original.

Highlighting needs to know where a normalised character came from, so normalisation is done one
original character at a time and every normalised character remembers its source index.
"""
from __future__ import annotations

import unicodedata

_KATA_START, _KATA_END = 0x30A1, 0x30F6  # ァ .. ヶ
_KANA_SHIFT = 0x60  # ァ (U+30A1) - ぁ (U+3041)


def fold_kana(text: str) -> str:
    """Katakana to hiragana (ゴミ -> ごみ); the long-vowel mark and everything else are kept."""
    return "".join(
        chr(ord(ch) - _KANA_SHIFT) if _KATA_START <= ord(ch) <= _KATA_END - 2 else ch for ch in text
    )


def hiragana_to_katakana(text: str) -> str:
    """ごみ -> ゴミ (the inverse of fold_kana for hiragana); one character for one, so spans stay valid."""
    return "".join(chr(ord(ch) + _KANA_SHIFT) if 0x3041 <= ord(ch) <= 0x3096 else ch for ch in text)


def is_all_hiragana(text: str) -> bool:
    return bool(text) and all(0x3041 <= ord(ch) <= 0x309F or ch == "ー" for ch in text)


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """NFKC + lower case of ``text`` and, for each output character, the index of its source character.

    Composes a combining mark with the character before it (half-width ｶﾞ -> ガ), as whole-string NFKC does.
    """
    out: list[str] = []
    src: list[int] = []
    for i, ch in enumerate(text):
        piece = unicodedata.normalize("NFKC", ch).lower()
        for p in piece:
            if out and unicodedata.combining(p):
                composed = unicodedata.normalize("NFC", out[-1] + p)
                if len(composed) == 1:
                    out[-1] = composed
                    continue
            out.append(p)
            src.append(i)
    return "".join(out), src


def normalize(text: str) -> str:
    """NFKC + lower case (what the analyzer sees)."""
    return normalize_with_map(text)[0]


def is_word_char(ch: str) -> bool:
    """Letters, digits and the prolonged sound mark; not punctuation, symbols or spaces."""
    if ch == "ー":
        return True
    return unicodedata.category(ch)[0] in ("L", "N")
