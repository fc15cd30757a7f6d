"""Portal benchmark: bbox GeoJSON (OGC API items, limit=100) on the 100k-point reference layer and MVT tiles
of a polygon layer, served by `machihub serve` from each store, side by side with pygeoapi serving the same
100k points (../shared/tools/anchor-pygeoapi.sh, its own venv, SQLiteGPKG and OGR providers), same run.

Prints one JSON line. usage: .venv/bin/python bench/portal.py [--duration 20] [--skip-postgis] [--skip-anchor]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.shared_data import DATA, TOOLS  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_store(store: str, tmp: Path, points: Path) -> None:
    """Import the reference points and the N03 municipalities (polygons, for tiles) through our importer."""
    from layers.importer import import_file
    from machihub.compose import build_hub
    from machihub.principal import SYSTEM
    from machihub.settings import load_settings

    hub = build_hub(load_settings(config_file=tmp / "none.toml", env={}, store=store, data_dir=str(tmp),
                                  secret_key="bench-secret-key-0123456789"))
    hub.init_schema()
    hub.tenants.add(SYSTEM, "13100", "bench")
    dept = hub.tenants.add_department(SYSTEM, "13100", "gis", "GIS課")
    import_file(hub.layers, SYSTEM, points, tenant_code="13100", slug="points", name_ja="points",
                owner_department_id=dept.id, classification="public")
    import_file(hub.layers, SYSTEM, DATA / "gis" / "boundaries" / "N03-21_210101_s0001.json", tenant_code="13100",
                slug="municipalities", name_ja="市区町村", owner_department_id=dept.id, classification="public")
    hub.close()


class Serve:
    def __init__(self, store: str, tmp: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "MACHIHUB_STORE": store, "MACHIHUB_DATA_DIR": str(tmp),
               "MACHIHUB_SECRET_KEY": "bench-secret-key-0123456789", "MACHIHUB_PUBLIC_PORT": str(self.port),
               "MACHIHUB_STAFF_PORT": str(free_port()), "MACHIHUB_CONFIG": str(tmp / "none.toml")}
        self.proc = subprocess.Popen([sys.executable, "-m", "machihub.cli", "serve"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("machihub serve did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def loadgen(url: str, points: Path, pid: int, duration: float) -> dict:
    out = subprocess.run([sys.executable, str(TOOLS / "loadgen.py"), "--points-gpkg", str(points), "--server-pid",
                          str(pid), "--duration", str(duration), url], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    r = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)


async def tile_load(base: str, key: str, centres: list[tuple[float, float]], duration: float,
                    concurrency: int = 16) -> dict:
    import aiohttp

    rng = random.Random(3)
    lat: list[float] = []
    sizes: list[int] = []
    errors = 0
    stop = time.perf_counter() + duration

    async def worker(session):
        nonlocal errors
        while time.perf_counter() < stop:
            lon, la = rng.choice(centres)
            z = rng.choice((8, 10, 12, 14))
            x, y = tile_of(lon, la, z)
            t = time.perf_counter()
            async with session.get(f"{base}/tiles/{key}/{z}/{x}/{y}.mvt") as r:
                body = await r.read()
                if r.status not in (200, 204):
                    errors += 1
            lat.append(time.perf_counter() - t)
            sizes.append(len(body))

    async with aiohttp.ClientSession() as s:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(s) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    lat.sort()
    return {"requests": len(lat), "rps": round(len(lat) / elapsed, 1),
            "p50_ms": round(lat[len(lat) // 2] * 1000, 2), "p95_ms": round(lat[int(len(lat) * 0.95)] * 1000, 2),
            "non_200_204": errors, "mean_bytes": round(sum(sizes) / len(sizes))}


def anchor(provider: str, duration: float) -> dict:
    env = {**os.environ, "PROVIDER": provider}
    out = subprocess.run(["bash", str(TOOLS / "anchor-pygeoapi.sh"), "--duration", str(duration)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def pick(d: dict) -> dict:
    keys = ("requests", "rps", "p50_ms", "p95_ms", "p99_ms", "non_200", "server_cpu_ms_per_req", "features_per_response")
    return {k: d[k] for k in keys if k in d} | {k: v for k, v in d.items() if k.startswith("server_cpu")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--skip-postgis", action="store_true")
    ap.add_argument("--skip-anchor", action="store_true")
    args = ap.parse_args()
    result: dict = {"bench": "portal", "limit": 100, "bbox_deg": 0.05, "concurrency": 16}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        points = tmp / "points100k.gpkg"
        subprocess.run([sys.executable, str(TOOLS / "make_points_gpkg.py"), str(points)], check=True,
                       stdout=subprocess.DEVNULL)
        import pyogrio

        df = pyogrio.read_dataframe(points, columns=[])
        centres = [(g.x, g.y) for g in df.geometry.iloc[::97]]
        stores = {"sqlite": f"sqlite:///{tmp}/hub.gpkg"}
        schema = None
        if not args.skip_postgis:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG, autocommit=True) as c:
                c.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                c.execute(f'CREATE SCHEMA "{schema}"')
            stores["postgis"] = f"{PG}?options=-csearch_path%3D{schema},public"
        try:
            for name, url in stores.items():
                prepare_store(url, tmp, points)
                server = Serve(url, tmp)
                try:
                    base = f"http://127.0.0.1:{server.port}"
                    bbox = loadgen(f"{base}/ogc/collections/points_13100/items?bbox={{minx}},{{miny}},{{maxx}},{{maxy}}"
                                   "&limit=100", points, server.proc.pid, args.duration)
                    tiles = asyncio.run(tile_load(base, "municipalities_13100", centres, args.duration))
                    result[name] = {"bbox_geojson": pick(bbox), "mvt": tiles}
                finally:
                    server.stop()
        finally:
            if schema:
                import psycopg

                with psycopg.connect(PG, autocommit=True) as c:
                    c.execute(f'DROP SCHEMA "{schema}" CASCADE')
    if not args.skip_anchor:
        for provider in ("SQLiteGPKG", "OGR"):
            try:
                result[f"pygeoapi_{provider}"] = pick(anchor(provider, args.duration))
            except subprocess.CalledProcessError as exc:
                result[f"pygeoapi_{provider}"] = {"error": (exc.stdout or exc.stderr or "")[-300:]}
        ref = result.get("pygeoapi_OGR", {})
        if "rps" in ref:
            for name in stores:
                ours = result[name]["bbox_geojson"]
                result[name]["bbox_rps_vs_pygeoapi_ogr"] = round(ours["rps"] / ref["rps"], 2)
                result[name]["bbox_p95_vs_pygeoapi_ogr"] = round(ours["p95_ms"] / ref["p95_ms"], 2)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
