"""FAQ entries as the knowledge base stores them, and the checks a new or edited entry must pass.

An entry belongs to one owner: a municipality (its 5-digit 団体コード) or a prefecture's shared pool (the
2-digit prefecture code, which is the first two digits of every 団体コード in it). A town sees its own entries
and the shared ones of its prefecture; a local entry that ``overrides`` a shared one replaces it for that town.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from faq.richtext import plain_text, sanitize
from machihub.errors import Invalid

VISIBILITIES = ("public", "staff")
AUDIENCES = ("public", "staff")
CHANNELS = ("phone", "counter", "mail")
STATUSES = ("active", "retired")
REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LAYER_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,79}$")
TOPIC_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")  # an alert topic (alerts.model.TOPICS keys)
OWNER_RE = re.compile(r"^(\d{2}|\d{5})$")
MAX_QUESTION, MAX_ANSWER, MAX_CATEGORIES, MAX_CATEGORY = 300, 20_000, 10, 40
CONTENT = ("question", "answer", "categories", "department_id", "visibility", "review_date", "layers",
           "alert_topics")


@dataclass(frozen=True)
class FaqEntry:
    id: int
    tenant_code: str | None  # None: in the shared pool
    pool: str  # prefecture code
    ref: str  # stable name within its owner (import/export, links)
    overrides: int | None  # the shared entry this local one replaces
    question: str
    answer: str  # sanitised HTML
    categories: tuple[str, ...]
    department_id: int | None
    visibility: str
    review_date: str | None
    layers: tuple[str, ...]
    alert_topics: tuple[str, ...]
    status: str
    version: int
    created: str
    updated: str
    updated_by: str

    @property
    def shared(self) -> bool:
        return self.tenant_code is None

    @property
    def owner(self) -> str:
        return self.tenant_code or self.pool

    @property
    def answer_text(self) -> str:
        return plain_text(self.answer)

    def content(self) -> dict[str, Any]:
        """The versioned fields (what a version snapshot and an export hold)."""
        return {"question": self.question, "answer": self.answer, "categories": list(self.categories),
                "department_id": self.department_id, "visibility": self.visibility,
                "review_date": self.review_date, "layers": list(self.layers), "alert_topics": list(self.alert_topics)}


def entry_from_row(row: dict[str, Any]) -> FaqEntry:
    return FaqEntry(row["id"], row["tenant_code"], row["pool"], row["ref"], row["overrides"], row["question"],
                    row["answer"], tuple(json.loads(row["categories"])), row["department_id"], row["visibility"],
                    row["review_date"], tuple(json.loads(row["layers"])), tuple(json.loads(row["alert_topics"])),
                    row["status"], row["version"], row["created"], row["updated"], row["updated_by"])


def owner_parts(owner: str) -> tuple[str | None, str]:
    """'37201' → ('37201', '37'); '37' (a prefecture's shared pool) → (None, '37')."""
    if not OWNER_RE.match(owner or ""):
        raise Invalid(f"owner {owner!r}: a 5-digit municipality code or a 2-digit prefecture code (shared pool)")
    return (owner, owner[:2]) if len(owner) == 5 else (None, owner)


def _list(value: Any, name: str) -> list[str]:
    """A list given as a list, or as text separated by ';' (CSV cells, form fields)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = value.replace("；", ";").split(";")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise Invalid(f"{name} must be a list or text separated by ';'")
    return list(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))


def clean_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Checked and normalised entry content from a form, an import row or an API call; raises Invalid
    naming the first problem. ``department_id`` is passed through (the store checks it belongs to the owner)."""
    question = " ".join(str(data.get("question") or "").split())
    if not question:
        raise Invalid("the question is empty")
    if len(question) > MAX_QUESTION:
        raise Invalid(f"the question is longer than {MAX_QUESTION} characters")
    raw_answer = str(data.get("answer") or "")
    if len(raw_answer) > MAX_ANSWER:
        raise Invalid(f"the answer is longer than {MAX_ANSWER} characters")
    answer = sanitize(raw_answer)
    if not plain_text(answer):
        raise Invalid("the answer is empty")
    categories = _list(data.get("categories"), "categories")
    if len(categories) > MAX_CATEGORIES or any(len(c) > MAX_CATEGORY for c in categories):
        raise Invalid(f"at most {MAX_CATEGORIES} categories of at most {MAX_CATEGORY} characters each")
    visibility = str(data.get("visibility") or "public").strip().lower()
    if visibility not in VISIBILITIES:
        raise Invalid(f"visibility {visibility!r}: use public or staff")
    review = str(data.get("review_date") or "").strip() or None
    if review:
        try:
            review = date.fromisoformat(review.replace("/", "-")).isoformat()
        except ValueError:
            raise Invalid(f"review date {review!r}: use YYYY-MM-DD") from None
    layers = _list(data.get("layers"), "layers")
    bad = [x for x in layers if not LAYER_RE.match(x)]
    if bad:
        raise Invalid(f"layer keys {bad}: lower-case letters, digits and _")
    topics = _list(data.get("alert_topics"), "alert_topics")
    bad = [x for x in topics if not TOPIC_RE.match(x)]
    if bad:
        raise Invalid(f"alert categories {bad}: lower-case names such as evacuation, weather, quake")
    dept = data.get("department_id")
    if dept in ("", None):
        dept = None
    else:
        try:
            dept = int(dept)
        except (TypeError, ValueError):
            raise Invalid(f"department {dept!r} is not a department id") from None
    return {"question": question, "answer": answer, "categories": categories, "department_id": dept,
            "visibility": visibility, "review_date": review, "layers": layers, "alert_topics": topics}


def check_ref(ref: str) -> str:
    ref = (ref or "").strip()
    if not REF_RE.match(ref):
        raise Invalid(f"FAQ id {ref!r}: letters, digits, '.', '_' and '-', at most 64")
    return ref
