"""Web Push and webhooks against real loopback HTTP servers: the push payload decrypts with the browser's keys
(http_ece) and the VAPID JWT verifies; 410 removes the subscription; webhooks are HMAC-signed, JSON or CAP."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
from datetime import timedelta

import http_ece
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from feeds.cap import parse_cap
from tests.alerts.conftest import chome_alert, send


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def browser(endpoint: str) -> tuple[dict, ec.EllipticCurvePrivateKey, bytes]:
    """What PushManager.subscribe() gives a page: an endpoint and the browser's P-256 key and auth secret."""
    key, auth = ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
    p256dh = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"endpoint": endpoint, "keys": {"p256dh": b64u(p256dh), "auth": b64u(auth)}}, key, auth


def verify_vapid(header: str, endpoint_origin: str) -> tuple[dict, str]:
    assert header.startswith("vapid ")
    fields = dict(part.split("=", 1) for part in header[6:].split(","))
    token, k = fields["t"], fields["k"]
    head, payload, sig = token.split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(k))
    raw = unb64u(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))   # raises if forged
    assert json.loads(unb64u(head)) == {"typ": "JWT", "alg": "ES256"}
    claims = json.loads(unb64u(payload))
    assert claims["aud"] == endpoint_origin and claims["exp"] > time.time()
    return claims, k


async def test_web_push_decrypts_and_vapid_verifies(al, aiohttp_server):
    received: list[tuple[str, dict, bytes]] = []

    async def push(request: web.Request) -> web.Response:
        received.append((request.path, request.headers.copy(), await request.read()))
        return web.Response(status=201)

    async def gone(request: web.Request) -> web.Response:
        return web.Response(status=410, text="subscription expired")

    app = web.Application()
    app.router.add_post("/push/{id}", push)
    app.router.add_post("/gone/{id}", gone)
    server = await aiohttp_server(app)
    sub, key, auth = browser(str(server.make_url("/push/1")))
    dead, _, _ = browser(str(server.make_url("/gone/2")))
    choice = await asyncio.to_thread(al.subscribers.choices, "13219", topics=["crime"], area_specs=[{"kind": "town"}],
                                     language="en")
    for s in (sub, dead):
        await asyncio.to_thread(al.subscribers.push_subscribe, "13219", s, choice)
    alert_id = await asyncio.to_thread(send, al, chome_alert(severity="Severe"))
    counts = await al.run_worker("push", until_idle=True)
    assert counts["sent"] == 1 and counts["gone"] == 1
    path, headers, body = received[0]
    assert path == "/push/1" and headers["Content-Encoding"] == "aes128gcm" and headers["Urgency"] == "high"
    data = json.loads(http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm"))
    assert data["title"] == "狛江市: Suspicious person" and data["tag"].startswith("machihub-13219-")
    assert data["url"] == f"https://portal.example.jp/alerts/a/{alert_id}" and data["lang"] == "en"
    claims, k = verify_vapid(headers["Authorization"], f"http://{server.host}:{server.port}")
    assert claims["sub"] == "mailto:anshin@city.example.lg.jp" and k == al.vapid.public_key
    with al.db.transaction() as tx:   # the expired subscription is gone, with its subscriber
        assert tx.scalar("SELECT count(*) FROM al_contacts WHERE kind = 'webpush'") == 1
        assert tx.scalar("SELECT count(*) FROM al_subscribers") == 1


async def test_webhooks_are_signed_json_or_cap_and_retried(al, aiohttp_server):
    hits: list[tuple[str, dict, bytes]] = []
    flaky = {"left": 1}

    async def hook(request: web.Request) -> web.Response:
        hits.append((request.path, request.headers.copy(), await request.read()))
        if request.path == "/flaky" and flaky["left"]:
            flaky["left"] -= 1
            return web.Response(status=503)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{name}", hook)
    server = await aiohttp_server(app)
    admin = al.towns["komae_admin"]
    secret = "gateway-secret-0123456789"
    for name, fmt in (("json", "json"), ("cap", "cap"), ("flaky", "json")):
        await asyncio.to_thread(al.admin.add_webhook, admin, "13219", str(server.make_url(f"/{name}")), secret,
                                fmt=fmt, topics=["crime"], name=f"防災無線 {name}")
    alert_id = await asyncio.to_thread(send, al, chome_alert())
    record = await asyncio.to_thread(al.lifecycle.get, alert_id)
    counts = await al.run_worker("hooks", until_idle=True)
    assert counts["sent"] == 2 and counts["retry"] == 1
    for _path, headers, body in hits:
        expected = hmac.new(secret.encode(), headers["X-Machihub-Timestamp"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        assert headers["X-Machihub-Signature"] == f"sha256={expected}"
    by_path = {p: (h, b) for p, h, b in hits}
    doc = json.loads(by_path["/json"][1])
    assert doc["identifier"] == record.alert.identifier and doc["texts"]["ja"]["headline"] == "不審者情報"
    assert by_path["/cap"][0]["Content-Type"].startswith("application/cap+xml")
    cap = parse_cap(by_path["/cap"][1])
    assert cap.identifier == record.alert.identifier and cap.status == "Actual" and cap.infos[0].event == "不審者"
    al.clock.advance(timedelta(minutes=2))
    assert (await al.run_worker("hooks", until_idle=True))["sent"] == 1
    flaky_ids = {h["X-Machihub-Delivery"] for p, h, _ in hits if p == "/flaky"}
    assert len(flaky_ids) == 1           # the same delivery id both times: receivers can drop repeats
    assert [e["action"] for e in al.audit.entries(tenant="13219")].count("alerts.webhook.add") == 3
