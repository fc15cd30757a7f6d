"""Subscriptions and the alert dispatcher: 安心安全メール over e-mail, Web Push and webhooks.

The composition root calls `build_alerts(hub)`; `create_alert_schema(tx)` creates the tables on either store.
Imports are deferred so that machihub.settings can import alerts.config (the setting declarations) without
pulling in the whole package."""
from __future__ import annotations

from typing import Any


def create_alert_schema(tx: Any) -> None:
    from alerts.schema import create_alert_schema as create

    create(tx)


def build_alerts(hub: Any, config: Any = None) -> Any:
    from alerts.service import build_alerts as build

    return build(hub, config)


__all__ = ["build_alerts", "create_alert_schema"]
