"""Worker processes against a real SMTP server, on both stores: kill -9 in the middle of a 10k send loses
nothing and repeats at most one mail per kill; two workers share one send without sending anything twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from machihub.principal import SYSTEM
from tests.alerts.conftest import chome_alert, send

ROOT = Path(__file__).resolve().parents[2]
N = int(os.environ.get("MACHIHUB_CRASH_N", "10000"))


def start_worker(al, smtp, tmp_path: Path, name: str, *, until_idle: bool = False) -> subprocess.Popen:
    env = {**os.environ, "MACHIHUB_CONFIG": str(tmp_path / "none.toml"), "MACHIHUB_STORE": al.db.url,
           "MACHIHUB_DATA_DIR": str(tmp_path), "MACHIHUB_SECRET_KEY": "test-secret-key-0123456789",
           "MACHIHUB_SMTP_PORT": str(smtp.port), "MACHIHUB_MAIL_FROM": al.config.mail_from,
           "MACHIHUB_PUBLIC_URL": al.config.public_url, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "alerts.cli", "worker", "--name", name] + (["--until-idle"] if until_idle else [])
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(smtp, count: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(smtp.received) < count:
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early: {proc.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, f"only {len(smtp.received)} of {count} mails arrived"
        time.sleep(0.02)


def population(al, n: int) -> set[str]:
    rows = [{"email": f"r{i:05d}@example.jp", "topics": ["crime"], "areas": [{"kind": "town"}]} for i in range(n)]
    assert al.admin.import_subscribers(SYSTEM, "13219", rows) == n
    return {r["email"] for r in rows}


def test_kill_9_repeatedly_during_a_10k_send(al, smtp, tmp_path):
    everyone = population(al, N)
    alert_id = send(al, chome_alert())
    kills = 0
    for share in (0.15, 0.45, 0.75):
        proc = start_worker(al, smtp, tmp_path, "crash")
        wait_for(smtp, int(N * share), proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    final = start_worker(al, smtp, tmp_path, "crash", until_idle=True)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()[-2000:]
    got = Counter(r for m in smtp.received for r in m.rcpt_tos)
    assert set(got) == everyone, f"{len(everyone - set(got))} recipients got nothing"
    duplicates = sum(c - 1 for c in got.values())
    print(f"\n{al.db.dialect}: {N} recipients, {kills} kills, {duplicates} duplicates, {len(smtp.received)} mails")
    assert duplicates <= kills, f"{duplicates} duplicates after {kills} kills"
    stats = al.outbox.stats(alert_id)
    assert stats["sent"] == N and stats["queued"] == 0


def test_two_workers_share_one_send(al, smtp, tmp_path):
    n = min(N, 3000)
    everyone = population(al, n)
    alert_id = send(al, chome_alert())
    procs = [start_worker(al, smtp, tmp_path, name, until_idle=True) for name in ("w1", "w2")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
    got = Counter(r for m in smtp.received for r in m.rcpt_tos)
    assert set(got) == everyone and set(got.values()) == {1}
    with al.db.transaction() as tx:
        by = Counter(r["sent_by"].split("/")[0] for r in tx.query("SELECT sent_by FROM al_outbox WHERE alert_id = ?",
                                                                   (alert_id,)))
    assert set(by) == {"w1", "w2"} and sum(by.values()) == n, by
