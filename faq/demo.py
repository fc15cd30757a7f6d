"""The demo FAQ (faq/demo_faq.json, written for this project): a prefecture pool shared by the towns of 香川県,
高松市's own entries (one overriding a shared entry) and 狛江市's, loaded through the staff import path."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from faq.store_io import import_entries
from machihub.principal import SYSTEM

DEMO = Path(__file__).resolve().parent / "demo_faq.json"


def load_demo_faq(hub: Any, *, warm: bool = True) -> Iterator[str]:
    """Import every set (pool first: local entries refer to shared ones); idempotent. With ``warm`` the entry
    vectors are embedded now (~20 s cold, then cached in data_dir) rather than on the first search."""
    doc = json.loads(DEMO.read_text(encoding="utf-8"))
    for part in doc["sets"]:
        data = json.dumps({"entries": part["entries"]}, ensure_ascii=False).encode("utf-8")
        result = import_entries(hub.faq, SYSTEM, part["owner"], data, DEMO.name)
        yield (f"FAQ {part['owner']}: {result.created} new, {result.updated} updated, "
               f"{result.unchanged} unchanged ({doc['credit'].split(':')[0]})")
    if warm:
        hub.faq.warm()
        yield "FAQ search vectors ready"
