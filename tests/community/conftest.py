"""Fixtures for the community package: the alert dispatcher on the `hub` store (SQLite and PostGIS) with
mail to a real aiosmtpd server on loopback, the community tables, and residents (active subscribers)."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import Counter

import pytest

from community import build_community, create_community_schema
from machihub.principal import SYSTEM
from tests.alerts.conftest import dispatcher, smtp  # noqa: F401 - the real SMTP server fixture


@pytest.fixture
def cm(hub, towns, smtp):  # noqa: F811
    dispatcher(hub, towns, smtp)
    with hub.db.transaction() as tx:
        create_community_schema(tx)
    hub.community = build_community(hub)
    hub.community.towns = towns
    return hub.community


def residents(cm, rows: list[dict]) -> dict[str, int]:
    """Import active subscribers (Komae) → {email: subscriber id}."""
    al = cm.alerts
    al.admin.import_subscribers(SYSTEM, "13219", rows)
    with al.db.transaction() as tx:
        return {r["email"]: tx.scalar("SELECT subscriber_id FROM al_contacts WHERE kind = 'email' AND address_hash = ?",
                                      (al.links.address_hash("email", r["email"].lower()),)) for r in rows}


def resident(cm, email: str, topics=("community",), areas=None) -> int:
    return residents(cm, [{"email": email, "topics": list(topics), "areas": areas or [{"kind": "town"}]}])[email]


def token_of(cm, sid: int) -> str:
    with cm.alerts.db.transaction() as tx:
        nonce = tx.scalar("SELECT link_nonce FROM al_subscribers WHERE id = ?", (sid,))
    return cm.alerts.links.make("p", sid, nonce)


def work(cm) -> Counter:
    return asyncio.run(cm.alerts.run_worker("test", until_idle=True))


def signed(secret: str, key_id: str, payload: dict | str) -> tuple[bytes, dict[str, str]]:
    body = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Machihub-Key": key_id, "X-Machihub-Signature": sig}


def public_app(hub):
    """The real public app with the community routes mounted (as public_app.py will)."""
    from portal.community_routes import add_public_community_routes
    from portal.public_app import make_public_app

    app = make_public_app(hub)
    add_public_community_routes(app)
    return app
