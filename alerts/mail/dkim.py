"""DKIM signing (RFC 6376, rsa-sha256, relaxed/relaxed) of the mails we build ourselves, when a key is configured.

The signature covers From, To, Subject, Date, Message-ID, the MIME headers and List-Unsubscribe(-Post)
(RFC 8058 wants those signed, so nobody can swap the unsubscribe target). Signing uses `cryptography`:
dkimpy signs with pure-Python RSA, ~8 ms a message (120 mails/s per worker); this costs ~1 ms. dkimpy is
what the tests verify the signatures with."""
from __future__ import annotations

import base64
import hashlib
import re
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from machihub.errors import Invalid

SIGNED = ("from", "to", "subject", "date", "message-id", "mime-version", "content-type",
          "content-transfer-encoding", "list-unsubscribe", "list-unsubscribe-post", "list-id")
_WSP = re.compile(rb"[ \t]+")
_TRAILING_WSP = re.compile(rb"[ \t]+\r\n")


def relaxed_body(body: bytes) -> bytes:
    body = _TRAILING_WSP.sub(b"\r\n", _WSP.sub(b" ", body))
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


def relaxed_header(name: bytes, value: bytes) -> bytes:
    value = _WSP.sub(b" ", value.replace(b"\r\n", b"")).strip(b" ")
    return name.strip().lower() + b":" + value


def _headers(head: bytes) -> list[tuple[bytes, bytes]]:
    """Header fields in order, continuation lines kept in the value."""
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append((name, value))
    return fields


class DkimSigner:
    def __init__(self, key_path: str, selector: str, domain: str) -> None:
        try:
            key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise Invalid(f"DKIM key {key_path}: cannot use it: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise Invalid(f"DKIM key {key_path}: an RSA private key is needed (rsa-sha256)")
        self.key, self.selector, self.domain = key, selector, domain

    def sign(self, message: bytes) -> bytes:
        head, _, body = message.partition(b"\r\n\r\n")
        by_name = {name.strip().lower().decode(): (name, value) for name, value in _headers(head)}
        names = [n for n in SIGNED if n in by_name]
        bh = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        tags = (f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain}; s={self.selector}; t={int(time.time())};"
                f" h={':'.join(names)}; bh={bh}; b=")
        signed = b"".join(relaxed_header(*by_name[n]) + b"\r\n" for n in names)
        signed += relaxed_header(b"DKIM-Signature", b" " + tags.encode())
        sig = base64.b64encode(self.key.sign(signed, padding.PKCS1v15(), hashes.SHA256())).decode()
        folded = "\r\n\t".join(sig[i:i + 72] for i in range(0, len(sig), 72))  # whitespace in b= is ignored
        return f"DKIM-Signature: {tags}{folded}\r\n".encode() + message
