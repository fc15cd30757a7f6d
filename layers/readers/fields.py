"""Attribute columns: names the layer schema accepts, and a type for each column (from GDAL's field types,
or guessed from CSV text) with values converted to it."""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from layers.model import FIELD_NAME_RE, RESERVED
from layers.readers.result import FieldGuess

_INT_RE = re.compile(r"^[+-]?(?:0|[1-9]\d{0,17})$")      # no leading zeros: '087…' and codes stay text
_NUM_RE = re.compile(r"^[+-]?(?:0|[1-9]\d*)?(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_DATE_RE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
TRUE = {"true", "yes", "○", "〇"}
FALSE = {"false", "no", "×"}

_OGR_TYPES = {
    "OFTInteger": "integer", "OFTInteger64": "integer", "OFTReal": "number", "OFTString": "string",
    "OFTDate": "date", "OFTDateTime": "datetime",
}


def safe_names(names: list[str]) -> list[FieldGuess]:
    """Names fit for the layer schema (letters, digits, _; not fid/geom/…; unique ignoring case), as
    FieldGuess with type 'string' and the original name in `source` when it changed."""
    out: list[FieldGuess] = []
    seen: set[str] = set()
    for i, raw in enumerate(names, 1):
        # keep the source's header (施設・場所名) where the schema allows it; replace only what it refuses
        name = re.sub(r"[\x00-\x1f\"'`\[\];\\]+", "_", str(raw).strip()).strip()[:60]
        if not name:
            name = f"field_{i}"
        if name.lower() in RESERVED:
            name = f"{name}_1"
        base, n = name, 2
        while name.lower() in seen or not FIELD_NAME_RE.match(name):
            name = f"{base[:56]}_{n}"
            n += 1
        seen.add(name.lower())
        out.append(FieldGuess(name, "string", "" if name == raw else str(raw)))
    return out


def ogr_type(ogr: str, subtype: str) -> str:
    if ogr == "OFTInteger" and subtype == "OFSTBoolean":
        return "boolean"
    return _OGR_TYPES.get(ogr, "string")     # lists, binary, time → text


def guess_type(values: list[str]) -> str:
    """The narrowest type every non-empty value fits: integer, number, boolean, date, datetime, else string."""
    present = [v.strip() for v in values if v is not None and v.strip() != ""]
    if not present:
        return "string"
    if all(_INT_RE.match(v) for v in present):
        return "integer"
    if all(_NUM_RE.match(v) and any(c.isdigit() for c in v) and not _leading_zero(v) for v in present):
        return "number"
    if all(v.lower() in TRUE or v.lower() in FALSE for v in present):
        return "boolean"
    if all(_as_date(v) is not None for v in present):
        return "date"
    if all(_DATETIME_RE.match(v) and _as_datetime(v) is not None for v in present):
        return "datetime"
    return "string"


def _leading_zero(v: str) -> bool:
    digits = v.lstrip("+-")
    return len(digits) > 1 and digits[0] == "0" and digits[1] != "."


def _as_date(v: str) -> str | None:
    m = _DATE_RE.match(v)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return None


def _as_datetime(v: str) -> str | None:
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return None


def convert_text(value: str | None, type_: str) -> Any:
    """CSV text → the column's type (types come from guess_type, so conversion cannot fail); '' → None."""
    if value is None or value.strip() == "":
        return None
    v = value.strip()
    if type_ == "integer":
        return int(v)
    if type_ == "number":
        return float(v)
    if type_ == "boolean":
        return v.lower() in TRUE
    if type_ == "date":
        return _as_date(v)
    if type_ == "datetime":
        return _as_datetime(v)
    return value


def convert_gdal(value: Any, type_: str) -> Any:
    """A JSON value from the GDAL child → the field's type (NaN already None)."""
    if value is None:
        return None
    if type_ == "integer":
        return int(value) if isinstance(value, int | float) and float(value).is_integer() else value
    if type_ == "number":
        return float(value) if isinstance(value, int | float) else value
    if type_ == "boolean":
        return bool(value)
    if type_ == "date":
        return str(value)[:10]
    if type_ == "datetime":
        text = str(value)
        return text.replace("Z", "+00:00") if text.endswith("Z") else text
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value) if not isinstance(value, str) else value
