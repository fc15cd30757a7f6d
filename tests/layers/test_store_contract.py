"""One contract suite for the layer store, run on the embedded GeoPackage store and on PostGIS."""
from __future__ import annotations

import pytest
import shapely

from layers.model import FieldSpec, LayerSchema
from layers.store import StaleEdit
from machihub.errors import Forbidden, Invalid, NotFound
from machihub.principal import SYSTEM

SCHEMA = LayerSchema((
    FieldSpec("name", required=True, label_en="Name"),
    FieldSpec("capacity", "integer"),
    FieldSpec("kind", enum=("指定避難所", "指定緊急避難場所")),
    FieldSpec("open", "boolean"),
))


def _shelters(hub, towns, classification="internal"):
    editor = towns["bousai_editor"].principal()
    layer = hub.layers.create_layer(editor, "37201", "shelters", "避難所", name_en="Shelters",
                                    owner_department_id=towns["bousai"].id, geometry_type="Point",
                                    schema=SCHEMA, classification=classification,
                                    metadata={"credit": "出典：国土地理院"})
    return editor, layer


def test_crud_and_versions(hub, towns):
    editor, layer = _shelters(hub, towns)
    rev, fids = hub.layers.add_features(editor, layer.key, [
        (shapely.Point(134.0453, 34.3409), {"name": "中央公園", "capacity": 300, "kind": "指定避難所", "open": True}),
        (shapely.Point(134.0481, 34.3521), {"name": "浜ノ町", "capacity": 50}),
    ], note="initial load")
    assert rev == 1 and len(fids) == 2
    first = hub.layers.get_feature(layer.key, fids[0], editor)
    assert first.properties == {"name": "中央公園", "capacity": 300, "kind": "指定避難所", "open": True}
    assert first.version == 1 and first.geometry.equals(shapely.Point(134.0453, 34.3409))

    moved = hub.layers.update_feature(editor, layer.key, fids[0], base_version=1,
                                      geometry=shapely.Point(134.046, 34.341), properties={"capacity": 320},
                                      note="capacity recounted")
    assert moved.version == 2 and moved.properties["capacity"] == 320 and moved.properties["name"] == "中央公園"
    hub.layers.delete_feature(editor, layer.key, fids[1], base_version=1, note="closed")
    with pytest.raises(NotFound):
        hub.layers.get_feature(layer.key, fids[1], editor)
    assert hub.layers.count(layer.key, editor) == 1

    revs = hub.layers.revisions(layer.key, editor)
    assert [r.rev for r in revs] == [3, 2, 1]
    assert revs[0].note == "closed" and revs[0].actor == "user:sato" and revs[0].department_id == towns["bousai"].id
    hist = hub.layers.feature_history(layer.key, fids[0], editor)
    assert [(h["rev"], h["op"]) for h in hist] == [(2, "update"), (1, "insert")]
    assert hist[1]["properties"]["capacity"] == 300 and hist[0]["note"] == "capacity recounted"


def test_schema_validation_is_all_or_nothing(hub, towns):
    editor, layer = _shelters(hub, towns)
    with pytest.raises(Invalid) as err:
        hub.layers.add_features(editor, layer.key, [
            (shapely.Point(134.0, 34.3), {"name": "ok"}),
            (shapely.Point(134.0, 34.3), {"name": "bad", "capacity": "many"}),
            (shapely.Point(134.0, 34.3), {"capacity": 3}),
            (shapely.Point(134.0, 34.3), {"name": "x", "kind": "公園"}),
            (shapely.LineString([(0, 0), (1, 1)]), {"name": "line"}),
        ])
    msg = err.value.message
    assert "row 2" in msg and "'capacity'" in msg and "row 3" in msg and "'name' is required" in msg
    assert "row 4" in msg and "公園" in msg
    assert hub.layers.count(layer.key, editor) == 0
    assert hub.layers.get_layer(layer.key, editor).revision == 0


