"""Who counts as staff of a municipality for community work: its admin, or its alert staff (composers and
approvers), who run suspicious-person reports, groups, library counter tasks and watch-over confirmations."""
from __future__ import annotations

from machihub.principal import Principal


def is_staff_of(by: Principal, tenant_code: str | None) -> bool:
    if by.purpose is not None:  # an API key is a machine, never staff
        return False
    return by.admin_of(tenant_code) or (by.tenant_code == tenant_code and (
        by.has("alert_composer") or by.has("alert_approver")))
