"""Who is acting: a staff user, a machine client (API key), the system (CLI), or the public (None)."""
from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("admin", "layer_editor", "alert_composer", "alert_approver", "call_center", "auditor")


@dataclass(frozen=True)
class Principal:
    actor: str                      # 'user:tanaka', 'api:ils-1', 'system:cli'
    tenant_code: str | None         # None only for the system
    department_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    purpose: str | None = None      # API keys are scoped to one purpose

    @property
    def is_system(self) -> bool:
        return self.actor.startswith("system:")

    def has(self, role: str) -> bool:
        return self.is_system or role in self.roles or "admin" in self.roles

    def admin_of(self, tenant_code: str | None) -> bool:
        return self.is_system or ("admin" in self.roles and tenant_code == self.tenant_code)


SYSTEM = Principal(actor="system:cli", tenant_code=None, roles=frozenset(ROLES))
