"""Real demo data for a newcomer: 高松市 and 狛江市 (shelters, AEDs, evacuation spaces, libraries, boundaries)
and 沼津市 (PLATEAU hazard polygons), loaded through the same import path staff use. Idempotent."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

from faq.demo import load_demo_faq  # faq (issue 7)
from gis.boundaries import municipality_names, municipality_polygon
from layers.importer import import_file
from layers.shelters import GSI_HAZARD_FIELDS
from machihub.compose import Hub
from machihub.errors import NotFound
from machihub.principal import SYSTEM

DATA = Path(__file__).parent / "demo_data"
GSI = "出典：国土地理院 指定緊急避難場所・指定避難所データ"
TAKAMATSU_OD = "高松市オープンデータ (CC BY 4.0)"
PLATEAU = "出典：国土交通省 PLATEAU"
N03 = "出典：国土交通省 国土数値情報（行政区域データ）を加工"
GSI_HAZARDS = tuple(GSI_HAZARD_FIELDS.values())
TAKAMATSU_HAZARD_FIELDS = {"flood": "flood_L2", "landslide": "sedimentDisaster", "storm_surge": "stormSurge",
                           "earthquake": "earthquake", "tsunami": "tunami", "fire": "fire",
                           "inland_flood": "inundation"}

TENANTS = [("37201", "Takamatsu"), ("13219", "Komae"), ("22203", "Numazu")]
DEPARTMENTS = {
    "37201": [("kikikanri", "危機管理課", "Crisis Management"), ("kenko", "保健センター", "Health Centre"),
              ("toshokan", "中央図書館", "Central Library"), ("doro", "道路管理課", "Roads"),
              ("kohocho", "広聴広報課", "Public Relations")],
    "13219": [("anshin", "安心安全課", "Safety and Security"), ("doro", "道路交通課", "Roads and Traffic")],
    "22203": [("kikikanri", "危機管理課", "Crisis Management")],
}

# (tenant, slug, file, name_ja, name_en, department code, classification, credit, extra)
LAYERS = [
    ("37201", "evacuation_shelters", "evacuation_372013.json", "指定避難所", "Designated shelters", "kikikanri",
     "public", GSI, {}),
    ("37201", "emergency_places", "emergency_372013.json", "指定緊急避難場所", "Emergency evacuation sites",
     "kikikanri", "public", GSI, {}),
    ("37201", "aed", "aed_location.csv", "AED設置場所", "AED locations", "kenko", "public", TAKAMATSU_OD, {}),
    ("37201", "evacuation_spaces", "evacuation_space.csv", "避難場所（地区別）", "Evacuation spaces", "kikikanri",
     "public", TAKAMATSU_OD, {}),
    ("37201", "libraries", "library.csv", "図書館", "Libraries", "toshokan", "public", TAKAMATSU_OD, {}),
    ("37201", "tsunami_buildings", "tsunami_evacuation_building.csv", "津波避難ビル（協定管理）",
     "Tsunami evacuation buildings (agreements, staff only)", "kikikanri", "internal", TAKAMATSU_OD, {}),
    ("13219", "evacuation_shelters", "evacuation_132195.json", "指定避難所", "Designated shelters", "anshin",
     "public", GSI, {}),
    ("13219", "emergency_places", "emergency_132195.json", "指定緊急避難場所", "Emergency evacuation sites",
     "anshin", "public", GSI, {}),
    ("22203", "flood_hazard", "52385721_fld_6697_l1_op.gml", "洪水浸水想定区域（L1）", "Flood inundation areas (L1)",
     "kikikanri", "public", PLATEAU, {"hazard": "flood"}),
    ("22203", "landslide_hazard", "523857_lsld_6668_op.gml", "土砂災害警戒区域", "Landslide hazard areas",
     "kikikanri", "public", PLATEAU, {"hazard": "landslide"}),
]


# One colour per kind of layer, the same in every town (without it the map takes colours by list position, so
# 指定緊急避難場所 was blue in 狛江市 but red in 高松市), and distinct within a town.
STYLES = {"emergency_places": "#0b5cad", "evacuation_shelters": "#1b7f3b", "aed": "#ad1457",
          "evacuation_spaces": "#00695c", "libraries": "#8a4b00", "tsunami_buildings": "#37474f",
          "flood_hazard": "#0b5cad", "landslide_hazard": "#8a4b00"}
# Hazard columns, per kind: every town's GSI 指定緊急避難場所 has one column per hazard (the nearest-shelter panel
# needs them); the GSI 指定避難所 data has none.
HAZARD_FIELDS = {"emergency_places": GSI_HAZARD_FIELDS, "evacuation_spaces": TAKAMATSU_HAZARD_FIELDS}
GSI_HAZARD_COLUMNS = ("emergency_places",)


def _exists(hub: Hub, key: str) -> bool:
    try:
        hub.layers.get_layer(key, SYSTEM)
        return True
    except NotFound:
        return False


def _align(hub: Hub, key: str, slug: str) -> None:
    """Give a demo layer its kind's colour and hazard fields, also in a store loaded by an older demo."""
    layer = hub.layers.get_layer(key, SYSTEM)
    style = {**layer.style, "color": STYLES[slug]} if slug in STYLES else layer.style
    metadata = {**layer.metadata, "hazard_fields": HAZARD_FIELDS[slug]} if slug in HAZARD_FIELDS else layer.metadata
    if style != layer.style or metadata != layer.metadata:
        hub.layers.update_definition(SYSTEM, key, style=style, metadata=metadata)


