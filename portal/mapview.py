"""The public map, built with folium: map, base tiles and scale come from folium; layers are NOT embedded but
loaded by URL from our own API by static/map.js, which reads the JSON config this module writes.

We keep folium's map markup and script and write our own page head: folium's default head loads Leaflet,
jQuery and Bootstrap from CDNs and blocks zooming (user-scalable=no), which fails offline and WCAG."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import folium

VENDOR_CSS = ["/static/vendor/leaflet/leaflet.css", "/static/vendor/markercluster/MarkerCluster.css",
              "/static/vendor/markercluster/MarkerCluster.Default.css"]
VENDOR_JS = ["/static/vendor/leaflet/leaflet.js", "/static/vendor/markercluster/leaflet.markercluster.js",
             "/static/vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js"]


@dataclass
class MapParts:
    map_id: str
    html: str
    script: str


def build_map(center: tuple[float, float], zoom: int, tile_url: str, attribution: str, tile_name: str) -> MapParts:
    m = folium.Map(location=list(center), zoom_start=zoom, tiles=None, prefer_canvas=True, control_scale=True,
                   zoom_control=True)
    # a zoom range on the map itself: without a base map (LGWAN) no tile layer sets one, and marker
    # clustering refuses a map with no maximum zoom, so point layers would not draw
    m.options.update(max_zoom=18, min_zoom=5)
    if tile_url:
        folium.TileLayer(tiles=tile_url, attr=attribution, name=tile_name, max_zoom=18, max_native_zoom=18,
                         subdomains="").add_to(m)
    fig = m.get_root()
    for child in list(fig._children.values()):
        child.render()
    # Hand the folium map to our loader once folium's script has created it.
    script = fig.script.render() + f"\nwindow.MACHIHUB_MAP = {m.get_name()};\n"
    return MapParts(m.get_name(), fig.html.render(), script)


def layer_config(layers: list[Any], lang_name, tile_for) -> list[dict[str, Any]]:
    """What map.js needs per layer: where to fetch it and how to draw it."""
    out = []
    palette = ["#0b5cad", "#b3261e", "#1b7f3b", "#8a4b00", "#6a1b9a", "#00695c", "#ad1457", "#37474f"]
    for i, la in enumerate(layers):
        geom = la.geometry_type
        cfg: dict[str, Any] = {
            "key": la.key, "title": lang_name(la), "geometry": geom,
            "color": la.style.get("color", palette[i % len(palette)]),
            "visible": la.style.get("visible", i < 3),
            "items": f"/ogc/collections/{la.key}/items?limit=10000",
            "list": f"/list/{la.key}",
            "label_field": la.style.get("label_field") or _label_field(la),
            "hazards": la.metadata.get("hazard_fields", {}),
        }
        if geom not in ("Point", "MultiPoint"):
            cfg["tiles"] = tile_for(la)
        out.append(cfg)
    return out


def _label_field(layer: Any) -> str | None:
    for candidate in ("施設・場所名", "name", "名称", "施設名", "NAME"):
        if candidate in layer.schema.by_name():
            return candidate
    strings = [f.name for f in layer.schema.fields if f.type == "string"]
    return strings[0] if strings else None
