"""DKIM signing with dkimpy (relaxed/relaxed, rsa-sha256) when a key is configured. The signature covers
From, To, Subject, Date, Message-ID, the MIME headers and List-Unsubscribe(-Post) (RFC 8058 asks for the
latter to be signed so nobody can swap the unsubscribe target)."""
from __future__ import annotations

from pathlib import Path

import dkim

from machihub.errors import Invalid

SIGNED = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type",
          b"content-transfer-encoding", b"list-unsubscribe", b"list-unsubscribe-post", b"list-id"]


class DkimSigner:
    def __init__(self, key_path: str, selector: str, domain: str) -> None:
        try:
            self.key = Path(key_path).read_bytes()
        except OSError as exc:
            raise Invalid(f"DKIM key {key_path}: cannot read it: {exc.strerror}") from None
        self.selector, self.domain = selector.encode(), domain.encode()

    def sign(self, message: bytes) -> bytes:
        present = {line.split(b":", 1)[0].strip().lower() for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
                   if b":" in line and not line[:1].isspace()}
        headers = [h for h in SIGNED if h in present]
        sig = dkim.sign(message, self.selector, self.domain, self.key, include_headers=headers,
                        canonicalize=(b"relaxed", b"relaxed"), linesep=b"\r\n")
        return sig + message
