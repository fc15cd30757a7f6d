"""Delivery channels: one small interface (`Channel`), one module each, picked by a registry.
Adding a channel = one module + one line in CHANNELS."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from alerts.outbox import Claimed


class Outcome(Enum):
    SENT = "sent"            # handed over and recorded (inside Gate.handoff)
    RETRY = "retry"          # temporary: try again after a backoff
    FAILED = "failed"        # permanent for this message
    SUPPRESS = "suppress"    # permanent for this address: it goes on the suppression list
    GONE = "gone"            # the endpoint no longer exists (Web Push 404/410): the contact is removed
    DOWN = "down"            # the channel itself is unreachable: give the row back, pause the channel
    DEFER = "defer"          # not now (domain rate limit): requeue in memory after delay_s


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    error: str = ""
    delay_s: float = 0.0


@dataclass
class Delivery:
    row: Claimed
    target: Any                 # mail address, push subscription dict, webhook config dict
    payload: bytes              # the message as it leaves
    meta: dict[str, Any] = field(default_factory=dict)


class Gate(Protocol):
    async def handoff(self, delivery: Delivery, final: Callable[[], Awaitable[Any]]) -> Any:
        """Run the step that hands the message over, then record it as sent before anything else is handed
        over (when serial); an exception from `final` propagates and nothing is recorded."""
        ...


class Channel(Protocol):
    kind: str
    concurrency: int

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def deliver(self, lane: int, delivery: Delivery, gate: Gate) -> Result: ...


def build_channels(config: Any, extras: dict[str, Any], kinds: tuple[str, ...] | None = None) -> dict[str, Channel]:
    from alerts.channels.email import EmailChannel
    from alerts.channels.webhook import WebhookChannel
    from alerts.channels.webpush import WebPushChannel

    registry: dict[str, Callable[[], Channel]] = {
        "email": lambda: EmailChannel(config),
        "webpush": lambda: WebPushChannel(config, extras["vapid"]),
        "webhook": lambda: WebhookChannel(config),
    }
    return {k: make() for k, make in registry.items() if kinds is None or k in kinds}
