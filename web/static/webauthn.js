// Hallpass console: WebAuthn ceremonies (adding a passkey, signing in with
// one). A button [data-webauthn="register"|"login"] inside a form
// [data-webauthn-form] asks its [data-webauthn-options] URL for the options
// (POST, with the form's fields and its token), runs
// navigator.credentials.create/get, puts the credential's JSON in the form's
// "credential" field and submits the form. The server verifies everything.
(function () {
  "use strict";

  function toBuffer(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type, id: toBuffer(d.id) };
      if (d.transports) out.transports = d.transports;
      return out;
    });
  }

  function creationOptions(pk) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(pk);
    var o = Object.assign({}, pk);
    o.challenge = toBuffer(pk.challenge);
    o.user = Object.assign({}, pk.user, { id: toBuffer(pk.user.id) });
    o.excludeCredentials = descriptors(pk.excludeCredentials);
    return o;
  }

  function requestOptions(pk) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(pk);
    var o = Object.assign({}, pk);
    o.challenge = toBuffer(pk.challenge);
    o.allowCredentials = descriptors(pk.allowCredentials);
    return o;
  }

  // credentialJSON is PublicKeyCredential.toJSON(), built by hand where the
  // browser lacks it.
  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      try { return cred.toJSON(); } catch (e) { /* fall through */ }
    }
    var r = cred.response;
    var response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      if (typeof r.getTransports === "function") response.transports = r.getTransports();
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      response: response,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      authenticatorAttachment: cred.authenticatorAttachment || undefined
    };
  }

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
        ? navigator.credentials.create({ publicKey: creationOptions(pk) })
        : navigator.credentials.get({ publicKey: requestOptions(pk) });
    }).then(function (cred) {
      if (!cred) throw new Error("No passkey was chosen.");
      form.querySelector("input[name=credential]").value = JSON.stringify(credentialJSON(cred));
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
