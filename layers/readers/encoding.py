"""Which text encoding an upload uses: UTF-8 (with or without BOM) or CP932 (Shift_JIS as Windows writes it),
the two that Japanese municipal files come in. Detection is strict decoding, never a guess from statistics."""
from __future__ import annotations

import codecs
import re
import struct
from pathlib import Path

from machihub.errors import Invalid

_DBF_SAMPLE = 16 * 1024 * 1024


def canonical(encoding: str, *, what: str = "encoding") -> str:
    """'utf8', 'Shift_JIS', 'sjis', '932', 'ANSI 932' → 'UTF-8' / 'CP932' …; unknown names are Invalid."""
    text = (encoding or "").strip()
    m = re.fullmatch(r"(?:ANSI\s*|CP|WINDOWS-)?(\d{3,5})", text, re.IGNORECASE)
    if m:
        text = "utf-8" if m.group(1) == "65001" else f"cp{m.group(1)}"
    try:
        name = codecs.lookup(text).name
    except LookupError:
        raise Invalid(f"unknown {what} {encoding!r}; use UTF-8 or CP932 (Shift_JIS)") from None
    if name in ("shift_jis", "cp932", "ms932"):
        return "CP932"          # Windows' Shift_JIS: a superset, and what Excel and most GIS tools write
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8"}.get(name, name.upper())


def python_codec(label: str) -> str:
    return {"UTF-8": "utf-8-sig", "CP932": "cp932"}.get(label, label.lower())


def detect(data: bytes) -> str | None:
    """'UTF-8' or 'CP932' when `data` decodes strictly as one of them (UTF-8 first), else None."""
    for label, codec in (("UTF-8", "utf-8-sig"), ("CP932", "cp932")):
        try:
            data.decode(codec)
            return label
        except UnicodeDecodeError:
            continue
    return None


def decode_utf8_or_cp932(data: bytes, what: str = "the file") -> str:
    """Text of a CSV a Japanese system wrote: UTF-8 (BOM or not), else CP932; anything else is Invalid."""
    label = detect(data)
    if label is None:
        raise Invalid(f"{what} is neither UTF-8 nor Shift_JIS (CP932) text")
    return data.decode(python_codec(label))


def decode_text(data: bytes, encoding: str | None, name: str) -> tuple[str, str]:
    """(text, encoding label). A given encoding must decode; otherwise UTF-8 then CP932 are tried."""
    if encoding:
        label = canonical(encoding)
        try:
            return data.decode(python_codec(label)), label
        except UnicodeDecodeError as exc:
            raise Invalid(f"{name}: is not valid {label} text (byte {exc.start})") from None
    label = detect(data)
    if label is None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(f"{name}: is neither UTF-8 nor CP932 (Shift_JIS) text (byte {exc.start}); "
                          "save it as UTF-8") from None
    return data.decode(python_codec(label or "UTF-8")), label or "UTF-8"


def dbf_encoding(dbf: Path) -> str | None:
    """Encoding of a DBF's names and text values when they are not plain ASCII (no .cpg given)."""
    with open(dbf, "rb") as fh:
        header = fh.read(32)
        if len(header) < 32:
            return None
        header_len = struct.unpack("<H", header[8:10])[0]
        fh.seek(32)
        data = fh.read(max(0, header_len - 32)) + fh.read(_DBF_SAMPLE)
    if data.isascii():
        return None
    strict = detect(data)
    if strict:
        return strict
    # A value cut inside a multi-byte character (fixed-width fields) breaks strict decoding: pick the codec
    # with fewer errors.
    errors = {label: data.decode(codec, "replace").count("\ufffd")
              for label, codec in (("UTF-8", "utf-8"), ("CP932", "cp932"))}
    return min(errors, key=errors.__getitem__)


def cpg_encoding(cpg: Path) -> str:
    text = cpg.read_bytes()[:100].decode("ascii", "replace").strip()
    return canonical(text, what="encoding in the .cpg file")


def repair_dbf_names(dbf: Path, label: str) -> int:
    """Tools cut DBF field names at 10 bytes, often inside a multi-byte character; drop the broken tail
    (in our scratch copy) so the names decode. Returns how many names were fixed."""
    codec = python_codec(label)
    fixed = 0
    with open(dbf, "r+b") as fh:
        header = fh.read(32)
        if len(header) < 32:
            return 0
        header_len = struct.unpack("<H", header[8:10])[0]
        for offset in range(32, max(32, header_len - 1), 32):
            fh.seek(offset)
            desc = fh.read(32)
            if len(desc) < 32 or desc[0] == 0x0D:
                break
            name = desc[:11].split(b"\x00", 1)[0]
            for cut in range(0, min(4, len(name))):
                try:
                    (name[:len(name) - cut] if cut else name).decode(codec)
                except UnicodeDecodeError:
                    continue
                if cut:
                    fh.seek(offset)
                    fh.write(name[:len(name) - cut].ljust(11, b"\x00"))
                    fixed += 1
                break
    return fixed
