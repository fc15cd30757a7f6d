"""The only code that lets GDAL parse an upload. It runs as a separate Python process (see sandbox.py) so a
hostile file can at worst crash, hang or exhaust *this* process:

- resource limits first (address space, CPU seconds, size of files written, no core dumps);
- no network: a fresh network namespace when the kernel allows it, and GDAL's HTTP options point nowhere;
- every GDAL driver but the one the parent chose is skipped (GDAL_SKIP in the environment) and the driver
  that actually opened the file is checked again;
- it reads one scratch copy, read-only, and writes JSON (never pickle) for the parent to check.

It imports nothing from the project on purpose: the request comes as a JSON file named in argv[1]."""
from __future__ import annotations

import base64
import ctypes
import json
import math
import resource
import signal
import sys
from typing import Any

# Drivers whose names contain a space cannot be listed in GDAL_SKIP; they only open their own file types.
UNSKIPPABLE = {"ESRI Shapefile", "MapInfo File"}


class UserError(Exception):
    """A problem with the file that the parent can show as it is."""


def _limit(req: dict[str, Any]) -> None:
    mem = int(req["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(req["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    out = int(req["max_output_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (out, out))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # writing past the cap fails with EFBIG instead of killing us


def _isolate_network() -> None:
    """Best effort: an empty network namespace (needs unprivileged user namespaces or root)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for flags in (0x10000000 | 0x40000000, 0x40000000):   # CLONE_NEWUSER|CLONE_NEWNET, CLONE_NEWNET
            if libc.unshare(flags) == 0:
                return
    except (OSError, AttributeError):
        pass


def _value(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, bytes | bytearray):
        return base64.b64encode(bytes(v)).decode("ascii")
    if hasattr(v, "tolist"):
        return _value(v.tolist())
    if isinstance(v, list | tuple):
        return [_value(x) for x in v]
    return str(v)


def _choose_layers(names: list[str], req: dict[str, Any]) -> list[str]:
    wanted = req.get("layer")
    if wanted is not None:
        if wanted not in names:
            raise UserError(f"has no layer {wanted!r}; its layers are: {', '.join(names)}")
        return [wanted]
    if not names:
        raise UserError("holds no layers")
    if len(names) == 1 or req.get("all_layers"):
        return names
    if req.get("prefer") in names:
        return [req["prefer"]]
    raise UserError(f"holds {len(names)} layers ({', '.join(names[:20])}): choose one")


def _read(req: dict[str, Any]) -> dict[str, Any]:
    import pyogrio
    from pyogrio import raw

    driver = req["driver"]
    extra = set(pyogrio.list_drivers()) - {driver} - UNSKIPPABLE
    if extra:
        raise RuntimeError(f"driver isolation failed: {sorted(extra)[:5]} still registered")
    path, opts = req["path"], req.get("open_options") or {}
    layer_names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    layers = []
    total = 0
    for name in _choose_layers(layer_names, req):
        info = pyogrio.read_info(path, layer=name, encoding=req.get("encoding"), **opts)
        if info.get("driver") != driver:
            raise RuntimeError(f"opened by {info.get('driver')!r}, expected {driver!r}")
        if len(info["fields"]) > req["max_fields"]:
            raise UserError(f"layer {name!r} has {len(info['fields'])} attributes; at most {req['max_fields']} "
                            "are allowed")
        if info["features"] > req["max_features"]:
            raise UserError(f"layer {name!r} has {info['features']} features; at most {req['max_features']} "
                            "are allowed")
        meta, _fids, geoms, data = raw.read(path, layer=name, encoding=req.get("encoding"), force_2d=True,
                                            datetime_as_string=True, max_features=req["max_features"] + 1,
                                            **opts)
        total += len(geoms) if geoms is not None else 0
        if total > req["max_features"]:
            raise UserError(f"holds more than {req['max_features']} features")
        columns = [[_value(v) for v in col.tolist()] for col in data]
        wkb = [None if g is None else bytes(g).hex() for g in (geoms if geoms is not None else [])]
        layers.append({
            "name": name, "crs": meta.get("crs"), "geometry_type": meta.get("geometry_type"),
            "encoding": meta.get("encoding"),
            "fields": [{"name": str(n), "ogr_type": t, "ogr_subtype": s}
                       for n, t, s in zip(meta["fields"], meta["ogr_types"], meta["ogr_subtypes"], strict=True)],
            "rows": [[w, *vals] for w, *vals in zip(wkb, *columns, strict=True)],
        })
    return {"ok": True, "driver": driver, "layers": layers}


def _failure(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, UserError):
        return {"ok": False, "kind": "user", "error": str(exc)}
    text = str(exc)
    if isinstance(exc, MemoryError) or "failed to map segment" in text or "Cannot allocate memory" in text:
        return {"ok": False, "kind": "memory", "error": "needs more memory than allowed"}
    if type(exc).__name__ == "CRSError":       # pyogrio.errors.CRSError: a broken .prj or srsName
        return {"ok": False, "kind": "user",
                "error": f"its CRS definition cannot be read ({str(exc)[:120]}); choose the CRS when uploading"}
    return {"ok": False, "kind": "gdal", "error": f"{type(exc).__name__}: {exc}"[:1000]}


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        req = json.load(fh)
    _limit(req)
    _isolate_network()
    try:
        result = _read(req)
    except BaseException as exc:  # noqa: BLE001 - every library failure becomes a message for the parent
        result = _failure(exc)
    with open(req["output"], "w", encoding="utf-8") as fh:
        json.dump(result, fh, ensure_ascii=False, allow_nan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
