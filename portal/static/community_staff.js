// Staff community pages: the Leaflet map (vendored, no CDN) of the report form and the review page.
// Form: a click on the map fills latitude/longitude, typing them moves the marker. Review: the generalised
// area and point the public will see, and the exact point (staff only). The text beside the map says the same.
(function () {
  'use strict';
  var el = document.getElementById('cm-map');
  var cfgEl = document.getElementById('cm-map-config');
  if (!el || !cfgEl || !window.L) return;
  var cfg = JSON.parse(cfgEl.textContent);
  var map = L.map(el, {keyboard: true, maxZoom: 18});
  window.MACHIHUB_CM_MAP = map;
  if (cfg.tile_url) L.tileLayer(cfg.tile_url, {attribution: cfg.tile_attribution, maxZoom: 18}).addTo(map);

  if (cfg.area) {  // review page
    // Give the map its view before adding any layer: a path added to a map without a view waits for 'load',
    // and if a later layer created the shared renderer first, the polygon is drawn before the renderer has
    // bounds (Leaflet: "Cannot read properties of undefined (reading 'min')") and the map stays grey.
    var area = L.geoJSON(cfg.area, {style: {color: '#6a1b9a', weight: 2, fillOpacity: 0.2}, interactive: false});
    var bounds = area.getBounds();
    [cfg.point, cfg.exact].forEach(function (p) {
      if (p && isFinite(p[0]) && isFinite(p[1])) bounds = bounds.isValid() ? bounds.extend(p) : L.latLngBounds([p, p]);
    });
    if (bounds.isValid()) map.fitBounds(bounds.pad(0.5), {maxZoom: 17});
    else map.setView([35.68, 139.76], 12);
    area.addTo(map);
    if (cfg.point) L.circleMarker(cfg.point, {radius: 7, color: '#ffffff', weight: 2, fillColor: '#6a1b9a',
                                              fillOpacity: 1, interactive: false}).addTo(map);
    if (cfg.exact) L.circleMarker(cfg.exact, {radius: 4, color: '#b71c1c', weight: 2, fillOpacity: 0,
                                              interactive: false}).addTo(map);
    return;
  }

  var lat = document.getElementById('cm-lat');
  var lon = document.getElementById('cm-lon');
  map.setView(cfg.center, 14);
  var marker = null;
  function place(la, lo) {
    if (marker) marker.setLatLng([la, lo]);
    else marker = L.circleMarker([la, lo], {radius: 8, color: '#b71c1c', weight: 3, interactive: false}).addTo(map);
  }
  map.on('click', function (e) {
    lat.value = e.latlng.lat.toFixed(6);
    lon.value = e.latlng.lng.toFixed(6);
    place(e.latlng.lat, e.latlng.lng);
  });
  function typed() {
    var la = parseFloat(lat.value), lo = parseFloat(lon.value);
    if (isFinite(la) && isFinite(lo)) { place(la, lo); map.panTo([la, lo]); }
  }
  lat.addEventListener('change', typed);
  lon.addEventListener('change', typed);
  typed();
}());
