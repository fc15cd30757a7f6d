"""The community tick on both stores: each scheduled job is isolated, so a broken drop folder or a row one job
cannot read never stops the others (above all forgetting exact report points). Time moves with the hub clock."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from community import build_community
from machihub.principal import SYSTEM
from tests.community.conftest import resident

POINT = (35.637363, 139.577442)  # 和泉本町一丁目 (狛江市)


def _expired_report(cm) -> None:
    cm.reports.file(cm.towns["komae_admin"], "13219", occurred=cm.alerts.clock.now(), lat=POINT[0], lon=POINT[1],
                    what="男が声をかけた")
    rid = cm.reports.pending("13219")[0].id
    cm.reports.approve(cm.towns["approver"], rid)
    cm.alerts.clock.advance(timedelta(days=cm.reports.config.public_days, seconds=1))


def _unopenable_hold_due_tomorrow(cm) -> None:
    """A hold whose sealed title this hub's key cannot open (e.g. sealed before a key change)."""
    hub = cm.alerts.hub
    key_id, _ = hub.users.add_api_key(SYSTEM, "13219", "ILS", "ils")
    ils = hub.users._api_principal({"key_id": key_id, "tenant_code": "13219", "purpose": "ils"})
    cm.library.link(resident(cm, "titles@example.jp"), "13219", cm.library.link_code(ils, "P-1"), show_titles=True)
    tomorrow = (cm.alerts.clock.now() + timedelta(days=1)).astimezone(UTC).date().isoformat()
    with cm.alerts.db.transaction() as tx:
        tx.execute("INSERT INTO cm_holds (tenant_code, hold_ref, patron_hash, branch, deadline, title_sealed, state,"
                   " notified, created) VALUES ('13219', 'H1', ?, '中央図書館', ?, 'not-sealed-here', 'ready', 1, ?)",
                   (cm.library.patron_hash("13219", "P-1"), tomorrow, cm.alerts.clock.iso()))


def test_a_failing_job_does_not_stop_forgetting_points(cm, caplog):
    cm.alerts.clock.advance(datetime(2026, 6, 1, 3, tzinfo=UTC) - cm.alerts.clock.now())  # 12:00 JST
    _expired_report(cm)
    _unopenable_hold_due_tomorrow(cm)
    out = cm.tick()
    assert out["points_forgotten"] == 1 and out["reminders"] == 0 and out["failed_jobs"] == 1
    assert "reminders failed" in caplog.text


def test_a_broken_drop_folder_does_not_stop_the_tick(cm, tmp_path):
    hub = cm.alerts.hub
    drop = tmp_path / "drop"
    (drop / "13219").mkdir(parents=True)
    (drop / "13219" / "work").write_text("a file where the work folder should be", encoding="utf-8")
    (drop / "13219" / "holds.csv").write_text("event,hold_id,patron_id,branch,deadline\n", encoding="utf-8")
    hub.settings = hub.settings.replace(community_library_drop_dir=str(drop))
    community = build_community(hub)
    assert community.tick()["library_files"] == 0                   # first sight
    _expired_report(cm)
    out = community.tick()                                           # the claim fails: logged, the rest runs
    assert out["library_files"] == 0 and out["points_forgotten"] == 1
    assert (drop / "13219" / "holds.csv").exists()                  # left for the next scan
