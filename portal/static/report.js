// Report form: a click on the map sets the location (the form also works with an address and no script).
(function () {
  var form = document.getElementById('report-form');
  var lat = document.getElementById('rp-lat'), lon = document.getElementById('rp-lon');
  var addr = document.getElementById('rp-address');
  var problem = document.getElementById('rp-problem');
  if (problem) problem.focus();  // after a refused post, the reader hears what to fix first
  if (form && addr) {
    // A hint before posting: the server says the same (translated) if the script does not run.
    addr.addEventListener('input', function () { addr.setCustomValidity(''); });
    form.addEventListener('submit', function (ev) {
      if ((lat.value && lon.value) || addr.value.trim()) return;
      ev.preventDefault();
      addr.setCustomValidity(form.dataset.needLocation || '');
      addr.reportValidity();
    });
  }
  var el = document.getElementById('report-map');
  if (!el || !window.L) return;
  var c = el.dataset.center.split(',').map(Number);
  var map = L.map(el).setView(c, 13);
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, {attribution: el.dataset.attribution, maxZoom: 18}).addTo(map);
  var marker = null;
  function place(latlng) {
    if (marker) map.removeLayer(marker);
    marker = L.circleMarker(latlng, {radius: 9, color: '#000', weight: 3, fillColor: '#ffeb3b', fillOpacity: 1}).addTo(map);
  }
  if (lat.value && lon.value && !isNaN(+lat.value) && !isNaN(+lon.value)) {  // kept from a refused post
    place([+lat.value, +lon.value]);
    map.setView([+lat.value, +lon.value], 16);
  }
  map.on('click', function (e) {
    place(e.latlng);
    lat.value = e.latlng.lat.toFixed(6);
    lon.value = e.latlng.lng.toFixed(6);
    if (addr) addr.setCustomValidity('');
    document.getElementById('rp-where').textContent = e.latlng.lat.toFixed(5) + ', ' + e.latlng.lng.toFixed(5);
  });
})();
