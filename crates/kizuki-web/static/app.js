// kizuki: progressive enhancement only. Every page works without this file; with it, editor
// pages report who else has the record open, and the case editor previews as you type.
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf") || "";

  function post(url, params) {
    var body = new URLSearchParams(params);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": csrf, "content-type": "application/x-www-form-urlencoded" },
      body: body.toString()
    });
  }

  // Presence: a heartbeat every 15 s; the server answers with the others on the record.
  var box = document.getElementById("presence");
  if (box) {
    var key = box.getAttribute("data-key");
    var beat = function () {
      post("/presence", { key: key }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          if (!d) return;
          box.textContent = d.message;
          box.classList.toggle("empty", !d.message);
        }).catch(function () {});
    };
    beat();
    setInterval(beat, 15000);
    window.addEventListener("pagehide", function () {
      if (navigator.sendBeacon) {
        var fd = new URLSearchParams({ key: key, leave: "1", _csrf: csrf });
        navigator.sendBeacon("/presence", new Blob([fd.toString()], { type: "application/x-www-form-urlencoded" }));
      }
    });
  }

  // Live preview of the case page while editing.
  var form = document.getElementById("case-form");
  var target = document.getElementById("case-preview");
  if (form && target) {
    var timer = null;
    var refresh = function () {
      var data = new URLSearchParams(new FormData(form));
      data.delete("version");
      post(form.getAttribute("data-preview"), data).then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) target.innerHTML = html; })
        .catch(function () {});
    };
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    });
  }
})();
