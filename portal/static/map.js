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
  var marker = null;          // where the search starts from (typed address, my position or a map click)
  var found = L.layerGroup().addTo(map);  // the nearest shelters of the last search
  var seq = 0;                 // only the latest search may write the panel
  function origin(lat, lon) {
    if (marker) map.removeLayer(marker);
    marker = L.circleMarker([lat, lon], {radius: 9, color: '#000', weight: 3, fillColor: '#ffeb3b', fillOpacity: 1,
                                         bubblingMouseEvents: false}).addTo(map);
    return marker;
  }
  function say(text) {  // a message, never markup: the server's words in the page language
    var p = document.createElement('p');
    p.setAttribute('role', 'alert');
    p.textContent = text;
    results.innerHTML = '';
    results.appendChild(p);
  }
  function answer(r) {  // {html} for a result fragment, {message} for a refusal (JSON {"error", "message"})
    var type = r.headers.get('Content-Type') || '';
    if (type.indexOf('json') >= 0) {
      return r.json().then(function (body) { return {message: body.message || body.error || String(r.status)}; });
    }
    if (!r.ok) return {message: t.load_failed + ' (' + r.status + ')'};
    return r.text().then(function (html) { return {html: html}; });
  }
  // The shelters of the panel on the map, each name a button that centres the map on it and opens its popup.
  function plot(from, move) {
    found.clearLayers();
    var list = results.querySelector('ol.nearest');
    var pts = from ? [from] : [];
    if (list) Array.prototype.forEach.call(list.querySelectorAll('li[data-lat]'), function (li) {
      var ll = [parseFloat(li.dataset.lat), parseFloat(li.dataset.lon)];
      if (isNaN(ll[0]) || isNaN(ll[1])) return;
      var name = li.querySelector('strong');
      var m = L.circleMarker(ll, {radius: 10, color: '#000', weight: 3, fillColor: '#2e7d32', fillOpacity: 1,
                                  bubblingMouseEvents: false})
        .bindPopup('<h3 class="popup-title">' + esc(name ? name.textContent : '') + '</h3><p>' +
                   esc((li.querySelector('.muted') || {}).textContent) + '</p>')
        .addTo(found);
      pts.push(ll);
      if (!name) return;
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'nearest-show';
      b.textContent = list.dataset.showLabel || '⌖';
      var label = document.createElement('span');
      label.className = 'sr-only';
      label.textContent = ': ' + name.textContent;
      b.appendChild(label);
      b.addEventListener('click', function () {
        map.setView(ll, Math.max(map.getZoom(), 16));
        m.openPopup();
        map.getContainer().scrollIntoView({block: 'nearest'});
      });
      name.parentNode.insertBefore(document.createTextNode(' '), name.nextSibling);
      name.parentNode.insertBefore(b, name.nextSibling.nextSibling);
    });
    if (move && pts.length > 1) map.fitBounds(L.latLngBounds(pts), {padding: [30, 30], maxZoom: 16});
    else if (move && pts.length === 1) map.setView(pts[0], Math.max(map.getZoom(), 15));
  }
  function search(params, from, move) {
    var mine = ++seq;
    results.setAttribute('aria-busy', 'true');
    var url = form.action + '?' + new URLSearchParams(params).toString();
    fetch(url + '&fragment=1').then(answer).then(function (a) {
      if (mine !== seq) return;
      results.removeAttribute('aria-busy');
      if (a.message !== undefined) {
        found.clearLayers();
        if (!from && marker) { map.removeLayer(marker); marker = null; }
        say(a.message);
        return;
      }
      results.innerHTML = a.html;
      if (!from && marker) { map.removeLayer(marker); marker = null; }  // a new typed address: old origin goes
      if (from || !results.querySelector('ol.nearest')) { plot(from, move); return; }
      // a typed address: ask where it is (same search, as JSON) to mark it and show it with the shelters
      return fetch(url + '&f=json', {headers: {'Accept': 'application/json'}}).then(function (r) {
        return r.ok && (r.headers.get('Content-Type') || '').indexOf('json') >= 0 ? r.json() : null;
      }).then(function (body) {
        if (mine !== seq) return;
        var f = body && body.from;
        if (f && typeof f.lat === 'number' && typeof f.lon === 'number') {
          origin(f.lat, f.lon);
          plot([f.lat, f.lon], true);
        } else plot(null, true);
      });
    }).catch(function () {
      if (mine !== seq) return;
      results.removeAttribute('aria-busy');
      say(t.load_failed);
    });
  }
  function fromPoint(lat, lon, move) {
    origin(lat, lon);
    if (move) map.setView([lat, lon], Math.max(map.getZoom(), 15));
    search({lat: lat.toFixed(6), lon: lon.toFixed(6), hazard: document.getElementById('nearest-hazard').value,
            lang: cfg.lang}, [lat, lon], move);
  }
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    search({address: document.getElementById('nearest-address').value,
            hazard: document.getElementById('nearest-hazard').value, lang: cfg.lang}, null, true);
  });
  document.getElementById('nearest-here').addEventListener('click', function () {
    if (!navigator.geolocation) { say(t.no_geolocation); return; }
    navigator.geolocation.getCurrentPosition(function (p) { fromPoint(p.coords.latitude, p.coords.longitude, true); },
      function () { say(t.no_geolocation); });
  });
  map.on('click', function (e) { if (!e.originalEvent.defaultPrevented) fromPoint(e.latlng.lat, e.latlng.lng, false); });

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
