/* simcare chat widget: one tag on any page, plain JavaScript, no build step.

     <script src="https://YOUR-SIMCARE/static/care/widget.js" data-language="fr" defer></script>

   data-language (optional): zh-hans, en or fr; else the page's lang, else the browser's.
   The conversation survives reloads and dropped connections: the signed visitor token and
   the last message id seen are kept in localStorage, and the server sends what was missed.
   Customer and agent text is put on the page with textContent only; links become <a> only
   for http(s) URLs, with rel="noopener nofollow noreferrer". */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.simcareChat) { return; }
  var base = new URL(script.src, window.location.href);
  var STORE = "simcare.chat.";
  var TEXTS = {
    "en": { attach: "Send a photo or PDF", open: "Chat with us", title: "Chat", send: "Send", person: "Talk to a person",
            placeholder: "Type your question", text: "Transcript (text)", pdf: "PDF",
            email: "Email me the transcript", close: "Close", offline: "Reconnecting…",
            visitor: "You", bot: "Assistant", agent: "Agent", system: "",
            code: "Identity code (6 digits)", verify: "Confirm", helpful: "Was this helpful?", yes: "Yes", no: "No" },
    "fr": { attach: "Envoyer une photo ou un PDF", open: "Clavarder avec nous", title: "Clavardage", send: "Envoyer", person: "Parler à une personne",
            placeholder: "Écrivez votre question", text: "Transcription (texte)", pdf: "PDF",
            email: "M'envoyer la transcription", close: "Fermer", offline: "Reconnexion…",
            visitor: "Vous", bot: "Assistant", agent: "Agent", system: "",
            code: "Code d'identité (6 chiffres)", verify: "Confirmer", helpful: "Cette réponse vous a-t-elle aidé?", yes: "Oui", no: "Non" },
    "zh-hans": { attach: "发送图片或PDF", open: "在线咨询", title: "在线咨询", send: "发送", person: "转人工",
            placeholder: "请输入您的问题", text: "聊天记录（文本）", pdf: "PDF",
            email: "将聊天记录发到我的邮箱", close: "关闭", offline: "正在重新连接…",
            visitor: "您", bot: "助手", agent: "客服", system: "",
            code: "身份验证码（6位数字）", verify: "确认", helpful: "这个回答有帮助吗？", yes: "有帮助", no: "没有帮助" }
  };

  function pickLanguage() {
    var wanted = script.getAttribute("data-language") || document.documentElement.lang || navigator.language || "en";
    wanted = wanted.toLowerCase();
    if (wanted.indexOf("zh") === 0) { return "zh-hans"; }
    wanted = wanted.split("-")[0];
    return TEXTS[wanted] ? wanted : "en";
  }

  var language = pickLanguage();
  var t = TEXTS[language];
  var socket = null, delay = 500, seen = {}, pending = [], conversation = null, transcriptToken = "";

  function store(key, value) { try { window.localStorage.setItem(STORE + key, value); } catch (e) { /* private mode */ } }
  function load(key) { try { return window.localStorage.getItem(STORE + key) || ""; } catch (e) { return ""; } }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  var css = el("link");
  css.rel = "stylesheet";
  css.href = new URL("widget.css", base).href;
  document.head.appendChild(css);

  var launcher = el("button", "simcare-chat-launcher", t.open);
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  var panel = el("section", "simcare-chat-panel");
  panel.setAttribute("aria-label", t.title);
  panel.hidden = true;
  var header = el("header", "simcare-chat-header", t.title);
  var closeButton = el("button", "simcare-chat-close", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", t.close);
  header.appendChild(closeButton);
  var log = el("ol", "simcare-chat-log");
  log.setAttribute("aria-live", "polite");
  var state = el("p", "simcare-chat-state");
  var form = el("form", "simcare-chat-form");
  var input = el("textarea", "simcare-chat-input");
  input.maxLength = 10000;
  input.rows = 2;
  input.placeholder = t.placeholder;
  input.setAttribute("aria-label", t.placeholder);
  var send = el("button", "simcare-chat-send", t.send);
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  // The identity code an agent sent: its own entry, so it never becomes chat text.
  var codeForm = el("form", "simcare-chat-code");
  var codeInput = el("input", "simcare-chat-code-input");
  codeInput.inputMode = "numeric";
  codeInput.autocomplete = "one-time-code";
  codeInput.maxLength = 7;
  codeInput.setAttribute("aria-label", t.code);
  codeInput.placeholder = t.code;
  var codeButton = el("button", "simcare-chat-code-send", t.verify);
  codeButton.type = "submit";
  codeForm.appendChild(codeInput);
  codeForm.appendChild(codeButton);
  codeForm.hidden = true;
  var tools = el("div", "simcare-chat-tools");
  var person = el("button", "simcare-chat-person", t.person);
  person.type = "button";
  var textLink = el("a", "simcare-chat-transcript", t.text);
  var pdfLink = el("a", "simcare-chat-transcript", t.pdf);
  var fileLabel = el("label", "simcare-chat-attach", t.attach);
  var file = el("input");
  file.type = "file";
  file.accept = "image/jpeg,image/png,image/gif,image/webp,application/pdf";
  fileLabel.appendChild(file);
  var email = el("button", "simcare-chat-email", t.email);
  email.type = "button";
  [person, fileLabel, textLink, pdfLink, email].forEach(function (node) { tools.appendChild(node); });
  [header, log, state, codeForm, form, tools].forEach(function (node) { panel.appendChild(node); });
  document.body.appendChild(launcher);
  document.body.appendChild(panel);

  var URL_PATTERN = /(https?:\/\/[^\s<>"']+)/g;
  function linkified(text) {
    var fragment = document.createDocumentFragment();
    var parts = text.split(URL_PATTERN);
    for (var i = 0; i < parts.length; i += 1) {
      var part = parts[i];
      if (!part) { continue; }
      var url = null;
      if (i % 2 === 1) {
        try { url = new URL(part); } catch (e) { url = null; }
      }
      if (url && (url.protocol === "http:" || url.protocol === "https:")) {
        var link = el("a", "", part);
        link.href = url.href;
        link.target = "_blank";
        link.rel = "noopener nofollow noreferrer";
        fragment.appendChild(link);
      } else {
        fragment.appendChild(document.createTextNode(part));
      }
    }
    return fragment;
  }

  function show(message) {
    if (seen[message.id]) { return; }
    seen[message.id] = true;
    pending = pending.filter(function (item) { return item.client_id !== message.client_id || !message.client_id; });
    var last = parseInt(load("last") || "0", 10);
    if (message.id > last) { store("last", String(message.id)); }
    var item = el("li", "simcare-msg simcare-msg-" + message.sender);
    item.setAttribute("data-id", String(message.id));
    var who = message.sender === "agent" && message.author ? message.author : t[message.sender];
    if (who) { item.appendChild(el("span", "simcare-who", who)); }
    var body = el("span", "simcare-body");
    if (message.attachment) {
      var download = el("a", "simcare-attachment", "📎 " + message.attachment.name);
      download.href = new URL("/chat/attachments/" + message.attachment.id + "/?t=" + encodeURIComponent(transcriptToken), base).href;
      download.rel = "noopener nofollow noreferrer";
      body.appendChild(download);
    } else {
      body.appendChild(linkified(message.body));
    }
    item.appendChild(body);
    if (message.sender === "bot" && message.article && message.helpful === null) { item.appendChild(helpfulButtons(message.id)); }
    // In id order: two processes may relay messages a moment apart.
    var later = Array.prototype.find.call(log.children, function (other) {
      return parseInt(other.getAttribute("data-id"), 10) > message.id;
    });
    log.insertBefore(item, later || null);
    log.scrollTop = log.scrollHeight;
  }

  function helpfulButtons(messageId) {
    var box = el("div", "simcare-helpful");
    box.appendChild(el("span", "simcare-helpful-question", t.helpful));
    [[t.yes, true], [t.no, false]].forEach(function (choice) {
      var button = el("button", "simcare-helpful-answer", choice[0]);
      button.type = "button";
      button.addEventListener("click", function () {
        submit({ type: "helpful", message: messageId, helpful: choice[1] });
        box.remove();
      });
      box.appendChild(button);
    });
    return box;
  }

  function showCodeEntry(visible) {
    codeForm.hidden = !visible;
    if (visible) { codeInput.value = ""; codeInput.focus(); }
  }

  function socketUrl() {
    var scheme = base.protocol === "https:" ? "wss://" : "ws://";
    var query = new URLSearchParams({ token: load("token"), last: load("last") || "0", language: language });
    return scheme + base.host + "/ws/care/chat/?" + query.toString();
  }

  function connect() {
    if (socket) { return; }
    state.textContent = "";
    socket = new WebSocket(socketUrl());
    socket.addEventListener("message", function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "session") {
        if (frame.conversation !== conversation && conversation !== null) { log.textContent = ""; seen = {}; }
        if (frame.conversation !== load("conversation")) { store("last", "0"); }
        conversation = frame.conversation;
        store("token", frame.token);
        store("conversation", frame.conversation);
        transcriptToken = frame.transcript_token;
        var query = "?t=" + encodeURIComponent(transcriptToken);
        textLink.href = new URL("/chat/transcripts/" + conversation + ".txt" + query, base).href;
        pdfLink.href = new URL("/chat/transcripts/" + conversation + ".pdf" + query, base).href;
        delay = 500;
        pending.forEach(function (item) { socket.send(JSON.stringify(item)); });
        showCodeEntry(frame.verification === "code");
      } else if (frame.type === "message") {
        show(frame);
      } else if (frame.type === "verification") {
        showCodeEntry(frame.state === "code_sent");
      } else if (frame.type === "error" || frame.type === "notice") {
        state.textContent = frame.message || frame.text || "";
      } else if (frame.type === "status" && frame.status === "closed") {
        store("last", "0");
        store("conversation", "");
        askRating();
      } else if (frame.type === "rated") {
        ratingDone(frame.text || "");
      }
    });
    socket.addEventListener("close", function () {
      socket = null;
      if (load("open") === "1") {
        state.textContent = t.offline;
        window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15000);
      }
    });
  }

  function submit(frame) {
    pending.push(frame);
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); }
    else { connect(); }
  }

  function randomId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    store("open", "1");
    connect();
    input.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) { open(); } else { closeButton.click(); } });
  closeButton.addEventListener("click", function () {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    store("open", "0");
    if (socket) { socket.close(); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value;
    if (!body.trim()) { return; }
    submit({ type: "message", body: body, client_id: randomId() });
    input.value = "";
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  codeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = codeInput.value.replace(/\s/g, "");
    if (!code) { return; }
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify({ type: "verify_code", code: code })); }
    codeInput.value = "";
  });
  person.addEventListener("click", function () {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify({ type: "person" })); }
  });
  file.addEventListener("change", function () {
    var chosen = file.files && file.files[0];
    if (!chosen) { return; }
    var reader = new FileReader();
    reader.addEventListener("load", function () {
      var data = String(reader.result).split(",")[1] || "";
      submit({ type: "attachment", name: chosen.name, data: data, client_id: randomId() });
      file.value = "";
    });
    reader.readAsDataURL(chosen);
  });
  email.addEventListener("click", function () {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify({ type: "email_transcript" })); }
  });

  /* CSAT: once the chat is closed, a 1-5 rating with an optional comment, sent once. */
  var RATING_TEXTS = {
    "en": { ask: "How did we do? Rate this chat from 1 (poor) to 5 (excellent).", comment: "Comment (optional)", send: "Send my rating" },
    "fr": { ask: "Comment nous sommes-nous débrouillés ? Notez ce clavardage de 1 (mauvais) à 5 (excellent).", comment: "Commentaire (facultatif)", send: "Envoyer ma note" },
    "zh-hans": { ask: "您对本次服务满意吗？请打分：1（差）到 5（非常好）。", comment: "留言（可选）", send: "提交评分" }
  };
  var rt = RATING_TEXTS[language];
  var rating = null;
  function askRating() {
    if (rating) { return; }
    rating = el("form", "simcare-chat-rating");
    var legend = el("p", "simcare-chat-rating-ask", rt.ask);
    var scores = el("div", "simcare-chat-rating-scores");
    var chosen = 0;
    [1, 2, 3, 4, 5].forEach(function (value) {
      var button = el("button", "simcare-chat-rating-score", String(value));
      button.type = "button";
      button.setAttribute("aria-pressed", "false");
      button.setAttribute("data-score", String(value));
      button.addEventListener("click", function () {
        chosen = value;
        Array.prototype.forEach.call(scores.children, function (other) {
          other.setAttribute("aria-pressed", other === button ? "true" : "false");
        });
      });
      scores.appendChild(button);
    });
    var comment = el("textarea", "simcare-chat-rating-comment");
    comment.maxLength = 2000;
    comment.rows = 2;
    comment.placeholder = rt.comment;
    comment.setAttribute("aria-label", rt.comment);
    var submitRating = el("button", "simcare-chat-rating-send", rt.send);
    submitRating.type = "submit";
    [legend, scores, comment, submitRating].forEach(function (node) { rating.appendChild(node); });
    rating.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!chosen || !socket || socket.readyState !== WebSocket.OPEN) { return; }
      socket.send(JSON.stringify({ type: "rating", score: chosen, comment: comment.value }));
    });
    panel.insertBefore(rating, tools);
  }
  function ratingDone(text) {
    if (rating) { rating.textContent = ""; rating.appendChild(el("p", "simcare-chat-rating-thanks", text)); }
    else { state.textContent = text; }
  }

  window.simcareChat = { open: open };
  if (load("open") === "1") { open(); }
})();
