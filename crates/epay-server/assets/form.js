// epay payment page: validates and formats the card as it is typed (Luhn, brand, expiry, CVC
// length) on the card form and the transfer form (which it sends by fetch(), so that a refusal
// keeps the typed card numbers the server never sends back), keeps the holder and expiry across
// the language switch and, on the result page, returns the shopper to the shop or answers the
// widget's parent.
(function () {
  "use strict";

  function digits(s) { return (s || "").replace(/\D/g, ""); }

  function luhn(num) {
    var sum = 0;
    for (var i = 0; i < num.length; i++) {
      var d = +num.charAt(num.length - 1 - i);
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return num.length >= 12 && num.length <= 19 && sum % 10 === 0;
  }

  function brand(num) {
    var p2 = +num.slice(0, 2), p4 = +num.slice(0, 4);
    if (/^4/.test(num)) return "VISA";
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return "MasterCard";
    if (p2 === 34 || p2 === 37) return "AMEX";
    if (p4 >= 2200 && p4 <= 2204) return "MIR";
    if (p2 === 62) return "UnionPay";
    return "";
  }

  // AMEX (34, 37) prints 4-6-5 and has 15 digits; every other brand prints fours, up to 19.
  function isAmex(num) { return /^3[47]/.test(num); }
  function maxDigits(num) { return isAmex(num) ? 15 : 19; }

  function groupCard(num) {
    if (isAmex(num)) {
      return [num.slice(0, 4), num.slice(4, 10), num.slice(10, 15)].filter(Boolean).join(" ");
    }
    return num.replace(/(\d{4})(?=\d)/g, "$1 ");
  }

  // The position just after the `count`-th digit of `text` (0: the start).
  function caretAfter(text, count) {
    if (count <= 0) return 0;
    var seen = 0;
    for (var i = 0; i < text.length; i++) {
      if (/\d/.test(text.charAt(i)) && ++seen === count) return i + 1;
    }
    return text.length;
  }

  // The expiry as MM/YY, filled in as the month becomes certain:
  //   "4".."9" -> "04/".."09/" (no month starts with them);  "0", "1" wait for a second digit;
  //   "10".."12" -> "10/".."12/";  "13".."19" -> "01/3".."01/9" (the 1 was January);
  //   "00" -> "0" (no month 00);  "12/2027" or "122027" (autofill) -> "12/27".
  // While deleting, no "/" is added, so Backspace can remove it.
  function expiryText(text, deleting) {
    var t = (text || "").trim();
    var full = /^(\d{1,2})\s*\/\s*20(\d{2})$/.exec(t) || /^(\d{2})20(\d{2})$/.exec(t);
    if (full) return ("0" + full[1]).slice(-2) + "/" + full[2];
    var d = digits(t);
    if (d.length > 0 && d.charAt(0) > "1") d = "0" + d;
    if (d.length > 1 && d.charAt(0) === "1" && d.charAt(1) > "2") d = "0" + d;
    if (d.slice(0, 2) === "00") d = "0" + d.slice(2);
    d = d.slice(0, 4);
    if (d.length > 2) return d.slice(0, 2) + "/" + d.slice(2);
    if (d.length === 2 && !deleting) return d + "/";
    return d;
  }

  // Each brand's icon (assets/brand-*.svg, our own marks) and its name, read out instead.
  var BRANDS = {
    VISA: { file: "visa", name: "Visa" },
    MasterCard: { file: "mastercard", name: "Mastercard" },
    AMEX: { file: "amex", name: "American Express" },
    UnionPay: { file: "unionpay", name: "UnionPay" },
    MIR: { file: "mir", name: "Mir" }
  };

  // checkDate is false in the sandbox: the gateway judges the date by its sandbox clock, and a
  // published test card (seed 001's 01/25) never expires there.
  function expiryValid(text, checkDate) {
    var m = /^(\d{2})\s*\/?\s*(\d{2})$/.exec((text || "").trim());
    if (!m) return false;
    var month = +m[1], year = 2000 + +m[2];
    if (month < 1 || month > 12) return false;
    if (!checkDate) return true;
    var now = new Date();
    return year > now.getFullYear() || (year === now.getFullYear() && month >= now.getMonth() + 1);
  }

  // The cardholder's name: Latin or Cyrillic letters (Russian's and Kazakh's: Ә Ғ Қ Ң Ө Ұ Ү Һ І),
  // then letters, spaces, hyphens, apostrophes and dots, up to 64; edge/page/holder.rs is the
  // server's copy of this rule. U+0482..U+0489 are Cyrillic signs, not letters.
  var LETTER = "A-Za-z\u0400-\u0481\u048A-\u04FF";
  var HOLDER = new RegExp("^[" + LETTER + "][" + LETTER + " .'\u2019-]{0,63}$");
  function holderValid(name) { return HOLDER.test(name); }

  // The card form (#pay-form) and the transfer form (#transfer-form) share one set of checks
  // and formats: each wires the fields it has. A field the server refused keeps its message
  // (already in its error line) until the shopper edits it.
  function byId(id) { return document.getElementById(id); }

  // keepsTyped: the form is sent by fetch() and a refusal's answer is merged into this page
  // (the transfer form, whose answer never carries the typed card numbers).
  function wireCardFields(form, submit, keepsTyped) {
    var pan = byId("pan"), exp = byId("expiry"), cvc = byId("cvc"), holder = byId("holder");
    var receiver = byId("receiver_pan"), brandEl = byId("brand");
    var fields = [pan, exp, cvc, holder, receiver].filter(Boolean);
    var touched = {}, serverSaid = {};
    fields.forEach(function (el) {
      var line = byId(el.id + "-error");
      if (line && line.textContent) serverSaid[el.id] = true;
    });

    // An empty field asks for its value (data-empty); a wrong one says it is wrong (data-msg).
    var failing = [];
    function show(input, ok, msgId) {
      var el = byId(msgId);
      if (!ok) failing.push(input);
      if (serverSaid[input.id]) return ok;
      var visible = touched[input.id] && !ok;
      var empty = input.value.trim() === "" && el.hasAttribute("data-empty");
      input.setAttribute("aria-invalid", visible ? "true" : "false");
      el.textContent = visible ? el.getAttribute(empty ? "data-empty" : "data-msg") : "";
      return ok;
    }

    // A field's name as its label reads, without the brand icon beside the card number.
    function labelOf(input) {
      var label = form.querySelector('label[for="' + input.id + '"]');
      return label ? label.firstChild.textContent.trim() : input.id;
    }

    // A disabled button says why, in a line it is described by (aria-describedby): the fields
    // still to fill in correctly (issue 19).
    var why = byId(submit.id + "-why");
    function explain() {
      if (!why) return;
      why.textContent = submit.disabled && failing.length
        ? why.getAttribute("data-msg") + ": " + failing.map(labelOf).join(", ")
        : "";
    }

    // A side of a transfer paid or received by a saved card, or a card form paid by one, has no
    // typed card to check. The choice is a select (transfer form) or radios (card form): the
    // form's named item answers the chosen value for both.
    function savedCardChosen(input) {
      var block = input.closest(".typed-card");
      var choice = block && form.elements.namedItem(block.getAttribute("data-saved-select"));
      return !!(choice && choice.value);
    }

    var brandShown = null;
    function showBrand(b) {
      if (!brandEl || b === brandShown) return;
      brandShown = b;
      brandEl.textContent = "";
      var known = BRANDS[b];
      if (!known) return;
      var img = document.createElement("img");
      img.src = "/payform/assets/brand-" + known.file + ".svg";
      img.alt = known.name;
      img.width = 40;
      img.height = 26;
      img.className = "brand-icon";
      img.setAttribute("data-brand", b);
      brandEl.appendChild(img);
    }

    function validate() {
      var ok = true;
      failing = [];
      if (pan && !savedCardChosen(pan)) {
        var num = digits(pan.value);
        var b = brand(num);
        showBrand(b);
        var c = cvc.value.trim();
        var cvcOk = b === "AMEX" ? /^\d{4}$/.test(c) : (b === "" ? /^\d{3,4}$/.test(c) : /^\d{3}$/.test(c));
        ok = show(pan, luhn(num), "pan-error") && ok;
        ok = show(exp, expiryValid(exp.value, exp.getAttribute("data-check-date") !== "false"), "expiry-error") && ok;
        ok = show(cvc, cvcOk, "cvc-error") && ok;
        var name = holder.value.trim();
        var optional = holder.getAttribute("data-optional") === "true" && name === "";
        ok = show(holder, optional || holderValid(name), "holder-error") && ok;
      }
      if (receiver && !savedCardChosen(receiver)) {
        ok = show(receiver, luhn(digits(receiver.value)), "receiver_pan-error") && ok;
      }
      submit.disabled = !ok;
      explain();
      return ok;
    }

    // A card number, grouped as the brand prints it, with the caret kept after the same
    // digit it followed: reformatting must not move it to the end (issue 19).
    function formatsCardNumber(input) {
      var shown = input.value;
      input.addEventListener("input", function (event) {
        var raw = input.value, caret = input.selectionStart === null ? raw.length : input.selectionStart;
        var before = digits(raw.slice(0, caret)).length;
        var num = digits(raw);
        // Backspace over a group's space deletes the digit before it, as a shopper expects.
        if (event.inputType === "deleteContentBackward" && num === digits(shown) && before > 0) {
          num = num.slice(0, before - 1) + num.slice(before);
          before -= 1;
        }
        num = num.slice(0, maxDigits(num));
        input.value = groupCard(num);
        shown = input.value;
        var at = caretAfter(input.value, Math.min(before, num.length));
        if (document.activeElement === input) input.setSelectionRange(at, at);
        validate();
      });
    }
    [pan, receiver].filter(Boolean).forEach(function (input) {
      // Typed before a refusal and shown again: in the same groups as while typing.
      input.value = groupCard(digits(input.value).slice(0, maxDigits(digits(input.value))));
      formatsCardNumber(input);
    });
    if (exp) {
      if (exp.value) exp.value = expiryText(exp.value, true);
      exp.addEventListener("input", function (event) {
        var deleting = (event.inputType || "").indexOf("delete") === 0;
        var atEnd = exp.selectionStart === null || exp.selectionStart === exp.value.length;
        exp.value = expiryText(exp.value, deleting);
        if (atEnd && document.activeElement === exp) exp.setSelectionRange(exp.value.length, exp.value.length);
        validate();
      });
    }
    [cvc, holder].filter(Boolean).forEach(function (el) { el.addEventListener("input", validate); });
    fields.forEach(function (el) {
      // Editing a field the server refused hands it back to the checks as typed.
      el.addEventListener("input", function () { if (serverSaid[el.id]) { serverSaid[el.id] = false; validate(); } });
      el.addEventListener("blur", function () { touched[el.id] = true; validate(); });
    });
    form.querySelectorAll("select, input[type=radio]").forEach(function (el) { el.addEventListener("change", validate); });

    // The server's answer was this form again (a refusal, or a decline with attempts left):
    // its alert and its message by each field replace this page's, the typed fields stay as
    // they are but the CVC, which is cleared as the server's form would have it.
    function showRefusal(answer) {
      var oldAlert = form.parentNode.querySelector(".alert");
      if (oldAlert) oldAlert.parentNode.removeChild(oldAlert);
      var newAlert = answer.querySelector(".alert");
      if (newAlert) form.parentNode.insertBefore(document.importNode(newAlert, true), form);
      var refused = null;
      fields.forEach(function (el) {
        var line = byId(el.id + "-error"), said = answer.getElementById(el.id + "-error");
        var text = said ? said.textContent : "";
        serverSaid[el.id] = text !== "";
        if (line) line.textContent = text;
        el.setAttribute("aria-invalid", text ? "true" : "false");
        if (text && !refused) refused = el;
      });
      if (cvc) { cvc.value = ""; touched[cvc.id] = false; }
      validate();
      if (refused) refused.focus();
    }

    // Sends the form as a normal submission would, without leaving the page: the answer is
    // either this form again (the marker: an element with the form's id), merged in, or any
    // other page (the result, the hop to 3-D Secure), which replaces this one.
    function submitKeepingTyped(label) {
      var body = new URLSearchParams(new FormData(form));
      fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          var answer = new DOMParser().parseFromString(html, "text/html");
          submit.textContent = label;
          if (answer.getElementById(form.id)) { showRefusal(answer); return; }
          document.open();
          document.write(html);
          document.close();
        })
        .catch(function () {
          // Nothing came back (the network): the shopper may try again.
          submit.textContent = label;
          validate();
        });
    }

    form.addEventListener("submit", function (e) {
      fields.forEach(function (el) { touched[el.id] = true; });
      if (!validate()) { e.preventDefault(); return; }
      var label = submit.textContent;
      submit.disabled = true;
      failing = [];
      explain();
      submit.textContent = submit.getAttribute("data-processing");
      if (keepsTyped && window.fetch && window.DOMParser) {
        e.preventDefault();
        submitKeepingTyped(label);
      }
    });
    validate();
  }

  // The language switch (a plain link: nothing is submitted) opens the same form in another
  // language. The holder's name and the expiry typed so far come along in this tab's
  // sessionStorage and are taken back, and removed, by the next form of the same params; the
  // card numbers and the CVC never do: card data leaves the form only by its own submit.
  var CARRIED = "epay-page-typed", CARRIED_FIELDS = ["holder", "expiry"];
  function pageParams() {
    var field = document.querySelector("form input[name=params]");
    return field ? field.value : null;
  }
  document.querySelectorAll("nav.languages a").forEach(function (link) {
    link.addEventListener("click", function () {
      var typed = {};
      CARRIED_FIELDS.forEach(function (id) { var el = byId(id); if (el && el.value) typed[id] = el.value; });
      try { sessionStorage.setItem(CARRIED, JSON.stringify({ params: pageParams(), typed: typed })); } catch (e) {}
    });
  });
  (function takeBackTyped() {
    var carried = null;
    try {
      carried = JSON.parse(sessionStorage.getItem(CARRIED) || "null");
      sessionStorage.removeItem(CARRIED);
    } catch (e) { return; }
    if (!carried || carried.params !== pageParams() || !carried.typed) return;
    CARRIED_FIELDS.forEach(function (id) {
      var el = byId(id), value = carried.typed[id];
      if (el && typeof value === "string") el.value = value.slice(0, el.maxLength > 0 ? el.maxLength : 64);
    });
  })();

  var payForm = byId("pay-form");
  if (payForm) wireCardFields(payForm, byId("submit"));
  var transferForm = byId("transfer-form");
  if (transferForm) wireCardFields(transferForm, byId("transfer-submit"), true);

  // Result page: tell the widget's parent, or go back to the shop.
  var result = document.getElementById("result");
  if (result) {
    var success = result.getAttribute("data-success") === "true";
    var target = result.getAttribute("data-redirect");
    if (result.getAttribute("data-widget") === "true" && window.parent !== window) {
      // The message says only success or not; the parent checks that it comes from our exact
      // origin and from this very frame. A result page is final either way: a decline that may
      // be retried brings the form back instead (docs/compatibility.md §48).
      window.parent.postMessage(JSON.stringify({ success: success }), "*");
    } else if (target) {
      countDown(result, target);
    }
  }

  // The way back to the shop: a visible countdown (issue 19), said once to screen readers, that
  // the shopper can cut short ("Return to the shop") or stop ("Stay on this page", or starting
  // to send the receipt). Without scripts nothing moves: the link stays.
  function countDown(result, target) {
    var shown = byId("countdown"), said = byId("countdown-status"), stay = byId("stay");
    var left = parseInt(result.getAttribute("data-countdown"), 10) || 10;
    var words = shown.getAttribute("data-template");
    var sentence = function () { return words.replace("{s}", String(left)); };
    shown.textContent = sentence();
    shown.hidden = false;
    stay.hidden = false;
    said.textContent = sentence();
    var timer = setInterval(function () {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        window.location.href = target;
        return;
      }
      shown.textContent = sentence();
    }, 1000);
    var stop = function () {
      if (timer === null) return;
      clearInterval(timer);
      timer = null;
      shown.textContent = shown.getAttribute("data-stopped");
      said.textContent = shown.getAttribute("data-stopped");
      // The button goes away: keep a keyboard user's focus on the page, on the way back.
      if (document.activeElement === stay) byId("continue").focus();
      stay.hidden = true;
    };
    stay.addEventListener("click", stop);
    var receipt = byId("receipt-form");
    if (receipt) receipt.addEventListener("focusin", stop);
  }

  // A page that only says what is wrong (spent token, attempts used up, bad link) ends the
  // widget too: the parent's callback then asks the merchant for a new order and token.
  var message = document.getElementById("message");
  if (message && message.getAttribute("data-widget") === "true" && window.parent !== window) {
    window.parent.postMessage(JSON.stringify({ success: false }), "*");
  }

  // In the widget, Esc closes it, wherever the focus is: keys typed in this frame never reach
  // the parent page, so the frame asks it to close (the parent checks origin and source).
  if (document.body.className === "short" && window.parent !== window) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") window.parent.postMessage(JSON.stringify({ close: true }), "*");
    });
  }
})();

// 3-D Secure hops (to the ACS, back to TermUrl): forms marked data-autosubmit go by themselves,
// as seed 003's page does with its onload submit.
(function () {
  "use strict";
  var auto = document.querySelector("form[data-autosubmit]");
  if (auto) auto.submit();
})();
