"""Alert dispatch benchmark; prints one JSON line.

1. Targeting for 1,000,000 subscribers of one town (SQLite store): 80 % by 町丁目, 10 % whole town, 7 % a point
   with a radius, 3 % a drawn area. A warning for one 町丁目, and one for three 町丁目 plus a 500 m circle: time
   to find the recipients (`targeting_s`), and to do that and write their outbox rows in one transaction.
2. 100,000 personalised mails (own unsubscribe links, VERP, Message-ID) through the real path (outbox →
   `machihub worker` processes → aiosmtplib) to ../shared/tools/smtp_sink.py --fast --uvloop: messages/s and
   the time from approval to the last hand-off; then the sink's own ceiling, measured alone in the same run
   with a minimal pipelining client (this machine is noisy: compare the ratio, not absolute figures).
   Mail runs twice: with the serial hand-off (default: a kill -9 repeats at most one mail) and without it.

    .venv/bin/python bench/dispatch.py [--subscribers 1000000] [--mails 100000] [--workers 2]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.shared_data import TOOLS  # noqa: E402

SINK = TOOLS / "smtp_sink.py"
SECRET = "bench-secret-key-0123456789"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_hub(tmp: Path, **settings):
    from alerts import create_alert_schema
    from machihub.clock import Clock
    from machihub.compose import build_hub
    from machihub.principal import SYSTEM
    from machihub.settings import load_settings

    s = load_settings(config_file=tmp / "none.toml", env={}, store=f"sqlite:///{tmp}/hub.gpkg", data_dir=str(tmp),
                      secret_key=SECRET, **settings)
    hub = build_hub(s, Clock())
    hub.init_schema()
    with hub.db.transaction() as tx:
        create_alert_schema(tx)
    hub.tenants.add(SYSTEM, "13219", "狛江市", name_en="Komae", prefecture="東京都")
    for name, role in (("composer", "alert_composer"), ("approver", "alert_approver")):
        hub.users.add(SYSTEM, "13219", name, "bench password 123", roles=[role])
    return hub


def populate(al, n: int) -> None:
    """n subscribers written straight into the tables (one shared sealed contact: targeting never opens it)."""
    import shapely

    from alerts import geo

    units = al.areas.units("13219")
    chome = [u for u in units if u.kind == "chome"]
    town = next(u for u in units if u.kind == "town")
    minx, miny, maxx, maxy = town.geom.bounds
    rnd = random.Random(42)
    sealed = al.sealer.seal("bench@example.jp")
    now = al.clock.iso()
    with al.db.transaction() as tx:
        base = int(tx.scalar("SELECT coalesce(max(id), 0) FROM al_subscribers"))
        for start in range(0, n, 100_000):
            ids = range(base + start + 1, base + min(n, start + 100_000) + 1)
            tx.executemany("INSERT INTO al_subscribers (id, tenant_code, status, topics, language, link_nonce, created,"
                           " updated) VALUES (?, '13219', 'active', ?, 'ja', 'n', ?, ?)",
                           [(i, rnd.choice((16, 17, 19, 1023)), now, now) for i in ids])
            tx.executemany("INSERT INTO al_contacts (subscriber_id, tenant_code, kind, address_sealed, address_hash, created)"
                           " VALUES (?, '13219', 'email', ?, ?, ?)", [(i, sealed, f"h{i}", now) for i in ids])
            areas = []
            for i in ids:
                r = rnd.random()
                if r < 0.80:
                    areas.append((i, rnd.choice(chome).id, None, None, None, None, None, None, None, None))
                elif r < 0.90:
                    areas.append((i, town.id, None, None, None, None, None, None, None, None))
                else:
                    lon, lat = rnd.uniform(minx, maxx), rnd.uniform(miny, maxy)
                    if r < 0.97:
                        radius = rnd.choice((300.0, 500.0, 1000.0))
                        b = geo.circle(lat, lon, radius, 16).bounds
                        areas.append((i, None, lat, lon, radius, None, *b))
                    else:
                        d = rnd.uniform(0.001, 0.004)
                        poly = shapely.box(lon - d, lat - d, lon + d, lat + d)
                        areas.append((i, None, None, None, None, shapely.to_wkb(poly), *poly.bounds))
            tx.executemany("INSERT INTO al_sub_areas (subscriber_id, unit_id, lat, lon, radius_m, geom, minx, miny, maxx,"
                           " maxy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", areas)


def bench_targeting(n: int) -> dict:
    from alerts import build_alerts
    from alerts.model import Alert, AlertArea, AlertText
    from feeds.cap import CapCircle

    with tempfile.TemporaryDirectory() as d:
        hub = make_hub(Path(d))
        al = build_alerts(hub)
        t = time.perf_counter()
        populate(al, n)
        populate_s = time.perf_counter() - t
        cases = {"one_chome": ([("machihub-area", "chome:和泉本町一丁目")], []),
                 "three_chome_and_500m_circle": ([("machihub-area", f"chome:{c}") for c in
                                                  ("和泉本町一丁目", "和泉本町二丁目", "中和泉一丁目")],
                                                 [CapCircle(35.6300, 139.5800, 0.5)])}
        results = {}
        for alert_id, (case, (codes, circles)) in enumerate(cases.items(), 1):
            alert = Alert(tenant_code="13219", topic="crime", event="不審者", severity="Moderate",
                          texts={"ja": AlertText(headline="不審者情報")},
                          areas=[AlertArea(desc=case, geocodes=codes, circles=circles)])
            alert.identifier, alert.sender, alert.sent = f"bench-{alert_id}", "bench@example.jp", al.clock.now()
            with al.db.transaction() as tx:
                tx.execute("INSERT INTO al_alerts (id, tenant_code, identifier, state, source, cap_status, msg_type,"
                           " topic, severity, body, composer, created, updated) VALUES (?, '13219', ?, 'sending',"
                           " 'bench', 'Actual', 'Alert', 'crime', 'Moderate', ?, 'bench', ?, ?)",
                           (alert_id, alert.identifier, alert.to_json(), al.clock.iso(), al.clock.iso()))
            targeting = al.lifecycle.targeting
            with al.db.transaction() as tx:
                t = time.perf_counter()
                targeting.fill_targets(tx, alert)
                matched = tx.scalar("SELECT count(*) FROM al_tmp_targets t JOIN al_subscribers s ON s.id = t.sid"
                                    " WHERE (s.topics & 16) <> 0")
                targeting_s = time.perf_counter() - t
            with al.db.transaction() as tx:
                t = time.perf_counter()
                queued = targeting.queue(tx, alert_id, alert, al.clock.now())
                queue_s = time.perf_counter() - t
            results[case] = {"targeting_s": round(targeting_s, 3), "matched": matched,
                             "queue_with_outbox_rows_s": round(queue_s, 3), "queued": queued}
        hub.close()
    return {"subscribers": n, "store": "sqlite", "populate_s": round(populate_s, 1), **results}


def start_sink(port: int, stop_after: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(SINK), str(port), "--fast", "--uvloop", "--stop-after", str(stop_after),
                             "--status", os.devnull, "--max-seconds", "900"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # {"listening": …} once every worker listens
    assert "listening" in line, line
    return proc


def sink_result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate(timeout=900)
    return json.loads(out.strip().splitlines()[-1])


async def blast(port: int, count: int, conns: int) -> None:
    """A minimal SMTP client that pipelines whole transactions: what the sink can take, measured alone."""
    msg = (b"From: a@example.jp\r\nTo: b@example.jp\r\nSubject: x\r\nMessage-ID: <1@x>\r\n\r\n" + b"x" * 1300 + b"\r\n")
    txn = b"MAIL FROM:<a@example.jp>\r\nRCPT TO:<b@example.jp>\r\nDATA\r\n" + msg + b".\r\n"

    async def one(n: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readline()
        writer.write(b"EHLO bench\r\n")
        for _ in range(5):
            await reader.readline()
        for start in range(0, n, 50):
            k = min(50, n - start)
            writer.write(txn * k)
            await writer.drain()
            for _ in range(4 * k):
                await reader.readline()
        writer.write(b"QUIT\r\n")
        await writer.drain()
        writer.close()

    await asyncio.gather(*(one(count // conns + (1 if i < count % conns else 0)) for i in range(conns)))


def bench_mail(n: int, workers: int, serial: bool = True) -> dict:
    from alerts import build_alerts
    from alerts.model import Alert, AlertArea, AlertText
    from machihub.principal import SYSTEM

    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        hub = make_hub(tmp, smtp_port=port, mail_from="anshin@city.example.lg.jp")
        al = build_alerts(hub)
        t = time.perf_counter()
        rows = [{"email": f"r{i:06d}@example.jp", "topics": ["crime"], "areas": [{"kind": "town"}]} for i in range(n)]
        for start in range(0, n, 20_000):
            al.admin.import_subscribers(SYSTEM, "13219", rows[start:start + 20_000])
        import_s = time.perf_counter() - t
        sink = start_sink(port, n)
        env = {**os.environ, "MACHIHUB_CONFIG": str(tmp / "none.toml"), "MACHIHUB_STORE": hub.db.url,
               "MACHIHUB_DATA_DIR": str(tmp), "MACHIHUB_SECRET_KEY": SECRET, "MACHIHUB_SMTP_PORT": str(port),
               "MACHIHUB_MAIL_FROM": "anshin@city.example.lg.jp", "PYTHONPATH": str(ROOT)}
        flags = [] if serial else ["--parallel-handoff"]
        procs = [subprocess.Popen([sys.executable, "-m", "alerts.cli", "--batch", "500", *flags, "worker", "--name", f"b{i}"],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for i in range(workers)]
        time.sleep(3)  # workers up and polling, as in production
        composer, approver = hub.users.get("composer").principal(), hub.users.get("approver").principal()
        alert = Alert(tenant_code="13219", topic="crime", event="不審者", texts={"ja": AlertText(
            headline="不審者情報", description="和泉本町一丁目付近で不審な声かけがありました。" * 3,
            instruction="お子さんは複数で下校してください。")}, areas=[AlertArea(desc="狛江市全域",
                                                                     geocodes=[("JIS-X0402", "13219")])])
        alert_id = al.lifecycle.create(composer, alert)
        al.lifecycle.submit(composer, alert_id)
        t0 = time.time()
        al.lifecycle.approve(approver, alert_id)
        queued_s = time.time() - t0
        result = sink_result(sink)
        cpu = sum(cpu_s(p.pid) for p in procs)
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=60)
        with hub.db.transaction() as tx:
            sent = tx.scalar("SELECT count(*) FROM al_outbox WHERE alert_id = ? AND state = 'sent'", (alert_id,))
        hub.close()
    last = result["t"] - t0
    return {"mails": n, "workers": workers, "serial_handoff": serial, "import_s": round(import_s, 1), "queue_s": round(queued_s, 2),
            "msgs_per_s": round(n / last, 0), "to_last_handoff_s": round(last, 1),
            "sink_first_to_last_s": result["first_to_last_s"], "sink_cpu_us_per_msg": result["cpu_us_per_msg"],
            "recorded_sent": sent, "worker_cpu_us_per_msg": round(1e6 * cpu / n)}


def cpu_s(pid: int) -> float:
    """user + system seconds of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_sink_alone(n: int) -> dict:
    port = free_port()
    sink = start_sink(port, n)
    procs = [subprocess.Popen([sys.executable, "-c", f"import asyncio, sys; sys.path.insert(0, {str(ROOT)!r});"
                               f"from bench.dispatch import blast; asyncio.run(blast({port}, {n // 2}, 8))"])
             for _ in range(2)]
    result = sink_result(sink)
    for p in procs:
        p.wait(60)
    return {"sink_alone_msgs_per_s": result["msgs_per_s"], "sink_alone_cpu_us_per_msg": result["cpu_us_per_msg"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--mails", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--parts", default="targeting,mail,parallel",
                    help="targeting, mail (with the sink alone), parallel (mail without the serial hand-off)")
    args = ap.parse_args()
    out: dict = {"bench": "dispatch", "cores": os.cpu_count(), "run": secrets.token_hex(3)}
    if "targeting" in args.parts:
        out["targeting"] = bench_targeting(args.subscribers)
    if "mail" in args.parts:
        out["mail"] = bench_mail(args.mails, args.workers)
        out["sink"] = bench_sink_alone(args.mails)
        out["mail"]["ratio_to_sink_ceiling"] = round(out["mail"]["msgs_per_s"] / out["sink"]["sink_alone_msgs_per_s"], 3)
    if "parallel" in args.parts:  # the same without the serial hand-off gate (alerts_serial_handoff = false)
        out["mail_parallel_handoff"] = bench_mail(args.mails, args.workers, serial=False)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
