"""E-mail addresses as residents have them. Japanese carriers long allowed local parts that RFC 5322 forbids
('taro..yamada@docomo.ne.jp', 'taro.@ezweb.ne.jp'); those are accepted as they are, sent unquoted in the SMTP
envelope (what carriers expect) and quoted in the To: header (so the header still parses)."""
from __future__ import annotations

import re

from machihub.errors import Invalid

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}$")
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_email(text: str) -> str:
    """Trimmed address with a lower-case domain; raises Invalid naming what is wrong."""
    address = (text or "").strip()
    local, at, domain = address.rpartition("@")
    domain = domain.lower().rstrip(".")
    if not at or not local or not domain:
        raise Invalid("the mail address needs a name, '@' and a domain, like taro@example.jp")
    if len(address) > 254:
        raise Invalid("the mail address is too long")
    if not _LOCAL.match(local):
        raise Invalid("the part before '@' has characters a mail address cannot have")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise Invalid(f"{domain!r} is not a mail domain")
    return f"{local}@{domain}"


def header_address(address: str) -> str:
    """The address as it may appear in a header: legacy local parts are quoted."""
    local, _, domain = address.rpartition("@")
    if _DOT_ATOM.match(local):
        return address
    return '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"@' + domain
