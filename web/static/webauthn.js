// Hallpass console: WebAuthn ceremonies (adding a passkey, signing in with
// one). A button [data-webauthn="register"|"login"] inside a form
// [data-webauthn-form] asks its [data-webauthn-options] URL for the options
// (POST, with the form's fields and its token), runs
// navigator.credentials.create/get, puts the credential's JSON in the form's
// "credential" field and submits the form. The server verifies everything.
// Needs webauthn-codec.js loaded first.
(function () {
  "use strict";

  var codec = window.HallpassWebAuthn;

  function showError(form, msg) {
    var el = form.querySelector("[data-webauthn-error]");
    if (!el) return;
    el.textContent = msg;
    el.hidden = !msg;
  }

  function run(button) {
    var form = button.closest("form[data-webauthn-form]");
    if (!form) return;
    var kind = button.dataset.webauthn;
    var token = form.querySelector("input[name=_csrf]");
    showError(form, "");
    button.disabled = true;
    fetch(button.dataset.webauthnOptions, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": token ? token.value : "" },
      body: new URLSearchParams(new FormData(form))
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok || !body.publicKey) throw new Error(body.error || "The server refused to start (status " + res.status + "). Reload the page and try again.");
        return body.publicKey;
      });
    }).then(function (pk) {
      return kind === "register"
        ? navigator.credentials.create({ publicKey: codec.creationOptions(pk) })
        : navigator.credentials.get({ publicKey: codec.requestOptions(pk) });
    }).then(function (cred) {
      if (!cred) throw new Error("No passkey was chosen.");
      form.querySelector("input[name=credential]").value = JSON.stringify(codec.credentialJSON(cred));
      form.submit();
    }).catch(function (err) {
      button.disabled = false;
      var msg = err && err.name === "NotAllowedError"
        ? "The passkey prompt was closed or timed out. Nothing was changed."
        : err && err.name === "InvalidStateError"
          ? "This passkey is registered already."
          : (err && err.message) || "The passkey did not work.";
      showError(form, msg);
    });
  }

  // Show the buttons where the browser can run them, and hide the note
  // saying it cannot.
  function reveal(root) {
    if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) return;
    root.querySelectorAll("[data-webauthn]").forEach(function (b) { b.hidden = false; });
    root.querySelectorAll("[data-webauthn-fallback]").forEach(function (p) { p.hidden = true; });
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-webauthn]");
    if (!b) return;
    ev.preventDefault();
    run(b);
  });
  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:afterSettle", function () { reveal(document); });
})();
