// Hallpass hosted account pages: WebAuthn ceremonies (adding a security
// key or passkey, the second step with a key, signing in with a passkey).
// A form [data-webauthn="create"|"get"] asks its [data-webauthn-options]
// URL for the options (POST, with the form's fields, CSRF token included),
// runs navigator.credentials.create/get, puts the credential's JSON in the
// form's hidden "credential" field and submits the form: the server
// verifies everything. Needs webauthn-codec.js first. Same-origin only, no inline script (strict CSP).
(function () {
  "use strict";

  var codec = window.HallpassWebAuthn;

  function showError(form, msg) {
    var el = form.querySelector("[data-webauthn-error]");
    if (!el) return;
    el.textContent = msg;
    el.hidden = !msg;
    if (msg) el.focus();
  }

  function run(form, button) {
    var kind = form.dataset.webauthn;
    showError(form, "");
    button.disabled = true;
    fetch(form.dataset.webauthnOptions, {
      method: "POST",
      credentials: "same-origin",
      body: new URLSearchParams(new FormData(form))
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok || !body.publicKey) throw new Error(body.error || "The server refused to start (status " + res.status + "). Reload the page and try again.");
        return body.publicKey;
      });
    }).then(function (pk) {
      return kind === "create"
        ? navigator.credentials.create({ publicKey: codec.creationOptions(pk) })
        : navigator.credentials.get({ publicKey: codec.requestOptions(pk) });
    }).then(function (cred) {
      if (!cred) throw new Error("No key was chosen.");
      form.querySelector("input[name=credential]").value = JSON.stringify(codec.credentialJSON(cred));
      form.submit();
    }).catch(function (err) {
      button.disabled = false;
      var msg = err && err.name === "NotAllowedError"
        ? "The security key prompt was closed or timed out. Nothing was changed."
        : err && err.name === "InvalidStateError"
          ? "This key is registered already."
          : (err && err.message) || "The security key did not work.";
      showError(form, msg);
    });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-webauthn]");
    for (var i = 0; i < forms.length; i++) {
      (function (form) {
        var button = form.querySelector("[data-webauthn-start]");
        var err = form.querySelector("[data-webauthn-error]");
        if (err) err.setAttribute("tabindex", "-1");
        if (!window.PublicKeyCredential || !navigator.credentials) {
          if (button) button.disabled = true;
          showError(form, "This browser cannot use security keys or passkeys.");
          return;
        }
        form.addEventListener("submit", function (e) {
          if (form.querySelector("input[name=credential]").value) return;
          e.preventDefault();
          run(form, button);
        });
      })(forms[i]);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
