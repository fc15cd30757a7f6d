"""Web Push with VAPID: the payload is encrypted for the subscriber's browser (aes128gcm, RFC 8291) by
pywebpush and POSTed to its push service. 404/410 mean the subscription is gone: the contact is removed."""
from __future__ import annotations

import aiohttp
from pywebpush import WebPusher, WebPushException

from alerts.channels import Delivery, Gate, Outcome, Result
from alerts.config import AlertConfig
from alerts.vapid import VapidKeys


class _Status(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status} {text[:200]}")
        self.status = status


class WebPushChannel:
    kind = "webpush"
    concurrency = 8

    def __init__(self, config: AlertConfig, vapid: VapidKeys) -> None:
        self.config, self.vapid = config, vapid
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.webhook_timeout_s))

    async def close(self) -> None:
        if self.session:
            await self.session.close()

    async def deliver(self, lane: int, delivery: Delivery, gate: Gate) -> Result:
        assert self.session is not None
        sub = delivery.target
        headers = {**self.vapid.headers(sub["endpoint"]), "Urgency": delivery.meta.get("urgency", "normal")}
        pusher = WebPusher(sub, aiohttp_session=self.session)

        async def final() -> None:
            resp = await pusher.send_async(delivery.payload, headers, ttl=delivery.meta.get("ttl", 43200),
                                           content_encoding="aes128gcm", timeout=self.config.webhook_timeout_s)
            if resp.status not in (200, 201, 202):
                raise _Status(resp.status, await resp.text())

        try:
            await gate.handoff(delivery, final)
            return Result(Outcome.SENT)
        except _Status as exc:
            if exc.status in (404, 410):
                return Result(Outcome.GONE, str(exc))
            if exc.status in (408, 429) or exc.status >= 500:
                return Result(Outcome.RETRY, str(exc))
            return Result(Outcome.FAILED, str(exc))
        except WebPushException as exc:
            return Result(Outcome.FAILED, f"push subscription unusable: {exc}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Result(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
