// mbuzz dashboard: progressive enhancement only (every page works without it).
// - [data-copy] buttons copy the target input (the one-time key display)
// - form[data-confirm] asks before submitting (revoking a key); without JS the server asks
// - select[data-autosubmit] submits its form on change (report model picker)
// - #model-form: live check + preview of the DSL as you type (POST /dashboard/models/preview)
(function () {
  "use strict";
  var csrf = function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.dataset.copy);
    var status = button.parentElement.querySelector(".copy-status");
    var done = function (text) { if (status) status.textContent = text; };
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { done(button.dataset.copied); },
        function () { done(document.execCommand("copy") ? button.dataset.copied : button.dataset.failed); });
    } else {
      done(document.execCommand("copy") ? button.dataset.copied : button.dataset.failed);
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-confirm]")) return;
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    var confirmed = form.querySelector('input[name="confirmed"]');
    if (confirmed) confirmed.value = "yes";
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
  });

  var editor = document.getElementById("model-form");
  if (editor) {
    var panel = document.getElementById("panel");
    var source = editor.querySelector("textarea");
    var timer = null;
    var sequence = 0;
    var preview = function () {
      var mine = ++sequence;
      var body = new FormData(editor);
      body.delete("action");
      fetch(editor.dataset.preview, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), "X-Requested-With": "fetch" }
      }).then(function (response) { return response.text(); })
        .then(function (html) { if (mine === sequence) panel.innerHTML = html; })
        .catch(function () { /* the Check button still works */ });
    };
    source.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(preview, 400);
    });
  }
})();
