"""Settings of the feeds package, declared as plain (name, type, default, help) tuples for machihub.settings to
splice into DECLARED (`*(Setting(*s) for s in FEEDS_SETTINGS)`), and the typed view feeds code reads."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from machihub.settings import Settings

JMA_PULL_FEEDS = ("https://www.data.jma.go.jp/developer/xml/feed/extra.xml",
                  "https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml")

FEEDS_SETTINGS: tuple[tuple[str, type, Any, str], ...] = (
    ("feeds_jma_urls", str, ",".join(JMA_PULL_FEEDS),
     "JMA PULL Atom feeds polled for telegrams (comma-separated); empty = do not poll JMA"),
    ("feeds_cap_urls", str, "", "CAP 1.2 Atom/RSS index feeds polled for alerts, as '<団体コード>=<url>' (comma-separated)"),
    ("feeds_poll_s", int, 60, "Seconds between polls of each feed (JMA asks for no more than once a minute)"),
    ("feeds_drop_dir", str, "", "Folder a J-ALERT receiver or relay writes telegrams into (default: data_dir/feeds-drop)"),
    ("feeds_max_kb", int, 2048, "Largest telegram or CAP document accepted (KB)"),
    ("feeds_inland_tenants", str, "", "Tenants (団体コード, comma-separated) that get no tsunami alerts (no coast)"),
    ("feeds_user_agent", str, "machihub-feeds/1.0", "User-Agent sent when polling feeds"),
)


@dataclass(frozen=True)
class FeedsConfig:
    jma_urls: tuple[str, ...] = JMA_PULL_FEEDS
    cap_urls: tuple[tuple[str, str], ...] = ()
    poll_s: int = 60
    drop_dir: str = "var/feeds-drop"
    max_bytes: int = 2048 * 1024
    inland_tenants: frozenset[str] = frozenset()
    user_agent: str = "machihub-feeds/1.0"
    public_url: str = "http://127.0.0.1:8080"

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedsConfig:
        v: dict[str, Any] = {name: default for name, _, default, _ in FEEDS_SETTINGS}
        v.update({k: val for k, val in settings.values.items() if k in v})
        caps = []
        for part in (p.strip() for p in v["feeds_cap_urls"].split(",") if p.strip()):
            code, _, url = part.partition("=")
            caps.append((code.strip(), url.strip()))
        return cls(jma_urls=tuple(u.strip() for u in v["feeds_jma_urls"].split(",") if u.strip()),
                   cap_urls=tuple(caps), poll_s=max(1, v["feeds_poll_s"]),
                   drop_dir=v["feeds_drop_dir"] or f"{settings.data_dir}/feeds-drop",
                   max_bytes=v["feeds_max_kb"] * 1024,
                   inland_tenants=frozenset(c.strip() for c in v["feeds_inland_tenants"].split(",") if c.strip()),
                   user_agent=v["feeds_user_agent"], public_url=settings.public_base_url)

    def replace(self, **changes: Any) -> FeedsConfig:
        return dataclasses.replace(self, **changes)
