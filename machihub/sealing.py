"""Encryption at rest for secrets we must be able to read back (API-key HMAC secrets, subscriber contacts).

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from the hub's secret_key; a separate context string
per use so one derived key never serves two purposes."""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from machihub.errors import Invalid


class Sealer:
    def __init__(self, secret_key: str, context: str) -> None:
        if len(secret_key) < 16:
            raise Invalid("secret_key must be at least 16 characters")
        raw = hmac.new(secret_key.encode(), f"machihub-seal:{context}".encode(), hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(raw))

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise Invalid("sealed value cannot be opened with this hub's secret_key") from None


def signing_key(secret_key: str, context: str) -> bytes:
    return hmac.new(secret_key.encode(), f"machihub-sign:{context}".encode(), hashlib.sha256).digest()
