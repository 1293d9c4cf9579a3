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

  // Chat with an agent: the answer streams in as it is written (server-sent
  // events read from the response), tool calls and results show as they
  // happen, a call that waits for approval shows Approve and Reject (which
  // stream the rest of the answer the same way), and Stop ends the request,
  // which stops the model upstream.
  function chatParts() {
    var form = document.querySelector("form[data-chat]");
    return {
      form: form,
      box: document.getElementById("messages"),
      input: form.querySelector("textarea[name=message]"),
      send: form.querySelector("[data-send]"),
      stop: form.querySelector("[data-stop]"),
      status: form.querySelector("[data-status]")
    };
  }
  function addMessage(box, cls, content) {
    var li = document.createElement("li");
    li.className = "msg " + cls;
    var p = document.createElement("p");
    p.textContent = content;
    li.appendChild(p);
    box.appendChild(li);
    box.scrollTop = box.scrollHeight;
    return p;
  }
  function approvalForm(c, a) {
    var li = document.createElement("li");
    li.className = "msg msg-approval";
    var p = document.createElement("p");
    p.textContent = a.tool + " wants to run with " + JSON.stringify(a.arguments) + ". It changes something outside BizOSaaS.";
    li.appendChild(p);
    var form = document.createElement("form");
    form.method = "post";
    form.action = c.form.getAttribute("action").replace(/\/chat$/, "/approvals/" + a.id);
    form.setAttribute("data-approval", "");
    [["csrf", c.form.querySelector("input[name=csrf]").value],
     ["conversation_id", c.form.querySelector("input[name=conversation_id]").value]].forEach(function (f) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = f[0]; i.value = f[1];
      form.appendChild(i);
    });
    [["approve", "Approve", "btn btn-primary btn-small"], ["reject", "Reject", "btn btn-small"]].forEach(function (b) {
      var button = document.createElement("button");
      button.name = "decision"; button.value = b[0]; button.textContent = b[1]; button.className = b[2];
      form.appendChild(button);
      form.appendChild(document.createTextNode(" "));
    });
    li.appendChild(form);
    c.box.appendChild(li);
    c.box.scrollTop = c.box.scrollHeight;
  }
  function streamAnswer(c, url, body) {
    var answer = addMessage(c.box, "msg-assistant", "");
    var controller = new AbortController();
    c.send.disabled = true;
    c.stop.hidden = false;
    c.status.textContent = "Answering…";
    c.stop.onclick = function () { controller.abort(); };
    function finish(message) {
      if (answer && !answer.textContent) answer.parentNode.remove();
      c.send.disabled = false;
      c.stop.hidden = true;
      c.status.textContent = message;
      c.input.focus();
    }
    var waiting = false;
    function handle(ev) {
      if (ev.type === "conversation") {
        c.form.querySelector("input[name=conversation_id]").value = ev.id;
      } else if (ev.type === "delta") {
        if (!answer) answer = addMessage(c.box, "msg-assistant", "");
        answer.textContent += ev.text;
        c.box.scrollTop = c.box.scrollHeight;
      } else if (ev.type === "tool_call") {
        if (answer && !answer.textContent) answer.parentNode.remove();
        addMessage(c.box, "msg-tool", "calls " + ev.name + " " + JSON.stringify(ev.arguments));
        answer = null;
      } else if (ev.type === "approval_needed") {
        approvalForm(c, ev.approval);
        waiting = true;
      } else if (ev.type === "tool_result") {
        addMessage(c.box, "msg-tool", ev.name + " → " + ev.result);
        answer = null;
      } else if (ev.type === "done") {
        finish(waiting ? "Waiting for your decision." : "Done: " + ev.input_tokens + " tokens in, " + ev.output_tokens + " out.");
      } else if (ev.type === "failed") {
        addMessage(c.box, "msg-error", ev.detail).parentNode.setAttribute("role", "alert");
        finish("Stopped.");
      }
    }
    fetch(url, {
      method: "POST",
      body: body,
      headers: { "Accept": "text/event-stream" },
      credentials: "same-origin",
      signal: controller.signal
    }).then(function (res) {
      if (!res.ok) {
        return res.text().then(function (t) {
          addMessage(c.box, "msg-error", t || ("The message was not sent (" + res.status + ")."));
          finish("Not sent.");
        });
      }
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) { if (!c.send.disabled) return; finish(""); return; }
          buffer += decoder.decode(r.value, { stream: true });
          var blocks = buffer.split("\n\n");
          buffer = blocks.pop();
          blocks.forEach(function (block) {
            var data = block.split("\n").filter(function (l) { return l.indexOf("data:") === 0; })
              .map(function (l) { return l.slice(5).replace(/^ /, ""); }).join("\n");
            if (data) { try { handle(JSON.parse(data)); } catch (err) { /* a keep-alive or partial line */ } }
          });
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      finish(controller.signal.aborted ? "Stopped. The answer so far is kept." : "The connection broke; send the message again.");
    });
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !window.fetch || !window.TextDecoder) return;
    if (form.matches("form[data-approval]")) {
      e.preventDefault();
      var body = new URLSearchParams(new FormData(form));
      body.set("decision", e.submitter && e.submitter.value ? e.submitter.value : "approve");
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      streamAnswer(chatParts(), form.action, body);
      return;
    }
    if (!form.matches("form[data-chat]")) return;
    e.preventDefault();
    var c = chatParts();
    var text = c.input.value.trim();
    if (!text) { c.status.textContent = "Write a message first."; return; }
    var placeholder = c.box.querySelector(".msg.muted");
    if (placeholder) placeholder.remove();
    addMessage(c.box, "msg-user", text);
    var message = new URLSearchParams(new FormData(form));
    c.input.value = "";
    streamAnswer(c, form.action, message);
  });
})();
