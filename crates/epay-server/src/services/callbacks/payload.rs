//! The callback bodies, field for field. Each struct lists its fields in the order its source
//! (facts §11, seed 002) does; [`text`] writes them with their keys sorted, as they always went out.

use epay_domain::{Operation, TxStatus};
use epay_store::Payment;
use serde::Serialize;

use crate::platform::clock::epay_datetime;
use crate::wire::JsonAmount;

/// The `code` of every operation callback: neither ePay's `"ok"` nor `"error"` (nor a transfer's
/// `0`), so a handler that tests `code` never reads an operation as a payment's outcome.
pub const OPERATION_CODE: &str = "operation";

/// The body as sent: compact JSON, keys in byte order. It goes through serde_json's `Value`, whose
/// maps keep their keys sorted, because that is how every callback was written before the bodies
/// were structs: the bytes a merchant stored or signed stay the same, numbers included.
pub(super) fn text(body: &impl Serialize) -> Result<String, serde_json::Error> {
    serde_json::to_value(body).map(|value| value.to_string())
}

/// The language as ePay's callbacks spell it: `RUS` on success, `RU` on failure (seed 002).
fn long_language(short: &str) -> &'static str {
    match short {
        "KZ" => "KAZ",
        "EN" => "ENG",
        _ => "RUS",
    }
}

/// ePay's payer location fields: the gateway does not locate payers, so they are always blank.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NoPayerLocation {
    ip: &'static str,
    ip_country: &'static str,
    ip_city: &'static str,
    ip_region: &'static str,
    ip_district: &'static str,
    ip_longitude: u8,
    ip_latitude: u8,
}

const NO_PAYER_LOCATION: NoPayerLocation = NoPayerLocation {
    ip: "",
    ip_country: "",
    ip_city: "",
    ip_region: "",
    ip_district: "",
    ip_longitude: 0,
    ip_latitude: 0,
};

/// Whether the payment went through 3-D Secure, as ePay's callbacks say it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Secure {
    secure: &'static str,
    secure_details: &'static str,
}

impl Secure {
    fn of(p: &Payment) -> Secure {
        if p.secure {
            Secure { secure: "yes", secure_details: "Y" }
        } else {
            Secure { secure: "no", secure_details: "" }
        }
    }
}

/// The success payload of facts §11.1 / seed 002.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Success<'a> {
    account_id: &'a str,
    amount: JsonAmount,
    approval_code: &'a str,
    card_id: &'a str,
    card_mask: &'a str,
    card_type: &'a str,
    /// ePay's `"ok"`.
    code: &'static str,
    currency: &'a str,
    date_time: String,
    description: &'a str,
    email: &'a str,
    id: &'a str,
    invoice_id: &'a str,
    #[serde(flatten)]
    location: NoPayerLocation,
    issuer: &'a str,
    language: &'static str,
    name: &'a str,
    phone: &'a str,
    reason: &'static str,
    reason_code: i32,
    reference: &'a str,
    #[serde(flatten)]
    secure: Secure,
    terminal: &'a str,
}

impl Success<'_> {
    pub(super) fn of(p: &Payment) -> Success<'_> {
        Success {
            account_id: &p.account_id,
            amount: JsonAmount(p.amount_minor),
            approval_code: &p.approval_code,
            card_id: p.card_id.as_deref().unwrap_or_default(),
            card_mask: &p.card_mask,
            card_type: &p.card_brand,
            code: "ok",
            currency: &p.currency,
            date_time: epay_datetime(p.updated_at),
            description: &p.description,
            email: &p.email,
            id: &p.id,
            invoice_id: &p.invoice_id,
            location: NO_PAYER_LOCATION,
            issuer: &p.issuer,
            language: long_language(&p.language),
            name: &p.payer_name,
            phone: &p.phone,
            reason: "success",
            reason_code: 0,
            reference: &p.reference,
            secure: Secure::of(p),
            terminal: &p.terminal_id,
        }
    }
}

