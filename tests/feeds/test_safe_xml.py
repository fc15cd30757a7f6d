"""feeds.safe_xml: the one parser for untrusted XML, and the packaged, local-only schemas."""
from __future__ import annotations

import pytest
from lxml import etree

from feeds import safe_xml
from feeds.safe_xml import (
    CAP12_SCHEMA,
    DEFAULT_MAX_BYTES,
    JMA_SCHEMA,
    SCHEMA_DIR,
    load_schema,
    parse_untrusted,
)
from machihub.errors import Invalid
from tests.shared_data import DATA as SHARED_DATA

DATA = SHARED_DATA

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol4;</lolz>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<r>&xxe;</r>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd">
<r/>"""


def test_parses_plain_xml():
    root = parse_untrusted('<?xml version="1.0" encoding="UTF-8"?><r a="1">気象</r>'.encode())
    assert root.tag == "r" and root.text == "気象"


def test_reads_declared_encodings_and_bom():
    assert parse_untrusted('<?xml version="1.0" encoding="Shift_JIS"?><r>震度</r>'.encode("cp932")).text == "震度"
    assert parse_untrusted(b"\xef\xbb\xbf<r>x</r>").text == "x"


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD,
                                 EXTERNAL_ENTITY.decode().replace('"1.0"?>', '"1.0" encoding="UTF-16"?>')
                                 .encode("utf-16")],
                         ids=["billion-laughs", "external-entity", "external-dtd", "utf16-entity"])
def test_refuses_dtds_and_entities(doc):
    with pytest.raises(Invalid, match="DOCTYPE or ENTITY"):
        parse_untrusted(doc)


def test_post_parse_check_catches_what_the_byte_scan_misses(monkeypatch, tmp_path):
    # libxml2 reads a local external DTD even with load_dtd=False; our resolver must hand it nothing.
    dtd = tmp_path / "local.dtd"
    dtd.write_text("this is not a DTD")
    local_dtd = f'<!DOCTYPE r SYSTEM "{dtd}"><r/>'.encode()
    parameter_entity = f'<!DOCTYPE r [<!ENTITY % pe SYSTEM "{dtd}"> %pe;]><r/>'.encode()
    monkeypatch.setattr(safe_xml, "_DECLARATIONS", ())
    for doc in (BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, local_dtd, parameter_entity):
        with pytest.raises(Invalid, match="DOCTYPE or ENTITY"):
            parse_untrusted(doc)


def test_size_limit():
    big = b"<r>" + b"x" * DEFAULT_MAX_BYTES + b"</r>"
    with pytest.raises(Invalid, match="too large") as exc:
        parse_untrusted(big)
    assert exc.value.details == {"size": len(big), "limit": DEFAULT_MAX_BYTES}
    with pytest.raises(Invalid, match="too large"):
        parse_untrusted(b"<r>0123456789</r>", max_bytes=10)


def test_refuses_deep_nesting():
    with pytest.raises(Invalid, match="not well-formed"):
        parse_untrusted(b"<a>" * 5000 + b"</a>" * 5000)


def test_malformed_and_empty_are_clear():
    with pytest.raises(Invalid, match=r"JMA telegram is not well-formed XML \(line 2\)"):
        parse_untrusted(b"<r>\n<a></b></r>", what="JMA telegram")
    with pytest.raises(Invalid, match="empty"):
        parse_untrusted(b"  \n")
    with pytest.raises(Invalid, match="cannot be read|not well-formed"):
        parse_untrusted(b'<?xml version="1.0" encoding="x-no-such-charset"?><r/>')
    with pytest.raises(TypeError):
        parse_untrusted("<r/>")  # type: ignore[arg-type]


def test_xinclude_is_not_processed():
    root = parse_untrusted(b'<r xmlns:xi="http://www.w3.org/2001/XInclude">'
                           b'<xi:include href="/etc/passwd" parse="text"/></r>')
    assert "".join(root.itertext()) == ""


def test_schemas_are_cached_and_validate():
    assert load_schema(JMA_SCHEMA) is load_schema(JMA_SCHEMA)
    root = parse_untrusted((DATA / "jma" / "18_01_01_100806_VPOA50.xml").read_bytes())
    assert load_schema(JMA_SCHEMA).errors(root) == []
    cap = parse_untrusted((DATA / "cap" / "taiwan.cap").read_bytes())
    assert load_schema(CAP12_SCHEMA).errors(cap) == []
    cap.find("{*}status").text = "Bogus"
    with pytest.raises(Invalid, match="does not match cap/CAP-v1.2.xsd: line") as exc:
        load_schema(CAP12_SCHEMA).validate(cap, what="CAP alert")
    assert "Bogus" in exc.value.details["errors"][0]


def test_packaged_schemas_import_only_local_files():
    xsds = sorted(SCHEMA_DIR.rglob("*.xsd"))
    assert {p.name for p in xsds} >= {"jmx.xsd", "jmx_ib.xsd", "jmx_eb.xsd", "jmx_eb_nullable.xsd", "jmx_add.xsd",
                                      "jmx_mete.xsd", "jmx_seis.xsd", "jmx_volc.xsd", "CAP-v1.2.xsd"}
    xs = "{http://www.w3.org/2001/XMLSchema}"
    for path in xsds:
        tree = etree.parse(str(path))
        for ref in (*tree.iter(f"{xs}import"), *tree.iter(f"{xs}include")):
            location = ref.get("schemaLocation")
            assert location and "://" not in location, (path.name, location)
            assert (path.parent / location).is_file(), (path.name, location)


def test_schema_reaching_outside_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_xml, "SCHEMA_DIR", tmp_path)
    for name, location in (("net.xsd", "http://127.0.0.1:9/b.xsd"), ("up.xsd", "../outside.xsd")):
        (tmp_path / name).write_text(
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">'
            f'<xs:import namespace="urn:b" schemaLocation="{location}"/><xs:element name="r"/></xs:schema>')
        with pytest.raises(RuntimeError, match="outside the packaged schemas"):
            safe_xml.Schema(name)
    with pytest.raises(FileNotFoundError):
        safe_xml.Schema("../etc/passwd")
