// The demo shop's checkout: hands the payment object its server prepared to payment-api.js.
(function () {
  "use strict";
  var data = document.getElementById("payment-object");
  if (!data) return;
  var paymentObject = JSON.parse(data.textContent);
  var status = document.getElementById("widget-status");
  if (data.getAttribute("data-widget") === "true") {
    document.getElementById("open-widget").addEventListener("click", function () {
      halyk.showPaymentWidget(paymentObject, function (result) {
        status.textContent = result.success ? "success" : "failure";
        status.setAttribute("data-result", result.success ? "success" : "failure");
      });
    });
  } else {
    halyk.pay(paymentObject);
  }
})();