/// The failure payload of facts §11.2 / seed 002. The seed spells `CardType` with a capital C;
/// a public client reads `cardType`: we send both.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Failure<'a> {
    id: &'a str,
    date_time: String,
    invoice_id: &'a str,
    invoice_id_alt: &'a str,
    amount: JsonAmount,
    currency: &'a str,
    terminal: &'a str,
    account_id: &'a str,
    description: &'a str,
    language: &'a str,
    card_mask: String,
    #[serde(rename = "CardType")]
    card_type_as_seeded: &'a str,
    card_type: &'a str,
    issuer: &'a str,
    reference: &'static str,
    #[serde(flatten)]
    secure: Secure,
    token_recipient: &'static str,
    /// ePay's `"error"`.
    code: &'static str,
    reason: &'a str,
    reason_code: i32,
    name: &'a str,
    email: &'a str,
    phone: &'a str,
    #[serde(flatten)]
    location: NoPayerLocation,
}

impl Failure<'_> {
    pub(super) fn of(p: &Payment) -> Failure<'_> {
        // Failure callbacks show the card as 4...4 (seed 002: "4444...4444").
        let card_mask = match p.card_mask.split_once("...") {
            Some((head, tail)) => format!("{}...{tail}", head.chars().take(4).collect::<String>()),
            None => p.card_mask.clone(),
        };
        Failure {
            id: &p.id,
            date_time: epay_datetime(p.updated_at),
            invoice_id: &p.invoice_id,
            invoice_id_alt: &p.invoice_id_alt,
            amount: JsonAmount(p.amount_minor),
            currency: &p.currency,
            terminal: &p.terminal_id,
            account_id: &p.account_id,
            description: &p.description,
            language: &p.language,
            card_mask,
            card_type_as_seeded: &p.card_brand,
            card_type: &p.card_brand,
            issuer: &p.issuer,
            reference: "",
            secure: Secure::of(p),
            token_recipient: "",
            code: "error",
            reason: &p.reason,
            reason_code: p.reason_code,
            name: &p.payer_name,
            email: &p.email,
            phone: &p.phone,
            location: NO_PAYER_LOCATION,
        }
    }
}

/// An operation callback (charge, cancel, refund, expiry; its word is `operation`). It shares
/// nothing a payment handler acts on: `code` is [`OPERATION_CODE`], and the payment's identity
/// (`invoiceId`, `id`, `amount`) sits in a nested `payment` object, so a handler that looks up
/// `invoiceId` at the top finds no order. Only `secret_hash` stays at the top, as in every
/// callback of the payment (facts §11.4).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OperationNotice<'a> {
    code: &'static str,
    operation: Operation,
    operation_amount: JsonAmount,
    currency: &'a str,
    date_time: String,
    payment: OperatedPayment<'a>,
}

/// The payment an operation callback is about, as the operation left it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatedPayment<'a> {
    id: &'a str,
    invoice_id: &'a str,
    terminal: &'a str,
    account_id: &'a str,
    status_name: TxStatus,
    /// What the payment stands at now (charged less refunded, or the hold).
    amount: JsonAmount,
    org_amount: JsonAmount,
    currency: &'a str,
    description: &'a str,
    card_mask: &'a str,
    card_type: &'a str,
    reference: &'a str,
    approval_code: &'a str,
}

impl OperationNotice<'_> {
    pub(super) fn of(p: &Payment, operation: Operation, amount_minor: i64) -> OperationNotice<'_> {
        OperationNotice {
            code: OPERATION_CODE,
            operation,
            operation_amount: JsonAmount(amount_minor),
            currency: &p.currency,
            date_time: epay_datetime(p.updated_at),
            payment: OperatedPayment {
                id: &p.id,
                invoice_id: &p.invoice_id,
                terminal: &p.terminal_id,
                account_id: &p.account_id,
                status_name: p.status,
                amount: JsonAmount(crate::services::status::current_amount(p)),
                org_amount: JsonAmount(p.amount_minor),
                currency: &p.currency,
                description: &p.description,
                card_mask: &p.card_mask,
                card_type: &p.card_brand,
                reference: &p.reference,
                approval_code: &p.approval_code,
            },
        }
    }
}

