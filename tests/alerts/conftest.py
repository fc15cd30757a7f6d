"""Fixtures for the alert dispatcher: the alert tables on the `hub` store (SQLite and PostGIS), staff with
the alert roles, and a real aiosmtpd server on loopback that keeps what it receives."""
from __future__ import annotations

import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from alerts import build_alerts, create_alert_schema
from alerts.config import AlertConfig
from alerts.model import Alert, AlertArea, AlertText
from machihub.principal import SYSTEM
from tests.conftest import seed_towns


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SmtpServer:
    port: int
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)   # address → reply to RCPT
    per_session: Counter = field(default_factory=Counter)  # recipients per SMTP session
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            self.per_session[id(session)] += len(envelope.rcpt_tos)
        return "250 OK queued"

    def start(self) -> SmtpServer:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, data_size_limit=1 << 20)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


@pytest.fixture
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def alert_config(hub, smtp_port: int, **changes) -> AlertConfig:
    base = AlertConfig.from_settings(hub.settings).replace(
        smtp_port=smtp_port, mail_from="anshin@city.example.lg.jp", public_url="https://portal.example.jp",
        inbound_port=0, retry_base_s=30, lease_s=60, domain_rates={}, smtp_pool=4)
    return base.replace(**changes)


def dispatcher(hub, towns, smtp):
    """The dispatcher on a test hub, its staff, and mail going to the `smtp` server."""
    with hub.db.transaction() as tx:
        create_alert_schema(tx)
    alerts = build_alerts(hub, alert_config(hub, smtp.port))
    hub.alerts = alerts
    pw = towns["password"]
    towns["composer"] = hub.users.add(SYSTEM, "13219", "komae_composer", pw, roles=["alert_composer"]).principal()
    towns["approver"] = hub.users.add(SYSTEM, "13219", "komae_approver", pw, roles=["alert_approver"]).principal()
    towns["both"] = hub.users.add(SYSTEM, "13219", "komae_both", pw,
                                  roles=["alert_composer", "alert_approver"]).principal()
    towns["komae_admin"] = hub.users.add(SYSTEM, "13219", "komae_admin", pw, roles=["admin"]).principal()
    alerts.towns, alerts.hub = towns, hub
    return alerts


@pytest.fixture
def al(hub, towns, smtp):
    """On both stores (the `hub` fixture is parametrised over SQLite and PostGIS)."""
    return dispatcher(hub, towns, smtp)


@pytest.fixture
def al_sqlite(sqlite_hub, smtp):
    """SQLite only, for tests whose subject is not the store (pages in a browser)."""
    return dispatcher(sqlite_hub, seed_towns(sqlite_hub), smtp)


def chome_alert(name: str = "和泉本町一丁目", *, topic: str = "crime", severity: str = "Moderate",
                status: str = "Actual", tenant: str = "13219", headline: str = "不審者情報") -> Alert:
    return Alert(tenant_code=tenant, topic=topic, event="不審者", severity=severity, status=status,
                 texts={"ja": AlertText(headline=headline, description=f"{name}付近で不審な声かけがありました。",
                                        instruction="お子さんは複数で下校してください。"),
                        "en": AlertText(headline="Suspicious person", description="Reported near " + name)},
                 areas=[AlertArea(desc=name, geocodes=[("machihub-area", f"chome:{name}")])])


def send(alerts, alert: Alert) -> int:
    """Compose, submit and approve (two people) → alert id."""
    t = alerts.towns
    alert_id = alerts.lifecycle.create(t["composer"], alert)
    alerts.lifecycle.submit(t["composer"], alert_id)
    alerts.lifecycle.approve(t["approver"], alert_id)
    return alert_id
