"""The demo data: every town's shelter layers alike — the same hazard fields (so 狛江市 gets the nearest-shelter
panel as 高松市 does) and the same colour per kind of layer — also after re-loading a store an older demo made."""
from __future__ import annotations

from collections import defaultdict

from layers.shelters import GSI_HAZARD_FIELDS, nearest_shelters
from machihub.demo import load_demo
from machihub.principal import SYSTEM

SHELTER_KINDS = ("emergency_places", "evacuation_shelters")
TOWNS = ("37201", "13219")


def _shelter_layers(hub):
    return {(la.tenant_code, la.slug): la for la in hub.layers.list_layers(SYSTEM) if la.slug in SHELTER_KINDS}


def _check(hub):
    layers = _shelter_layers(hub)
    assert {(t, k) for t in TOWNS for k in SHELTER_KINDS} <= set(layers)
    for kind in SHELTER_KINDS:
        styles = {layers[t, kind].style.get("color") for t in TOWNS}
        fields = [layers[t, kind].metadata.get("hazard_fields") for t in TOWNS]
        assert len(styles) == 1 and None not in styles, (kind, styles)   # one colour per kind, set explicitly
        assert all(f == fields[0] for f in fields), (kind, fields)        # the same hazard fields in every town
    for town in TOWNS:
        assert layers[town, "emergency_places"].metadata["hazard_fields"] == GSI_HAZARD_FIELDS
        colours = [la.style.get("color") for la in hub.layers.list_layers(SYSTEM, tenant_code=town)]
        assert len(colours) == len(set(colours)), (town, colours)         # kinds stay apart within a town
    # what the missing metadata cost 狛江市: the nearest-shelter panel, and shelters suited to a hazard
    near = nearest_shelters(hub.layers, "13219", 35.6348, 139.5786, hazard="flood")
    assert near and all(n.layer_key == "emergency_places_13219" for n in near)
    assert nearest_shelters(hub.layers, "37201", 34.3428, 134.0466, hazard="earthquake")


def test_every_town_has_alike_shelter_layers(hub):
    list(load_demo(hub, quiet=True))
    _check(hub)
    # a store an older demo loaded (狛江市 without hazard fields, colours left to the list position) is aligned
    for (town, _kind), la in _shelter_layers(hub).items():
        meta = {k: v for k, v in la.metadata.items() if k != "hazard_fields"} if town == "13219" else la.metadata
        hub.layers.update_definition(SYSTEM, la.key, style={}, metadata=meta)
    assert not nearest_shelters(hub.layers, "13219", 35.6348, 139.5786)
    list(load_demo(hub, quiet=True))
    _check(hub)
    by_kind = defaultdict(set)
    for (_town, kind), la in _shelter_layers(hub).items():
        by_kind[kind].add(la.style["color"])
    assert by_kind["emergency_places"] != by_kind["evacuation_shelters"]
