"""The lexical half of FAQ search inside the database: the same analyzer tokens and the same BM25 on both stores.

Each entry is indexed as four columns of tokens (question terms, question bigrams, answer terms, answer
bigrams), so that a query weights them (questions count half, bigrams less than words once a word was typed).

* SQLite: an FTS5 table ranked by FTS5's own ``bm25()`` with those column weights.
* PostgreSQL: a postings table (term, entry, count per column) and the very same formula in SQL. Why not
  ``ts_rank``: it has no idf and normalises length differently, so the two stores would order results
  differently; with FTS5's formula (k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)) floored at 1e-6,
  tf = column-weighted count, length = tokens in all columns) both stores rank alike, which the contract test checks.

Statistics (N, document frequency, average length) are over every indexed entry, as FTS5 computes them.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from machihub.db import Tx
from machihub.schema import run_script

COLUMNS = ("q_terms", "q_grams", "a_terms", "a_grams")
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

    def delete(self, tx: Tx, entry_id: int) -> None: ...

    def rank(self, tx: Tx, query: LexicalQuery, within: tuple[str, list], limit: int) -> Ranked: ...


class SqliteLexical:
    DDL = """
CREATE VIRTUAL TABLE IF NOT EXISTS mh_faq_fts USING fts5(q_terms, q_grams, a_terms, a_grams,
  tokenize = 'unicode61 remove_diacritics 0');
"""

    def create_schema(self, tx: Tx) -> None:
        run_script(tx, self.DDL)

    def put(self, tx: Tx, entry_id: int, doc: Document) -> None:
        tx.execute("INSERT INTO mh_faq_fts (rowid, q_terms, q_grams, a_terms, a_grams) VALUES (?, ?, ?, ?, ?)",
                   (entry_id, *(" ".join(col) for col in doc)))

    def delete(self, tx: Tx, entry_id: int) -> None:
        tx.execute("DELETE FROM mh_faq_fts WHERE rowid = ?", (entry_id,))

    def rank(self, tx: Tx, query: LexicalQuery, within: tuple[str, list], limit: int) -> Ranked:
        if not query.phrases:
            return []
        # every token is letters/digits only (split_tokens), so quoting makes each one a phrase, never syntax
        match = " OR ".join(f'"{p.token}"' + ("*" if p.prefix else "") for p in query.phrases)
        sql, params = within
        # "+rowid": without the plus, SQLite drives the query from the visible ids and re-runs the full-text
        # match once per id (seconds on a few hundred entries); with it, one match, then a filter
        rows = tx.query("SELECT rowid AS id, -bm25(mh_faq_fts, ?, ?, ?, ?) AS score FROM mh_faq_fts"
                        f" WHERE mh_faq_fts MATCH ? AND +rowid IN ({sql}) ORDER BY score DESC, rowid LIMIT ?",
                        [*query.weights, match, *params, limit])
        return [(int(r["id"]), float(r["score"])) for r in rows]


class PostgresLexical:
    # COLLATE "C": a prefix phrase is a range scan on the primary key
    DDL = """
CREATE TABLE IF NOT EXISTS mh_faq_docs (
  entry_id BIGINT PRIMARY KEY REFERENCES mh_faq_entries(id), length INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mh_faq_postings (
  term TEXT COLLATE "C" NOT NULL, entry_id BIGINT NOT NULL REFERENCES mh_faq_docs(entry_id) ON DELETE CASCADE,
  f_qt INTEGER NOT NULL, f_qg INTEGER NOT NULL, f_at INTEGER NOT NULL, f_ag INTEGER NOT NULL,
  PRIMARY KEY (term, entry_id));
CREATE INDEX IF NOT EXISTS mh_faq_postings_entry ON mh_faq_postings (entry_id);
"""
    # FTS5's bm25() (fts5_aux.c) in SQL. A phrase's hits: the exact term, or every term in [token, token+U+10FFFF).
    RANK = """
WITH q AS (SELECT tok, hi, i FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS q(tok, hi, i)),
st AS (SELECT count(*)::float8 AS n, greatest(coalesce(sum(length), 0), 1)::float8 AS total FROM mh_faq_docs),
hits AS (
  SELECT q.i, p.entry_id, ? * p.f_qt + ? * p.f_qg + ? * p.f_at + ? * p.f_ag AS f
  FROM q JOIN mh_faq_postings p ON p.term = q.tok WHERE q.hi IS NULL
  UNION ALL
  SELECT q.i, p.entry_id, ? * p.f_qt + ? * p.f_qg + ? * p.f_at + ? * p.f_ag
  FROM q JOIN mh_faq_postings p ON p.term >= q.tok AND p.term < q.hi WHERE q.hi IS NOT NULL),
hf AS (SELECT i, entry_id, sum(f) AS f FROM hits GROUP BY i, entry_id),
idf AS (SELECT hf.i, ln((st.n - count(*) + 0.5) / (count(*) + 0.5)) AS v FROM hf CROSS JOIN st GROUP BY hf.i, st.n)
SELECT hf.entry_id AS id,
  sum(CASE WHEN idf.v > 0 THEN idf.v ELSE 1e-6 END
      * (hf.f * (1.2 + 1.0)) / (hf.f + 1.2 * (1 - 0.75 + 0.75 * d.length / (st.total / st.n)))) AS score
FROM hf JOIN idf ON idf.i = hf.i JOIN mh_faq_docs d ON d.entry_id = hf.entry_id CROSS JOIN st
WHERE hf.entry_id IN ({within})
GROUP BY hf.entry_id ORDER BY score DESC, hf.entry_id LIMIT ?
"""

    def create_schema(self, tx: Tx) -> None:
        run_script(tx, self.DDL)

    def put(self, tx: Tx, entry_id: int, doc: Document) -> None:
        counts = [Counter(col) for col in doc]
        terms = sorted(set().union(*counts))
        tx.execute("INSERT INTO mh_faq_docs (entry_id, length) VALUES (?, ?)", (entry_id, sum(map(len, doc))))
        # COPY: an answer has hundreds of distinct tokens; row-by-row INSERTs would dominate an import
        with tx._cur.copy("COPY mh_faq_postings (term, entry_id, f_qt, f_qg, f_at, f_ag) FROM STDIN") as copy:
            for t in terms:
                copy.write_row((t, entry_id, *(c.get(t, 0) for c in counts)))

    def delete(self, tx: Tx, entry_id: int) -> None:
        tx.execute("DELETE FROM mh_faq_docs WHERE entry_id = ?", (entry_id,))

    def rank(self, tx: Tx, query: LexicalQuery, within: tuple[str, list], limit: int) -> Ranked:
        if not query.phrases:
            return []
        toks = [p.token for p in query.phrases]
        his = [p.token + "\U0010ffff" if p.prefix else None for p in query.phrases]
        sql, params = within
        rows = tx.query(self.RANK.replace("{within}", sql),
                        [toks, his, *query.weights, *query.weights, *params, limit])
        return [(int(r["id"]), float(r["score"])) for r in rows]


LEXICAL: dict[str, type[SqliteLexical] | type[PostgresLexical]] = {
    "sqlite": SqliteLexical, "postgresql": PostgresLexical}

