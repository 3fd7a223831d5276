// Hallpass console: the JSON editors of a user's profile and metadata, and
// the live preview of the user data settings. The server checks everything
// again; nothing here is needed to save.
(function () {
  "use strict";
  if (window.hallpassUserData) return;
  window.hallpassUserData = true;

  // --- JSON editors -------------------------------------------------------
  // A form[data-json-editor] holds a textarea[data-json-object=NAME] that
  // must hold one JSON object: a submit is blocked, with a message beside
  // the editor ([data-json-error]), until it does.

  function jsonProblem(text, name) {
    var v;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return name + ": not valid JSON (" + e.message + "). Nothing was sent.";
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return name + ": Must be a JSON object, such as {\"key\": \"value\"}. Nothing was sent.";
    }
    return "";
  }

  function checkEditor(area) {
    var msg = jsonProblem(area.value, area.dataset.jsonObject);
    var box = area.form && area.form.querySelector("[data-json-error]");
    area.setCustomValidity(msg);
    if (msg) {
      area.setAttribute("aria-invalid", "true");
    } else {
      area.removeAttribute("aria-invalid");
    }
    if (box) {
      box.textContent = msg;
      box.hidden = !msg;
    }
    return msg;
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.matches || !form.matches("form[data-json-editor]")) return;
    var area = form.querySelector("textarea[data-json-object]");
    if (area && checkEditor(area)) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      area.focus();
    }
  }, true);

  // Once an error shows, it follows the text as it is corrected.
  document.addEventListener("input", function (ev) {
    var area = ev.target;
    if (!area.matches || !area.matches("form[data-json-editor] textarea[data-json-object]")) return;
    if (area.getAttribute("aria-invalid") === "true") checkEditor(area);
  });

  // --- Live preview -------------------------------------------------------
  // section[data-preview] posts the settings form's draft (its s:KEY and
  // checked reset:KEY fields) and the picked user to data-preview-url,
  // 300 ms after the draft stops changing, and shows the answer.

  function pretty(v) {
    return JSON.stringify(v, null, 2);
  }

  function list(box, items) {
    box.textContent = "";
    items.forEach(function (text) {
      var p = document.createElement("div");
      p.textContent = text;
      box.appendChild(p);
    });
    box.hidden = items.length === 0;
  }

  function wirePreview(sec) {
    if (sec.dataset.wired) return;
    sec.dataset.wired = "1";
    var form = document.querySelector("form[data-settings-form]");
    if (!form) return;
    var q = function (sel) { return sec.querySelector(sel); };
    var errors = q("[data-preview-errors]"), failed = q("[data-preview-failed]");
    var object = q("[data-preview-object]"), token = q("[data-preview-token]");
    var note = q("[data-preview-note]"), chosen = q("[data-preview-chosen]"), status = q("[data-preview-status]");
    var search = q("[data-preview-search]"), users = q("[data-preview-users]");
    var state = { user: sec.dataset.userId || "", seq: 0, timer: 0, searchSeq: 0, searchTimer: 0 };
    if (state.user) chosen.textContent = "Previewing for " + sec.dataset.userLabel + " (user " + state.user + ", the newest).";

    function draft() {
      var p = new URLSearchParams();
      p.set("_csrf", sec.dataset.csrf);
      p.set("user", state.user);
      form.querySelectorAll("textarea[name^='s:'], input[name^='s:'], select[name^='s:']").forEach(function (el) {
        p.append(el.name, el.value);
      });
      form.querySelectorAll("input[name^='reset:']:checked").forEach(function (el) { p.append(el.name, el.value); });
      return p;
    }

    function show(code, ans) {
      if (ans.errors && ans.errors.length) {
        list(errors, ans.errors.map(function (e) { return e.message; }));
        list(failed, []);
        object.textContent = "";
        token.textContent = "";
        note.hidden = true;
        status.textContent = code === 404 ? "User not found" : "Draft refused";
        return;
      }
      list(errors, []);
      list(failed, (ans.failed || []).map(function (e) { return e.message; }));
      object.textContent = ans.object ? pretty(ans.object) : "";
      token.textContent = ans.token ? pretty(ans.token) : "";
      note.textContent = ans.note || "";
      note.hidden = !ans.note;
      status.textContent = ans.user ? "Up to date" : "Draft is valid";
    }

    function refresh() {
      var seq = ++state.seq;
      status.textContent = "Computing…";
      fetch(sec.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": sec.dataset.csrf },
        body: draft().toString()
      }).then(function (res) {
        return res.json().then(function (ans) { return { code: res.status, ans: ans }; });
      }).then(function (r) {
        if (seq === state.seq) show(r.code, r.ans);
      }).catch(function () {
        if (seq !== state.seq) return;
        list(errors, ["The preview could not be computed: the console did not answer (reload the page if your session ended)."]);
        status.textContent = "";
      });
    }

    function schedule() {
      clearTimeout(state.timer);
      state.timer = setTimeout(refresh, 300);
    }

    function pick(u) {
      state.user = String(u.id);
      chosen.textContent = "Previewing for " + u.label + " (user " + u.id + ").";
      users.textContent = "";
      refresh();
    }

    function findUsers() {
      var seq = ++state.searchSeq;
      var url = sec.dataset.usersUrl + "?q=" + encodeURIComponent(search.value.trim());
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) { return res.json(); })
        .then(function (ans) {
          if (seq !== state.searchSeq) return;
          users.textContent = "";
          if (!ans.users.length) {
            var none = document.createElement("span");
            none.className = "muted small";
            none.textContent = "No user matches.";
            users.appendChild(none);
          }
          ans.users.forEach(function (u) {
            var b = document.createElement("button");
            b.type = "button";
            b.className = "button button-small";
            b.textContent = u.label + (u.detail ? " (" + u.detail + ")" : "");
            b.dataset.testid = "preview-user";
            b.addEventListener("click", function () { pick(u); });
            users.appendChild(b);
          });
        }).catch(function () {});
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    search.addEventListener("input", function () {
      clearTimeout(state.searchTimer);
      state.searchTimer = setTimeout(findUsers, 250);
    });
    search.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") {
        ev.preventDefault();
        clearTimeout(state.searchTimer);
        findUsers();
      }
    });
    refresh();
  }

  function wire() {
    document.querySelectorAll("section[data-preview]").forEach(wirePreview);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
  document.addEventListener("htmx:afterSettle", wire);
})();
