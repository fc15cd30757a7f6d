"""`machihub` command line: set-up, demo data, serving, tenants/users, layer import/export/history, backup,
audit verification. Every command builds the hub through the composition root."""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from machihub.errors import HubError
from machihub.principal import ROLES, SYSTEM
from machihub.settings import describe, load_settings


def _hub(args):
    from machihub.compose import build_hub

    settings = load_settings(args.config, **({"store": args.store} if args.store else {}))
    return build_hub(settings)


def cmd_init(args) -> None:
    hub = _hub(args)
    hub.init_schema()
    print(f"store ready: {hub.settings.store}")


def cmd_demo(args) -> None:
    from machihub.demo import load_demo

    hub = _hub(args)
    hub.init_schema()
    for line in load_demo(hub, quiet=args.quiet):
        print(line)


def cmd_serve(args) -> None:
    from portal.server import serve

    hub = _hub(args)
    hub.init_schema()
    serve(hub)


def cmd_tenants_add(args) -> None:
    hub = _hub(args)
    boundary = None
    if args.boundary:
        from gis.boundaries import municipality_polygon

        boundary = municipality_polygon(Path(args.boundary), args.code)
    t = hub.tenants.add(SYSTEM, args.code, args.name, name_en=args.name_en, prefecture=args.prefecture,
                        boundary=boundary)
    print(f"tenant {t.code} {t.name}")


def cmd_tenants_list(args) -> None:
    for t in _hub(args).tenants.list():
        print(f"{t.code}\t{t.name}\t{t.name_en}\t{t.prefecture}")


def cmd_departments_add(args) -> None:
    d = _hub(args).tenants.add_department(SYSTEM, args.tenant, args.code, args.name, args.name_en)
    print(f"department {d.id} {d.tenant_code}/{d.code} {d.name}")


def cmd_users_add(args) -> None:
    hub = _hub(args)
    password = os.environ.get("MACHIHUB_NEW_PASSWORD") or getpass.getpass(f"password for {args.username}: ")
    dept = hub.tenants.find_department(args.tenant, args.department).id if args.department else None
    u = hub.users.add(SYSTEM, args.tenant, args.username, password, roles=args.role, department_id=dept,
                      display_name=args.display_name)
    print(f"user {u.username} ({', '.join(sorted(u.roles))})")


def cmd_apikeys_add(args) -> None:
    key_id, secret = _hub(args).users.add_api_key(SYSTEM, args.tenant, args.name, args.purpose)
    print(f"key id: {key_id}\nsecret: {secret}\n(the secret is shown only now)")


def cmd_layers_list(args) -> None:
    hub = _hub(args)
    for la in hub.layers.list_layers(SYSTEM, tenant_code=args.tenant):
        print(f"{la.key}\t{la.classification}\t{la.geometry_type}\tr{la.revision}\t{la.name_ja}")


def cmd_layers_import(args) -> None:
    from tqdm import tqdm

    from layers.importer import import_file

    hub = _hub(args)
    dept = hub.tenants.find_department(args.tenant, args.department).id if args.department else None
    bars: dict[str, tqdm] = {}

    def progress(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase) or bars.setdefault(phase, tqdm(total=total, desc=phase, unit="feat"))
        bar.update(done - bar.n)

    options = {k: v for k, v in {"encoding": args.encoding, "lat_col": args.lat, "lon_col": args.lon,
                                 "address_col": args.address, "source_crs": args.crs}.items() if v}
    report = import_file(hub.layers, SYSTEM, args.file, tenant_code=args.tenant, slug=args.layer,
                         name_ja=args.name, name_en=args.name_en or "", owner_department_id=dept,
                         classification=args.classification, metadata={"credit": args.credit} if args.credit else None,
                         note=args.note or "", progress=progress, reader_options=options)
    for bar in bars.values():
        bar.close()
    print(f"{report.layer_key}: {report.count} features in revision {report.revision}"
          + (" (new layer)" if report.created else ""))
    for note in report.notes[:20]:
        print(f"  note: {note}")


def cmd_layers_export(args) -> None:
    from layers.export import EXPORTERS

    hub = _hub(args)
    fmt = Path(args.out).suffix.lstrip(".").lower().replace("json", "geojson").replace("geogeojson", "geojson")
    if fmt not in EXPORTERS:
        raise SystemExit(f"unknown export format .{fmt}: use .geojson, .csv or .gpkg")
    layer = hub.layers.get_layer(args.key, SYSTEM)
    Path(args.out).write_bytes(EXPORTERS[fmt][0](layer, hub.layers.features(args.key, SYSTEM)))
    print(f"wrote {args.out}")


def cmd_layers_history(args) -> None:
    hub = _hub(args)
    if args.fid is not None:
        for h in hub.layers.feature_history(args.key, args.fid, SYSTEM):
            print(f"r{h['rev']}\t{h['ts']}\t{h['actor']}\t{h['op']}\t{json.dumps(h['properties'], ensure_ascii=False)}")
        return
    for r in hub.layers.revisions(args.key, SYSTEM):
        print(f"r{r.rev}\t{r.ts}\t{r.actor}\t{r.kind}\t{r.note}")


def cmd_layers_diff(args) -> None:
    d = _hub(args).layers.diff(args.key, args.rev_a, args.rev_b, SYSTEM)
    print(json.dumps(d.summary()))
    for c in d.changes:
        print(f"{c.kind}\tfid {c.fid}\t{','.join(c.fields)}{' geometry' if c.geometry_changed else ''}")


