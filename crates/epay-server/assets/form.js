// epay payment page: validates the card as it is typed (Luhn, brand, expiry, CVC length) and,
// on the result page, returns the shopper to the shop or answers the widget's parent.
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

  var form = document.getElementById("pay-form");
  if (form) {
    var pan = document.getElementById("pan"), exp = document.getElementById("expiry");
    var cvc = document.getElementById("cvc"), holder = document.getElementById("holder");
    var submit = document.getElementById("submit"), brandEl = document.getElementById("brand");
    var touched = {};

    function show(input, ok, msgId) {
      var el = document.getElementById(msgId);
      var visible = touched[input.id] && !ok;
      input.setAttribute("aria-invalid", visible ? "true" : "false");
      el.textContent = visible ? el.getAttribute("data-msg") : "";
      return ok;
    }

    function validate() {
      var num = digits(pan.value);
      var b = brand(num);
      brandEl.textContent = b;
      var c = cvc.value.trim();
      var cvcOk = b === "AMEX" ? /^\d{4}$/.test(c) : (b === "" ? /^\d{3,4}$/.test(c) : /^\d{3}$/.test(c));
      var ok = show(pan, luhn(num), "pan-error");
      ok = show(exp, expiryValid(exp.value, exp.getAttribute("data-check-date") !== "false"), "expiry-error") && ok;
      ok = show(cvc, cvcOk, "cvc-error") && ok;
      ok = show(holder, /^[A-Za-z][A-Za-z .'-]{1,63}$/.test(holder.value.trim()), "holder-error") && ok;
      submit.disabled = !ok;
      return ok;
    }

    pan.addEventListener("input", function () {
      var num = digits(pan.value).slice(0, 19);
      pan.value = num.replace(/(\d{4})(?=\d)/g, "$1 ");
      validate();
    });
    exp.addEventListener("input", function () {
      var d = digits(exp.value).slice(0, 4);
      exp.value = d.length > 2 ? d.slice(0, 2) + "/" + d.slice(2) : d;
      validate();
    });
    [cvc, holder].forEach(function (el) { el.addEventListener("input", validate); });
    [pan, exp, cvc, holder].forEach(function (el) {
      el.addEventListener("blur", function () { touched[el.id] = true; validate(); });
    });
    form.addEventListener("submit", function (e) {
      [pan, exp, cvc, holder].forEach(function (el) { touched[el.id] = true; });
      if (!validate()) { e.preventDefault(); return; }
      submit.disabled = true;
      submit.textContent = submit.getAttribute("data-processing");
    });
    validate();
  }

  // Result page: tell the widget's parent, or go back to the shop.
  var result = document.getElementById("result");
  if (result) {
    var success = result.getAttribute("data-success") === "true";
    var target = result.getAttribute("data-redirect");
    if (result.getAttribute("data-widget") === "true" && window.parent !== window) {
      // The message says only success or not; the parent checks that it comes from our exact
      // origin and from this very frame.
      window.parent.postMessage(JSON.stringify({ success: success }), "*");
    } else if (target) {
      setTimeout(function () { window.location.href = target; }, 1200);
    }
  }
})();

// 3-D Secure hops (to the ACS, back to TermUrl): forms marked data-autosubmit go by themselves,
// as seed 003's page does with its onload submit.
(function () {
  "use strict";
  var auto = document.querySelector("form[data-autosubmit]");
  if (auto) auto.submit();
})();
