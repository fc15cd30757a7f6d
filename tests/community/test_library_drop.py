"""The library drop folder (community_library_drop_dir) on both stores: what an ILS on LGWAN writes is imported
all or nothing on the next tick, then moved to done/ (with a result file) or failed/ (with the reason); a file
still being written is left alone; a folder that is not one of our municipalities is not touched; the linked
patron's notice goes out through the real SMTP server. Time moves with the hub clock."""
from __future__ import annotations

import os
from datetime import datetime

from community import build_community
from tests.community.conftest import resident, work

HEADER = "event,hold_id,patron_id,branch,deadline,title\n"


def test_drop_folder_imports_all_or_nothing_and_files_the_result(cm, smtp, tmp_path):
    hub = cm.alerts.hub
    drop = tmp_path / "ils-drop"
    hub.clock.advance(datetime.fromisoformat("2026-06-01T03:00:00+00:00") - hub.clock.now())  # 12:00 JST
    hub.settings = hub.settings.replace(community_library_drop_dir=str(drop))
    community = build_community(hub)                                  # the setting wires the folder in
    assert community.tick()["library_files"] == 0                     # no folder yet: nothing to do
    komae, elsewhere = drop / "13219", drop / "99999"
    komae.mkdir(parents=True)
    elsewhere.mkdir()
    sid = resident(cm, "reader@example.jp")
    ils = community.library
    from machihub.principal import Principal

    staff = Principal(actor="system:test", tenant_code="13219", roles=frozenset({"admin"}))
    community.library.link(sid, "13219", ils.link_code(staff, "P-1"))

    (komae / "holds-0601.csv").write_bytes((HEADER + "ready,H1,P-1,中央図書館,2026-06-05,\n"
                                            "ready,H2,P-9,西河原分室,2026-06-05,\n").encode("cp932"))
    (komae / "broken.csv").write_text(HEADER + "ready,H3,P-1,中央図書館,2026-06-05,\n"
                                      "ready,H4,P-1,,2026-06-05,\n", encoding="utf-8")
    (komae / "notes.txt").write_text("not a batch", encoding="utf-8")
    (elsewhere / "other.csv").write_text(HEADER, encoding="utf-8")

    assert community.tick()["library_files"] == 0                     # first sight: maybe still being written
    with (komae / "late.csv").open("w", encoding="utf-8") as growing:  # the ILS is still writing this one
        growing.write(HEADER)
        growing.flush()
        assert community.tick()["library_files"] == 2                 # unchanged since the last scan: imported
        growing.write("ready,H5,P-1,中央図書館,2026-06-05,\n")
    assert (komae / "late.csv").exists()                              # changed since it was first seen: waits

    assert sorted(p.name for p in (komae / "done").iterdir()) == ["holds-0601.csv", "holds-0601.csv.result.txt"]
    assert list((komae / "work").iterdir()) == []
    assert "applied 2 rows" in (komae / "done" / "holds-0601.csv.result.txt").read_text(encoding="utf-8")
    reason = (komae / "failed" / "broken.csv.reason.txt").read_text(encoding="utf-8")
    assert "row 3" in reason and "branch" in reason
    assert (komae / "notes.txt").exists() and (elsewhere / "other.csv").exists()
    with hub.db.transaction() as tx:
        assert [r["hold_ref"] for r in tx.query("SELECT hold_ref FROM cm_holds ORDER BY hold_ref")] == ["H1", "H2"]
    assert [h["hold_ref"] for h in ils.unlinked_holds(staff)] == ["H2"]
    work(cm)
    (mail,) = smtp.to("reader@example.jp")
    assert "中央図書館" in mail.message.get_body(("plain",)).get_content()

    # the ILS reuses the name the next day: both files are kept; the hold sent again is not notified twice
    (komae / "holds-0601.csv").write_text(HEADER + "ready,H1,P-1,中央図書館,2026-06-05,\n"
                                          "collected,H2,P-9,,,\n", encoding="utf-8")
    assert community.tick()["library_files"] == 0                     # late.csv grew, holds-0601.csv is new
    assert community.tick()["library_files"] == 2                     # both unchanged since: imported
    assert sorted(p.name for p in (komae / "done").iterdir() if p.suffix == ".csv")[1:] == ["holds-0601.csv", "late.csv"]
    assert len(list((komae / "done").glob("holds-0601*.csv"))) == 2   # both days kept
    work(cm)
    later = [m.message.get_body(("plain",)).get_content() for m in smtp.to("reader@example.jp")]
    assert len(later) == 2                                            # H5 from late.csv; H1 again is not re-sent
    assert ils.unlinked_holds(staff) == []                            # H2 was collected


def test_a_file_left_in_work_is_queued_again_and_any_error_files_it_as_failed(cm, tmp_path):
    """A host that died mid-import leaves its file in work/: after 30 minutes another scan takes it again. A file
    the store refuses with an unexpected error (PostgreSQL takes no NUL in text) goes to failed/ with the reason,
    not stuck in work/."""
    from datetime import timedelta

    hub = cm.alerts.hub
    drop = tmp_path / "drop"
    komae = drop / "13219"
    (komae / "work").mkdir(parents=True)
    hub.clock.advance(datetime.fromisoformat("2026-06-01T03:00:00+00:00") - hub.clock.now())
    hub.settings = hub.settings.replace(community_library_drop_dir=str(drop))
    community = build_community(hub)
    (komae / "nul.csv").write_text(HEADER + "ready,H7,P-1,中央\x00図書館,2026-06-05,\n", encoding="utf-8")
    community.tick()
    assert community.tick()["library_files"] == 1
    assert not list((komae / "work").iterdir())                       # never stuck, whatever the store said
    assert list(komae.glob("*/nul.csv*"))

    stuck = komae / "work" / "holds.csv"
    stuck.write_text(HEADER + "ready,H8,P-1,中央図書館,2026-06-05,\n", encoding="utf-8")
    now = hub.clock.now().timestamp()
    os.utime(stuck, (now, now))                                       # claimed just now by a host that then died
    community.tick()
    assert stuck.exists()                                             # it may still be working on it
    hub.clock.advance(timedelta(minutes=31))
    community.tick()                                                  # queued again …
    assert not stuck.exists() and (komae / "holds.csv").exists()
    assert community.tick()["library_files"] == 1                     # … and imported
    assert (komae / "done" / "holds.csv").exists()
    with hub.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM cm_holds WHERE hold_ref = 'H8'") == 1
