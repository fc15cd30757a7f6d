"""Zipped Shapefiles: inspect every member before extracting anything (no '..', absolute paths, symlinks,
encryption, duplicate names, bombs), then stream out only the Shapefile parts with fixed names."""
from __future__ import annotations

import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from layers.readers.limits import ReadLimits
from machihub.errors import Invalid

PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
REQUIRED = (".shp", ".shx", ".dbf")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ExtractedShapefile:
    shp: Path
    prj: Path | None
    cpg: Path | None
    member: str          # the .shp's name inside the archive


def _check_member(info: zipfile.ZipInfo, name: str, limits: ReadLimits) -> None:
    n = info.filename
    parts = n.replace("\\", "/").split("/")
    if "\x00" in n or n.startswith(("/", "\\")) or _DRIVE_RE.match(n):
        raise Invalid(f"{name}: archive member {n!r} has an absolute path")
    if ".." in parts:
        raise Invalid(f"{name}: archive member {n!r} points outside the archive ('..')")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise Invalid(f"{name}: archive member {n!r} is a symbolic link")
    if info.flag_bits & 0x1:
        raise Invalid(f"{name}: archive member {n!r} is encrypted")
    if info.file_size > 1024 * 1024 and info.file_size > limits.max_zip_ratio * max(1, info.compress_size):
        raise Invalid(f"{name}: archive member {n!r} expands {info.file_size // max(1, info.compress_size)}×: "
                      "refused as a possible zip bomb")


def inspect(zf: zipfile.ZipFile, name: str, limits: ReadLimits) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > limits.max_zip_members:
        raise Invalid(f"{name}: the archive holds {len(infos)} files; at most {limits.max_zip_members} are allowed")
    seen: set[str] = set()
    declared = 0
    for info in infos:
        _check_member(info, name, limits)
        key = info.filename.lower()
        if key in seen:
            raise Invalid(f"{name}: archive member {info.filename!r} appears twice")
        seen.add(key)
        declared += info.file_size
    if declared > limits.max_unzipped_bytes:
        raise Invalid(f"{name}: the archive expands to {declared // (1024 * 1024)} MB; at most "
                      f"{limits.max_unzipped_bytes // (1024 * 1024)} MB are allowed")
    return [i for i in infos if not i.is_dir() and not _is_junk(i.filename)]


def _is_junk(member: str) -> bool:
    p = PurePosixPath(member.replace("\\", "/"))
    return p.parts[0] == "__MACOSX" or p.name.startswith(".")


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, name: str, budget: int) -> int:
    """Copy one member, refusing more bytes than it declared or than the remaining budget."""
    cap = min(info.file_size, budget)
    written = 0
    with zf.open(info) as src, open(dest, "wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > cap:
                raise Invalid(f"{name}: archive member {info.filename!r} is larger than it declares "
                              "or than allowed")
            out.write(chunk)
    return written


def extract_shapefile(zip_path: Path, dest: Path, *, name: str, limits: ReadLimits,
                      layer: str | None = None, with_prj: bool = True) -> ExtractedShapefile:
    """Extract the chosen Shapefile's parts as dest/upload.*; with_prj=False leaves the .prj out (the user
    chose the CRS, so a broken or wrong .prj must not stop GDAL)."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            members = inspect(zf, name, limits)
            by_stem: dict[str, dict[str, zipfile.ZipInfo]] = {}
            for info in members:
                p = PurePosixPath(info.filename.replace("\\", "/"))
                by_stem.setdefault(str(p.with_suffix("")).lower(), {})[p.suffix.lower()] = info
            shps = {stem: parts for stem, parts in by_stem.items() if ".shp" in parts}
            if not shps:
                raise Invalid(f"{name}: the archive holds no .shp file")
            if layer is not None:
                chosen = [s for s in shps if PurePosixPath(s).name == layer.lower()]
                if not chosen:
                    raise Invalid(f"{name}: no Shapefile named {layer!r} in the archive")
            elif len(shps) > 1:
                listed = ", ".join(sorted(PurePosixPath(s).name for s in shps)[:20])
                raise Invalid(f"{name}: the archive holds {len(shps)} Shapefiles ({listed}): choose one")
            else:
                chosen = list(shps)
            parts = shps[chosen[0]]
            missing = [ext for ext in REQUIRED if ext not in parts]
            if missing:
                raise Invalid(f"{name}: the Shapefile {parts['.shp'].filename!r} lacks {', '.join(missing)}")
            budget = limits.max_unzipped_bytes
            out: dict[str, Path] = {}
            for ext in PARTS:
                if ext in parts and (with_prj or ext != ".prj"):
                    out[ext] = dest / f"upload{ext}"
                    budget -= _stream(zf, parts[ext], out[ext], name, budget)
            return ExtractedShapefile(out[".shp"], out.get(".prj"), out.get(".cpg"), parts[".shp"].filename)
    except zipfile.BadZipFile as exc:
        raise Invalid(f"{name}: is not a valid zip archive ({exc})") from None
    except (zipfile.LargeZipFile, zlib.error, NotImplementedError, EOFError, OSError, ValueError,
            RuntimeError) as exc:
        raise Invalid(f"{name}: cannot read the zip archive ({type(exc).__name__}: {exc})") from None
