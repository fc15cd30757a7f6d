"""Plain-text mail rendered fast: per alert, language and charset the headers and body are built once
(`MailTemplate`); per recipient only To, Message-ID and the personal links are filled in and the body is
encoded (~20 µs, where an EmailMessage per recipient costs ~1 ms). UTF-8 bodies are base64; carrier mail is
ISO-2022-JP, 7bit, mapped first (see jis.py)."""
from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime

from alerts.mail.address import header_address
from alerts.mail.jis import encode_jis, to_jis_text

JST = timezone(timedelta(hours=9))
PREFS = "\x00PREFS\x00"   # placeholders for the per-recipient links in a body template
UNSUB = "\x00UNSUB\x00"


def _header(value: str, charset: str) -> bytes:
    if value.isascii():
        return value.encode("ascii")
    if charset == "iso-2022-jp":
        value = to_jis_text(value)[0]
    encoded = Header(value, charset, maxlinelen=76).encode(linesep="\r\n").encode("ascii")
    # upper case, as Japanese mailers write it (some old phone decoders expect exactly this)
    return encoded.replace(b"=?iso-2022-jp?b?", b"=?ISO-2022-JP?B?").replace(b"=?utf-8?b?", b"=?UTF-8?B?")


def _mailbox(name: str, address: str, charset: str) -> bytes:
    return _header(name, charset) + b" <" + address.encode() + b">" if name else address.encode()


@dataclass
class MailTemplate:
    charset: str          # 'utf-8' or 'iso-2022-jp'
    head: bytes           # headers common to every recipient (From … Content-Transfer-Encoding)
    body: str             # body text with PREFS/UNSUB placeholders
    one_click: bool       # carries List-Unsubscribe (+ RFC 8058 Post)
    domain: str
    built: float

    @classmethod
    def build(cls, *, from_name: str, from_addr: str, subject: str, body: str, charset: str, domain: str,
              list_id: str = "", extra: dict[str, str] | None = None, one_click: bool = True) -> MailTemplate:
        lines = [b"Date: " + format_datetime(datetime.now(JST)).encode(),
                 b"From: " + _mailbox(from_name, from_addr, charset),
                 b"Subject: " + _header(subject, charset),
                 b"MIME-Version: 1.0",
                 b"Content-Type: text/plain; charset=" + (b"ISO-2022-JP" if charset == "iso-2022-jp" else b"UTF-8"),
                 b"Content-Transfer-Encoding: " + (b"7bit" if charset == "iso-2022-jp" else b"base64"),
                 b"Auto-Submitted: auto-generated"]
        if list_id:
            lines.append(b"List-Id: <" + list_id.encode() + b">")
        for name, value in (extra or {}).items():
            lines.append(name.encode() + b": " + _header(value, charset))
        if charset == "iso-2022-jp":
            body = to_jis_text(body)[0]
        return cls(charset, b"\r\n".join(lines) + b"\r\n", body, one_click, domain, time.monotonic())

    def stale(self, max_age_s: float = 60.0) -> bool:
        return time.monotonic() - self.built > max_age_s  # keeps the Date header honest on retries

    def render(self, to: str, message_id: str, prefs_url: str = "", unsub_url: str = "") -> bytes:
        text = self.body.replace(PREFS, prefs_url).replace(UNSUB, unsub_url)
        if self.charset == "iso-2022-jp":
            payload = encode_jis(text) + b"\r\n"
        else:
            payload = base64.encodebytes(text.replace("\n", "\r\n").encode("utf-8")).replace(b"\n", b"\r\n")
        parts = [b"To: ", header_address(to).encode(), b"\r\nMessage-ID: <", message_id.encode(), b"@",
                 self.domain.encode(), b">\r\n"]
        if self.one_click and unsub_url:
            parts += [b"List-Unsubscribe: <", unsub_url.encode(), b">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"]
        return b"".join(parts) + self.head + b"\r\n" + payload
