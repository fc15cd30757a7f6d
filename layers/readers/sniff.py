"""Decide what an upload is from its name AND its first bytes; both must agree on a format we support.

GDAL would happily open a '.geojson' that is really a VRT (reading other local files), a GDALG pipeline or
any of its ~80 formats, so we never let it guess: the format chosen here decides the single driver the
child process may use."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from machihub.errors import Invalid

EXTENSIONS = {
    ".geojson": "geojson", ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shapefile",
    ".kml": "kml",
    ".gml": "gml", ".xml": "gml",
    ".csv": "csv", ".txt": "csv", ".tsv": "csv",
}
SUPPORTED = "GeoJSON, GeoPackage, zipped Shapefile, KML, GML or CSV"
_HEAD = 64 * 1024
_PROLOG_MAX = 1024 * 1024          # root element must start within this many bytes
_NAME_RE = re.compile(rb"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_GML_NS = re.compile(rb"""=\s*["']http://www\.opengis\.net/gml(?:/3\.2)?["']""")


@dataclass(frozen=True)
class Sniffed:
    format: str                     # geojson | gpkg | shapefile | kml | gml | csv
    root: tuple[int, int] | None = None   # XML: byte span of the root start tag


def _xml_root(path: Path, name: str) -> tuple[str, bytes, int, int]:
    """(local name, start tag bytes, start, end) of the root element; refuses DOCTYPE and entities."""
    with open(path, "rb") as fh:
        head = fh.read(_PROLOG_MAX)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Invalid(f"{name}: UTF-16 XML is not supported; save it as UTF-8")
    i = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    while True:
        while i < len(head) and head[i:i + 1].isspace():
            i += 1
        if head.startswith(b"<?", i):
            end = head.find(b"?>", i)
        elif head.startswith(b"<!--", i):
            end = head.find(b"-->", i)
        elif head.startswith(b"<!", i):
            raise Invalid(f"{name}: XML with a DOCTYPE or entity declarations is not accepted "
                          "(it can read other files); remove the <!DOCTYPE …> part")
        elif head.startswith(b"<", i):
            break
        else:
            raise Invalid(f"{name}: is not XML: expected '<' at byte {i}")
        if end < 0:
            raise Invalid(f"{name}: the XML prolog is not closed within the first {_PROLOG_MAX // 1024} KB")
        i = end + 2
    m = _NAME_RE.match(head, i)
    if not m:
        raise Invalid(f"{name}: is not well-formed XML (no root element name)")
    # Find the end of the start tag, skipping '>' inside quoted attribute values.
    j, quote = m.end(), None
    while j < len(head):
        c = head[j:j + 1]
        if quote:
            if c == quote:
                quote = None
        elif c in (b'"', b"'"):
            quote = c
        elif c == b">":
            break
        j += 1
    if j >= len(head):
        raise Invalid(f"{name}: the XML root element is not closed within the first {_PROLOG_MAX // 1024} KB")
    if b"<!ENTITY" in head:
        raise Invalid(f"{name}: XML entity declarations are not accepted")
    return m.group(2).decode("ascii"), head[i:j + 1], i, j + 1


def _content_kind(path: Path, name: str) -> tuple[str, tuple[int, int] | None]:
    with open(path, "rb") as fh:
        head = fh.read(_HEAD)
    if not head:
        raise Invalid(f"{name}: the file is empty")
    if head.startswith(b"SQLite format 3\x00"):
        app_id = head[68:72]
        return ("gpkg" if app_id in (b"GPKG", b"GP10", b"GP11") else "sqlite"), None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip", None
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        return "json", None
    if stripped.startswith(b"["):
        return "json-array", None
    if stripped.startswith(b"<"):
        root, tag, start, end = _xml_root(path, name)
        if root == "kml":
            return "kml", (start, end)
        if root == "OGRVRTDataSource":
            return "vrt", None
        if _GML_NS.search(tag):
            return "gml", (start, end)
        return f"XML <{root}>", None
    if b"\x00" in head:
        return "binary", None
    return "text", None


_CONTENT_FOR = {
    "geojson": ("json",), "gpkg": ("gpkg",), "shapefile": ("zip",), "kml": ("kml",), "gml": ("gml", "kml"),
    "csv": ("text",),
}
_DESCRIBE = {
    "json": "JSON", "json-array": "a JSON array (not GeoJSON)", "gpkg": "a GeoPackage",
    "sqlite": "an SQLite database that is not a GeoPackage", "zip": "a zip archive", "kml": "KML",
    "gml": "GML", "vrt": "a GDAL VRT (virtual dataset), which is never accepted", "binary": "binary data",
    "text": "plain text",
}


def sniff(path: Path, original_name: str) -> Sniffed:
    """The format of an upload; Invalid when the name and content disagree or the format is not supported."""
    ext = Path(original_name).suffix.lower()
    if ext in (".shp", ".dbf", ".shx"):
        raise Invalid(f"{original_name}: upload a Shapefile as one .zip holding its .shp, .shx, .dbf and .prj")
    expected = EXTENSIONS.get(ext)
    if expected is None:
        raise Invalid(f"{original_name}: unsupported file type {ext or '(no extension)'!r}; use {SUPPORTED}")
    kind, root = _content_kind(path, original_name)
    if kind not in _CONTENT_FOR[expected]:
        what = _DESCRIBE.get(kind, kind)
        raise Invalid(f"{original_name}: the content is {what}, not what a {ext} file should hold")
    fmt = "kml" if kind == "kml" else expected
    return Sniffed(fmt, root)


def copy_without_schema_location(src: Path, dst: Path, root: tuple[int, int]) -> None:
    """Copy an XML file, dropping xsi:schemaLocation from its root tag: GDAL must not load any schema the file
    points at (local paths or URLs); it infers the fields from the data instead."""
    start, end = root
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        head = fin.read(end)
        tag = re.sub(rb"""\s[\w.\-]*:?(?:noNamespaceS|s)chemaLocation\s*=\s*("[^"]*"|'[^']*')""", b"",
                     head[start:end])
        fout.write(head[:start] + tag)
        while chunk := fin.read(1024 * 1024):
            fout.write(chunk)
