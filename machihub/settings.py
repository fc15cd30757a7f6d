"""One settings object, read from machihub.toml and MACHIHUB_* environment variables.

Every setting is declared once here (name, type, default, help); `machihub --help`, the README table and a
test that fails on an undocumented setting all come from this declaration."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.config import ALERT_SETTINGS
from community.config import COMMUNITY_SETTINGS
from feeds.config import FEEDS_SETTINGS
from machihub.errors import Invalid


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str


DECLARED: tuple[Setting, ...] = (
    Setting("store", str, "sqlite:///var/hub.gpkg",
            "Store URL: sqlite:///path/hub.gpkg (embedded GeoPackage) or postgresql://user@host/db (PostGIS)"),
    Setting("data_dir", str, "var", "Folder for the embedded store, secrets, backups and drop folders"),
    Setting("host", str, "127.0.0.1", "Address the web apps listen on"),
    Setting("public_port", int, 8080, "Port of the public portal app (internet side)"),
    Setting("staff_port", int, 8081, "Port of the staff console app (LGWAN side); needs login"),
    Setting("public_url", str, "", "External URL of the public portal, used in mails and feeds (default: http://host:public_port)"),
    Setting("secret_key", str, "", "Key for signed links and sessions; generated into data_dir/secret.key when empty"),
    Setting("cookie_secure", bool, True, "Mark session cookies Secure (browsers accept them on http://localhost too)"),
    Setting("login_attempts_per_minute", int, 5, "Failed logins allowed per user and per client address per minute"),
    Setting("tile_url", str, "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png",
            "Base-map tile URL template; empty for no base map (LGWAN without tiles)"),
    Setting("tile_attribution", str,
            "<a href=\"https://maps.gsi.go.jp/development/ichiran.html\">地理院タイル</a>",
            "Attribution shown for the base map"),
    Setting("upload_max_mb", int, 200, "Largest upload accepted for layer imports (MB)"),
    Setting("import_timeout_s", int, 300, "Wall-time limit for reading one uploaded file"),
    Setting("smtp_host", str, "127.0.0.1", "Outgoing mail relay host"),
    Setting("smtp_port", int, 25, "Outgoing mail relay port"),
    Setting("mail_from", str, "anshin@example.lg.jp", "From address of outgoing mail"),
    *(Setting(*s) for s in ALERT_SETTINGS),
    *(Setting(*s) for s in FEEDS_SETTINGS),
    *(Setting(*s) for s in COMMUNITY_SETTINGS),
)

_BY_NAME = {s.name: s for s in DECLARED}


def _coerce(setting: Setting, raw: Any) -> Any:
    if isinstance(raw, setting.type) and not (setting.type is int and isinstance(raw, bool)):
        return raw
    text = str(raw).strip()
    try:
        if setting.type is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        return setting.type(text)
    except ValueError:
        raise Invalid(f"setting {setting.name}: {text!r} is not a valid {setting.type.__name__}") from None


@dataclass(frozen=True)
class Settings:
    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def public_base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.public_port}"

    def replace(self, **changes: Any) -> Settings:
        unknown = set(changes) - set(_BY_NAME)
        if unknown:
            raise Invalid(f"unknown settings: {', '.join(sorted(unknown))}")
        merged = dict(self.values)
        merged.update({k: _coerce(_BY_NAME[k], v) for k, v in changes.items()})
        return Settings(merged)


def load_settings(config_file: str | os.PathLike | None = None, env: dict[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Defaults < machihub.toml < MACHIHUB_* environment < explicit overrides."""
    env = os.environ if env is None else env
    values = {s.name: s.default for s in DECLARED}
    path = Path(config_file or env.get("MACHIHUB_CONFIG", "machihub.toml"))
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise Invalid(f"{path}: not valid TOML: {exc}") from None
        section = data.get("machihub", data)
        for key, raw in section.items():
            if key not in _BY_NAME:
                raise Invalid(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(_BY_NAME[key], raw)
    for s in DECLARED:
        raw = env.get(f"MACHIHUB_{s.name.upper()}")
        if raw is not None:
            values[s.name] = _coerce(s, raw)
    settings = Settings(values)
    return settings.replace(**overrides) if overrides else settings


def describe() -> str:
    """Settings help text for `machihub --help` and the README."""
    lines = ["settings (machihub.toml key / MACHIHUB_* environment variable):"]
    for s in DECLARED:
        lines.append(f"  {s.name} / MACHIHUB_{s.name.upper()} ({s.type.__name__}, default {s.default!r})")
        lines.append(f"      {s.help}")
    return "\n".join(lines)
