// Loads every public layer by URL from our own API onto the folium map (nothing is embedded in the page):
// points as clustered canvas circles, polygons/lines as vector tiles (MVT). Also: hazard filter, nearest
// shelters by address / position / map click, and Leaflet's controls labelled in the page language.
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('map-config').textContent);
  var map = window.MACHIHUB_MAP;
  var status = document.getElementById('map-status');
  var t = cfg.labels;
  var groups = {};      // layer key -> Leaflet layer on the map
  var pointData = {};   // layer key -> GeoJSON features (kept for the hazard filter)
  var hazard = '';

  // Leaflet's own controls speak the page language.
  var zin = document.querySelector('.leaflet-control-zoom-in');
  var zout = document.querySelector('.leaflet-control-zoom-out');
  if (zin) { zin.title = t.zoom_in; zin.setAttribute('aria-label', t.zoom_in); }
  if (zout) { zout.title = t.zoom_out; zout.setAttribute('aria-label', t.zoom_out); }
  map.getContainer().setAttribute('aria-label', t.map);
  if (cfg.bounds) map.fitBounds(cfg.bounds);

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }

  function popupHtml(layer, props) {
    var title = layer.label_field ? props[layer.label_field] : layer.title;
    var rows = Object.keys(props).filter(function (k) {
      return props[k] !== null && props[k] !== '' && props[k] !== false && k !== layer.label_field;
    }).slice(0, 8).map(function (k) {
      return '<tr><th scope="row">' + esc(k) + '</th><td>' + esc(props[k] === true ? '○' : props[k]) + '</td></tr>';
    }).join('');
    return '<h3 class="popup-title">' + esc(title) + '</h3><p class="muted">' + esc(layer.title) + '</p>' +
      (rows ? '<table>' + rows + '</table>' : '');
  }

  function suits(layer, props) {
    if (!hazard || !layer.hazards || !layer.hazards[hazard]) return true;
    var v = props[layer.hazards[hazard]];
    return v === true || v === '○' || v === 1 || v === '1';
  }

  function buildPoints(layer) {
    var cluster = L.markerClusterGroup({
      showCoverageOnHover: false, chunkedLoading: true,
      iconCreateFunction: function (c) {
        var n = c.getChildCount();
        return L.divIcon({
          html: '<div style="background:' + layer.color + ';color:#fff;font-weight:bold"><span aria-hidden="true">' + n + '</span>' +
                '<span class="sr-only">' + esc(layer.title) + ' ' + n + '</span></div>',
          className: 'marker-cluster', iconSize: L.point(40, 40)});
      }
    });
    (pointData[layer.key] || []).forEach(function (f) {
      if (!f.geometry || !suits(layer, f.properties)) return;
      var c = f.geometry.type === 'Point' ? f.geometry.coordinates : f.geometry.coordinates[0];
      var m = L.circleMarker([c[1], c[0]], {radius: 7, color: '#ffffff', weight: 2, fillColor: layer.color,
                                             fillOpacity: 0.95, bubblingMouseEvents: false});
      m.bindPopup(function () { return popupHtml(layer, f.properties); }, {maxWidth: 320, minWidth: 200});
      cluster.addLayer(m);
    });
    return cluster;
  }

  function show(layer, on) {
    var existing = groups[layer.key];
    if (existing) { if (on) existing.addTo(map); else map.removeLayer(existing); return; }
    if (!on) return;
    if (layer.tiles) {
      var style = {}; style[layer.key] = {fill: true, fillColor: layer.color, fillOpacity: 0.35, color: layer.color,
                                          weight: 1};
      groups[layer.key] = L.vectorGrid.protobuf(layer.tiles, {
        rendererFactory: L.canvas.tile, vectorTileLayerStyles: style, interactive: true, maxNativeZoom: 18
      }).on('click', function (e) {
        L.popup({maxWidth: 320}).setLatLng(e.latlng).setContent(popupHtml(layer, e.layer.properties || {})).openOn(map);
      }).addTo(map);
      return;
    }
    status.textContent = t.loading + ' ' + layer.title;
    fetch(layer.items, {headers: {'Accept': 'application/geo+json'}}).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (fc) {
      pointData[layer.key] = fc.features;
      groups[layer.key] = buildPoints(layer).addTo(map);
      status.textContent = layer.title + ': ' + fc.features.length + ' ' + t.features;
    }).catch(function () { status.textContent = t.load_failed + ' ' + layer.title; });
  }

  // Alerts in force: their areas on top, coloured by severity (the list beside the map says the same in text).
  (cfg.alerts || []).forEach(function (a) {
    L.geoJSON(a.geometry, {style: {color: a.color, weight: 3, fillColor: a.color, fillOpacity: 0.25},
                           interactive: true, bubblingMouseEvents: false})
      .bindPopup('<h3 class="popup-title">' + esc(a.headline) + '</h3><p>' + esc(a.severity) + '</p>')
      .addTo(map);
  });

  cfg.layers.forEach(function (layer) {
    var box = document.querySelector('input[data-layer="' + layer.key + '"]');
    show(layer, box ? box.checked : layer.visible);
    if (box) box.addEventListener('change', function () { show(layer, box.checked); });
  });

  var hf = document.getElementById('hazard-filter');
  if (hf) hf.addEventListener('change', function () {
    hazard = hf.value;
    cfg.layers.forEach(function (layer) {
      if (!pointData[layer.key]) return;
      var on = groups[layer.key] && map.hasLayer(groups[layer.key]);
      if (groups[layer.key]) map.removeLayer(groups[layer.key]);
      groups[layer.key] = buildPoints(layer);
      if (on) groups[layer.key].addTo(map);
    });
  });

  // Nearest shelters: the form works without JavaScript too (server-rendered results).
  var form = document.getElementById('nearest-form');
  var results = document.getElementById('nearest-results');
  if (!form) return;  // this town has no shelter layer: no nearest-shelter search
  var marker = null;
  function search(params) {
    results.setAttribute('aria-busy', 'true');
    fetch(form.action + '?' + new URLSearchParams(params).toString() + '&fragment=1').then(function (r) {
      return r.text();
    }).then(function (html) {
      results.innerHTML = html;
      results.removeAttribute('aria-busy');
    });
  }
  function fromPoint(lat, lon) {
    if (marker) map.removeLayer(marker);
    marker = L.circleMarker([lat, lon], {radius: 9, color: '#000', weight: 3, fillColor: '#ffeb3b', fillOpacity: 1})
      .addTo(map);
    search({lat: lat.toFixed(6), lon: lon.toFixed(6), hazard: document.getElementById('nearest-hazard').value,
            lang: cfg.lang});
  }
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    search({address: document.getElementById('nearest-address').value,
            hazard: document.getElementById('nearest-hazard').value, lang: cfg.lang});
  });
  document.getElementById('nearest-here').addEventListener('click', function () {
    if (!navigator.geolocation) { results.textContent = t.no_geolocation; return; }
    navigator.geolocation.getCurrentPosition(function (p) { fromPoint(p.coords.latitude, p.coords.longitude); },
      function () { results.textContent = t.no_geolocation; });
  });
  map.on('click', function (e) { if (!e.originalEvent.defaultPrevented) fromPoint(e.latlng.lat, e.latlng.lng); });

  var addr = document.getElementById('nearest-address');
  var dl = document.getElementById('town-suggestions');
  var timer = null;
  addr.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (addr.value.length < 1) return;
      fetch('/api/' + cfg.tenant + '/suggest?q=' + encodeURIComponent(addr.value)).then(function (r) {
        return r.ok ? r.json() : [];
      }).then(function (items) {
        dl.innerHTML = items.map(function (s) { return '<option value="' + esc(s) + '">'; }).join('');
      });
    }, 200);
  });
})();
