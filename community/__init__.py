"""Community safety and personal notices: suspicious-person reports, community groups, library holds and
watch-over notices, delivered through the alert dispatcher (alerts.personal for named recipients).

The composition root calls `build_community(hub)` after `build_alerts`; `create_community_schema(tx)` creates
the tables (after the alert tables, which they reference)."""
from __future__ import annotations

from typing import Any


def create_community_schema(tx: Any) -> None:
    from community.schema import create_community_schema as create

    create(tx)


def build_community(hub: Any, config: Any = None) -> Any:
    from community.service import build_community as build

    return build(hub, config)


__all__ = ["build_community", "create_community_schema"]
