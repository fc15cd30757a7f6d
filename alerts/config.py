"""Settings of the alert dispatcher, declared once as (name, type, default, help) for machihub.settings to
splice into DECLARED (`*(Setting(*s) for s in ALERT_SETTINGS)`: plain tuples, so that module can import this
one without an import cycle), and the typed view the alert code reads (`AlertConfig`).

`AlertConfig.from_settings` falls back to each default for settings not (yet) declared, so the package works
either way; tests build an `AlertConfig` and `replace()` what they need."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from machihub.settings import Settings

CARRIER_DOMAINS = ("docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp",
                   "disney.ne.jp", "ymobile.ne.jp", "y-mobile.ne.jp", "emnet.ne.jp", "willcom.com",
                   "pdx.ne.jp", "uqmobile.jp")

ALERT_SETTINGS: tuple[tuple[str, type, Any, str], ...] = (
    ("alerts_smtp_pool", int, 16, "SMTP connections per worker process to the relay (smtp_host:smtp_port)"),
    ("alerts_smtp_session_rcpts", int, 100, "Recipients per SMTP session before reconnecting (at most 100)"),
    ("alerts_domain_rates", str, ",".join(f"{d}=50" for d in CARRIER_DOMAINS[:5]),
            "Per recipient-domain send rate limits, messages/second per worker: 'docomo.ne.jp=50,…'; '*=N' for all"),
    ("alerts_carrier_domains", str, ",".join(CARRIER_DOMAINS),
            "Mobile-carrier mail domains that get ISO-2022-JP mail (subdomains included)"),
    ("alerts_dkim_key", str, "", "PEM private key for DKIM signing of alert mail; empty = no DKIM"),
    ("alerts_dkim_selector", str, "machihub", "DKIM selector (DNS: <selector>._domainkey.<domain>)"),
    ("alerts_dkim_domain", str, "", "DKIM signing domain (default: the domain of mail_from)"),
    ("alerts_bounce_domain", str, "", "Domain of VERP return paths bounce+…@ (default: the domain of mail_from); "
            "its MX must reach the inbound SMTP server"),
    ("alerts_signup_address", str, "entry@example.lg.jp",
            "空メール sign-up address: an empty mail to it (or to entry-<団体コード>@…) is answered with a link"),
    ("alerts_inbound_host", str, "127.0.0.1", "Address of the inbound SMTP server (bounces, 空メール)"),
    ("alerts_inbound_port", int, 2525, "Port of the inbound SMTP server; 0 = do not run it"),
    ("alerts_vapid_key", str, "", "VAPID private key (PEM) for Web Push; generated into data_dir when empty"),
    ("alerts_vapid_contact", str, "", "VAPID 'sub' contact (default: mailto:<mail_from>)"),
    ("alerts_webhook_timeout_s", int, 10, "Timeout of one webhook POST (seconds)"),
    ("alerts_worker_batch", int, 200, "Outbox rows one worker claims at a time"),
    ("alerts_lease_s", int, 120, "Seconds a claimed outbox row stays with its worker before others may take it"),
    ("alerts_max_attempts", int, 8, "Attempts before a temporary failure becomes final"),
    ("alerts_retry_base_s", int, 30, "First retry delay; doubles per attempt, capped at one hour"),
    ("alerts_serial_handoff", bool, True,
            "Hand messages over one at a time per worker so a crash repeats at most one (off: faster with a slow relay)"),
    ("alerts_signups_per_address_day", int, 3, "Confirmation mails one address can be sent per day"),
    ("alerts_signups_per_client_hour", int, 10, "Sign-ups one client address can make per hour"),
    ("alerts_pending_signup_hours", int, 48, "Unconfirmed sign-ups are deleted after this many hours"),
)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _rates(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if "=" in part:
            name, _, value = part.partition("=")
            out[name.strip().lower()] = float(value)
    return out


@dataclass(frozen=True)
class AlertConfig:
    """What the alert code needs from the settings, with defaults resolved."""
    public_url: str = "http://127.0.0.1:8080"
    data_dir: str = "var"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "anshin@example.lg.jp"
    smtp_pool: int = 16
    smtp_session_rcpts: int = 100
    domain_rates: dict[str, float] = dataclasses.field(default_factory=dict)
    carrier_domains: tuple[str, ...] = CARRIER_DOMAINS
    dkim_key: str = ""
    dkim_selector: str = "machihub"
    dkim_domain: str = ""
    bounce_domain: str = ""
    signup_address: str = "entry@example.lg.jp"
    inbound_host: str = "127.0.0.1"
    inbound_port: int = 2525
    vapid_key: str = ""
    vapid_contact: str = ""
    webhook_timeout_s: int = 10
    worker_batch: int = 200
    lease_s: int = 120
    max_attempts: int = 8
    retry_base_s: int = 30
    serial_handoff: bool = True
    signups_per_address_day: int = 3
    signups_per_client_hour: int = 10
    pending_signup_hours: int = 48

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertConfig:
        values: dict[str, Any] = {name: default for name, _, default, _ in ALERT_SETTINGS}
        values.update({k: v for k, v in settings.values.items() if k in values})
        v = {k.removeprefix("alerts_"): val for k, val in values.items()}
        v["domain_rates"] = _rates(v["domain_rates"])
        v["carrier_domains"] = tuple(d.strip().lower() for d in v["carrier_domains"].split(",") if d.strip())
        v["smtp_session_rcpts"] = max(1, min(100, v["smtp_session_rcpts"]))
        return cls(public_url=settings.public_base_url, data_dir=settings.data_dir, smtp_host=settings.smtp_host,
                   smtp_port=settings.smtp_port, mail_from=settings.mail_from, **v)

    def replace(self, **changes: Any) -> AlertConfig:
        return dataclasses.replace(self, **changes)

    @property
    def mail_domain(self) -> str:
        return _domain(self.mail_from)

    @property
    def verp_domain(self) -> str:
        return self.bounce_domain or self.mail_domain

    @property
    def dkim_signing_domain(self) -> str:
        return self.dkim_domain or self.mail_domain

    @property
    def vapid_key_path(self) -> Path:
        return Path(self.vapid_key) if self.vapid_key else Path(self.data_dir) / "vapid_private.pem"

    @property
    def vapid_sub(self) -> str:
        return self.vapid_contact or f"mailto:{self.mail_from}"

    def is_carrier(self, address: str) -> bool:
        domain = _domain(address)
        return any(domain == d or domain.endswith("." + d) for d in self.carrier_domains)

    def rate_for(self, domain: str) -> float | None:
        """Messages/second allowed to one recipient domain (None: unlimited)."""
        domain = domain.lower()
        for d, rate in self.domain_rates.items():
            if d != "*" and (domain == d or domain.endswith("." + d)):
                return rate
        return self.domain_rates.get("*")