def test_stale_edit_is_refused_with_both_versions(hub, towns):
    editor, layer = _shelters(hub, towns)
    _, (fid,) = hub.layers.add_features(editor, layer.key, [(shapely.Point(134.0, 34.3), {"name": "A"})])
    hub.layers.update_feature(editor, layer.key, fid, base_version=1, properties={"name": "B"})
    with pytest.raises(StaleEdit) as err:
        hub.layers.update_feature(editor, layer.key, fid, base_version=1, properties={"name": "C"})
    assert err.value.status == 409
    assert err.value.details["current"]["properties"]["name"] == "B"
    assert err.value.details["yours"]["properties"] == {"name": "C"}
    assert hub.layers.get_feature(layer.key, fid, editor).properties["name"] == "B"
    with pytest.raises(StaleEdit):
        hub.layers.delete_feature(editor, layer.key, fid, base_version=1)


def test_diff_and_rollback_add_a_revision(hub, towns):
    editor, layer = _shelters(hub, towns)
    _, fids = hub.layers.add_features(editor, layer.key, [
        (shapely.Point(134.0, 34.3), {"name": "A", "capacity": 10}),
        (shapely.Point(134.1, 34.3), {"name": "B", "capacity": 20})])
    hub.layers.update_feature(editor, layer.key, fids[0], base_version=1, properties={"capacity": 11})
    hub.layers.delete_feature(editor, layer.key, fids[1], base_version=1)
    hub.layers.add_features(editor, layer.key, [(shapely.Point(134.2, 34.3), {"name": "C"})])

    d = hub.layers.diff(layer.key, 1, 4, editor)
    assert d.summary() == {"added": 1, "removed": 1, "changed": 1}
    changed = next(c for c in d.changes if c.kind == "changed")
    assert changed.fid == fids[0] and changed.fields == ["capacity"] and not changed.geometry_changed
    assert changed.before["capacity"] == 10 and changed.after["capacity"] == 11

    rev = hub.layers.rollback(editor, layer.key, 1, note="undo today's edits")
    assert rev == 5
    now = {f.properties["name"]: f for f in hub.layers.features(layer.key, editor)}
    assert sorted(now) == ["A", "B"] and now["A"].properties["capacity"] == 10
    assert now["B"].fid == fids[1]  # a restored feature keeps its id
    assert [r.rev for r in hub.layers.revisions(layer.key, editor)][:1] == [5]
    assert hub.layers.diff(layer.key, 1, 5, editor).summary() == {"added": 0, "removed": 0, "changed": 0}
    # history is kept: revision 4 still shows C
    assert hub.layers.diff(layer.key, 4, 5, editor).summary()["removed"] == 1
    with pytest.raises(Invalid):
        hub.layers.rollback(editor, layer.key, 99)


def test_bbox_and_filters(hub, towns):
    editor, layer = _shelters(hub, towns)
    # 900 points: more than the embedded store's bulk R*Tree threshold, so that path is checked too
    pts = [(134.0 + i * 0.01, 34.30 + j * 0.01) for i in range(30) for j in range(30)]
    hub.layers.add_features(editor, layer.key, [
        (shapely.Point(x, y), {"name": f"p{i}", "open": i % 2 == 0}) for i, (x, y) in enumerate(pts)])
    box = (134.015, 34.315, 134.045, 34.335)
    got = hub.layers.features(layer.key, editor, bbox=box)
    expected = {f"p{i}" for i, (x, y) in enumerate(pts) if box[0] <= x <= box[2] and box[1] <= y <= box[3]}
    assert {f.properties["name"] for f in got} == expected and len(expected) == 6
    assert hub.layers.count(layer.key, editor, bbox=box) == 6
    opened = hub.layers.features(layer.key, editor, filters={"open": "true"})
    assert len(opened) == 450 and all(f.properties["open"] is True for f in opened)
    page = hub.layers.features(layer.key, editor, limit=7, offset=10)
    assert [f.properties["name"] for f in page] == [f"p{i}" for i in range(10, 17)]
    with pytest.raises(Invalid):
        hub.layers.features(layer.key, editor, filters={"nope": 1})


