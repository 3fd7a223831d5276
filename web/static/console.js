// Hallpass console: the few behaviours htmx does not cover. Everything here
// is progressive: the server checks every rule again.
(function () {
  "use strict";

  // A button with data-confirm-match="VALUE" (inside a form) stays disabled
  // until the form's [data-confirm-input] field holds exactly VALUE: typed
  // confirmation of destructive actions.
  function wireConfirmations(root) {
    root.querySelectorAll("form [data-confirm-input]").forEach(function (input) {
      var form = input.form;
      var button = form && form.querySelector("[data-confirm-match]");
      if (!button || input.dataset.wired) return;
      input.dataset.wired = "1";
      var sync = function () { button.disabled = input.value !== button.dataset.confirmMatch; };
      input.addEventListener("input", sync);
      sync();
    });
  }

  // Buttons with data-copy="ID" copy the text of element ID.
  function onClick(ev) {
    var b = ev.target.closest("[data-copy]");
    if (!b) return;
    var el = document.getElementById(b.dataset.copy);
    if (!el || !navigator.clipboard) return;
    navigator.clipboard.writeText(el.textContent.trim()).then(function () {
      var old = b.textContent;
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = old; }, 1200);
    });
  }

  // Close the account menu after navigating.
  function closeMenus() {
    document.querySelectorAll("details.menu[open]").forEach(function (d) { d.open = false; });
  }

  document.addEventListener("click", onClick);
  document.addEventListener("DOMContentLoaded", function () { wireConfirmations(document); });
  document.addEventListener("htmx:afterSettle", function (ev) { wireConfirmations(document); closeMenus(); });
})();
