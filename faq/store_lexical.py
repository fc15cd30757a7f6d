"""The lexical half of FAQ search inside the database: the same analyzer tokens and the same BM25 on both stores.

Each entry is indexed as four columns of tokens (question terms, question bigrams, answer terms, answer
bigrams), so that a query weights them (questions count half, bigrams less than words once a word was typed).

* SQLite: an FTS5 table ranked by FTS5's own ``bm25()`` with those column weights.
* PostgreSQL: a postings table (term, entry, count per column) and the very same formula in SQL. Why not
  ``ts_rank``: it has no idf and normalises length differently, so the two stores would order results
  differently; with FTS5's formula (k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)) floored at 1e-6,
  tf = column-weighted count, length = tokens in all columns) both stores rank alike, which the contract test checks.

Statistics (N, document frequency, average length) are over every indexed entry, as FTS5 computes them.
A phrase found in half of all entries or more has idf <= 0 (FTS5 floors it at 1e-6): it cannot change the
order, but its postings are most of the work (particles' bigrams, ください), so both stores leave such phrases
out, unless nothing else is left (``informative``).
"""
from __future__ import annotations

import math
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from machihub.db import Tx
from machihub.schema import run_script

COLUMNS = ("q_terms", "q_grams", "a_terms", "a_grams")
BULK = 100  # entries written at once after which PostgreSQL statistics are refreshed
Document = list[list[str]]  # one token list per column
Ranked = list[tuple[int, float]]  # (entry id, score), best first


@dataclass(frozen=True)
class Phrase:
    token: str
    prefix: bool = False  # matches every token starting with it (a single character typed so far)


@dataclass(frozen=True)
class LexicalQuery:
    phrases: list[Phrase]
    weights: tuple[float, float, float, float]  # per column, in COLUMNS order


def idf(n: float, hits: int) -> float:
    """FTS5's idf: ln((N - n + 0.5) / (n + 0.5)), at least 1e-6."""
    value = math.log((n - hits + 0.5) / (hits + 0.5))
    return value if value > 0.0 else 1e-6


def informative(phrases: list[Phrase], df: dict[str, int], n: float) -> list[Phrase]:
    """The phrases with a positive idf (prefix phrases always count); all of them if none has one."""
    # ln((N - n + 0.5) / (n + 0.5)) > 0  <=>  n < N / 2
    keep = [p for p in phrases if p.prefix or 2 * df.get(p.token, 0) < n]
    return keep or phrases


def _token_char(ch: str) -> bool:
    # FTS5's unicode61 tokenizer keeps letters, numbers and private-use characters and splits on the rest
    cat = unicodedata.category(ch)
    return cat[0] in "LN" or cat == "Co"


def split_tokens(tokens: list[str]) -> list[str]:
    """Tokens exactly as unicode61 will see them, so that PostgreSQL gets the same ones (the analyzer's tokens
    are letters and digits already; this only guards against marks that survive normalisation)."""
    out: list[str] = []
    for token in tokens:
        word = ""
        for ch in token.lower():
            if _token_char(ch):
                word += ch
            elif word:
                out.append(word)
                word = ""
        if word:
            out.append(word)
    return out


class LexicalIndex(Protocol):
    def create_schema(self, tx: Tx) -> None: ...

    def put(self, tx: Tx, entry_id: int, doc: Document) -> None: ...

    def put_many(self, tx: Tx, docs: list[tuple[int, Document]]) -> None: ...

    def delete(self, tx: Tx, entry_id: int) -> None: ...

    def rank(self, tx: Tx, query: LexicalQuery, within: tuple[str, list], limit: int) -> Ranked: ...


