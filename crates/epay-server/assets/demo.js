// The demo shop's checkout: hands the payment object its server prepared to payment-api.js.
(function () {
  "use strict";
  var data = document.getElementById("payment-object");
  if (!data) return;
  var paymentObject = JSON.parse(data.textContent);
  var status = document.getElementById("widget-status");
  if (data.getAttribute("data-widget") === "true") {
    var openButton = document.getElementById("open-widget");
    openButton.addEventListener("click", function () {
      halyk.showPaymentWidget(paymentObject, function (result) {
        // closed: the shopper shut the widget; its token is still good, so the same button
        // opens it again. newTokenNeeded: this order is over (paid, or out of attempts), so the
        // shop starts a new order, with a new token, as a merchant's server would.
        var word = result.success ? "success" : result.closed ? "closed" : "failure";
        status.textContent = word;
        status.setAttribute("data-result", word);
        if (result.newTokenNeeded) {
          openButton.hidden = true;
          document.getElementById("new-order").hidden = false;
        }
      });
    });
  } else {
    halyk.pay(paymentObject);
  }
})();
