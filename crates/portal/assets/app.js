// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // A select marked data-autosubmit submits its form on change (tenant switcher).
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el && el.matches && el.matches("select[data-autosubmit]") && el.form) {
      el.form.submit();
    }
  });

  // The offline indicator: shown while the browser has no network.
  function offline() {
    var banner = document.getElementById("offline");
    if (banner) banner.hidden = navigator.onLine;
  }
  window.addEventListener("online", offline);
  window.addEventListener("offline", offline);
  document.addEventListener("DOMContentLoaded", offline);

  // Toasts for in-page (htmx) requests that fail: what happened, and a
  // retry that repeats the same request.
  function toast(message, retry) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = document.createElement("div");
    t.className = "toast toast-error";
    t.setAttribute("role", "alert");
    var text = document.createElement("span");
    text.textContent = message;
    t.appendChild(text);
    if (retry) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "btn btn-small";
      b.textContent = "Retry";
      b.addEventListener("click", function () { t.remove(); retry(); });
      t.appendChild(b);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "linklike";
    close.textContent = "Dismiss";
    close.addEventListener("click", function () { t.remove(); });
    t.appendChild(close);
    box.appendChild(t);
  }
  function retryOf(detail) {
    var elt = detail && detail.elt;
    return elt && window.htmx ? function () { window.htmx.trigger(elt, "click"); } : null;
  }
  document.addEventListener("htmx:timeout", function (e) {
    toast("The server took too long to answer.", retryOf(e.detail));
  });
  document.addEventListener("htmx:sendError", function (e) {
    toast(navigator.onLine ? "The server could not be reached." : "You are offline; nothing was sent.", retryOf(e.detail));
  });
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    var s = xhr ? xhr.status : 0;
    if (s === 401) return; // the server's HX-Redirect leads to sign-in
    var wait = xhr && xhr.getResponseHeader("Retry-After");
    var message = s === 403 ? "You do not have permission to do that."
      : s === 409 ? "That conflicts with a change made meanwhile; reload and try again."
      : s === 429 ? "Too many requests" + (wait ? "; try again in " + wait + " s." : ".")
      : s === 503 ? "Temporarily unavailable; retry in a moment."
      : s >= 500 ? "Something went wrong on our side (request " + (xhr.getResponseHeader("x-request-id") || "unknown") + ")."
      : "The request failed (" + s + ").";
    toast(message, s >= 500 || s === 429 ? retryOf(e.detail) : null);
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) window.htmx.config.timeout = 10000;
  });

  // Destructive buttons (data-confirm) ask first, in a modal dialog; the
  // form submits only on Confirm. Without this script they submit directly.
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button[data-confirm]");
    var dialog = document.getElementById("confirm");
    if (!button || !button.form || !dialog || typeof dialog.showModal !== "function") return;
    e.preventDefault();
    document.getElementById("confirm-text").textContent = button.getAttribute("data-confirm");
    var ok = dialog.querySelector("[data-dialog-ok]");
    var cancel = dialog.querySelector("[data-dialog-cancel]");
    ok.onclick = function () { dialog.close(); button.form.submit(); };
    cancel.onclick = function () { dialog.close(); button.focus(); };
    dialog.showModal();
    cancel.focus();
  });
})();
