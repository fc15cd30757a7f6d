"""Who may see and change a layer.

public       → everyone, including residents on the public portal
internal     → every staff member of the owning tenant, and departments it is shared with
confidential → the owning department, departments it is shared with, and the tenant's admins
Editing needs the layer_editor role in the owning department or a department the layer is shared with for
edit (or tenant admin). Other tenants' staff see a layer only when it is public or shared with them."""
from __future__ import annotations

from layers.model import Layer
from machihub.principal import Principal


def can_read(p: Principal | None, layer: Layer, shares: dict[int, str]) -> bool:
    if layer.classification == "public":
        return True
    if p is None or (p.purpose is not None and p.purpose != "features"):
        return False
    if p.admin_of(layer.tenant_code):
        return True
    if p.department_id is not None and (p.department_id == layer.owner_department_id or p.department_id in shares):
        return True
    return layer.classification == "internal" and p.tenant_code == layer.tenant_code and p.purpose is None


def can_edit(p: Principal | None, layer: Layer, shares: dict[int, str]) -> bool:
    if p is None:
        return False
    if p.admin_of(layer.tenant_code):
        return True
    if "layer_editor" not in p.roles or p.department_id is None:
        return False
    return p.department_id == layer.owner_department_id or shares.get(p.department_id) == "edit"


def can_manage(p: Principal | None, layer: Layer) -> bool:
    """Classification, sharing and schema belong to the owning department (or the tenant admin)."""
    if p is None:
        return False
    return p.admin_of(layer.tenant_code) or ("layer_editor" in p.roles and p.department_id == layer.owner_department_id)
