//! postLink callbacks (facts §11): what is sent, to where, signed how. The events are written by
//! the store in the same transaction as the state change (transactional outbox); the delivery
//! worker in `crate::runtime::workers` sends them.

use epay_domain::{ids, Operation, TxStatus};
use epay_store::{NewCallback, Payment};
use serde_json::{json, Map, Value};

use crate::platform::clock::epay_datetime;
use crate::wire::JsonAmount;

/// The language as ePay's callbacks spell it: `RUS` on success, `RU` on failure (seed 002).
fn long_language(short: &str) -> &'static str {
    match short {
        "KZ" => "KAZ",
        "EN" => "ENG",
        _ => "RUS",
    }
}

/// The success payload of facts §11.1 / seed 002, field for field.
fn success_payload(p: &Payment) -> Map<String, Value> {
    let v = json!({
        "accountId": p.account_id,
        "amount": JsonAmount(p.amount_minor),
        "approvalCode": p.approval_code,
        "cardId": p.card_id.clone().unwrap_or_default(),
        "cardMask": p.card_mask,
        "cardType": p.card_brand,
        "code": "ok",
        "currency": p.currency,
        "dateTime": epay_datetime(p.updated_at),
        "description": p.description,
        "email": p.email,
        "id": p.id,
        "invoiceId": p.invoice_id,
        "ip": "",
        "ipCity": "",
        "ipCountry": "",
        "ipDistrict": "",
        "ipLatitude": 0,
        "ipLongitude": 0,
        "ipRegion": "",
        "issuer": p.issuer,
        "language": long_language(&p.language),
        "name": p.payer_name,
        "phone": p.phone,
        "reason": "success",
        "reasonCode": 0,
        "reference": p.reference,
        "secure": if p.secure { "yes" } else { "no" },
        "secureDetails": if p.secure { "Y" } else { "" },
        "terminal": p.terminal_id,
    });
    v.as_object().cloned().unwrap_or_default()
}

/// The failure payload of facts §11.2 / seed 002. The seed spells `CardType` with a capital C;
/// a public client reads `cardType`: we send both.
fn failure_payload(p: &Payment) -> Map<String, Value> {
    // Failure callbacks show the card as 4...4 (seed 002: "4444...4444").
    let short_mask = match p.card_mask.split_once("...") {
        Some((head, tail)) => format!("{}...{tail}", &head[..head.len().min(4)]),
        None => p.card_mask.clone(),
    };
    let v = json!({
        "id": p.id,
        "dateTime": epay_datetime(p.updated_at),
        "invoiceId": p.invoice_id,
        "invoiceIdAlt": p.invoice_id_alt,
        "amount": JsonAmount(p.amount_minor),
        "currency": p.currency,
        "terminal": p.terminal_id,
        "accountId": p.account_id,
        "description": p.description,
        "language": p.language,
        "cardMask": short_mask,
        "CardType": p.card_brand,
        "cardType": p.card_brand,
        "issuer": p.issuer,
        "reference": "",
        "secure": if p.secure { "yes" } else { "no" },
        "secureDetails": if p.secure { "Y" } else { "" },
        "tokenRecipient": "",
        "code": "error",
        "reason": p.reason,
        "reasonCode": p.reason_code,
        "name": p.payer_name,
        "email": p.email,
        "phone": p.phone,
        "ip": "",
        "ipCountry": "",
        "ipCity": "",
        "ipRegion": "",
        "ipDistrict": "",
        "ipLongitude": 0,
        "ipLatitude": 0,
    });
    v.as_object().cloned().unwrap_or_default()
}

/// The outbox event of callback `kind` with `payload` to `url`; none when `url` is empty. Every
/// callback of a payment echoes its `secret_hash`.
pub fn event(p: &Payment, kind: &str, url: &str, mut payload: Map<String, Value>) -> Option<NewCallback> {
    if url.trim().is_empty() {
        return None;
    }
    if let Some(secret_hash) = &p.secret_hash {
        // Echoed unchanged (facts §11.4).
        payload.insert("secret_hash".into(), Value::String(secret_hash.expose().to_string()));
    }
    Some(NewCallback {
        id: format!("msg_{}", ids::uuid().replace('-', "")),
        merchant_id: p.merchant_id.clone(),
        payment_id: p.id.clone(),
        kind: kind.to_string(),
        url: url.trim().to_string(),
        payload: Value::Object(payload).to_string().into(),
    })
}

