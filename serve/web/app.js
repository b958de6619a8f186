// hedui intake form: add and remove members, validate ID numbers as they
// are typed (the server's own rules: POST /api/v1/personid), print reports.
"use strict";
(function () {
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function validate(input) {
    var msg = input.parentNode.querySelector(".idmsg");
    var v = input.value.trim();
    if (v === "") { msg.textContent = ""; msg.className = "idmsg"; input.classList.remove("bad"); return; }
    fetch("/api/v1/personid", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify({person_id: v})
    }).then(function (r) { return r.json(); }).then(function (res) {
      if (input.value.trim() !== v) { return; } // typed on since
      msg.textContent = res.valid ? ("号码有效，出生日期 " + res.birth_date) : (res.message + "（" + res.reason + "）");
      msg.className = "idmsg " + (res.valid ? "ok" : "bad");
      msg.dataset.reason = res.reason;
      input.classList.toggle("bad", !res.valid);
    });
  }

  function wire(row) {
    var input = row.querySelector(".pid");
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { validate(input); }, 200);
    });
    row.querySelector(".remove").addEventListener("click", function () {
      var rows = document.querySelectorAll("#members tbody tr");
      if (rows.length > 1) { row.remove(); }
    });
    if (input.value) { validate(input); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#members tbody tr").forEach(wire);
    var add = document.getElementById("add-member");
    if (add) {
      add.addEventListener("click", function () {
        var rows = document.querySelectorAll("#members tbody tr");
        var row = rows[rows.length - 1].cloneNode(true);
        row.querySelectorAll("input").forEach(function (i) { i.value = ""; i.classList.remove("bad"); });
        var msg = row.querySelector(".idmsg"); msg.textContent = ""; msg.className = "idmsg";
        row.querySelector(".prel").value = "child";
        document.querySelector("#members tbody").appendChild(row);
        wire(row);
      });
    }
    var print = document.getElementById("print-report");
    if (print) {
      print.addEventListener("click", function () {
        var f = document.createElement("iframe");
        f.style.display = "none";
        f.src = print.dataset.report;
        f.onload = function () { f.contentWindow.focus(); f.contentWindow.print(); };
        document.body.appendChild(f);
      });
    }
  });
})();
