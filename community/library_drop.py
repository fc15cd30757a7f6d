"""The library's drop folder: what an ILS on LGWAN writes when it cannot call our API. Layout:
<drop>/<団体コード>/*.csv (header event,hold_id,patron_id,branch,deadline,title; UTF-8 or Shift_JIS). Each file is
imported all or nothing, then moved to <団体コード>/done/ (with a .result.txt) or failed/ (with a .reason.txt).
A file still being written is left alone: a *.csv is read only when a scan finds it with the same size and
mtime as the scan before (an ILS that writes name.tmp and renames it is safe at once). A file is claimed by an
atomic rename into work/ first, so two hosts scanning the same folder never import it twice; one left there by a
host that died is queued again after STUCK_S."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layers.readers.encoding import decode_utf8_or_cp932
from machihub.errors import HubError
from machihub.principal import Principal

log = logging.getLogger(__name__)
MAX_BYTES = 20 * 1024 * 1024
STUCK_S = 30 * 60  # a claimed file still in work/ after this long was left by a host that died


@dataclass(frozen=True)
class DropResult:
    tenant_code: str
    name: str
    ok: bool
    detail: str


class LibraryDrop:
    def __init__(self, library: Any, root: Path) -> None:
        self.library, self.root = library, Path(root)
        self.db, self.clock = library.db, library.clock
        self._seen: dict[Path, tuple[int, int]] = {}  # path → (size, mtime_ns) at the last scan

    def _tenants(self) -> set[str]:
        with self.db.read() as tx:
            return {r["code"] for r in tx.query("SELECT code FROM mh_tenants")}

    def scan(self) -> list[DropResult]:
        if not self.root.is_dir():
            return []
        tenants = self._tenants()
        out: list[DropResult] = []
        seen: dict[Path, tuple[int, int]] = {}
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink()):
            if folder.name not in tenants:
                continue  # not a municipality of this hub: leave it for whoever owns it
            try:
                self._requeue_stuck(folder)
                paths = sorted(folder.glob("*.csv"))
            except OSError as exc:  # an unreadable folder must not stop the other towns
                log.warning("library drop %s: cannot scan: %s", folder.name, exc)
                continue
            for path in paths:
                try:
                    result = self._consider(folder.name, path, seen)
                except OSError as exc:  # e.g. no permission to move it: try again next scan
                    log.warning("library drop %s/%s: %s", folder.name, path.name, exc)
                    continue
                if result is not None:
                    out.append(result)
        self._seen = seen
        return out

    def _consider(self, tenant: str, path: Path, seen: dict[Path, tuple[int, int]]) -> DropResult | None:
        if path.is_symlink() or not path.is_file():
            return None
        st = path.stat()
        seen[path] = (st.st_size, st.st_mtime_ns)
        if self._seen.get(path) != seen[path]:
            return None  # new or still growing: look again next scan
        claimed = self._claim(path)
        if claimed is None:
            return None
        del seen[path]
        return self._one(tenant, claimed, path.name)

    def _claim(self, path: Path) -> Path | None:
        work = path.parent / "work"
        work.mkdir(exist_ok=True)
        try:
            path.replace(work / path.name)
        except FileNotFoundError:
            return None  # another host took it
        now = self.clock.now().timestamp()
        os.utime(work / path.name, (now, now))  # when it was claimed: how _requeue_stuck tells a stuck one
        return work / path.name

    def _requeue_stuck(self, folder: Path) -> None:
        """A file left in work/ by a host that died while importing goes back to be scanned again (a batch is
        one transaction and a hold sent twice is not notified twice, so importing it again is safe)."""
        work = folder / "work"
        if not work.is_dir():
            return
        now = self.clock.now().timestamp()
        for path in work.glob("*.csv"):
            if path.is_symlink() or now - path.stat().st_mtime < STUCK_S:
                continue
            back = folder / path.name
            if back.exists():  # the ILS wrote a new file of that name meanwhile: keep both
                back = folder / f"{path.stem}.requeued{int(now)}{path.suffix}"
            path.replace(back)
            log.warning("library drop %s/%s: stuck in work/, queued again", folder.name, path.name)

    def _one(self, tenant: str, path: Path, name: str) -> DropResult:
        ils = Principal(actor=f"system:library-drop:{tenant}", tenant_code=tenant, purpose="ils")
        try:
            if path.stat().st_size > MAX_BYTES:
                raise ValueError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
            text = decode_utf8_or_cp932(path.read_bytes())
            result = self.library.handle_batch(ils, self.library.parse_csv(text), source=f"drop:{path.name}")
            detail = f"applied {result['applied']} rows; not linked (phone them): {len(result['unlinked'])}"
            ok = True
        except (HubError, ValueError) as exc:
            detail, ok = getattr(exc, "message", None) or str(exc), False
        except OSError as exc:  # unreadable: it goes to failed/ like a bad file, with the reason
            detail, ok = f"the file cannot be read: {exc}", False
        except Exception as exc:  # noqa: BLE001 - anything else: failed/ with the reason, never stuck in work/
            log.exception("library drop %s/%s: import failed", tenant, name)
            detail, ok = f"the file could not be imported ({type(exc).__name__}: {exc})", False
        target = path.parent.parent / ("done" if ok else "failed")
        target.mkdir(exist_ok=True)
        dest = target / name
        if dest.exists():  # the ILS reuses names (one per day): keep both
            dest = target / f"{path.stem}.{self.clock.now().strftime('%Y%m%dT%H%M%S%f')}{path.suffix}"
        path.replace(dest)
        dest.with_name(dest.name + (".result.txt" if ok else ".reason.txt")).write_text(detail + "\n", encoding="utf-8")
        log.info("library drop %s/%s: %s", tenant, name, detail)
        return DropResult(tenant, name, ok, detail)
