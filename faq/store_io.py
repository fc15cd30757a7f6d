"""FAQ import and export: CSV (UTF-8 with or without BOM, or Shift_JIS/CP932 as Excel writes it, told apart by
decoding) and JSON. An import is all or nothing: every row is checked first and the problems come back with
their row numbers; then everything is written in one transaction. Rows match existing entries by ``ref``.

CSV cells that a spreadsheet would run as a formula (= + - @ tab CR) are exported with a leading apostrophe,
and that apostrophe is taken off again on import, so a round trip changes nothing.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Any

from faq.model import CONTENT, check_ref, clean_fields, owner_parts
from faq.store import FaqStore, can_create
from machihub.errors import Forbidden, HubError, Invalid
from machihub.principal import Principal

FIELDS = ("ref", "question", "answer", "categories", "department", "visibility", "review_date", "layers",
          "alert_topics", "overrides")
# Japanese headers, as a call center's own spreadsheet would have them
ALIASES = {"id": "ref", "faq_id": "ref", "番号": "ref", "質問": "question", "回答": "answer", "カテゴリ": "categories",
           "分類": "categories", "担当課": "department", "所管課": "department", "公開範囲": "visibility",
           "見直し日": "review_date", "地図レイヤ": "layers", "警報区分": "alert_topics", "上書き元": "overrides"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_BYTES, MAX_ROWS = 10 * 1024 * 1024, 5000
FORMAT = "machihub-faq/1"


@dataclass(frozen=True)
class ImportResult:
    owner: str
    format: str
    encoding: str
    rows: int
    created: int
    updated: int
    unchanged: int


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding it was in: UTF-8 (BOM optional), else CP932; anything else is refused."""
    if b"\x00" in data:  # UTF-16 (Excel's "Unicode text") or not text at all; CP932 would decode it as garbage
        raise Invalid("the file is not UTF-8 or Shift_JIS (CP932) text (UTF-16 or binary?); save it as CSV UTF-8")
    if data.startswith(codecs.BOM_UTF8):
        data, bom = data[len(codecs.BOM_UTF8):], True
    else:
        bom = False
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if bom:
            raise Invalid(f"the file says UTF-8 but byte {exc.start} is not UTF-8") from None
    try:
        return data.decode("cp932"), "cp932"
    except UnicodeDecodeError as exc:
        raise Invalid(f"the file is neither UTF-8 nor Shift_JIS (CP932): byte {exc.start} cannot be read") from None


def _unguard(value: str) -> str:
    return value[1:] if value[:1] == "'" and value[1:2] in FORMULA_START and value[1:2] else value


