"""Japanese-aware analysis for FAQ search.

``index_tokens(text)`` and ``query_tokens(text)`` return plain tokens (letters and digits only, joined with
spaces they index as-is in SQLite FTS5 ``unicode61`` and PostgreSQL ``to_tsvector('simple', …)``), so every
store indexes the same tokens:

* terms: NFKC + lower case, UniDic lemmas (orthographic variants folded), katakana folded to hiragana,
  particles/auxiliaries/symbols and a few empty lemmas dropped, synonym groups rewritten to one form,
  English words lower-cased and stemmed;
* grams: character bigrams of the Japanese text, prefixed ``GRAM_PREFIX`` ("ng"), the fallback for
  out-of-vocabulary words, partial words typed so far and very short queries.

Queries also get one-way expansions and Japanese glosses of English words (``Analysis.added``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from faq.english import STOP_WORDS, Gloss, stem
from faq.morph import BACKENDS, Morpheme
from faq.normalize import fold_kana, hiragana_to_katakana, is_all_hiragana, is_word_char, normalize_with_map
from faq.synonyms import Synonyms

HERE = Path(__file__).resolve().parent
GRAM_PREFIX = "ng"
KEEP_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "接尾辞", "接頭辞"})
# Lemmas that carry no topic (light verbs, formal nouns, request phrases: 教えてください, 知りたい).
STOP_LEMMAS = frozenset(
    "する 為る ある 有る いる 居る なる 成る できる 出来る 下さる くださる いう 言う おる 思う 事 こと 物 もの "
    "為 ため 様 よう 方 かた 頂く いただく 致す 貰う もらう 教える 知る 分かる 良い いい 欲しい 行く 来る "
    "場合 何 なに どう 御 ご お 等 など 的 さん 中 時 ー".split()
)
QUERY_CACHE_CHARS, QUERY_CACHE_SIZE = 200, 4096  # search-as-you-type repeats short texts


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int  # offsets into the original text
    end: int


@dataclass
class Analysis:
    terms: list[Token] = field(default_factory=list)
    grams: list[Token] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # query only: expansions and English glosses
    oov: bool = False  # some Japanese word was not in the dictionary
    length: int = 0  # normalised characters that are letters or digits
    folded: str = ""  # the normalised text, katakana folded to hiragana


def _clean(term: str) -> str:
    return "".join(ch for ch in fold_kana(term) if is_word_char(ch))


def _is_latin(word: str) -> bool:
    return word.isascii() and word[:1].isalpha()


class Analyzer:
    def __init__(self, backend: str = "fugashi", synonyms_path: Path | None = None,
                 gloss_path: Path | None = None, bigrams: bool = True) -> None:
        self.backend_name = backend
        self._morph = BACKENDS[backend]()
        self._cache: dict[str, list[Morpheme]] = {}
        self.bigrams = bigrams
        self.synonyms = Synonyms()
        self.synonyms = Synonyms.load(synonyms_path or HERE / "synonyms.txt", self._plain_terms)
        self.gloss = Gloss.load(gloss_path or HERE / "glossary_en.txt")

    # --- public API -------------------------------------------------------------------------------
    def index_tokens(self, text: str) -> list[str]:
        a = self.analyze(text)
        return [t.text for t in a.terms] + [g.text for g in a.grams]

    def query_tokens(self, text: str) -> list[str]:
        a = self.analyze(text, query=True)
        return [t.text for t in a.terms] + a.added + [g.text for g in a.grams]

    def fields(self, text: str, query: bool = False) -> dict[str, list[str]]:
        """Tokens split by kind, for a store that indexes them in two columns and weights grams lower
        (SQLite: ``bm25(faq_fts, 1.0, 0.3)``; PostgreSQL: ``setweight`` A for terms, D for grams)."""
        a = self.analyze(text, query=query)
        return {"terms": [t.text for t in a.terms] + a.added, "grams": [g.text for g in a.grams]}

    def analyze(self, text: str, query: bool = False) -> Analysis:
        norm, src = normalize_with_map(text)
        out = Analysis(length=sum(1 for ch in norm if is_word_char(ch)), folded=fold_kana(norm))
        terms, latin = self._terms(norm, src, out)
        if query and not terms and is_all_hiragana(norm):
            # a reading typed as heard on the phone (こくほ): the dictionary reads it as particles; written in
            # katakana it is one known word (コクホ -> 国保). Only then: ください must stay a function word
            kata = hiragana_to_katakana(norm)
            morphs = self._morphemes(kata)
            trial = [t.text for t in self._terms(kata, src, Analysis())[0]]
            whole_synonym = any(a == 0 and b == len(trial) for a, b, _ in self.synonyms.rewrite(trial))
            if trial and (whole_synonym or (len(morphs) == 1 and not morphs[0].unknown)):
                terms, latin = self._terms(kata, src, out)
        out.terms = self._apply_synonyms(terms)
        if self.bigrams:
            out.grams = self._grams(norm, src)
        if query:
            seq = [t.text for t in out.terms]
            out.added = [t for t in self.synonyms.expand(seq) + self._gloss(latin) if t not in seq]
        return out

    # --- terms ------------------------------------------------------------------------------------
    def _plain_terms(self, text: str) -> list[str]:
        norm, src = normalize_with_map(text)
        terms, _ = self._terms(norm, src, Analysis())
        return [t.text for t in self._apply_synonyms(terms)]

    def _terms(self, norm: str, src: list[int], out: Analysis) -> tuple[list[Token], list[str]]:
        terms: list[Token] = []
        latin: list[str] = []
        cursor = 0
        for m in self._morphemes(norm):
            start = norm.find(m.surface, cursor)
            if start < 0:
                start = cursor
            end = min(start + len(m.surface), len(norm))
            cursor = end
            if not m.surface.strip() or end <= start:
                continue
            span = (src[start], src[end - 1] + 1)
            if _is_latin(m.surface):
                word = stem(m.surface)
                latin.append(word)
                if m.surface not in STOP_WORDS:
                    terms.append(Token(word, *span))
                continue
            term = self._keep(m)
            if term:
                terms.append(Token(term, *span))
                out.oov = out.oov or m.unknown
        return terms, latin

    def _morphemes(self, norm: str) -> list[Morpheme]:
        if len(norm) > QUERY_CACHE_CHARS:  # documents are analysed once: not worth caching
            return self._morph(norm)
        hit = self._cache.get(norm)
        if hit is None:
            if len(self._cache) >= QUERY_CACHE_SIZE:
                self._cache.clear()
            hit = self._cache[norm] = self._morph(norm)
        return hit

    @staticmethod
    def _keep(m: Morpheme) -> str:
        if m.pos1 not in KEEP_POS and not m.unknown:
            return ""
        if m.lemma in STOP_LEMMAS or m.surface in STOP_LEMMAS:
            return ""
        term = _clean(m.lemma if not m.unknown else m.surface)
        return "" if term in STOP_LEMMAS else term

    def _apply_synonyms(self, terms: list[Token]) -> list[Token]:
        if not self.synonyms.rewrites:
            return terms
        seq = [t.text for t in terms]
        out: list[Token] = []
        i = 0
        for start, end, canonical in self.synonyms.rewrite(seq):
            out.extend(terms[i:start])
            s, e = terms[start].start, terms[end - 1].end
            out.extend(Token(c, s, e) for c in canonical)
            i = end
        out.extend(terms[i:])
        return out

    def _gloss(self, latin: list[str]) -> list[str]:
        added: list[str] = []
        for japanese in self.gloss.translate(latin):
            for t in self._plain_terms(japanese):
                if t not in added:
                    added.append(t)
        return added

    # --- grams ------------------------------------------------------------------------------------
    @staticmethod
    def _grams(norm: str, src: list[int]) -> list[Token]:
        """Bigrams over runs of Japanese letters and digits (not Latin words, which are terms)."""
        folded = fold_kana(norm)
        grams: list[Token] = []
        for i in range(len(folded) - 1):
            a, b = folded[i], folded[i + 1]
            if is_word_char(a) and is_word_char(b) and not (a.isascii() and b.isascii()):
                grams.append(Token(GRAM_PREFIX + a + b, src[i], src[i + 1] + 1))
        return grams


@cache
def default_analyzer() -> Analyzer:
    """One shared analyzer for the module-level helpers (read-only after loading)."""
    return Analyzer()


def index_tokens(text: str) -> list[str]:
    """Tokens to index for ``text`` (terms and grams); join with spaces for FTS5 / tsvector."""
    return default_analyzer().index_tokens(text)


def query_tokens(text: str) -> list[str]:
    """Tokens to search for the query ``text`` (terms, expansions, English glosses, grams)."""
    return default_analyzer().query_tokens(text)
