"""Webhooks for machines (防災行政無線 gateways, signage, CATV): the alert as JSON or CAP 1.2 XML, POSTed with
X-Machihub-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)> and X-Machihub-Timestamp, so
receivers can check origin and refuse replays; X-Machihub-Delivery lets them drop a repeated delivery."""
from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp

from alerts.channels import Delivery, Gate, Outcome, Result
from alerts.config import AlertConfig


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class _Status(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class WebhookChannel:
    kind = "webhook"
    concurrency = 4

    def __init__(self, config: AlertConfig) -> None:
        self.config = config
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.webhook_timeout_s))

    async def close(self) -> None:
        if self.session:
            await self.session.close()

    async def deliver(self, lane: int, delivery: Delivery, gate: Gate) -> Result:
        assert self.session is not None
        cfg = delivery.target
        ts = str(int(time.time()))
        headers = {"Content-Type": delivery.meta["content_type"], "X-Machihub-Timestamp": ts,
                   "X-Machihub-Signature": signature(cfg["secret"], ts, delivery.payload),
                   "X-Machihub-Delivery": str(delivery.row.id), "User-Agent": "machihub-alerts"}
        session = self.session

        async def final() -> None:
            async with session.post(cfg["url"], data=delivery.payload, headers=headers, allow_redirects=False) as resp:
                await resp.read()
                if not 200 <= resp.status < 300:
                    raise _Status(resp.status)

        try:
            await gate.handoff(delivery, final)
            return Result(Outcome.SENT)
        except _Status as exc:
            if exc.status in (408, 425, 429) or exc.status >= 500:
                return Result(Outcome.RETRY, str(exc))
            return Result(Outcome.FAILED, str(exc))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Result(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
