// fieldops console: one Server-Sent Events stream per tab. Each event is
// named after its area (visit, attendance, extension, ticket, chat,
// presence, ...); it becomes the htmx trigger `live-<area>` on <body>, and
// the page's live regions (hx-trigger="live-visit from:body") re-fetch
// themselves. EventSource reconnects by itself and sends Last-Event-ID, so
// the server replays what a reconnecting tab missed.
(function () {
  "use strict";
  var url = document.body && document.body.getAttribute("data-events");
  if (!url || !window.EventSource) {
    return;
  }
  var areas = ["visit", "attendance", "extension", "ticket", "chat", "presence", "customer", "whatsapp", "invoice", "rating", "alert", "call"];
  var source = new EventSource(url);
  function fire(area) {
    if (window.htmx) {
      window.htmx.trigger(document.body, "live-" + area, {});
    }
  }
  areas.forEach(function (area) {
    source.addEventListener(area, function () { fire(area); });
  });
  // A call message for this tab's device: calls.js takes it from here.
  source.addEventListener("call-signal", function (e) {
    document.dispatchEvent(new CustomEvent("fieldops:call", { detail: JSON.parse(e.data) }));
  });
  // Events were dropped on the way: everything may be stale.
  source.addEventListener("lagged", function () { areas.forEach(fire); });
  // The session ended (signed out elsewhere, account switched off).
  source.addEventListener("signed-out", function () {
    source.close();
    window.location.assign("/sign-in");
  });
  document.body.setAttribute("data-live", "connecting");
  source.addEventListener("open", function () {
    document.body.setAttribute("data-live", "open");
  });
  source.addEventListener("error", function () {
    document.body.setAttribute("data-live", "reconnecting");
  });
})();