def read_rows(data: bytes, filename: str = "") -> tuple[str, str, list[tuple[int, dict[str, Any]]]]:
    """(format, encoding, [(row number, row)]). CSV rows are numbered as a spreadsheet shows them (header = 1)."""
    if len(data) > MAX_BYTES:
        raise Invalid(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    text, encoding = decode(data)
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped[:1] in ("[", "{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Invalid(f"the JSON cannot be read: line {exc.lineno}: {exc.msg}") from None
        items = doc.get("entries") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise Invalid('the JSON must be a list of entries or {"entries": [...]}')
        rows = [(n, item) for n, item in enumerate(items, start=1)]
        fmt = "json"
    else:
        reader = csv.reader(io.StringIO(text))
        try:
            header = [ALIASES.get(h.strip(), h.strip().lower()) for h in next(reader, [])]
            unknown = [h for h in header if h and h not in FIELDS]
            if unknown or "question" not in header or "answer" not in header:
                raise Invalid(f"CSV header: unknown columns {unknown}; needs question and answer, may have "
                              f"{', '.join(FIELDS)}")
            rows = [(n, {h: _unguard(v) for h, v in zip(header, cells, strict=False) if h})
                    for n, cells in enumerate(reader, start=2) if any(c.strip() for c in cells)]
        except csv.Error as exc:
            raise Invalid(f"the CSV cannot be read: {exc}") from None
        fmt = "csv"
    if len(rows) > MAX_ROWS:
        raise Invalid(f"at most {MAX_ROWS} entries per file")
    return fmt, encoding, rows


def _departments(store: FaqStore, pool: str, default_tenant: str | None) -> tuple[dict[str, int], dict[int, str]]:
    """Names a file may use for a department: 'tenant/code' always; 'code' and the name within ``default_tenant``."""
    with store.db.read() as tx:
        rows = tx.query("SELECT id, tenant_code, code, name FROM mh_departments WHERE substr(tenant_code, 1, 2) = ?",
                        (pool,))
    by_name: dict[str, int] = {}
    for r in rows:
        by_name[f"{r['tenant_code']}/{r['code']}"] = r["id"]
        if r["tenant_code"] == default_tenant:
            by_name.setdefault(r["code"], r["id"])
            by_name.setdefault(r["name"], r["id"])
    names = {r["id"]: r["code"] if r["tenant_code"] == default_tenant else f"{r['tenant_code']}/{r['code']}"
             for r in rows}
    return by_name, names


def _prepare(store: FaqStore, by: Principal, owner: str, rows: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    tenant, pool = owner_parts(owner)
    depts, _ = _departments(store, pool, tenant or by.tenant_code)
    shared = {e.ref: e.id for e in store.owned(pool)} if tenant else {}
    errors: list[dict[str, Any]] = []
    prepared: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, raw in rows:
        try:
            if not isinstance(raw, dict):
                raise Invalid("not an object with question and answer")
            ref = check_ref(str(raw["ref"])) if str(raw.get("ref") or "").strip() else None
            if ref and ref in seen:
                raise Invalid(f"FAQ id {ref!r} is also on row {seen[ref]}")
            dept = str(raw.get("department") or "").strip()
            if dept and dept not in depts:
                raise Invalid(f"unknown department {dept!r}")
            fields = clean_fields({**raw, "department_id": depts.get(dept) if dept else None})
            over = str(raw.get("overrides") or "").strip()
            if over and over not in shared:
                raise Invalid(f"overrides {over!r}: no such shared entry in the prefecture's pool")
            prepared.append({"row": n, "ref": ref, "fields": fields, "overrides": shared.get(over) if over else None})
            if ref:
                seen[ref] = n
        except HubError as exc:
            errors.append({"row": n, "message": exc.message})
    if errors:
        raise Invalid(f"{len(errors)} of {len(rows)} rows have problems; nothing was imported", details=errors)
    return prepared


def import_entries(store: FaqStore, by: Principal, owner: str, data: bytes, filename: str = "") -> ImportResult:
    tenant, pool = owner_parts(owner)
    if not (by.admin_of(tenant) if tenant else can_create(by, None, pool)):
        raise Forbidden("importing FAQ entries needs an admin of the town (or of the prefecture's pool)")
    fmt, encoding, rows = read_rows(data, filename)
    prepared = _prepare(store, by, owner, rows)
    created = updated = unchanged = 0
    written: list[tuple[int, dict[str, Any]]] = []  # indexed in one batch at the end
    with store.db.transaction() as tx:
        for p in prepared:
            try:
                row = tx.one("SELECT * FROM mh_faq_entries WHERE coalesce(tenant_code, pool) = ? AND ref = ?",
                             (owner, p["ref"])) if p["ref"] else None
                if row is None:
                    ref = p["ref"] or store._free_ref(tx, owner)
                    written.append((store.insert(tx, by, owner, ref, p["fields"], overrides=p["overrides"],
                                                 note="import", audit=False, index=False), p["fields"]))
                    created += 1
                elif row["status"] == "active" and all(_same(row, k, p["fields"][k]) for k in CONTENT):
                    unchanged += 1
                else:
                    store.replace(tx, by, row, p["fields"], "active", "import", "faq.update", audit=False, index=False)
                    written.append((row["id"], p["fields"]))
                    updated += 1
            except HubError as exc:  # rolls the whole import back
                raise Invalid(f"row {p['row']}: {exc.message}; nothing was imported",
                              details=[{"row": p["row"], "message": exc.message}]) from None
        store.index_many(tx, written)
        result = ImportResult(owner, fmt, encoding, len(prepared), created, updated, unchanged)
        store.audit.append(tx, by.actor, "faq.import", f"faq-owner:{owner}", tenant=tenant,
                           after={**asdict(result), "file": filename[:100]})
    return result


def _same(row: dict[str, Any], key: str, value: Any) -> bool:
    stored = row[key]
    return (json.loads(stored) if key in ("categories", "layers", "alert_topics") else stored) == value


# -- export ------------------------------------------------------------------------------------------------
def export_records(store: FaqStore, by: Principal, owner: str) -> list[dict[str, Any]]:
    tenant, pool = owner_parts(owner)
    if not (by.is_system or (tenant and by.tenant_code == tenant) or (not tenant and (by.tenant_code or "")[:2] == pool)):
        raise Forbidden("you can export the FAQ of your own town or prefecture only")
    _, names = _departments(store, pool, tenant or by.tenant_code)
    shared_refs = {e.id: e.ref for e in store.owned(pool, include_retired=True)} if tenant else {}
    out = []
    for e in store.owned(owner):
        out.append({"ref": e.ref, "question": e.question, "answer": e.answer, "categories": list(e.categories),
                    "department": names.get(e.department_id, "") if e.department_id else "",
                    "visibility": e.visibility, "review_date": e.review_date or "", "layers": list(e.layers),
                    "alert_topics": list(e.alert_topics), "overrides": shared_refs.get(e.overrides, "") if e.overrides else ""})
    store.audit.record(by.actor, "faq.export", f"faq-owner:{owner}", tenant=tenant or by.tenant_code,
                       after={"entries": len(out)})
    return out


def _guard(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def export_csv(store: FaqStore, by: Principal, owner: str, encoding: str = "utf-8") -> bytes:
    """CSV for Excel: UTF-8 with BOM, or CP932 on request (an entry CP932 cannot hold is named, not mangled)."""
    if encoding not in ("utf-8", "cp932"):
        raise Invalid("encoding: utf-8 or cp932")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(FIELDS)
    records = export_records(store, by, owner)
    for r in records:
        writer.writerow([_guard("; ".join(v) if isinstance(v, list) else str(v)) for v in (r[f] for f in FIELDS)])
    text = buf.getvalue()
    if encoding == "utf-8":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    bad = [r["ref"] for r in records if not _encodable(r, "cp932")]
    if bad:
        raise Invalid(f"entries {bad[:10]} have characters Shift_JIS (CP932) cannot hold; export as UTF-8")
    return text.encode("cp932")


def _encodable(record: dict[str, Any], encoding: str) -> bool:
    try:
        json.dumps(record, ensure_ascii=False).encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def export_json(store: FaqStore, by: Principal, owner: str) -> bytes:
    doc = {"format": FORMAT, "owner": owner, "exported": store.clock.iso(),
           "entries": export_records(store, by, owner)}
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
