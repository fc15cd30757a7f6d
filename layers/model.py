"""What a layer is: its attribute schema (typed fields, required, enum, personal data), classification and
metadata, and the validation of feature attributes against that schema."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from machihub.errors import Invalid

CLASSIFICATIONS = ("public", "internal", "confidential")
GEOMETRY_TYPES = ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "Geometry")
FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime")
RESERVED = {"fid", "geom", "mh_version"}
# Field names keep the source's own headers (施設・場所名, #property): columns are always quoted, so only quotes,
# brackets, semicolons, backslashes and control characters are refused.
FIELD_NAME_RE = re.compile(r"^[^\x00-\x1f\"'`\[\];\\\s][^\x00-\x1f\"'`\[\];\\]{0,62}(?<!\s)$")
SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str = "string"
    required: bool = False
    enum: tuple[str, ...] | None = None
    personal: bool = False          # personal data: the layer can never be public
    label_ja: str = ""
    label_en: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # further languages: {'zh-Hans': …}

    def __post_init__(self) -> None:
        if not FIELD_NAME_RE.match(self.name) or self.name.lower() in RESERVED:
            raise Invalid(f"field name {self.name!r} is not allowed (1–63 characters, no quotes, brackets, ; or \\; "
                          f"not {sorted(RESERVED)})")
        if self.type not in FIELD_TYPES:
            raise Invalid(f"field {self.name!r}: unknown type {self.type!r}; known: {', '.join(FIELD_TYPES)}")
        if self.enum is not None and self.type != "string":
            raise Invalid(f"field {self.name!r}: only string fields can have an enum")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FieldSpec:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if known.get("enum") is not None:
            known["enum"] = tuple(known["enum"])
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["enum"] = list(self.enum) if self.enum is not None else None
        return {k: v for k, v in d.items() if v not in (None, "", False, {})} | {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class LayerSchema:
    fields: tuple[FieldSpec, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for f in self.fields:
            if f.name.lower() in seen:
                raise Invalid(f"field {f.name!r} appears twice")
            seen.add(f.name.lower())

    @property
    def personal(self) -> bool:
        return any(f.personal for f in self.fields)

    def by_name(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}

    @classmethod
    def from_list(cls, items: list[dict[str, Any]]) -> LayerSchema:
        return cls(tuple(FieldSpec.from_dict(i) for i in items))

    def to_list(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.fields]

    def validate(self, props: dict[str, Any], *, row: int | None = None) -> dict[str, Any]:
        """Clean attributes into storage types; raise Invalid listing every problem."""
        where = f"row {row}: " if row is not None else ""
        specs = self.by_name()
        problems = [f"unknown field {k!r}" for k in props if k not in specs]
        clean: dict[str, Any] = {}
        for spec in self.fields:
            value = props.get(spec.name)
            if value is None or (isinstance(value, str) and value.strip() == "" and spec.type != "string"):
                if spec.required:
                    problems.append(f"{spec.name!r} is required")
                clean[spec.name] = None
                continue
            try:
                clean[spec.name] = _coerce(spec, value)
            except (ValueError, TypeError) as exc:
                problems.append(f"{spec.name!r}: {exc}")
        if problems:
            raise Invalid(where + "; ".join(problems), details={"row": row, "problems": problems})
        return clean


def _coerce(spec: FieldSpec, value: Any) -> Any:
    t = spec.type
    if t == "string":
        text = str(value)
        if spec.required and not text.strip():
            raise ValueError("is required")
        if spec.enum is not None and text not in spec.enum:
            raise ValueError(f"{text!r} is not one of {', '.join(spec.enum)}")
        return text
    if t == "integer":
        if isinstance(value, bool):
            raise ValueError("expected an integer, got a boolean")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{value!r} is not an integer")
            return int(value)
        return int(str(value).strip().replace(",", ""))
    if t == "number":
        if isinstance(value, bool):
            raise ValueError("expected a number, got a boolean")
        number = float(str(value).strip().replace(",", "")) if not isinstance(value, int | float) else float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("is not a finite number")
        return number
    if t == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "○", "〇", "はい", "有"):
            return True
        if text in ("0", "false", "no", "×", "-", "いいえ", "無"):
            return False
        raise ValueError(f"{value!r} is not a yes/no value")
    if t == "date":
        return date.fromisoformat(str(value).strip()[:10]).isoformat()
    if t == "datetime":
        return datetime.fromisoformat(str(value).strip()).isoformat()
    raise ValueError(f"unknown type {t}")


@dataclass(frozen=True)
class Layer:
    id: int
    key: str                 # table / collection name, unique in the hub
    tenant_code: str
    slug: str
    name_ja: str
    name_en: str
    owner_department_id: int
    classification: str
    geometry_type: str
    schema: LayerSchema
    style: dict[str, Any]
    metadata: dict[str, Any]   # source, licence / credit line, update frequency, names in more languages
    revision: int
    updated: str

    @property
    def personal(self) -> bool:
        return self.schema.personal or bool(self.metadata.get("personal"))

    def name(self, lang: str = "ja") -> str:
        names = self.metadata.get("names", {})
        if lang in names:
            return names[lang]
        return self.name_en if not lang.startswith("ja") and self.name_en else self.name_ja


@dataclass(frozen=True)
class Feature:
    fid: int
    geometry: Any            # shapely geometry, EPSG:6668
    properties: dict[str, Any]
    version: int             # layer revision of the last change: the optimistic-lock token


@dataclass(frozen=True)
class Revision:
    rev: int
    ts: str
    actor: str
    department_id: int | None
    note: str
    kind: str


def check_layer_definition(slug: str, classification: str, geometry_type: str, schema: LayerSchema,
                           metadata: dict[str, Any]) -> None:
    if not SLUG_RE.match(slug):
        raise Invalid(f"layer id {slug!r}: use 2–41 lower-case letters, digits or _ starting with a letter")
    if classification not in CLASSIFICATIONS:
        raise Invalid(f"classification {classification!r}: use one of {', '.join(CLASSIFICATIONS)}")
    if geometry_type not in GEOMETRY_TYPES:
        raise Invalid(f"geometry type {geometry_type!r}: use one of {', '.join(GEOMETRY_TYPES)}")
    if classification == "public" and (schema.personal or metadata.get("personal")):
        raise Invalid("a layer holding personal data can never be public")
