"""Delivery Status Notifications (RFC 3464) as relays send them back to our VERP address: which recipients
failed for good (Action: failed with a 5.x.x status → hard bounce) and which only were delayed or failed for
now (4.x.x → soft). Anything that is not a DSN counts as nothing, never as a hard bounce."""
from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message


@dataclass(frozen=True)
class BounceReport:
    recipient: str
    action: str      # failed | delayed | delivered | relayed | expanded
    status: str      # e.g. 5.1.1
    diagnostic: str

    @property
    def hard(self) -> bool:
        return self.action == "failed" and self.status.startswith("5")


def _field(block: Message, name: str) -> str:
    value = str(block.get(name, "") or "").strip()
    return value.split(";", 1)[1].strip() if ";" in value and name in ("Final-Recipient", "Original-Recipient",
                                                                      "Diagnostic-Code") else value


def parse_dsn(raw: bytes) -> list[BounceReport]:
    msg = message_from_bytes(raw, policy=policy.compat32)
    if msg.get_content_type() != "multipart/report" or msg.get_param("report-type") != "delivery-status":
        return []
    reports: list[BounceReport] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:  # the first block is about the message, the rest one per recipient
            recipient = _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
            action = _field(block, "Action").lower()
            status = _field(block, "Status").split()[0] if _field(block, "Status") else ""
            if recipient and action:
                reports.append(BounceReport(recipient.lower(), action, status, _field(block, "Diagnostic-Code")))
    return reports