/// The bodies below were written by the code before these structs (serde_json maps built with
/// `json!`): each struct must write the same bytes.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::callbacks::{for_operation, for_payment};

    /// A payment with every field a callback shows set to a distinct value.
    fn sample() -> Payment {
        Payment {
            id: "tx-1".into(),
            merchant_id: "m-1".into(),
            terminal_id: "67e34d63-102f-4bd1-898e-370781d0074d".into(),
            invoice_id: "000000123".into(),
            invoice_id_alt: "alt-9".into(),
            status: TxStatus::Auth,
            amount_minor: 12_345,
            charged_minor: 12_345,
            refunded_minor: 1_005,
            fee_minor: 250,
            currency: "KZT".into(),
            description: "Mug \"blue\" <b>".into(),
            account_id: "acc-7".into(),
            email: "a@b.kz".into(),
            phone: "77001234567".into(),
            payer_name: "TEST TEST".into(),
            language: "KZ".into(),
            post_link: "https://shop.kz/ok".into(),
            failure_post_link: "https://shop.kz/fail".into(),
            secret_hash: Some("HelloWorld123#".into()),
            card_id: Some("card-5".into()),
            card_mask: "440563...5096".into(),
            card_brand: "VISA".into(),
            issuer: "HALYK BANK".into(),
            reference: "123456789012".into(),
            int_reference: "ABCDEF0123456789".into(),
            approval_code: "654321".into(),
            reason_code: 0,
            reason: "success".into(),
            secure: true,
            updated_at: 1_764_500_000_123,
            sender_transfer_type: "TYPEPAN".into(),
            receiver_transfer_type: "TYPEPHONE".into(),
            receiver_card_id: Some("rc-1".into()),
            receiver_card_mask: "510000...0001".into(),
            receiver_card_brand: "MASTERCARD".into(),
            ..Payment::default()
        }
    }

    fn sent(cb: Option<epay_store::NewCallback>) -> String {
        cb.expect("a callback").payload.expose().to_string()
    }

    #[test]
    fn the_success_body_is_the_one_sent_before() {
        assert_eq!(
            sent(for_payment(&sample())),
            r##"{"accountId":"acc-7","amount":123.45,"approvalCode":"654321","cardId":"card-5","cardMask":"440563...5096","cardType":"VISA","code":"ok","currency":"KZT","dateTime":"2025-11-30T15:53:20.123000+05:00","description":"Mug \"blue\" <b>","email":"a@b.kz","id":"tx-1","invoiceId":"000000123","ip":"","ipCity":"","ipCountry":"","ipDistrict":"","ipLatitude":0,"ipLongitude":0,"ipRegion":"","issuer":"HALYK BANK","language":"KAZ","name":"TEST TEST","phone":"77001234567","reason":"success","reasonCode":0,"reference":"123456789012","secret_hash":"HelloWorld123#","secure":"yes","secureDetails":"Y","terminal":"67e34d63-102f-4bd1-898e-370781d0074d"}"##
        );
    }

    #[test]
    fn the_failure_body_is_the_one_sent_before() {
        let declined = Payment {
            status: TxStatus::Reject,
            reason_code: 484,
            reason: "Insufficient funds".into(),
            secure: false,
            secret_hash: None,
            ..sample()
        };
        assert_eq!(
            sent(for_payment(&declined)),
            r##"{"CardType":"VISA","accountId":"acc-7","amount":123.45,"cardMask":"4405...5096","cardType":"VISA","code":"error","currency":"KZT","dateTime":"2025-11-30T15:53:20.123000+05:00","description":"Mug \"blue\" <b>","email":"a@b.kz","id":"tx-1","invoiceId":"000000123","invoiceIdAlt":"alt-9","ip":"","ipCity":"","ipCountry":"","ipDistrict":"","ipLatitude":0,"ipLongitude":0,"ipRegion":"","issuer":"HALYK BANK","language":"KZ","name":"TEST TEST","phone":"77001234567","reason":"Insufficient funds","reasonCode":484,"reference":"","secure":"no","secureDetails":"","terminal":"67e34d63-102f-4bd1-898e-370781d0074d","tokenRecipient":""}"##
        );
    }

    #[test]
    fn the_operation_bodies_are_the_ones_sent_before() {
        assert_eq!(
            sent(for_operation(&Payment { status: TxStatus::Charge, ..sample() }, Operation::Refund, 1_005)),
            r##"{"code":"operation","currency":"KZT","dateTime":"2025-11-30T15:53:20.123000+05:00","operation":"refund","operationAmount":10.05,"payment":{"accountId":"acc-7","amount":113.4,"approvalCode":"654321","cardMask":"440563...5096","cardType":"VISA","currency":"KZT","description":"Mug \"blue\" <b>","id":"tx-1","invoiceId":"000000123","orgAmount":123.45,"reference":"123456789012","statusName":"CHARGE","terminal":"67e34d63-102f-4bd1-898e-370781d0074d"},"secret_hash":"HelloWorld123#"}"##
        );
        assert_eq!(
            sent(for_operation(&sample(), Operation::Expire, 12_345)),
            r##"{"code":"operation","currency":"KZT","dateTime":"2025-11-30T15:53:20.123000+05:00","operation":"expire","operationAmount":123.45,"payment":{"accountId":"acc-7","amount":123.45,"approvalCode":"654321","cardMask":"440563...5096","cardType":"VISA","currency":"KZT","description":"Mug \"blue\" <b>","id":"tx-1","invoiceId":"000000123","orgAmount":123.45,"reference":"123456789012","statusName":"AUTH","terminal":"67e34d63-102f-4bd1-898e-370781d0074d"},"secret_hash":"HelloWorld123#"}"##
        );
    }

    /// The transfer's body is built in `transfers::answer` (it is the transfer's answer object).
    #[test]
    fn the_transfer_body_is_the_one_sent_before() {
        let transfer = Payment { status: TxStatus::Charge, kind: epay_domain::PaymentKind::P2p, ..sample() };
        let cb = crate::services::transfers::callback(&transfer).expect("postLink is set");
        assert_eq!(cb.kind, epay_domain::CallbackKind::TransferSuccess);
        assert_eq!(
            cb.payload.expose(),
            r##"{"accountID":"acc-7","amount":123.45,"code":0,"currency":"KZT","description":"Mug \"blue\" <b>","email":"a@b.kz","fee":2.5,"id":"tx-1","intReference":"ABCDEF0123456789","orderID":"000000123","receiverCardID":"rc-1","receiverCardPAN":"510000...0001","receiverCardType":"MASTERCARD","receiverTransferType":"TYPEPHONE","reference":"123456789012","secret_hash":"HelloWorld123#","senderCardID":"card-5","senderCardPAN":"440563...5096","senderCardType":"VISA","senderTransferType":"TYPEPAN","status":"CHARGE","terminalID":"67e34d63-102f-4bd1-898e-370781d0074d"}"##
        );
        let declined = Payment { status: TxStatus::Reject, reason_code: 484, ..transfer };
        let failed = crate::services::transfers::callback(&declined).expect("postLink is set");
        assert_eq!(
            (failed.kind, failed.url.as_str()),
            (epay_domain::CallbackKind::PaymentFailure, "https://shop.kz/fail")
        );
    }

    /// A card mask that is not ASCII (never one the gateway writes) is cut by characters, not
    /// bytes, so it cannot split one.
    #[test]
    fn a_failure_mask_is_cut_by_characters() {
        let p = Payment { card_mask: "ёёёёё...1234".into(), ..sample() };
        assert_eq!(Failure::of(&p).card_mask, "ёёёё...1234");
    }
}