def cmd_layers_rollback(args) -> None:
    rev = _hub(args).layers.rollback(SYSTEM, args.key, args.rev, note=args.note or "")
    print(f"{args.key}: rolled back to r{args.rev} as r{rev}")


def cmd_backup(args) -> None:
    from machihub.backup import backup

    print(f"backup written to {backup(_hub(args), Path(args.out))}")


def cmd_audit_verify(args) -> None:
    result = _hub(args).audit.verify()
    if result.ok:
        print(f"audit chain intact: {result.entries} entries")
        return
    print(f"audit chain BROKEN at entry {result.first_bad_id}: {result.reason}")
    raise SystemExit(2)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="machihub", description="Community information hub for municipalities.",
                                epilog=describe(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="settings file (default machihub.toml)")
    p.add_argument("--store", help="override the store URL (MACHIHUB_STORE)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create the store (tables, GeoPackage metadata)").set_defaults(fn=cmd_init)
    d = sub.add_parser("demo", help="load the real demo data (高松市, 狛江市, 沼津市) and return")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(fn=cmd_demo)
    sub.add_parser("serve", help="serve the public portal and the staff console").set_defaults(fn=cmd_serve)

    tenants = sub.add_parser("tenants", help="municipalities").add_subparsers(dest="sub", required=True)
    ta = tenants.add_parser("add", help="add or update a tenant")
    ta.add_argument("code", help="5-digit 団体コード")
    ta.add_argument("name")
    ta.add_argument("--name-en", default="")
    ta.add_argument("--prefecture", default="")
    ta.add_argument("--boundary", help="N03 GeoJSON to take the boundary from")
    ta.set_defaults(fn=cmd_tenants_add)
    tenants.add_parser("list").set_defaults(fn=cmd_tenants_list)

    deps = sub.add_parser("departments", help="departments (課)").add_subparsers(dest="sub", required=True)
    da = deps.add_parser("add")
    da.add_argument("tenant")
    da.add_argument("code")
    da.add_argument("name")
    da.add_argument("--name-en", default="")
    da.set_defaults(fn=cmd_departments_add)

    users = sub.add_parser("users", help="staff users").add_subparsers(dest="sub", required=True)
    ua = users.add_parser("add", help="add a staff user (password from MACHIHUB_NEW_PASSWORD or a prompt)")
    ua.add_argument("username")
    ua.add_argument("--tenant", required=True)
    ua.add_argument("--role", action="append", choices=ROLES, required=True)
    ua.add_argument("--department", help="department code or name")
    ua.add_argument("--display-name", default="")
    ua.set_defaults(fn=cmd_users_add)

    keys = sub.add_parser("apikeys", help="API keys for machine clients").add_subparsers(dest="sub", required=True)
    ka = keys.add_parser("add")
    ka.add_argument("--tenant", required=True)
    ka.add_argument("--name", required=True)
    ka.add_argument("--purpose", required=True)
    ka.set_defaults(fn=cmd_apikeys_add)

    layers = sub.add_parser("layers", help="the shared layer store").add_subparsers(dest="sub", required=True)
    layers.add_parser("list").set_defaults(fn=cmd_layers_list)
    layers._name_parser_map["list"].add_argument("--tenant")
    li = layers.add_parser("import", help="import a GeoJSON, GeoPackage, zipped Shapefile, KML, GML or CSV file")
    li.add_argument("file")
    li.add_argument("--tenant", required=True)
    li.add_argument("--layer", required=True, help="layer id (slug); a new layer is created if needed")
    li.add_argument("--name", help="layer name (ja) for a new layer")
    li.add_argument("--name-en")
    li.add_argument("--department", help="owning department of a new layer")
    li.add_argument("--classification", default="internal", choices=("public", "internal", "confidential"))
    li.add_argument("--credit", help="licence / credit line")
    li.add_argument("--encoding", help="CSV encoding (default: detect UTF-8 / CP932)")
    li.add_argument("--lat")
    li.add_argument("--lon")
    li.add_argument("--address", help="CSV column holding a Japanese address")
    li.add_argument("--crs", help="CRS of CSV coordinates, e.g. EPSG:6676")
    li.add_argument("--note")
    li.set_defaults(fn=cmd_layers_import)
    le = layers.add_parser("export", help="export a layer (.geojson, .csv, .gpkg)")
    le.add_argument("key")
    le.add_argument("out")
    le.set_defaults(fn=cmd_layers_export)
    lh = layers.add_parser("history", help="revisions of a layer, or versions of one feature")
    lh.add_argument("key")
    lh.add_argument("--fid", type=int)
    lh.set_defaults(fn=cmd_layers_history)
    ld = layers.add_parser("diff")
    ld.add_argument("key")
    ld.add_argument("rev_a", type=int)
    ld.add_argument("rev_b", type=int)
    ld.set_defaults(fn=cmd_layers_diff)
    lr = layers.add_parser("rollback", help="restore a layer to a revision (as a new revision)")
    lr.add_argument("key")
    lr.add_argument("rev", type=int)
    lr.add_argument("--note")
    lr.set_defaults(fn=cmd_layers_rollback)

    b = sub.add_parser("backup", help="consistent copy of the store (SQLite file or pg_dump)")
    b.add_argument("out")
    b.set_defaults(fn=cmd_backup)
    from alerts.cli import add_commands

    add_commands(sub, _hub)  # machihub worker, machihub inbound
    audit = sub.add_parser("audit", help="audit log").add_subparsers(dest="sub", required=True)
    audit.add_parser("verify", help="check the hash chain").set_defaults(fn=cmd_audit_verify)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.fn(args)
    except HubError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
