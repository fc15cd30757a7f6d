"""Run GDAL on an upload in a child process (gdal_child.py) with a wall-time limit, resource limits, one
allowed driver and no network, and turn whatever happens into either the child's JSON result or Invalid."""
from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from layers.readers.limits import MB, ReadLimits
from machihub.errors import Invalid

CHILD = Path(__file__).with_name("gdal_child.py")

# GDAL configuration for reading untrusted files: nothing remote, nothing resolved, nothing executed.
_SAFE_CONFIG = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".machihub-no-remote-files",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "GML_DOWNLOAD_WFS_SCHEMA": "NO",
    "GML_SKIP_RESOLVE_ELEMS": "ALL",
    "GML_SAVE_RESOLVED_TO": "",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",   # GeoPackage views must not read other files
    "LIBKML_RESOLVE_STYLE": "NO",
    "LIBKML_EXTERNAL_STYLE": "NO",
    "PROJ_NETWORK": "OFF",
    "GDAL_NUM_THREADS": "1",
    "CPL_DEBUG": "OFF",
}
_OPEN_OPTIONS = {
    "GML": {"DOWNLOAD_SCHEMA": "NO", "WRITE_GFS": "NO"},
}


@functools.cache
def all_drivers() -> tuple[str, ...]:
    import pyogrio  # only to list driver names; this process never opens an upload with GDAL

    return tuple(sorted(pyogrio.list_drivers()))


def _env(driver: str, scratch: Path, limits: ReadLimits) -> dict[str, str]:
    skip = [d for d in all_drivers() if d != driver and " " not in d]
    env = {
        "GDAL_SKIP": " ".join(skip),
        "OGR_GEOJSON_MAX_OBJ_SIZE": str(max(1, limits.max_json_bytes // MB)),
        "HOME": str(scratch), "TMPDIR": str(scratch),   # no ~/.gdal/gdalrc, temp files stay in scratch
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
    }
    env.update(_SAFE_CONFIG)
    return env


def _clean(text: str, path: Path, original_name: str) -> str:
    """GDAL messages name our scratch copy; show the user's file name instead, and no temp paths."""
    text = text.replace(str(path), original_name).split("; It might help to specify the correct driver")[0]
    return text.replace(str(path.parent) + os.sep, "").replace(str(path.parent), "").strip()


def run_gdal(path: Path, driver: str, *, original_name: str, limits: ReadLimits, layer: str | None = None,
             prefer: str | None = None, all_layers: bool = False, encoding: str | None = None) -> dict[str, Any]:
    """Read `path` (a scratch copy inside its own temp dir) with exactly `driver`; return the child's result."""
    scratch = path.parent
    output = scratch / "result.json"
    request = {
        "path": str(path), "driver": driver, "layer": layer, "prefer": prefer, "all_layers": all_layers,
        "encoding": encoding, "open_options": _OPEN_OPTIONS.get(driver, {}),
        "max_features": limits.max_features, "max_fields": limits.max_fields,
        "memory_bytes": limits.memory_bytes, "cpu_seconds": limits.cpu_seconds,
        "max_output_bytes": limits.max_output_bytes, "output": str(output),
    }
    request_path = scratch / "request.json"
    request_path.write_text(json.dumps(request), encoding="utf-8")
    log_path = scratch / "stderr.txt"
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.Popen([sys.executable, "-I", str(CHILD), str(request_path)], cwd=scratch,
                                    env=_env(driver, scratch, limits), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
        except OSError as exc:
            raise Invalid(f"{original_name}: cannot start the file reader: {exc}") from None
        try:
            code = proc.wait(timeout=limits.timeout_seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise Invalid(f"{original_name}: reading took longer than {limits.timeout_seconds:g} s; "
                          "the file is too large or malformed") from None
    if code != 0 or not output.exists():
        tail = log_path.read_bytes()[-600:].decode("utf-8", "replace")
        if code in (-signal.SIGXCPU, -signal.SIGKILL):
            reason = "it took too much CPU time"
        elif "MemoryError" in tail or "bad_alloc" in tail or code == -signal.SIGABRT:
            reason = "it needs more memory than allowed"
        else:
            reason = "the reader crashed"
        raise Invalid(f"{original_name}: cannot read the file: {reason}",
                      details={"exit_code": code, "log": _clean(tail, path, original_name)[-300:]})
    if output.stat().st_size > limits.max_output_bytes:
        raise Invalid(f"{original_name}: the file holds more data than allowed")
    try:
        result = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise Invalid(f"{original_name}: cannot read the file: the reader's output was cut short "
                      "(too much data?)") from None
    if not isinstance(result, dict) or not result.get("ok"):
        message = _clean(str(result.get("error", "unknown error")) if isinstance(result, dict) else "bad output",
                         path, original_name)
        kind = result.get("kind") if isinstance(result, dict) else None
        if kind == "user":
            raise Invalid(f"{original_name}: {message}")
        if kind == "memory":
            raise Invalid(f"{original_name}: cannot read the file: it needs more memory than allowed")
        raise Invalid(f"{original_name}: cannot read the file as {driver}: {message}")
    return result

