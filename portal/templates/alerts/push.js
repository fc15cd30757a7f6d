// Subscribe this browser to Web Push with the choices made in the form (no mail address needed).
(function () {
  const form = document.getElementById("subscribe-form");
  const box = document.getElementById("push-box");
  const status = document.getElementById("push-status");
  if (!form || !box || !("serviceWorker" in navigator) || !("PushManager" in window) || !form.dataset.tenant) return;
  box.hidden = false;
  const b64 = (s) => { const p = "=".repeat((4 - s.length % 4) % 4); const raw = atob((s + p).replace(/-/g, "+").replace(/_/g, "/"));
                       return Uint8Array.from(raw, (c) => c.charCodeAt(0)); };
  document.getElementById("push-button").addEventListener("click", async () => {
    try {
      const reg = await navigator.serviceWorker.register("/alerts/sw.js", { scope: "/alerts/" });
      const key = (await (await fetch("/alerts/push/key")).json()).publicKey;
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64(key) });
      const fd = new FormData(form);
      const areas = [];
      if (fd.get("town")) areas.push({ kind: "town" });
      for (const k of ["chome", "school", "zone"]) for (const v of fd.getAll(k)) areas.push({ kind: k, name: v });
      const resp = await fetch("/alerts/push/subscribe", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ tenant: form.dataset.tenant, subscription: sub.toJSON(), topics: fd.getAll("topic"), areas,
                               language: fd.get("language"), quiet_start: fd.get("quiet_start"), quiet_end: fd.get("quiet_end") }) });
      const body = await resp.json();
      if (!resp.ok) throw new Error(body.message || resp.status);
      localStorage.setItem("machihub-push-prefs", body.prefs);
      status.textContent = "OK";
    } catch (e) { status.textContent = String(e.message || e); }
  });
})();
