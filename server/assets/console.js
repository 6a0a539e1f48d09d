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
  // detail: the event's data ({kind, visit_id?}); none after a lag.
  function fire(area, detail) {
    if (window.htmx) {
      window.htmx.trigger(document.body, "live-" + area, detail || {});
    }
  }
  function data(e) {
    try { return JSON.parse(e.data); } catch (err) { return {}; }
  }
  areas.forEach(function (area) {
    source.addEventListener(area, function (e) { fire(area, data(e)); });
  });
  // A call message for this tab's device: calls.js takes it from here.
  source.addEventListener("call-signal", function (e) {
    document.dispatchEvent(new CustomEvent("fieldops:call", { detail: JSON.parse(e.data) }));
  });
  // Events were dropped on the way: everything may be stale.
  source.addEventListener("lagged", function () { areas.forEach(function (area) { fire(area); }); });
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

// The dispatch board: an event that names a visit (a claim, a check-in, an
// edit) swaps that visit's card alone, fetched from /dispatch/cards/{id},
// into the column it now belongs to; anything else (an event without a
// visit, a lag, a failed fetch, a flood of events after a reconnect) has
// the whole board fetch itself again. What someone is typing into the card
// (a return or cancel reason, the on-site box) and where their focus is
// survive the swap.
(function () {
  "use strict";
  // Card fetches in flight, by visit: "busy", or "again" when another event
  // came meanwhile.
  var pending = {};
  var inFlight = 0;
  // While the whole board is being fetched, the visits whose cards changed:
  // the board may have been read before them, so they are fetched again
  // once it is in.
  var duringWhole = null;
  var MAX_CARD_FETCHES = 8;
  function board() {
    var b = document.getElementById("board");
    return b && b.getAttribute("data-cards") ? b : null;
  }
  function whole() {
    var live = document.getElementById("board-live");
    if (live && window.htmx) {
      window.htmx.trigger(live, "board-stale", {});
    }
  }
  function recount(b) {
    Array.prototype.forEach.call(b.querySelectorAll("section[data-column]"), function (column) {
      var n = column.querySelectorAll("article.visit").length;
      var count = column.querySelector(".count");
      if (count) { count.textContent = String(n); }
      var empty = column.querySelector(".empty");
      if (empty) { empty.hidden = n > 0; }
    });
  }
  function keep(from, to) {
    var focused = document.activeElement && from.contains(document.activeElement) ? document.activeElement.id : null;
    Array.prototype.forEach.call(from.querySelectorAll("input[id]"), function (input) {
      var twin = to.querySelector("#" + CSS.escape(input.id));
      if (!twin) { return; }
      if (input.type === "checkbox") { twin.checked = input.checked; } else if (input.type !== "hidden") { twin.value = input.value; }
    });
    return focused;
  }
  function place(id, html) {
    // Looked up now: the board may have been replaced while the card was
    // on its way.
    var b = board();
    if (!b) { return; }
    var old = document.getElementById("visit-" + id);
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var card = holder.content.querySelector("article.visit");
    if (!card) {
      if (old) { old.remove(); }
      recount(b);
      return;
    }
    var column = b.querySelector('section[data-column="' + card.getAttribute("data-column") + '"]');
    if (!column || card.id !== "visit-" + id) { whole(); return; }
    var focused = old ? keep(old, card) : null;
    if (old) { old.remove(); }
    var order = card.getAttribute("data-order");
    var before = null;
    Array.prototype.some.call(column.querySelectorAll("article.visit"), function (other) {
      if (other.getAttribute("data-order") < order) { before = other; return true; }
      return false;
    });
    column.insertBefore(card, before);
    if (window.htmx) { window.htmx.process(card); }
    if (focused) {
      var again = document.getElementById(focused);
      if (again) { again.focus(); }
    }
    recount(b);
  }
  function refresh(id) {
    var b = board();
    if (!b) { return; }
    if (duringWhole) { duringWhole[id] = true; }
    if (pending[id]) { pending[id] = "again"; return; }
    if (inFlight >= MAX_CARD_FETCHES) { whole(); return; }
    pending[id] = "busy";
    inFlight += 1;
    fetch(b.getAttribute("data-cards") + encodeURIComponent(id), { credentials: "same-origin", redirect: "error" })
      .then(function (response) {
        if (response.status === 404) { return ""; }
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) { place(id, html); })
      .catch(whole)
      .then(function () {
        inFlight -= 1;
        var again = pending[id] === "again";
        delete pending[id];
        if (again) { refresh(id); }
      });
  }
  function changed(e) {
    if (!board()) { return; }
    var id = e.detail && e.detail.visit_id;
    if (id) { refresh(id); } else { whole(); }
  }
  function isWhole(e) {
    return e.detail && e.detail.elt && e.detail.elt.id === "board-live";
  }
  // <body> outlives boosted navigation, so these are added once.
  if (document.body) {
    document.body.addEventListener("live-visit", changed);
    document.body.addEventListener("live-attendance", changed);
    document.body.addEventListener("htmx:beforeRequest", function (e) {
      if (isWhole(e)) { duringWhole = {}; }
    });
    document.body.addEventListener("htmx:afterRequest", function (e) {
      if (!isWhole(e) || !duringWhole) { return; }
      var changedMeanwhile = Object.keys(duringWhole);
      duringWhole = null;
      changedMeanwhile.forEach(refresh);
    });
  }
})();