def load_demo(hub: Hub, quiet: bool = False) -> Iterator[str]:
    boundaries = DATA / "boundaries.geojson"
    for code, name_en in TENANTS:
        names = municipality_names(boundaries, code)
        hub.tenants.add(SYSTEM, code, names["name"], name_en=name_en, prefecture=names["prefecture"],
                        boundary=municipality_polygon(boundaries, code))
        for dcode, dname, dname_en in DEPARTMENTS[code]:
            hub.tenants.add_department(SYSTEM, code, dcode, dname, dname_en)
    for tenant, slug, file, name_ja, name_en, dept, classification, credit, extra in LAYERS:
        key = f"{slug}_{tenant}"
        if not _exists(hub, key):
            types = {h: "boolean" for h in GSI_HAZARDS} if slug in GSI_HAZARD_COLUMNS else None
            if slug in HAZARD_FIELDS:
                extra = {**extra, "hazard_fields": HAZARD_FIELDS[slug]}
            report = import_file(hub.layers, SYSTEM, DATA / file, tenant_code=tenant, slug=slug, name_ja=name_ja,
                                 name_en=name_en, owner_department_id=hub.tenants.find_department(tenant, dept).id,
                                 classification=classification, metadata={"credit": credit, **extra},
                                 note="demo data", field_types=types)
            yield f"loaded {report.layer_key}: {report.count} features ({classification})"
        _align(hub, key, slug)
    _share_evacuation_spaces(hub)
    _report_services(hub)
    yield from _demo_users(hub)
    yield from load_demo_faq(hub, warm=not quiet)  # faq (issue 7); quiet (tests): embed on first search instead


def _share_evacuation_spaces(hub: Hub) -> None:
    """Each Takamatsu section named in `jurisdiction` edits the evacuation spaces layer with 危機管理課."""
    key = "evacuation_spaces_37201"
    sections = sorted({f.properties.get("jurisdiction") for f in hub.layers.features(key, SYSTEM)} - {None})
    for i, section in enumerate(s for s in sections if s.endswith("課") and not s.startswith("県")):
        try:
            dept = hub.tenants.find_department("37201", section)
        except NotFound:
            dept = hub.tenants.add_department(SYSTEM, "37201", f"sec{i:02d}", section)
        if hub.layers.shares(key).get(dept.id) != "edit":
            hub.layers.share(SYSTEM, key, dept.id, "edit")


REPORT_SERVICES = [("streetlight", "街路灯の故障", "Broken streetlight", "doro"),
                   ("road_damage", "道路の損傷", "Road damage", "doro"),
                   ("illegal_dumping", "不法投棄", "Illegal dumping", None),
                   ("fallen_tree", "倒木・枝の落下", "Fallen tree", "doro")]


def _report_services(hub: Hub) -> None:
    """Report categories routed to the departments that fix them (不法投棄 goes to 危機管理課 in the demo)."""
    for tenant in ("37201", "13219"):
        for code, name_ja, name_en, dept in REPORT_SERVICES:
            owner = hub.tenants.find_department(tenant, dept).id if dept else \
                hub.tenants.departments(tenant)[0].id
            hub.reports.add_service(SYSTEM, tenant, code, name_ja, owner, name_en=name_en)


def _demo_users(hub: Hub) -> Iterator[str]:
    """Demo staff with a fresh random password, written to data_dir/demo-logins.txt (never a fixed one)."""
    path = Path(hub.settings.data_dir) / "demo-logins.txt"
    if path.exists():
        yield f"demo logins: see {path}"
        return
    password = secrets.token_urlsafe(12)
    people = [("37201", "takamatsu-admin", ["admin"], None), ("37201", "bousai", ["layer_editor", "alert_composer"],
              "kikikanri"), ("37201", "kenko", ["layer_editor"], "kenko"), ("37201", "approver", ["alert_approver"],
              "kikikanri"), ("37201", "callcenter", ["call_center"], "kohocho"),
              ("13219", "komae-admin", ["admin"], None), ("13219", "komae-anshin", ["layer_editor"], "anshin")]
    lines = []
    for tenant, username, roles, dept in people:
        dept_id = hub.tenants.find_department(tenant, dept).id if dept else None
        hub.users.add(SYSTEM, tenant, username, password, roles=roles, department_id=dept_id)
        lines.append(f"{username}\t{password}\t{tenant}\t{','.join(roles)}")
    path.write_text("user\tpassword\ttenant\troles\n" + "\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    yield f"demo logins (password {password}) written to {path}"
