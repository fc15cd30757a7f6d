"""Layer store benchmark: import rate and bbox query latency on the shared 100k-point reference layer, on
the embedded GeoPackage store and on PostGIS, each beside a GDAL reference measured in the same run.

Prints one JSON line. Reference runs: GDAL writing the same features to a fresh GeoPackage (import), and GDAL
reading the same boxes from the reference GeoPackage with its R-tree (bbox), so ratios survive a noisy host.

usage: .venv/bin/python bench/layers.py [--n-queries 500] [--skip-postgis]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyogrio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.shared_data import TOOLS  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/test"
BOX = 0.05


def reference_layer(tmp: Path) -> Path:
    out = tmp / "points100k.gpkg"
    subprocess.run([sys.executable, str(TOOLS / "make_points_gpkg.py"), str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return out


def boxes(src: Path, n: int) -> list[tuple[float, float, float, float]]:
    df = pyogrio.read_dataframe(src, columns=[])
    rng = np.random.default_rng(7)
    idx = rng.choice(len(df), n, replace=False)
    pts = df.geometry.iloc[idx]
    half = BOX / 2
    return [(p.x - half + j1, p.y - half + j2, p.x + half + j1, p.y + half + j2)
            for p, j1, j2 in zip(pts, rng.uniform(-half, half, n), rng.uniform(-half, half, n), strict=True)]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def measure_store(store_url: str, tmp: Path, src: Path, qboxes) -> dict:
    from layers.importer import import_file
    from machihub.compose import build_hub
    from machihub.principal import SYSTEM
    from machihub.settings import load_settings

    hub = build_hub(load_settings(config_file=tmp / "none.toml", env={}, store=store_url, data_dir=str(tmp),
                                  secret_key="bench-secret-key-0123456789"))
    hub.init_schema()
    hub.tenants.add(SYSTEM, "13100", "bench")
    dept = hub.tenants.add_department(SYSTEM, "13100", "gis", "GIS課")
    t0 = time.perf_counter()
    report = import_file(hub.layers, SYSTEM, src, tenant_code="13100", slug="points", name_ja="points",
                         owner_department_id=dept.id, classification="public")
    import_s = time.perf_counter() - t0
    key = report.layer_key
    lat: list[float] = []
    counts = []
    for b in qboxes:
        t = time.perf_counter()
        feats = hub.layers.features(key, None, bbox=b, limit=100)
        lat.append(time.perf_counter() - t)
        counts.append(len(feats))
    hub.close()
    return {"features": report.count, "import_s": round(import_s, 2),
            "import_features_per_s": round(report.count / import_s), "bbox_p50_ms": round(pct(lat, 50), 2),
            "bbox_p95_ms": round(pct(lat, 95), 2), "mean_features_per_box": round(statistics.mean(counts), 1)}


def gdal_reference(src: Path, tmp: Path, qboxes) -> dict:
    df = pyogrio.read_dataframe(src)
    t0 = time.perf_counter()
    pyogrio.write_dataframe(df, tmp / "ref_write.gpkg", layer="points", driver="GPKG")
    write_s = time.perf_counter() - t0
    lat = []
    for b in qboxes:
        t = time.perf_counter()
        pyogrio.read_dataframe(src, bbox=b, max_features=100)
        lat.append(time.perf_counter() - t)
    return {"import_features_per_s": round(len(df) / write_s), "bbox_p50_ms": round(pct(lat, 50), 2),
            "bbox_p95_ms": round(pct(lat, 95), 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-queries", type=int, default=500)
    ap.add_argument("--skip-postgis", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = reference_layer(tmp)
        qboxes = boxes(src, args.n_queries)
        result: dict = {"bench": "layers", "n_queries": args.n_queries, "box_deg": BOX}
        result["gdal_reference"] = gdal_reference(src, tmp, qboxes)
        result["sqlite"] = measure_store(f"sqlite:///{tmp}/hub.gpkg", tmp, src, qboxes)
        if not args.skip_postgis:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG, autocommit=True) as c:
                c.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                c.execute(f'CREATE SCHEMA "{schema}"')
            try:
                result["postgis"] = measure_store(f"{PG}?options=-csearch_path%3D{schema},public", tmp, src, qboxes)
            finally:
                with psycopg.connect(PG, autocommit=True) as c:
                    c.execute(f'DROP SCHEMA "{schema}" CASCADE')
        ref = result["gdal_reference"]
        for store in ("sqlite", "postgis"):
            if store in result:
                r = result[store]
                r["import_rate_vs_gdal"] = round(r["import_features_per_s"] / ref["import_features_per_s"], 3)
                r["bbox_p95_vs_gdal"] = round(r["bbox_p95_ms"] / ref["bbox_p95_ms"], 3)
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
