"""The nearest-shelter form without JavaScript: an empty address gives the page again with the message where
the results go (the reader's language), not an error page; the script's fragment request keeps its JSON error."""
from __future__ import annotations

from portal.public_app import make_public_app


async def test_empty_address_without_javascript(aiohttp_client, hub, towns):
    client = await aiohttp_client(make_public_app(hub))
    r = await client.get("/37201/nearest?address=&lang=ja")
    html = await r.text()
    assert r.status == 400 and '<p role="alert"><strong>住所を入力するか' in html
    assert "申し訳ありません" not in html  # not the generic error page
    fragment = await client.get("/37201/nearest?address=&fragment=1&lang=ja", headers={"Accept": "application/json"})
    assert fragment.status == 400 and (await fragment.json())["message"].startswith("住所を入力するか")
