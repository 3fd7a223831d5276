// Hallpass hosted account pages: WebAuthn ceremonies (adding a security
// key or passkey, the second step with a key, signing in with a passkey).
// A form [data-webauthn="create"|"get"] asks its [data-webauthn-options]
// URL for the options (POST, with the form's fields, CSRF token included),
// runs navigator.credentials.create/get, puts the credential's JSON in the
// form's hidden "credential" field and submits the form: the server
// verifies everything. Same-origin only, no inline script (strict CSP).
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

  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      try { return cred.toJSON(); } catch (e) { /* built by hand below */ }
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
        ? navigator.credentials.create({ publicKey: creationOptions(pk) })
        : navigator.credentials.get({ publicKey: requestOptions(pk) });
    }).then(function (cred) {
      if (!cred) throw new Error("No key was chosen.");
      form.querySelector("input[name=credential]").value = JSON.stringify(credentialJSON(cred));
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
