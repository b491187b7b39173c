/* The agent console's live side: one WebSocket for queue changes and the open chat.
   Every message is put on the page with textContent: customer text is never HTML. */
(function () {
  "use strict";
  var root = document.querySelector("[data-console-socket]");
  if (!root) { return; }
  var conversation = root.getAttribute("data-conversation");
  var log = document.getElementById("chat-log");
  var last = parseInt(root.getAttribute("data-last") || "0", 10);
  var seen = {};
  var delay = 500;
  var labels = {};
  ["visitor", "bot", "agent", "system", "note"].forEach(function (kind) {
    labels[kind] = root.getAttribute("data-label-" + kind) || kind;
  });
  if (log) {
    log.querySelectorAll("[data-id]").forEach(function (item) {
      seen[item.getAttribute("data-id")] = true;
    });
  }

  function append(message) {
    if (!log || message.conversation !== conversation || seen[message.id]) { return; }
    seen[message.id] = true;
    last = Math.max(last, message.id);
    var item = document.createElement("li");
    item.className = "msg msg-" + message.sender;
    item.setAttribute("data-id", String(message.id));
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = message.author || labels[message.sender] || message.sender;
    var body = document.createElement("span");
    body.className = "body";
    if (message.attachment) {
      var download = document.createElement("a");
      download.href = "/chat/attachments/" + message.attachment.id + "/";
      download.textContent = "📎 " + message.attachment.name;
      body.appendChild(download);
    } else {
      body.textContent = message.body;
    }
    item.appendChild(who);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(body);
    var later = Array.prototype.find.call(log.children, function (other) {
      return parseInt(other.getAttribute("data-id"), 10) > message.id;
    });
    log.insertBefore(item, later || null);
    log.scrollTop = log.scrollHeight;
  }

  // An identity check of this chat changed (the customer typed the code): the customer
  // panel's actions depend on it, so reload it unless the agent is typing a reply.
  function verificationChanged() {
    var area = document.getElementById("reply-body");
    if (!area || !area.value) { window.location.reload(); return; }
    var section = document.getElementById("verify");
    if (section && !section.querySelector(".verify-changed")) {
      var note = document.createElement("p");
      note.className = "verify-changed";
      note.textContent = section.getAttribute("data-changed") || "";
      section.insertBefore(note, section.firstChild);
    }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + root.getAttribute("data-console-socket"));
    socket.addEventListener("open", function () {
      delay = 500;
      if (conversation) {
        socket.send(JSON.stringify({ type: "join", conversation: conversation, last: last }));
      }
    });
    socket.addEventListener("message", function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "message") { append(frame); }
      if ((frame.type === "queue" || frame.type === "status") && window.htmx) {
        window.htmx.trigger(document.body, "care-queue");
      }
      if (frame.type === "verification" && frame.conversation === conversation) { verificationChanged(); }
      if (frame.type === "status" && frame.conversation === conversation) {
        var status = document.querySelector(".chat-status");
        if (status) { status.textContent = frame.status; }
      }
    });
    socket.addEventListener("close", function () {
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-canned]") : null;
    var area = document.getElementById("reply-body");
    if (button && area) { area.value = button.getAttribute("data-canned"); area.focus(); }
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.classList && form.classList.contains("reply") && event.detail.successful) {
      form.reset();
    }
  });
  connect();
})();
