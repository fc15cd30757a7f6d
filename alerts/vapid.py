"""VAPID (RFC 8292) keys for Web Push: one P-256 key pair per hub, generated into data_dir on first use
(mode 0600) unless alerts_vapid_key names one. The public key is what browsers get as applicationServerKey."""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02, b64urlencode


class VapidKeys:
    def __init__(self, path: Path, sub: str) -> None:
        self.path, self.sub = Path(path), sub
        self._vapid: Vapid02 | None = None
        self._headers: dict[str, tuple[float, dict[str, str]]] = {}

    @property
    def vapid(self) -> Vapid02:
        if self._vapid is None:
            if not self.path.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fresh = Vapid02()
                fresh.generate_keys()
                fresh.save_key(str(self.path))
                self.path.chmod(0o600)
            self._vapid = Vapid02.from_file(str(self.path))
        return self._vapid

    @property
    def public_key(self) -> str:
        raw = self.vapid.public_key.public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        return b64urlencode(raw)

    def headers(self, endpoint: str) -> dict[str, str]:
        """Authorization header for one push service (audience = its origin), reused for an hour."""
        parts = urlsplit(endpoint)
        aud = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._headers.get(aud)
        if cached and cached[0] > now + 3600:
            return cached[1]
        exp = int(now) + 12 * 3600
        headers = self.vapid.sign({"aud": aud, "sub": self.sub, "exp": exp})
        self._headers[aud] = (exp, headers)
        return headers
