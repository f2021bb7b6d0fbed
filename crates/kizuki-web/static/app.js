// kizuki: progressive enhancement only. Every page works without this file; with it, editor
// pages report who else has the record open, and the case editor previews as you type and
// adds, removes and moves rows without a round trip.
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

  // Live preview of the case page, diagram included, while editing.
  var form = document.getElementById("case-form");
  var target = document.getElementById("case-preview");
  var later = function () {};
  if (form && target) {
    var timer = null;
    var refresh = function () {
      var data = new URLSearchParams(new FormData(form));
      data.delete("version");
      post(form.getAttribute("data-preview"), data).then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) target.innerHTML = html; })
        .catch(function () {});
    };
    later = function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    };
    form.addEventListener("input", later);
  }

  // The case editor's rows. Without this script every row button submits the form and the
  // server re-renders it with the change; here the same buttons change the page at once.
  // Rows are renumbered after each change, so the posted names (steps[0][text] …) always
  // run 0, 1, 2 … in the order shown, as the server numbers them.
  if (form) {
    var status = document.getElementById("row-status");
    var say = function (what) {
      if (!status) return;
      status.textContent = status.getAttribute("data-" + what) || "";
    };
    var listOf = function (name) {
      return form.querySelector('ol.rows[data-list="' + name + '"]');
    };
    var firstField = function (el) {
      return el && el.querySelector("input, select, textarea");
    };
    var renumber = function (name) {
      var ol = listOf(name);
      if (!ol) return;
      var names = new RegExp("^" + name + "\\[\\d+\\]");
      var ids = new RegExp("^(f-|err-)?" + name + "-\\d+");
      var values = new RegExp("^" + name + ":(up|down|remove):\\d+$");
      Array.prototype.forEach.call(ol.children, function (li, i) {
        var n = String(i + 1);
        var id = function (v) { return v.replace(ids, function (m, p) { return (p || "") + name + "-" + i; }); };
        li.id = name + "-" + i;
        li.querySelectorAll("[name]").forEach(function (el) {
          if (el.name === "row_op") {
            el.value = el.value.replace(values, name + ":$1:" + i);
          } else {
            el.name = el.name.replace(names, name + "[" + i + "]");
          }
        });
        li.querySelectorAll("[id]").forEach(function (el) { el.id = id(el.id); });
        li.querySelectorAll("label[for]").forEach(function (el) { el.htmlFor = id(el.htmlFor); });
        li.querySelectorAll("[aria-describedby]").forEach(function (el) {
          el.setAttribute("aria-describedby", el.getAttribute("aria-describedby").split(" ").map(id).join(" "));
        });
        li.querySelectorAll("[data-text-tpl]").forEach(function (el) {
          el.textContent = el.getAttribute("data-text-tpl").replace("{n}", n);
        });
        li.querySelectorAll("[data-label-tpl]").forEach(function (el) {
          el.setAttribute("aria-label", el.getAttribute("data-label-tpl").replace("{n}", n));
        });
      });
    };
    // The actor keys typed so far: offered for groups, listed beside the steps.
    var keys = function () {
      var ol = listOf("actors");
      if (!ol) return;
      var list = [];
      ol.querySelectorAll('input[name$="[key]"]').forEach(function (el) {
        var k = el.value.trim();
        if (k && list.indexOf(k) < 0) list.push(k);
      });
      var dl = document.getElementById("actor-keys");
      if (dl) {
        dl.textContent = "";
        list.forEach(function (k) {
          var o = document.createElement("option");
          o.value = k;
          dl.appendChild(o);
        });
      }
      form.querySelectorAll(".actor-keys").forEach(function (el) { el.textContent = list.join(", "); });
    };
    form.addEventListener("input", function (e) {
      if (e.target.name && /^actors\[\d+\]\[key\]$/.test(e.target.name)) keys();
    });
    form.addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest('button[name="row_op"]');
      if (!b || !form.contains(b)) return;
      var parts = b.value.split(":");
      var name = parts[0], op = parts[1];
      var ol = listOf(name);
      if (!ol) return;
      e.preventDefault();
      var li = b.closest("li.row-item");
      var focus = null;
      if (op === "add") {
        var tpl = document.getElementById("tpl-" + name);
        if (!tpl) return;
        var row = tpl.content.firstElementChild.cloneNode(true);
        ol.appendChild(row);
        renumber(name);
        focus = firstField(row);
        say("added");
      } else if (li && op === "remove") {
        var next = li.nextElementSibling || li.previousElementSibling;
        li.parentNode.removeChild(li);
        renumber(name);
        focus = firstField(next) || document.getElementById(name + "-add");
        say("removed");
      } else if (li && op === "up") {
        if (li.previousElementSibling) ol.insertBefore(li, li.previousElementSibling);
        renumber(name);
        focus = b;
        say("moved");
      } else if (li && op === "down") {
        if (li.nextElementSibling) ol.insertBefore(li.nextElementSibling, li);
        renumber(name);
        focus = b;
        say("moved");
      }
      if (focus) focus.focus();
      if (name === "actors") keys();
      later();
    });
  }
})();
