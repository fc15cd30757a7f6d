// Upload with a progress bar, then follow the server's import job (read → write) until it is done.
(function () {
  var form = document.getElementById('import-form');
  if (!form) return;
  var bar = document.getElementById('imp-progress');
  var status = document.getElementById('imp-status');
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(e.loaded / e.total * 30); status.textContent = 'upload ' + bar.value / 0.3 + '%'; }
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status !== 202) { status.textContent = body.message || ('error ' + xhr.status); return; }
      poll(body.job);
    };
    xhr.send(new FormData(form));
  });
  function poll(job) {
    fetch('/jobs/' + job, {headers: {'Accept': 'application/json'}}).then(function (r) { return r.json(); })
      .then(function (j) {
        bar.value = j.percent;
        status.textContent = j.message;
        if (j.state === 'running') setTimeout(function () { poll(job); }, 300);
        else if (j.state === 'done' && j.layer) status.innerHTML = j.message + ' <a href="/layers/' + j.layer + '">' + j.layer + '</a>';
      });
  }
})();