def test_permissions(hub, towns):
    editor, layer = _shelters(hub, towns, classification="internal")
    doboku = towns["doboku_editor"].principal()
    komae = towns["komae_editor"].principal()
    _, (fid,) = hub.layers.add_features(editor, layer.key, [(shapely.Point(134.0, 34.3), {"name": "A"})])

    # internal: all staff of the tenant read it; another department cannot edit; another town cannot see it
    assert hub.layers.get_feature(layer.key, fid, doboku).properties["name"] == "A"
    with pytest.raises(Forbidden):
        hub.layers.update_feature(doboku, layer.key, fid, base_version=1, properties={"name": "X"})
    with pytest.raises(NotFound):
        hub.layers.get_layer(layer.key, komae)
    with pytest.raises(NotFound):
        hub.layers.get_layer(layer.key, None)
    assert layer.key not in [la.key for la in hub.layers.list_layers(None)]

    # shared for edit → the other department can edit; read-only share does not allow it
    hub.layers.share(editor, layer.key, towns["doboku"].id, "read")
    with pytest.raises(Forbidden):
        hub.layers.update_feature(doboku, layer.key, fid, base_version=1, properties={"name": "X"})
    hub.layers.share(editor, layer.key, towns["doboku"].id, "edit")
    assert hub.layers.update_feature(doboku, layer.key, fid, base_version=1, properties={"name": "X"}).version == 2
    with pytest.raises(Forbidden):
        hub.layers.set_classification(doboku, layer.key, "public")  # sharing edit is not ownership

    # confidential: other departments of the same tenant lose sight of it unless shared
    hub.layers.share(editor, layer.key, towns["doboku"].id, None)
    hub.layers.set_classification(editor, layer.key, "confidential")
    with pytest.raises(NotFound):
        hub.layers.get_layer(layer.key, towns["kenko_viewer"].principal())
    assert hub.layers.get_layer(layer.key, towns["admin"].principal()).classification == "confidential"

    # public: residents see it
    hub.layers.set_classification(editor, layer.key, "public")
    assert hub.layers.get_feature(layer.key, fid, None).properties["name"] == "X"
    assert layer.key in [la.key for la in hub.layers.list_layers(None)]


def test_personal_data_layer_can_never_be_public(hub, towns):
    editor = towns["bousai_editor"].principal()
    schema = LayerSchema((FieldSpec("name"), FieldSpec("phone", personal=True)))
    with pytest.raises(Invalid, match="personal"):
        hub.layers.create_layer(editor, "37201", "helpers", "要支援者", owner_department_id=towns["bousai"].id,
                                geometry_type="Point", schema=schema, classification="public")
    layer = hub.layers.create_layer(editor, "37201", "helpers", "要支援者", owner_department_id=towns["bousai"].id,
                                    geometry_type="Point", schema=schema, classification="confidential")
    with pytest.raises(Invalid, match="personal"):
        hub.layers.set_classification(editor, layer.key, "public")


def test_every_change_is_audited_and_chain_verifies(hub, towns):
    editor, layer = _shelters(hub, towns)
    _, (fid,) = hub.layers.add_features(editor, layer.key, [(shapely.Point(134.0, 34.3), {"name": "A"})])
    hub.layers.update_feature(editor, layer.key, fid, base_version=1, properties={"name": "B"})
    entries = hub.audit.entries(tenant="37201")
    update = next(e for e in entries if e["action"] == "feature.update")
    assert update["actor"] == "user:sato" and '"A"' in update["before"] and '"B"' in update["after"]
    assert hub.audit.verify().ok
    with hub.db.transaction() as tx, pytest.raises(Exception, match="append-only"):
        tx.execute("UPDATE mh_audit SET actor = 'mallory' WHERE id = 1")


def test_create_layer_needs_owning_department(hub, towns):
    with pytest.raises(Forbidden):
        hub.layers.create_layer(towns["doboku_editor"].principal(), "37201", "x_layer", "X",
                                owner_department_id=towns["bousai"].id, geometry_type="Point", schema=SCHEMA)
    with pytest.raises(Invalid):
        hub.layers.create_layer(SYSTEM, "37201", "Bad Name", "X", owner_department_id=towns["bousai"].id,
                                geometry_type="Point", schema=SCHEMA)
