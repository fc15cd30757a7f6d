"""Signed links for subscribers (confirm, preferences, one-click unsubscribe) and VERP return paths.

A link is '<subscriber id>.<purpose>.<mac>'; the MAC covers the purpose, the id and the subscriber's link
nonce, so rotating the nonce voids every link sent before, and a link for one purpose opens nothing else.
Nothing is stored per link; checks are constant-time."""
from __future__ import annotations

import base64
import hashlib
import hmac

from machihub.sealing import signing_key

PURPOSES = ("c", "p", "u")  # confirm, preferences, unsubscribe


class Links:
    def __init__(self, secret_key: str) -> None:
        self._key = signing_key(secret_key, "alert-links")
        self._verp_key = signing_key(secret_key, "alert-verp")
        self._hash_key = signing_key(secret_key, "alert-contact-hash")

    def _mac(self, key: bytes, text: str, size: int = 16) -> str:
        digest = hmac.new(key, text.encode(), hashlib.sha256).digest()[:size]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def make(self, purpose: str, subscriber_id: int, nonce: str) -> str:
        assert purpose in PURPOSES
        return f"{subscriber_id}.{purpose}.{self._mac(self._key, f'{purpose}|{subscriber_id}|{nonce}')}"

    @staticmethod
    def subscriber_id(token: str) -> int | None:
        head = token.split(".", 1)[0]
        return int(head) if head.isdigit() and len(head) < 19 else None

    def check(self, token: str, purpose: str, nonce: str) -> bool:
        sid = self.subscriber_id(token)
        return sid is not None and hmac.compare_digest(token, self.make(purpose, sid, nonce))

    def address_hash(self, kind: str, address: str) -> str:
        """Keyed hash of a normalised contact: lookups and the suppression list without the plain address."""
        return self._mac(self._hash_key, f"{kind}|{address}", 24)

    # VERP: bounce+<outbox id>-<mac>@domain. The MAC stops forged bounces from suppressing anybody.
    def verp(self, outbox_id: int, domain: str) -> str:
        return f"bounce+{outbox_id}-{self._mac(self._verp_key, str(outbox_id), 6)}@{domain}"

    def parse_verp(self, address: str) -> int | None:
        local = address.rpartition("@")[0].lower()
        if not local.startswith("bounce+"):
            return None
        ident, _, mac = local[len("bounce+"):].partition("-")
        if not ident.isdigit():
            return None
        expected = self._mac(self._verp_key, ident, 6).lower()
        return int(ident) if hmac.compare_digest(mac, expected) else None