class SqliteLexical:
    DDL = """
CREATE VIRTUAL TABLE IF NOT EXISTS mh_faq_fts USING fts5(q_terms, q_grams, a_terms, a_grams,
  tokenize = 'unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE IF NOT EXISTS mh_faq_fts_vocab USING fts5vocab(mh_faq_fts, 'row');
"""

    def create_schema(self, tx: Tx) -> None:
        run_script(tx, self.DDL)

    def put(self, tx: Tx, entry_id: int, doc: Document) -> None:
        tx.execute("INSERT INTO mh_faq_fts (rowid, q_terms, q_grams, a_terms, a_grams) VALUES (?, ?, ?, ?, ?)",
                   (entry_id, *(" ".join(col) for col in doc)))

    def put_many(self, tx: Tx, docs: list[tuple[int, Document]]) -> None:
        tx.executemany("INSERT INTO mh_faq_fts (rowid, q_terms, q_grams, a_terms, a_grams) VALUES (?, ?, ?, ?, ?)",
                       [(entry_id, *(" ".join(col) for col in doc)) for entry_id, doc in docs])

    def delete(self, tx: Tx, entry_id: int) -> None:
        tx.execute("DELETE FROM mh_faq_fts WHERE rowid = ?", (entry_id,))

    def rank(self, tx: Tx, query: LexicalQuery, within: tuple[str, list], limit: int) -> Ranked:
        if not query.phrases:
            return []
        n = float(tx.scalar("SELECT count(*) FROM mh_faq_fts_docsize"))  # FTS5's own row count table
        exact = sorted({p.token for p in query.phrases if not p.prefix})
        df = {r["term"]: r["doc"] for r in tx.query(
            f"SELECT term, doc FROM mh_faq_fts_vocab WHERE term IN ({', '.join('?' * len(exact))})", exact)} if exact else {}
        phrases = informative(query.phrases, df, n)
        # every token is letters/digits only (split_tokens), so quoting makes each one a phrase, never syntax
        match = " OR ".join(f'"{p.token}"' + ("*" if p.prefix else "") for p in phrases)
        sql, params = within
        # "+rowid": without the plus, SQLite drives the query from the visible ids and re-runs the full-text
        # match once per id (seconds on a few hundred entries); with it, one match, then a filter
        rows = tx.query("SELECT rowid AS id, -bm25(mh_faq_fts, ?, ?, ?, ?) AS score FROM mh_faq_fts"
                        f" WHERE mh_faq_fts MATCH ? AND +rowid IN ({sql}) ORDER BY score DESC, rowid LIMIT ?",
                        [*query.weights, match, *params, limit])
        return [(int(r["id"]), float(r["score"])) for r in rows]


