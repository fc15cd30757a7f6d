// Report form: a click on the map sets the location (the form also works with an address and no script).
(function () {
  var el = document.getElementById('report-map');
  if (!el || !window.L) return;
  var c = el.dataset.center.split(',').map(Number);
  var map = L.map(el).setView(c, 13);
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, {attribution: el.dataset.attribution, maxZoom: 18}).addTo(map);
  var marker = null;
  map.on('click', function (e) {
    if (marker) map.removeLayer(marker);
    marker = L.circleMarker(e.latlng, {radius: 9, color: '#000', weight: 3, fillColor: '#ffeb3b', fillOpacity: 1}).addTo(map);
    document.getElementById('rp-lat').value = e.latlng.lat.toFixed(6);
    document.getElementById('rp-lon').value = e.latlng.lng.toFixed(6);
    document.getElementById('rp-where').textContent = e.latlng.lat.toFixed(5) + ', ' + e.latlng.lng.toFixed(5);
  });
})();
