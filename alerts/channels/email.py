"""E-mail through the configured relay with aiosmtplib: one connection per lane (`alerts_smtp_pool` lanes per
worker), a new SMTP session after `alerts_smtp_session_rcpts` recipients (at most 100), per-domain rate
limits, VERP envelope sender. The DATA step runs inside the gate, so the message is recorded as sent
before another one is handed over."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import aiosmtplib

from alerts.channels import Delivery, Gate, Outcome, Result
from alerts.config import AlertConfig


@dataclass
class _Conn:
    smtp: aiosmtplib.SMTP
    rcpts: int = 0


class _Buckets:
    """Token buckets per recipient domain (rates from alerts_domain_rates, per worker process)."""

    def __init__(self, config: AlertConfig) -> None:
        self.config = config
        self.state: dict[str, tuple[float, float]] = {}  # domain → (tokens, last refill)

    def wait(self, domain: str) -> float:
        rate = self.config.rate_for(domain)
        if not rate:
            return 0.0
        now = time.monotonic()
        tokens, last = self.state.get(domain, (rate, now))
        tokens = min(rate, tokens + (now - last) * rate)
        if tokens >= 1:
            self.state[domain] = (tokens - 1, now)
            return 0.0
        self.state[domain] = (tokens, now)
        return (1 - tokens) / rate


_DOT = re.compile(rb"(?m)^\.")  # RFC 5321 dot-stuffing


async def _end_data(smtp: aiosmtplib.SMTP, payload: bytes) -> None:
    """The message and its final dot, then the relay's verdict: the only step inside the hand-off gate
    (DATA/354 happens before it, so the gate holds one round trip, not two)."""
    assert smtp.protocol is not None
    smtp.protocol.write(payload)
    response = await smtp.protocol.read_response(timeout=smtp.timeout)
    if response.code != 250:
        raise aiosmtplib.SMTPDataError(response.code, response.message)


async def _command(smtp: aiosmtplib.SMTP, line: bytes, error: type[aiosmtplib.SMTPResponseException],
                   address: str, ok: tuple[int, ...] = (250, 251)) -> None:
    """MAIL/RCPT without aiosmtplib's address re-parsing (~100 µs each, and it would reject the legacy
    carrier addresses we must keep as they are). Addresses were validated when stored: no spaces, <, > or
    control characters, and execute_command refuses control characters anyway."""
    response = await smtp.execute_command(line)
    if response.code not in ok:
        args = (response.code, response.message, address) if address else (response.code, response.message)
        raise error(*args)  # type: ignore[arg-type]


class EmailChannel:
    kind = "email"

    def __init__(self, config: AlertConfig) -> None:
        self.config = config
        self.concurrency = max(1, config.smtp_pool)
        self._conns: dict[int, _Conn] = {}
        self._buckets = _Buckets(config)

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        for lane in list(self._conns):
            await self._drop(lane, polite=True)

    async def _conn(self, lane: int) -> _Conn:
        conn = self._conns.get(lane)
        if conn is None or not conn.smtp.is_connected:
            smtp = aiosmtplib.SMTP(hostname=self.config.smtp_host, port=self.config.smtp_port, timeout=30,
                                   start_tls=False, local_hostname=self.config.mail_domain)
            await smtp.connect()
            await smtp.ehlo()  # once per session; MAIL/RCPT below go straight to execute_command
            conn = self._conns[lane] = _Conn(smtp)
        return conn

    async def _drop(self, lane: int, polite: bool = False) -> None:
        conn = self._conns.pop(lane, None)
        if conn is None:
            return
        try:
            if polite and conn.smtp.is_connected:
                await conn.smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            pass
        finally:
            conn.smtp.close()

    async def deliver(self, lane: int, delivery: Delivery, gate: Gate) -> Result:
        domain = str(delivery.target).rpartition("@")[2]
        wait = self._buckets.wait(domain)
        if wait > 0:
            return Result(Outcome.DEFER, delay_s=wait)
        try:
            conn = await self._conn(lane)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            await self._drop(lane)
            return Result(Outcome.DOWN, f"relay {self.config.smtp_host}:{self.config.smtp_port}: {exc}")
        smtp = conn.smtp
        message = delivery.payload
        try:
            await _command(smtp, b"MAIL FROM:<%s>" % delivery.meta["mail_from"].encode(), aiosmtplib.SMTPSenderRefused,
                           delivery.meta["mail_from"])
            await _command(smtp, b"RCPT TO:<%s>" % str(delivery.target).encode(), aiosmtplib.SMTPRecipientRefused,
                           str(delivery.target))
            await _command(smtp, b"DATA", aiosmtplib.SMTPDataError, "", ok=(354,))
            payload = _DOT.sub(b"..", message if message.endswith(b"\r\n") else message + b"\r\n") + b".\r\n"
            await gate.handoff(delivery, lambda: _end_data(smtp, payload))
            return Result(Outcome.SENT)
        except aiosmtplib.SMTPRecipientRefused as exc:
            await self._rset(lane)
            kind = Outcome.SUPPRESS if 500 <= exc.code < 600 else Outcome.RETRY
            return Result(kind, f"{exc.code} {exc.message}")
        except aiosmtplib.SMTPSenderRefused as exc:
            await self._rset(lane)
            return Result(Outcome.RETRY, f"sender refused: {exc.code} {exc.message}")
        except aiosmtplib.SMTPDataError as exc:
            await self._rset(lane)
            return Result(Outcome.FAILED if 500 <= exc.code < 600 else Outcome.RETRY, f"{exc.code} {exc.message}")
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            await self._drop(lane)  # the session broke mid-message: it may or may not have arrived
            return Result(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
        finally:
            conn.rcpts += 1
            if conn.rcpts >= self.config.smtp_session_rcpts:
                await self._drop(lane, polite=True)

    async def _rset(self, lane: int) -> None:
        conn = self._conns.get(lane)
        try:
            if conn:
                await conn.smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            await self._drop(lane)
