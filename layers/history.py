"""Reading a layer's past: its state at a revision, the diff between two revisions, and what a rollback must
change. Every change is kept in mh_feature_versions (one row per feature per revision), so history is never
rewritten: a rollback is computed here and written by the store as a new revision."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import shapely

from machihub.db import Tx

State = dict[int, tuple[Any, dict[str, Any]]]   # fid → (geometry, properties)


def changed_fids(tx: Tx, layer_id: int, after_rev: int, up_to_rev: int) -> list[int]:
    return [r["fid"] for r in tx.query(
        "SELECT DISTINCT fid FROM mh_feature_versions WHERE layer_id = ? AND rev > ? AND rev <= ? ORDER BY fid",
        (layer_id, after_rev, up_to_rev))]


def state_at(tx: Tx, layer_id: int, rev: int, fids: list[int] | None = None) -> State:
    """Each feature as it was just after revision `rev` (absent if deleted or not yet created)."""
    params: list[Any] = [layer_id, rev]
    only = ""
    if fids is not None:
        if not fids:
            return {}
        only = f" AND fid IN ({', '.join('?' * len(fids))})"
        params += fids
    rows = tx.query(
        "SELECT v.fid, v.op, v.geom, v.props FROM mh_feature_versions v JOIN ("
        f" SELECT fid, max(rev) AS rev FROM mh_feature_versions WHERE layer_id = ? AND rev <= ?{only} GROUP BY fid"
        ") m ON m.fid = v.fid AND m.rev = v.rev WHERE v.layer_id = ?", [*params, layer_id])
    return {r["fid"]: (shapely.from_wkb(bytes(r["geom"])), json.loads(r["props"]))
            for r in rows if r["op"] != "delete"}


@dataclass
class FeatureChange:
    fid: int
    kind: str                              # added | removed | changed
    fields: list[str] = field(default_factory=list)
    geometry_changed: bool = False
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


@dataclass
class LayerDiff:
    from_rev: int
    to_rev: int
    changes: list[FeatureChange]

    def summary(self) -> dict[str, int]:
        out = {"added": 0, "removed": 0, "changed": 0}
        for c in self.changes:
            out[c.kind] += 1
        return out


def diff(tx: Tx, layer_id: int, rev_a: int, rev_b: int) -> LayerDiff:
    lo, hi = min(rev_a, rev_b), max(rev_a, rev_b)
    fids = changed_fids(tx, layer_id, lo, hi)
    a, b = state_at(tx, layer_id, rev_a, fids), state_at(tx, layer_id, rev_b, fids)
    changes: list[FeatureChange] = []
    for fid in fids:
        old, new = a.get(fid), b.get(fid)
        if old is None and new is None:
            continue
        if old is None:
            changes.append(FeatureChange(fid, "added", after=new[1]))
        elif new is None:
            changes.append(FeatureChange(fid, "removed", before=old[1]))
        else:
            keys = sorted(set(old[1]) | set(new[1]))
            changed = [k for k in keys if old[1].get(k) != new[1].get(k)]
            moved = not shapely.equals_exact(old[0], new[0], tolerance=0)
            if changed or moved:
                changes.append(FeatureChange(fid, "changed", changed, moved, old[1], new[1]))
    return LayerDiff(rev_a, rev_b, changes)
