"""The composition root: builds every store and service from the settings and hands them down.
Nothing else constructs stores or reads settings."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerts import build_alerts, create_alert_schema
from community import build_community, create_community_schema
from faq.store import FaqStore  # faq (issue 7)
from feeds.service import build_feeds
from layers import gpkg
from layers.postgis_tables import PostgisFeatureTables
from layers.reports.store import ReportStore
from layers.sqlite_tables import SqliteFeatureTables
from layers.store import LayerStore
from machihub.audit import AuditLog
from machihub.clock import Clock
from machihub.db import Database, SqliteDatabase, open_database
from machihub.schema import create_core_schema
from machihub.settings import Settings
from machihub.tenants import TenantStore
from machihub.users import UserStore

ADDRESS_DATA = Path(__file__).resolve().parent.parent / "gis" / "address_data"


@dataclass
class Hub:
    settings: Settings
    db: Database
    clock: Clock
    audit: AuditLog
    tenants: TenantStore
    users: UserStore
    layers: LayerStore
    reports: ReportStore
    faq: FaqStore  # faq (issue 7)

    def init_schema(self) -> None:
        with self.db.transaction() as tx:
            create_core_schema(tx)
            self.layers.create_schema(tx)
            self.reports.create_schema(tx)
            create_alert_schema(tx)
            create_community_schema(tx)
            self.faq.create_schema(tx)  # faq (issue 7)
        if isinstance(self.db, SqliteDatabase):
            self.db.checkpoint()  # GDAL reads the GeoPackage application_id from the file header itself

    community: Any = None  # community.service.Community (issue 6)
    feeds: Any = None   # feeds.service.Feeds (issue 5)
    alerts: Any = None   # alerts.service.Alerts, built after the hub it reads from
    _addresses: Any = None

    @property
    def addresses(self) -> Any:
        """Offline 町丁目 lookup over the shipped Geolonia data, knowing each tenant's name (built once)."""
        if self._addresses is None:
            from gis.address import AddressIndex

            names = {t.code: [t.prefecture + t.name, t.name] for t in self.tenants.list()}
            self._addresses = AddressIndex.from_dir(ADDRESS_DATA, names)
        return self._addresses

    def close(self) -> None:
        self.db.close()


def resolve_secret(settings: Settings) -> str:
    """Use the configured secret, or one generated once into data_dir (never a built-in default)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="ascii")
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()


def build_hub(settings: Settings, clock: Clock | None = None) -> Hub:
    clock = clock or Clock()
    db = open_database(settings.store)
    if isinstance(db, SqliteDatabase):
        db.add_connect_hook(gpkg.register_functions)
        tables = SqliteFeatureTables()
    else:
        tables = PostgisFeatureTables()
    secret = resolve_secret(settings)
    audit = AuditLog(db, clock)
    hub = Hub(settings=settings, db=db, clock=clock, audit=audit,
               tenants=TenantStore(db, audit, clock),
               users=UserStore(db, audit, clock, secret, settings.login_attempts_per_minute),
               layers=LayerStore(db, tables, audit, clock),
               reports=ReportStore(db, audit, clock, secret),
               faq=FaqStore(db, audit, clock, Path(settings.data_dir)))  # faq (issue 7)
    hub.alerts = build_alerts(hub)
    hub.community = build_community(hub)
    hub.feeds = build_feeds(hub)
    return hub
