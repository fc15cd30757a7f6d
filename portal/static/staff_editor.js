// Staff layer editor: features on a map with draw tools (add, move, delete) and in a table; every write goes
// through OGC API Part 4 with If-Match, so a stale edit comes back as 412 and both versions are shown.
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('editor-config').textContent);
  var table = document.getElementById('feature-table');
  var status = document.getElementById('edit-status');
  var base = '/ogc/collections/' + cfg.layer + '/items';
  var headers = {'Content-Type': 'application/geo+json', 'Accept': 'application/json', 'X-CSRF-Token': cfg.csrf};
  var map = L.map('editor-map', {preferCanvas: false}).setView(cfg.center, 13);
  if (cfg.tile_url) L.tileLayer(cfg.tile_url, {attribution: cfg.tile_attribution, maxZoom: 18}).addTo(map);
  var drawn = new L.FeatureGroup().addTo(map);
  var byFid = {};

  function row(fid) { return table.querySelector('tr[data-fid="' + fid + '"]'); }
  function version(fid) { var r = row(fid); return r ? r.dataset.version : (byFid[fid] && byFid[fid].version); }
  function propsOf(fid) {
    var out = {};
    var r = row(fid);
    if (!r) return null;
    r.querySelectorAll('input[data-field]').forEach(function (i) {
      var v = i.value;
      if (v === '') out[i.dataset.field] = null;
      else if (i.dataset.type === 'integer') out[i.dataset.field] = parseInt(v, 10);
      else if (i.dataset.type === 'number') out[i.dataset.field] = parseFloat(v);
      else if (i.dataset.type === 'boolean') out[i.dataset.field] = (v === 'true' || v === '○' || v === '1');
      else out[i.dataset.field] = v;
    });
    return out;
  }
  function showConflict(body) {
    var box = document.getElementById('conflict');
    var rows = document.getElementById('conflict-rows');
    var cur = (body.details && body.details.current) || {};
    var mine = (body.details && body.details.yours) || {};
    var keys = Object.keys(Object.assign({}, cur.properties || {}, mine.properties || {}));
    rows.innerHTML = keys.map(function (k) {
      return '<tr><th scope="row">' + k + '</th><td>' + JSON.stringify((cur.properties || {})[k]) + '</td><td>' +
        JSON.stringify((mine.properties || {})[k]) + '</td></tr>';
    }).join('') + '<tr><th scope="row">version</th><td>' + cur.version + '</td><td>' + body.details.base_version + '</td></tr>';
    box.hidden = false;
    box.focus();
  }
  function send(method, url, body, ver) {
    var h = Object.assign({}, headers);
    if (ver) h['If-Match'] = '"' + ver + '"';
    return fetch(url, {method: method, headers: h, body: body ? JSON.stringify(body) : undefined}).then(function (r) {
      if (r.status === 412 || r.status === 409) return r.json().then(function (b) { showConflict(b); throw new Error(b.message); });
      if (!r.ok) return r.json().then(function (b) { throw new Error(b.message || r.status); });
      return r;
    });
  }
  function done(msg) { status.textContent = msg; setTimeout(function () { location.reload(); }, 600); }
  function fail(e) { status.textContent = e.message; }

  fetch(base + '?limit=2000', {headers: {'Accept': 'application/geo+json'}}).then(function (r) { return r.json(); })
    .then(function (fc) {
      fc.features.forEach(function (f) {
        var gj = L.geoJSON(f, {pointToLayer: function (_, ll) { return L.marker(ll, {keyboard: false}); }});
        gj.eachLayer(function (l) { l.feature = f; l.bindTooltip('#' + f.id); drawn.addLayer(l); });
        byFid[f.id] = {version: null};
      });
      if (fc.features.length) map.fitBounds(drawn.getBounds(), {maxZoom: 16});
    });

  if (cfg.editable) {
    var shape = {Point: 'marker', MultiPoint: 'marker', LineString: 'polyline', MultiLineString: 'polyline',
                 Polygon: 'polygon', MultiPolygon: 'polygon'}[cfg.geometry] || 'marker';
    var draw = {polyline: false, polygon: false, rectangle: false, circle: false, circlemarker: false, marker: false};
    draw[shape] = true;
    map.addControl(new L.Control.Draw({edit: {featureGroup: drawn}, draw: draw}));
    map.on(L.Draw.Event.CREATED, function (e) {
      var fields = {};
      cfg.required.forEach(function (k) { fields[k] = window.prompt(k) || ''; });
      send('POST', base, {type: 'Feature', geometry: e.layer.toGeoJSON().geometry, properties: fields})
        .then(function () { done(cfg.labels.added); }).catch(fail);
    });
    map.on(L.Draw.Event.EDITED, function (e) {
      var jobs = [];
      e.layers.eachLayer(function (l) {
        var fid = l.feature.id;
        jobs.push(send('PATCH', base + '/' + fid, {type: 'Feature', geometry: l.toGeoJSON().geometry, properties: {}},
                       version(fid)));
      });
      Promise.all(jobs).then(function () { done(cfg.labels.moved); }).catch(fail);
    });
    map.on(L.Draw.Event.DELETED, function (e) {
      var jobs = [];
      e.layers.eachLayer(function (l) { jobs.push(send('DELETE', base + '/' + l.feature.id, null, version(l.feature.id))); });
      Promise.all(jobs).then(function () { done(cfg.labels.deleted); }).catch(fail);
    });
  }
  table.addEventListener('click', function (ev) {
    var btn = ev.target.closest('button');
    if (!btn) return;
    var fid = btn.closest('tr').dataset.fid;
    if (btn.classList.contains('save')) {
      send('PATCH', base + '/' + fid, {type: 'Feature', geometry: null, properties: propsOf(fid)}, version(fid))
        .then(function () { done(cfg.labels.saved); }).catch(fail);
    } else if (btn.classList.contains('delete') && window.confirm(cfg.labels.confirm_delete)) {
      send('DELETE', base + '/' + fid, null, version(fid)).then(function () { done(cfg.labels.deleted); }).catch(fail);
    }
  });
  var reload = document.getElementById('conflict-reload');
  if (reload) reload.addEventListener('click', function () { location.reload(); });
})();
