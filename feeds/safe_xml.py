"""The one way to parse untrusted XML (JMA telegrams, CAP alerts, anything a feed or a user hands us).

lxml/libxml2 will happily expand entities, fetch DTDs and schemas over the network and build huge trees, so
every untrusted document goes through `parse_untrusted`: size limit first, DTD/ENTITY declarations refused
outright (no legitimate telegram or alert carries one), a parser that resolves nothing and loads nothing.
Schemas are ours, shipped in `feeds/schemas/`, and may only import other files from that folder."""
from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

from lxml import etree

from machihub.errors import Invalid

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
JMA_SCHEMA = "jma/jmx.xsd"
CAP12_SCHEMA = "cap/CAP-v1.2.xsd"

# Byte patterns of a DTD in the encodings a feed can realistically use (ASCII-compatible, UTF-16 LE/BE).
# The post-parse docinfo check below catches anything these miss.
_DECLARATIONS = tuple(
    word.encode(enc) for word in ("<!DOCTYPE", "<!ENTITY") for enc in ("ascii", "utf-16-le", "utf-16-be")
)


class _NothingExternal(etree.Resolver):
    """Hand libxml2 an empty document for every external DTD or entity it asks for. Needed because libxml2
    (2.14, via lxml 6) still reads a local external DTD subset even with load_dtd=False."""

    def resolve(self, url, pubid, context):
        return self.resolve_string("", context)


def _parser(*, untrusted: bool = True) -> etree.XMLParser:
    # A fresh parser per call: lxml parsers must not be shared between threads.
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )
    if untrusted:
        parser.resolvers.add(_NothingExternal())
    return parser


def parse_untrusted(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "XML document") -> etree._Element:
    """Parse untrusted XML bytes and return the root element, or raise `Invalid` saying what is wrong."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_untrusted takes bytes; the XML declaration names the encoding")
    data = bytes(data)
    if len(data) > max_bytes:
        raise Invalid(f"{what} is too large: {len(data)} bytes (limit {max_bytes})",
                      details={"size": len(data), "limit": max_bytes})
    if not data.strip():
        raise Invalid(f"{what} is empty")
    upper = data.upper()
    if any(decl in upper for decl in _DECLARATIONS):
        raise Invalid(f"{what} contains a DOCTYPE or ENTITY declaration; these are not allowed")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise Invalid(f"{what} is not well-formed XML (line {exc.lineno}): {exc.msg}") from exc
    except (ValueError, LookupError) as exc:  # e.g. an unknown encoding name in the declaration
        raise Invalid(f"{what} cannot be read: {exc}") from exc
    if root is None:
        raise Invalid(f"{what} has no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise Invalid(f"{what} contains a DOCTYPE or ENTITY declaration; these are not allowed")
    if next(root.iter(etree.Entity), None) is not None:  # lxml picks entity nodes out in C
        raise Invalid(f"{what} contains entity references; these are not allowed")
    return root


class _LocalOnly(etree.Resolver):
    """Refuse any schema import/include that would leave the package's schema folder (no network, no
    stray local files). lxml swallows resolver exceptions, so refusals are also recorded here."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []

    def resolve(self, url, pubid, context):
        local = (url or "").removeprefix("file://")
        if "://" in local or not Path(local).resolve().is_relative_to(SCHEMA_DIR):
            self.refused.append(url)
            raise ValueError(f"refusing to load {url!r}")
        return None  # inside our folder: let libxml2 read the local file


class Schema:
    """A compiled XML Schema plus a lock: lxml keeps the last error log on the schema object itself."""

    def __init__(self, relative_path: str) -> None:
        path = (SCHEMA_DIR / relative_path).resolve()
        if not path.is_relative_to(SCHEMA_DIR) or not path.is_file():
            raise FileNotFoundError(f"no packaged schema {relative_path!r} in {SCHEMA_DIR}")
        parser = _parser(untrusted=False)  # our own files; imports go through the guard below
        guard = _LocalOnly()
        parser.resolvers.add(guard)
        self.name = relative_path
        try:
            self._schema = etree.XMLSchema(etree.parse(str(path), parser))
        except etree.XMLSchemaParseError as exc:
            if guard.refused:
                raise RuntimeError(f"schema {relative_path} refers to {guard.refused[0]!r}, outside the "
                                   "packaged schemas; refusing to load it") from exc
            raise
        self._lock = threading.Lock()

    def errors(self, root: etree._Element) -> list[str]:
        """Validation errors as 'line N: message' strings; empty when the document is valid."""
        with self._lock:
            if self._schema.validate(root):
                return []
            return [f"line {e.line}: {e.message}" for e in self._schema.error_log]

    def validate(self, root: etree._Element, *, what: str = "XML document", limit: int = 5) -> None:
        """Raise `Invalid` naming the first few schema errors."""
        errs = self.errors(root)
        if errs:
            more = f" (and {len(errs) - limit} more)" if len(errs) > limit else ""
            raise Invalid(f"{what} does not match {self.name}: " + "; ".join(errs[:limit]) + more,
                          details={"schema": self.name, "errors": errs[:50]})


@cache
def load_schema(relative_path: str) -> Schema:
    """The compiled schema `feeds/schemas/<relative_path>`, built once per process."""
    return Schema(relative_path)
