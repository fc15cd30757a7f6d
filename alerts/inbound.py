"""The inbound SMTP server (aiosmtpd), started by `serve` or `machihub inbound`: it takes DSN bounces for the
VERP addresses and 空メール sign-ups (an empty mail to the sign-up address, or entry-<団体コード>@…, is answered
with a one-time link). Mail for any other address is refused at RCPT: it is not a relay and not a mailbox."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP

from alerts.bounces import Bounces
from alerts.config import AlertConfig
from alerts.subscriptions import SubscriberStore
from machihub.errors import HubError

log = logging.getLogger("machihub.alerts.inbound")


class InboundHandler:
    def __init__(self, config: AlertConfig, bounces: Bounces, subs: SubscriberStore, tenant_codes: set[str]) -> None:
        self.config, self.bounces, self.subs, self.tenant_codes = config, bounces, subs, tenant_codes
        self.signup_local, _, self.signup_domain = config.signup_address.lower().rpartition("@")
        self.results: list[tuple[str, str]] = []   # (recipient, outcome), kept short, for the console and tests

    def classify(self, address: str) -> tuple[str, str | None]:
        local, _, domain = address.lower().rpartition("@")
        if local.startswith("bounce+") and domain == self.config.verp_domain.lower():
            return "bounce", None
        if domain == self.signup_domain:
            if local == self.signup_local:
                return "signup", None
            code = local.removeprefix(self.signup_local + "-")
            if code != local and code in self.tenant_codes:
                return "signup", code
        return "reject", None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if self.classify(address)[0] == "reject":
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        for rcpt in envelope.rcpt_tos:
            kind, tenant = self.classify(rcpt)
            try:
                if kind == "bounce":
                    outcome = await asyncio.to_thread(self.bounces.handle, rcpt, raw)
                elif envelope.mail_from and envelope.mail_from != "<>":
                    await asyncio.to_thread(self.subs.mail_signup_request, envelope.mail_from, tenant)
                    outcome = "signup"
                else:
                    outcome = "ignored"
            except HubError as exc:  # rate limited or a bad sender: accepted, not answered
                outcome = f"refused: {exc.message}"
            log.info("inbound %s: %s", kind, outcome)
            self.results = [*self.results[-99:], (rcpt, outcome)]
        return "250 OK"


async def start_inbound(handler: InboundHandler, host: str, port: int) -> asyncio.AbstractServer:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: SMTP(handler, hostname="machihub", data_size_limit=1 << 20,
                                                 enable_SMTPUTF8=True, loop=loop), host, port)
