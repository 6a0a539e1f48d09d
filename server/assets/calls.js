// fieldops console: calls. A button with data-call-customer places an
// audio call to that customer (about data-call-ticket, if set); the call
// panel (#call-panel, preserved across boosted navigation) shows it ringing,
// connected or over, and offers accept/decline for a customer's incoming
// call. The server decides everything: this script sends signals with
// POST /calls/signal and hears its calls as "fieldops:call" events, which
// console.js raises from the tab's event stream. The media is the browser's
// own WebRTC: the caller offers once the call is accepted, candidates
// trickle both ways, and a data channel carries a ping every two seconds
// whose echo shows the round trip in the panel.
(function () {
  "use strict";
  var panel = document.getElementById("call-panel");
  if (!panel || !window.RTCPeerConnection || !window.fetch) {
    return;
  }
  var csrf = (JSON.parse(document.body.getAttribute("hx-headers") || "{}"))["x-csrf-token"];
  var call = null;

  function text(name) { return panel.getAttribute("data-" + name) || name; }
  function part(name) { return panel.querySelector("[data-call-" + name + "]"); }
  function button(action) { return panel.querySelector('[data-call-action="' + action + '"]'); }

  function show(state, status, peer) {
    panel.hidden = false;
    panel.setAttribute("data-state", state);
    part("status").textContent = status;
    if (peer !== undefined) { part("peer").textContent = peer; }
    button("accept").hidden = state !== "incoming";
    button("decline").hidden = state !== "incoming";
    button("hangup").hidden = state === "incoming" || state === "ended";
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // Signals go one after another: the server takes a sender's numbers in
  // order, so an offer must not be overtaken by its own candidates.
  var outbox = Promise.resolve();
  function send(signal) {
    if (!call) { return; }
    call.seq += 1;
    var body = JSON.stringify({ call_id: call.id, seq: call.seq, signal: signal });
    outbox = outbox.then(function () {
      return fetch("/calls/signal", {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "content-type": "application/json", "x-csrf-token": csrf }
      }).then(function (r) {
        if (r.status === 200) { return r.json().then(hear); }
      });
    }).catch(function () { /* the server ends a call it cannot reach */ });
  }

  function end(reason, message) {
    if (!call) { return; }
    var ended = call;
    call = null;
    if (ended.timer) { clearInterval(ended.timer); }
    if (ended.pc) { ended.pc.close(); }
    if (ended.stream) { ended.stream.getTracks().forEach(function (t) { t.stop(); }); }
    part("audio").srcObject = null;
    part("quality").textContent = "";
    show("ended", message || text("ended-" + reason.replace(/_/g, "-")));
    panel.setAttribute("data-ended", reason);
    setTimeout(function () { if (!call) { panel.hidden = true; } }, 8000);
  }

  // Whether `c` is still the call on screen (it may have ended while the
  // microphone or a description was awaited).
  function current(c) { return c === call; }

  function connect() {
    var c = call;
    var pc = new RTCPeerConnection({ iceServers: c.iceServers || [] });
    c.pc = pc;
    c.early = c.early || [];
    pc.onicecandidate = function (e) {
      if (e.candidate) { send({ candidate: { candidate: JSON.stringify(e.candidate.toJSON()) } }); }
    };
    pc.ontrack = function (e) { part("audio").srcObject = e.streams[0]; };
    pc.oniceconnectionstatechange = function () {
      panel.setAttribute("data-ice", pc.iceConnectionState);
      if (pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") {
        show("connected", text("in-call"));
      }
    };
    var media = navigator.mediaDevices && navigator.mediaDevices.getUserMedia
      ? navigator.mediaDevices.getUserMedia({ audio: true })
      : Promise.reject(new Error("no media devices"));
    return media.then(function (stream) {
      if (!current(c)) {
        stream.getTracks().forEach(function (t) { t.stop(); });
        throw new Error("the call ended");
      }
      c.stream = stream;
      stream.getTracks().forEach(function (t) { pc.addTrack(t, stream); });
    }, function () {
      // No microphone (or refused): keep the call, say so.
      part("quality").textContent = text("no-media");
      pc.addTransceiver("audio", { direction: "recvonly" });
    }).then(function () { return pc; });
  }

  // Candidates that arrive before the other side's description wait for it.
  function described(c) {
    (c.early || []).forEach(function (init) { c.pc.addIceCandidate(init).catch(function () {}); });
    c.early = [];
  }

  function ping(c, channel) {
    channel.onmessage = function (e) {
      var sent = Number(String(e.data).replace("ping:", ""));
      if (sent > 0) {
        var rtt = Math.max(0, Math.round(performance.now() - sent));
        part("quality").textContent = text("rtt") + ": " + rtt;
        panel.setAttribute("data-rtt-ms", String(rtt));
      }
    };
    var beat = function () {
      if (channel.readyState === "open") { channel.send("ping:" + performance.now()); }
    };
    channel.onopen = beat;
    c.timer = setInterval(beat, 2000);
  }

  function offer() {
    var c = call;
    connect().then(function (pc) {
      ping(c, pc.createDataChannel("ping"));
      return pc.createOffer().then(function (o) {
        return pc.setLocalDescription(o).then(function () {
          send({ sdp: { kind: "offer", sdp: o.sdp } });
        });
      });
    });
  }

  function answer(sdp) {
    var c = call;
    var ready = c.pc ? Promise.resolve(c.pc) : connect();
    ready.then(function (pc) {
      pc.ondatachannel = function (e) { e.channel.onmessage = function (m) { e.channel.send(m.data); }; };
      return pc.setRemoteDescription({ type: "offer", sdp: sdp }).then(function () {
        described(c);
        return pc.createAnswer();
      }).then(function (a) {
        return pc.setLocalDescription(a).then(function () {
          send({ sdp: { kind: "answer", sdp: a.sdp } });
        });
      });
    });
  }

  function hear(update) {
    var event = update.event;
    if (typeof event === "object" && event.incoming) {
      if (call) { return; }
      call = { id: update.call_id, seq: 0, incoming: true, iceServers: event.incoming.ice_servers };
      show("incoming", text("incoming"), event.incoming.caller_name);
      send("ringing");
      return;
    }
    if (!call || update.call_id !== call.id) { return; }
    if (typeof event === "string") {
      if (event === "ringing") { show("ringing", text("ringing")); }
      if (event === "accepted") {
        show("connecting", text("connecting"));
        if (!call.incoming) { offer(); }
      }
      return;
    }
    if (event.placed) { call.iceServers = event.placed.ice_servers; }
    if (event.ended) { end(event.ended.reason); }
    // A refused invite or answer ends the call here; a refused candidate
    // does not end a call the server still holds.
    if (event.refused && !call.pc) { end("refused", event.refused.message); }
    if (event.sdp && event.sdp.kind === "answer" && call.pc) {
      var c = call;
      c.pc.setRemoteDescription({ type: "answer", sdp: event.sdp.sdp }).then(function () { described(c); });
    }
    if (event.sdp && event.sdp.kind === "offer") { answer(event.sdp.sdp); }
    if (event.candidate) {
      var init = JSON.parse(event.candidate.candidate);
      if (call.pc && call.pc.remoteDescription) {
        call.pc.addIceCandidate(init).catch(function () {});
      } else {
        call.early = (call.early || []).concat([init]);
      }
    }
  }

  document.addEventListener("fieldops:call", function (e) { hear(e.detail); });

  document.addEventListener("click", function (e) {
    var target = e.target.closest ? e.target.closest("[data-call-customer], [data-call-action]") : null;
    if (!target) { return; }
    var action = target.getAttribute("data-call-action");
    if (action === "accept" && call) { send("accept"); }
    if (action === "decline" && call) { send("decline"); }
    if (action === "hangup" && call) { send("hangup"); }
    var customer = target.getAttribute("data-call-customer");
    if (customer && !call) {
      call = { id: newId(), seq: 0, incoming: false };
      show("calling", text("calling"), target.getAttribute("data-call-name") || "");
      send({ invite: {
        callee: { customer: { customer_id: customer } },
        ticket_id: target.getAttribute("data-call-ticket") || null,
        media: "audio"
      } });
    }
  });

  // Call buttons work only with this script: show them.
  function reveal() {
    document.querySelectorAll("[data-call-customer]").forEach(function (b) { b.hidden = false; });
  }
  reveal();
  document.body.addEventListener("htmx:afterSettle", reveal);
})();