class PostgresLexical:
    # COLLATE "C": a prefix phrase is a range scan; INCLUDE: postings are read from the index alone;
    # mh_faq_terms keeps each term's document frequency, which counting postings per query would cost
    DDL = """
CREATE TABLE IF NOT EXISTS mh_faq_docs (
  entry_id BIGINT PRIMARY KEY REFERENCES mh_faq_entries(id), length INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mh_faq_postings (
  term TEXT COLLATE "C" NOT NULL, entry_id BIGINT NOT NULL REFERENCES mh_faq_docs(entry_id) ON DELETE CASCADE,
  f_qt INTEGER NOT NULL, f_qg INTEGER NOT NULL, f_at INTEGER NOT NULL, f_ag INTEGER NOT NULL,
  PRIMARY KEY (term, entry_id) INCLUDE (f_qt, f_qg, f_at, f_ag));
CREATE INDEX IF NOT EXISTS mh_faq_postings_entry ON mh_faq_postings (entry_id);
CREATE TABLE IF NOT EXISTS mh_faq_terms (term TEXT COLLATE "C" PRIMARY KEY, df INTEGER NOT NULL);
"""
    Q = "WITH q AS (SELECT * FROM unnest(?::text[], ?::text[], ?::float8[]) WITH ORDINALITY AS q(tok, hi, idf, i))"
    F = "? * p.f_qt + ? * p.f_qg + ? * p.f_at + ? * p.f_ag"
    # FTS5's bm25() (fts5_aux.c): sum over phrases of idf * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl))
    BM25 = "sum({idf} * ({f} * (1.2 + 1.0)) / ({f} + 1.2 * (1 - 0.75 + 0.75 * d.length::float8 / ?)))"
    TAIL = " WHERE {key} IN ({within}) GROUP BY {key} ORDER BY score DESC, {key} LIMIT ?"
    # exact phrases: one posting per (phrase, entry), so no per-phrase grouping is needed
    EXACT = (Q + f", hits AS (SELECT q.idf, p.entry_id, {F} AS f FROM q JOIN mh_faq_postings p ON p.term = q.tok)"
             " SELECT hits.entry_id AS id, " + BM25.format(idf="hits.idf", f="hits.f") + " AS score"
             " FROM hits JOIN mh_faq_docs d ON d.entry_id = hits.entry_id" + TAIL.replace("{key}", "hits.entry_id"))
    # a prefix phrase sums the counts of every term in [token, token + U+10FFFF) per entry first
    PREFIX = (Q + f", hits AS (SELECT q.i, q.idf, p.entry_id, {F} AS f FROM q JOIN mh_faq_postings p"
              " ON (q.hi IS NULL AND p.term = q.tok) OR (q.hi IS NOT NULL AND p.term >= q.tok AND p.term < q.hi)),"
              " hf AS (SELECT i, max(idf) AS idf, entry_id, sum(f) AS f FROM hits GROUP BY i, entry_id)"
              " SELECT hf.entry_id AS id, " + BM25.format(idf="hf.idf", f="hf.f") + " AS score"
              " FROM hf JOIN mh_faq_docs d ON d.entry_id = hf.entry_id" + TAIL.replace("{key}", "hf.entry_id"))
    PREFIX_DF = ("SELECT count(DISTINCT entry_id) FROM mh_faq_postings WHERE term >= ? AND term < ?")

    def create_schema(self, tx: Tx) -> None:
        run_script(tx, self.DDL)

    def put(self, tx: Tx, entry_id: int, doc: Document) -> None:
        self.put_many(tx, [(entry_id, doc)])

    def put_many(self, tx: Tx, docs: list[tuple[int, Document]]) -> None:
        tx.executemany("INSERT INTO mh_faq_docs (entry_id, length) VALUES (?, ?)",
                       [(entry_id, sum(map(len, doc))) for entry_id, doc in docs])
        df: Counter[str] = Counter()
        # COPY: an answer has hundreds of distinct tokens; row-by-row INSERTs would dominate an import
        with tx._cur.copy("COPY mh_faq_postings (term, entry_id, f_qt, f_qg, f_at, f_ag) FROM STDIN") as copy:
            for entry_id, doc in docs:
                counts = [Counter(col) for col in doc]
                terms = set().union(*counts)
                df.update(terms)
                for t in terms:
                    copy.write_row((t, entry_id, *(c.get(t, 0) for c in counts)))
        # one upsert per batch; sorted, so concurrent writers lock the shared counters in the same order
        terms = sorted(df)
        tx.execute("INSERT INTO mh_faq_terms (term, df) SELECT * FROM unnest(?::text[], ?::int[])"
                   " ON CONFLICT (term) DO UPDATE SET df = mh_faq_terms.df + excluded.df",
                   (terms, [df[t] for t in terms]))
        if len(docs) >= BULK:  # fresh statistics, or the planner ranks a just-imported FAQ with a bad plan
            tx.execute("ANALYZE mh_faq_entries, mh_faq_docs, mh_faq_postings, mh_faq_terms")

    def delete(self, tx: Tx, entry_id: int) -> None:
        tx.execute("UPDATE mh_faq_terms SET df = df - 1 WHERE term IN"
                   " (SELECT term FROM mh_faq_postings WHERE entry_id = ?)", (entry_id,))
        tx.execute("DELETE FROM mh_faq_docs WHERE entry_id = ?", (entry_id,))

    def rank(self, tx: Tx, query: LexicalQuery, within: tuple[str, list], limit: int) -> Ranked:
        if not query.phrases:
            return []
        stats = tx.one("SELECT count(*) AS n, coalesce(sum(length), 0) AS total FROM mh_faq_docs")
        n, total = float(stats["n"]), float(stats["total"])  # type: ignore[index]
        if not n:
            return []
        exact = sorted({p.token for p in query.phrases if not p.prefix})
        df = {r["term"]: r["df"] for r in tx.query("SELECT term, df FROM mh_faq_terms WHERE term = ANY(?)", (exact,))}
        for p in query.phrases:
            if p.prefix:
                df[p.token] = int(tx.scalar(self.PREFIX_DF, (p.token, p.token + "\U0010ffff")))
        phrases = informative(query.phrases, df, n)
        prefix = any(p.prefix for p in phrases)
        tx.execute("SET LOCAL jit = off")  # compiling this query costs more than running it
        sql, params = within
        rows = tx.query((self.PREFIX if prefix else self.EXACT).replace("{within}", sql),
                        [[p.token for p in phrases], [p.token + "\U0010ffff" if p.prefix else None for p in phrases],
                         [idf(n, df.get(p.token, 0)) for p in phrases], *query.weights, max(total, 1.0) / n, *params,
                         limit])
        return [(int(r["id"]), float(r["score"])) for r in rows]


LEXICAL: dict[str, type[SqliteLexical] | type[PostgresLexical]] = {
    "sqlite": SqliteLexical, "postgresql": PostgresLexical}