/// The callback for a payment attempt's outcome: success to `postLink`, failure to
/// `failurePostLink`, falling back to `postLink` when it is empty (seeds 000, 002).
pub fn for_payment(p: &Payment) -> Option<NewCallback> {
    if p.status == TxStatus::ThreeD {
        // Not an outcome yet: the callback comes when the challenge ends.
        return None;
    }
    if p.status.is_approved() {
        event(p, "payment.success", &p.post_link, success_payload(p))
    } else {
        let url = if p.failure_post_link.trim().is_empty() { &p.post_link } else { &p.failure_post_link };
        event(p, "payment.failure", url, failure_payload(p))
    }
}

/// The `code` of every operation callback: neither ePay's `"ok"` nor `"error"` (nor a transfer's
/// `0`), so a handler that tests `code` never reads an operation as a payment's outcome.
pub const OPERATION_CODE: &str = "operation";

/// The callback for an operation on a payment (charge, cancel, refund, expiry; its word is the
/// `operation` field and the event kind's suffix), sent to the
/// payment's `postLink` when its terminal turns operation callbacks on. ePay documents none, and a
/// handler written for ePay's payment callback must not be able to take one for a payment
/// (docs/callbacks.md, docs/compatibility.md 46). So it shares nothing a payment handler acts on:
/// `code` is [`OPERATION_CODE`], and the payment's identity (`invoiceId`, `id`, `amount`) sits in
/// a nested `payment` object: a handler that looks up `invoiceId` at the top finds no order. Only
/// `secret_hash` stays at the top, as in every callback of the payment (facts §11.4).
pub fn for_operation(p: &Payment, operation: Operation, amount_minor: i64) -> Option<NewCallback> {
    let payment = json!({
        "id": p.id,
        "invoiceId": p.invoice_id,
        "terminal": p.terminal_id,
        "accountId": p.account_id,
        "statusName": p.status.as_str(),
        "amount": JsonAmount(crate::services::status::current_amount(p)),
        "orgAmount": JsonAmount(p.amount_minor),
        "currency": p.currency,
        "description": p.description,
        "cardMask": p.card_mask,
        "cardType": p.card_brand,
        "reference": p.reference,
        "approvalCode": p.approval_code,
    });
    let v = json!({
        "code": OPERATION_CODE,
        "operation": operation.as_str(),
        "operationAmount": JsonAmount(amount_minor),
        "currency": p.currency,
        "dateTime": epay_datetime(p.updated_at),
        "payment": payment,
    });
    let payload = v.as_object().cloned().unwrap_or_default();
    event(p, &format!("payment.{operation}"), &p.post_link, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_callback_has_nothing_a_payment_handler_acts_on() {
        let p = Payment {
            id: "tx".into(),
            invoice_id: "000001".into(),
            status: TxStatus::Charge,
            amount_minor: 10_000,
            charged_minor: 10_000,
            refunded_minor: 3_000,
            post_link: "https://shop.kz/epay".into(),
            secret_hash: Some("s".into()),
            ..Payment::default()
        };
        let cb = for_operation(&p, Operation::Refund, 3_000).expect("postLink is set");
        let body: Value = serde_json::from_str(cb.payload.expose()).unwrap();
        assert_eq!(body["code"], OPERATION_CODE);
        for field in ["invoiceId", "id", "amount", "reasonCode", "reason", "approvalCode", "status", "statusName"] {
            assert!(body.get(field).is_none(), "{field} at the top: {body}");
        }
        assert_eq!((body["operation"].as_str(), body["operationAmount"].as_i64()), (Some("refund"), Some(30)));
        assert_eq!(body["payment"]["invoiceId"], "000001");
        assert_eq!(body["payment"]["amount"], 70);
        assert_eq!(body["secret_hash"], "s");
        assert_eq!(cb.kind, "payment.refund");
        assert!(for_operation(&Payment { post_link: " ".into(), ..p }, Operation::Refund, 1).is_none());
    }
}
