//! postLink callbacks (facts §11): what is sent, to where, signed how. The events are written by
//! the store in the same transaction as the state change (transactional outbox); the delivery
//! worker in `crate::runtime::workers` sends them.

mod payload;

use epay_domain::{ids, CallbackKind, Operation, TxStatus};
use epay_store::{NewCallback, Payment};
use serde::Serialize;

pub use payload::OPERATION_CODE;

/// A callback body with the payment's `secret_hash`, echoed unchanged in every callback of the
/// payment (facts §11.4).
#[derive(Serialize)]
struct Signed<'a, P: Serialize> {
    #[serde(flatten)]
    payload: &'a P,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_hash: Option<&'a str>,
}

/// The outbox event of callback `kind` with `payload` to `url`; none when `url` is empty.
pub fn event(p: &Payment, kind: CallbackKind, url: &str, payload: &impl Serialize) -> Option<NewCallback> {
    if url.trim().is_empty() {
        return None;
    }
    let signed = Signed { payload, secret_hash: p.secret_hash.as_ref().map(|s| s.expose()) };
    let body = match payload::text(&signed) {
        Ok(body) => body,
        Err(e) => {
            // Only an amount the gateway never accepts fails to serialize: a bug, not bad input.
            // The payment's own change still commits; the missing callback is logged.
            tracing::error!(payment_id = %p.id, %kind, error = %e, "a callback body did not serialize");
            return None;
        }
    };
    Some(NewCallback {
        id: format!("msg_{}", ids::time_ordered_uuid(p.updated_at).replace('-', "")),
        merchant_id: p.merchant_id.clone(),
        payment_id: p.id.clone(),
        kind,
        url: url.trim().to_string(),
        payload: body.into(),
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
        event(p, CallbackKind::PaymentSuccess, &p.post_link, &payload::Success::of(p))
    } else {
        let url = if p.failure_post_link.trim().is_empty() { &p.post_link } else { &p.failure_post_link };
        event(p, CallbackKind::PaymentFailure, url, &payload::Failure::of(p))
    }
}

/// The callback for an operation on a payment (charge, cancel, refund, expiry), sent to the
/// payment's `postLink` when its terminal turns operation callbacks on. ePay documents none, and
/// a handler written for ePay's payment callback must not be able to take one for a payment
/// (docs/callbacks.md, docs/compatibility.md 46): see [`payload::OperationNotice`].
pub fn for_operation(p: &Payment, operation: Operation, amount_minor: i64) -> Option<NewCallback> {
    let payload = payload::OperationNotice::of(p, operation, amount_minor);
    event(p, CallbackKind::of_operation(operation), &p.post_link, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
        assert_eq!(cb.kind, CallbackKind::PaymentRefund);
        assert!(for_operation(&Payment { post_link: " ".into(), ..p }, Operation::Refund, 1).is_none());
    }

    #[test]
    fn an_outcome_goes_to_its_link_with_its_kind() {
        let p = Payment {
            status: TxStatus::Auth,
            post_link: " https://shop.kz/ok ".into(),
            failure_post_link: "https://shop.kz/fail".into(),
            ..Payment::default()
        };
        let ok = for_payment(&p).expect("postLink is set");
        assert_eq!((ok.kind, ok.url.as_str()), (CallbackKind::PaymentSuccess, "https://shop.kz/ok"));
        let declined = Payment { status: TxStatus::Reject, ..p.clone() };
        let failed = for_payment(&declined).expect("failurePostLink is set");
        assert_eq!((failed.kind, failed.url.as_str()), (CallbackKind::PaymentFailure, "https://shop.kz/fail"));
        let fallback = for_payment(&Payment { failure_post_link: " ".into(), ..declined }).expect("postLink");
        assert_eq!((fallback.kind, fallback.url.as_str()), (CallbackKind::PaymentFailure, "https://shop.kz/ok"));
        assert!(for_payment(&Payment { status: TxStatus::ThreeD, ..p.clone() }).is_none());
        assert!(for_payment(&Payment { post_link: String::new(), ..p }).is_none());
    }

    #[test]
    fn the_secret_hash_is_echoed_only_when_the_token_had_one() {
        let p = Payment { status: TxStatus::Auth, post_link: "https://shop.kz/ok".into(), ..Payment::default() };
        let without = for_payment(&p).unwrap();
        assert!(!without.payload.expose().contains("secret_hash"), "{}", without.payload.expose());
        let with = for_payment(&Payment { secret_hash: Some("a\"b".into()), ..p }).unwrap();
        let body: Value = serde_json::from_str(with.payload.expose()).unwrap();
        assert_eq!(body["secret_hash"], "a\"b");
    }
}
