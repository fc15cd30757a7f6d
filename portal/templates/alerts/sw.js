// machihub alerts service worker: shows pushed alerts and opens their page when tapped.
self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { title: "machihub", body: event.data.text() }; }
  const options = { body: data.body || "", tag: data.tag || undefined, lang: data.lang || "ja",
                    data: { url: data.url || "/" }, requireInteraction: data.severity === "Extreme" || data.severity === "Severe" };
  event.waitUntil(self.registration.showNotification(data.title || "machihub", options));
});
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(clients.openWindow(url));
});
