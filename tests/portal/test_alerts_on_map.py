"""Alerts in force appear on the public map page (list + area overlay coloured by severity); drills and
cancelled alerts never do."""
from __future__ import annotations

import json
import re

from alerts.model import AlertText
from portal.public_app import make_public_app
from tests.alerts.conftest import al, chome_alert, send, smtp  # noqa: F401  (fixtures)


def _config(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="map-config">(.*?)</script>', html, re.S).group(1))


async def test_alerts_in_force_on_the_map(aiohttp_client, al):  # noqa: F811
    hub = al.hub
    live = send(al, chome_alert(severity="Severe", headline="不審者情報（和泉本町）"))
    send(al, chome_alert(status="Exercise", headline="訓練：不審者対応"))
    gone = send(al, chome_alert("猪方一丁目", headline="取り消される情報"))
    al.lifecycle.cancel(al.towns["composer"], gone, AlertText(headline="取消"))
    client = await aiohttp_client(make_public_app(hub))
    html = await (await client.get("/13219/?lang=ja")).text()
    assert "不審者情報（和泉本町）" in html and f"/alerts/a/{live}" in html
    assert "訓練" not in html and "取り消される情報" not in html
    # the banner comes before the layers and the map: the first thing a phone shows
    banner = html.index('id="alerts-in-force"')
    assert banner < html.index('class="map-layout"') and html.index("不審者情報（和泉本町）") > banner
    overlay = _config(html)["alerts"]
    assert [a["headline"] for a in overlay] == ["不審者情報（和泉本町）"]
    assert overlay[0]["severity"] == "Severe" and overlay[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
