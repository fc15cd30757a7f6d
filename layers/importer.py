"""Importing a file into the store: read it safely (layers.readers), create the layer from the file's fields
when it is new, then add every feature in one revision. All-or-nothing: a bad row leaves the store as it was."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layers.model import FieldSpec, LayerSchema
from layers.store import LayerStore
from machihub.errors import Invalid, NotFound
from machihub.principal import Principal

Progress = Callable[[str, int, int], None]   # (phase, done, total)


@dataclass
class ImportReport:
    layer_key: str
    revision: int
    count: int
    notes: list[str]
    created: bool


def _geometry_type(geoms: list[Any]) -> str:
    kinds = {g.geom_type for g in geoms if g is not None}
    families = {k.removeprefix("Multi") for k in kinds}
    if len(families) != 1:
        return "Geometry"
    family = families.pop()
    return f"Multi{family}" if any(k.startswith("Multi") for k in kinds) else family


def import_file(store: LayerStore, by: Principal, path: str | Path, *, tenant_code: str, slug: str,
                name_ja: str | None = None, name_en: str = "", owner_department_id: int | None = None,
                classification: str = "internal", metadata: dict[str, Any] | None = None, note: str = "",
                original_name: str | None = None, progress: Progress | None = None,
                reader_options: dict[str, Any] | None = None,
                field_types: dict[str, str] | None = None) -> ImportReport:
    """field_types overrides the types guessed from the file (e.g. GSI hazard columns '1'/'' → boolean)."""
    from layers.readers import read_upload

    key = f"{slug}_{tenant_code}"
    try:
        layer = store.get_layer(key, by)
    except NotFound:
        layer = None
    result = read_upload(Path(path), original_name=original_name or Path(path).name,
                         layer_geometry_type=layer.geometry_type if layer else None,
                         progress=(lambda d, t: progress("read", d, t)) if progress else None,
                         **(reader_options or {}))
    if not result.features:
        raise Invalid(f"{original_name or Path(path).name}: the file holds no features")
    created = layer is None
    # One transaction for creating the layer and adding its features: a bad row leaves no empty layer behind.
    with store.db.transaction():
        if layer is None:
            if owner_department_id is None:
                raise Invalid("a new layer needs an owning department")
            types = field_types or {}
            schema = LayerSchema(tuple(FieldSpec(f.name, types.get(f.name, f.type)) for f in result.fields))
            meta = dict(metadata or {})
            meta.setdefault("source_file", original_name or Path(path).name)
            layer = store.create_layer(by, tenant_code, slug, name_ja or slug, name_en=name_en,
                                       owner_department_id=owner_department_id,
                                       geometry_type=_geometry_type([g for g, _ in result.features]),
                                       schema=schema, classification=classification, metadata=meta)
        rev, fids = store.add_features(by, layer.key, result.features,
                                       note=note or f"import {original_name or Path(path).name}", kind="import",
                                       progress=(lambda d, t: progress("write", d, t)) if progress else None)
    return ImportReport(layer.key, rev, len(fids), list(result.notes), created)
