// Call-center console: search as you type (debounced, stale answers dropped), one-click inquiry logging.
// Works without this script too: the search form and the log forms post normally.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("faq-config").textContent);
  var input = document.getElementById("faq-q");
  var list = document.getElementById("faq-results");
  var status = document.getElementById("faq-status");
  var logForm = document.getElementById("faq-log");
  var timer = null, controller = null, last = input.value.trim(), matched = "";

  function channel() {
    var checked = logForm && logForm.querySelector("input[name=channel]:checked");
    return checked ? checked.value : "phone";
  }

  function setQuery(q, m) {
    last = q; matched = m;
    if (logForm) {
      document.getElementById("faq-log-query").value = q;
      document.getElementById("faq-log-matched").value = m;
    }
    var url = q ? "/faq?q=" + encodeURIComponent(q) : "/faq";
    if (window.history && history.replaceState) history.replaceState(null, "", url);
  }

  function say(text) { status.textContent = text; }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function render(data) {
    list.textContent = "";
    data.hits.forEach(function (h) {
      var li = el("li");
      li.dataset.entry = h.id;
      var a = el("a");
      a.href = h.url + "?q=" + encodeURIComponent(data.query);
      a.lang = "ja";
      a.innerHTML = h.question_html; // escaped by the server, only <mark> added
      li.appendChild(a);
      var p = el("p", "snippet");
      p.lang = "ja";
      p.innerHTML = h.answer_html;
      li.appendChild(p);
      var meta = el("p", "faq-meta");
      h.categories.forEach(function (c) { var t = el("span", "tag", c); t.lang = "ja"; meta.appendChild(t); });
      li.appendChild(meta);
      if (logForm) {
        var b = el("button", "log-one", cfg.labels.answered);
        b.type = "button";
        b.addEventListener("click", function () { logOne(h.id, b); });
        li.appendChild(b);
      }
      list.appendChild(li);
    });
    // matched = entries containing the words; the rest are meaning-only neighbours: say so (a new-FAQ candidate)
    var label = !data.hits.length ? cfg.labels.none : (data.matched === 0 ? cfg.labels.related : cfg.labels.results);
    say(label.replace("%(n)d", String(data.hits.length)));
  }

  function search() {
    var q = input.value.trim();
    if (q === last && list.children.length) return;
    if (controller) controller.abort();
    if (!q) { list.textContent = ""; say(""); setQuery("", ""); return; }
    controller = new AbortController();
    fetch("/faq/api/search?q=" + encodeURIComponent(q), {signal: controller.signal, headers: {Accept: "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) { setQuery(data.query, String(data.matched)); render(data); })
      .catch(function (e) { if (e.name !== "AbortError") say(cfg.labels.failed); });
  }

  function logOne(entryId, button) {
    button.disabled = true;
    fetch("/faq/inquiries", {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": cfg.csrf},
                             body: JSON.stringify({entry_id: entryId, channel: channel(), query: last, matched: matched})})
      .then(function (r) { return r.json().then(function (body) { if (!r.ok) throw new Error(body.message); return body; }); })
      .then(function (body) { say(cfg.labels.logged + " (#" + body.id + ")"); })
      .catch(function (e) { say(cfg.labels.failed + ": " + e.message); })
      .then(function () { button.disabled = false; });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
  document.getElementById("faq-search").addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearTimeout(timer);
    last = null;
    search();
  });
  // server-rendered result buttons: log through fetch with the channel chosen in the form
  Array.prototype.forEach.call(document.querySelectorAll("form.log-one"), function (f) {
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      logOne(Number(f.querySelector("input[name=entry_id]").value), f.querySelector("button"));
    });
  });
  setQuery(last, logForm ? document.getElementById("faq-log-matched").value : "");
})();
