// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // "Select all" in the queue ticks every row's checkbox.
    document.querySelectorAll("[data-select-all]").forEach(function (box) {
      var name = box.getAttribute("data-select-all");
      box.addEventListener("change", function () {
        document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (c) {
          c.checked = box.checked;
        });
      });
    });
    // Canned responses insert at the cursor instead of reloading the page.
    document.querySelectorAll("form[data-canned-for]").forEach(function (form) {
      var target = document.getElementById(form.getAttribute("data-canned-for"));
      if (!target) return;
      form.addEventListener("submit", function (ev) {
        var select = form.querySelector("select");
        if (!select) return;
        ev.preventDefault();
        fetch("/canned/" + encodeURIComponent(select.value), { credentials: "same-origin" })
          .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
          .then(function (text) {
            var start = target.selectionStart || target.value.length;
            var end = target.selectionEnd || start;
            target.value = target.value.slice(0, start) + text + target.value.slice(end);
            target.focus();
          })
          .catch(function () { form.submit(); });
      });
    });
    // Long quoted HTML (earlier mails) starts collapsed.
    document.querySelectorAll(".body.html > blockquote").forEach(function (q) {
      var d = document.createElement("details");
      d.className = "quoted";
      var s = document.createElement("summary");
      s.textContent = "Show quoted text";
      q.parentNode.insertBefore(d, q);
      d.appendChild(s);
      d.appendChild(q);
    });
  });
})();
