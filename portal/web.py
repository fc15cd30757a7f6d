"""aiohttp plumbing shared by the public and staff apps: typed app keys, the error middleware that turns
domain errors into JSON or a page, security headers, conditional GET, and running store calls in a thread."""
from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from machihub.compose import Hub
from machihub.errors import HubError, Invalid
from machihub.principal import Principal
from machihub.users import Session

HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)
PUBLIC: web.AppKey[bool] = web.AppKey("public", bool)
# Set by the staff app's auth middleware; absent on the public app (which reads as nobody).
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
SESSION: web.RequestKey[Session] = web.RequestKey("session", Session)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Stores are synchronous; keep the event loop free while they work."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def wants_html(request: web.Request) -> bool:
    f = request.query.get("f")
    if f:
        return f == "html"
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "json" not in accept.split(",")[0]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as exc:
        if wants_html(request) and request.method == "GET":
            from portal.pages import error_page

            return error_page(request, exc)
        return web.json_response(exc.as_dict(), status=exc.status, dumps=dumps)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "SAMEORIGIN")
    if "Content-Security-Policy" not in h and response.content_type == "text/html":
        tiles = request.app[HUB].settings.tile_url
        tile_origin = "/".join(tiles.split("/")[:3]) if tiles.startswith("http") else ""
        h["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data: blob: " + tile_origin + "; "
            "script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
            "frame-ancestors 'self'; base-uri 'self'; form-action 'self'")
    return response


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def query_number(request: web.Request, name: str, kind: type, lo: float, hi: float, default=None):
    """A number from the query string, checked against its range; a bad one is a clear 400, never a 500."""
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise Invalid(f"{name} must be {'an integer' if kind is int else 'a number'}, not {raw!r}") from None
    if not lo <= value <= hi:
        raise Invalid(f"{name} must be between {lo} and {hi}")
    return value


def make_etag(seed: str) -> str:
    return '"' + hashlib.sha256(seed.encode()).hexdigest()[:32] + '"'


def not_modified(request: web.Request, etag: str) -> web.Response | None:
    """Answer 304 before doing the work when the client's copy is current."""
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    return None


def json_response(request: web.Request, body: Any, *, content_type: str = "application/json",
                  etag_seed: str | None = None, last_modified: str | None = None,
                  headers: dict[str, str] | None = None, status: int = 200) -> web.StreamResponse:
    """JSON with ETag/Last-Modified; 304 when the client already has it; gzip when asked for."""
    text = body if isinstance(body, str | bytes) else dumps(body)
    raw = text.encode("utf-8") if isinstance(text, str) else text
    etag = make_etag(etag_seed) if etag_seed else '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
    early = not_modified(request, etag)
    if early is not None:
        return early
    resp = web.Response(body=raw, status=status, content_type=content_type.split(";")[0], charset="utf-8",
                        headers=headers or {})
    resp.headers["ETag"] = etag
    resp.headers["Cache-Control"] = "no-cache"
    if last_modified:
        resp.headers["Last-Modified"] = last_modified
    if len(raw) > 1024:
        resp.enable_compression()
    return resp


def http_date(iso: str) -> str:
    from datetime import datetime
    from email.utils import format_datetime

    return format_datetime(datetime.fromisoformat(iso), usegmt=True)
