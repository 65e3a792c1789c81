//! Every operation the gateway serves. `tests/openapi.rs` compares this list with the real
//! router, method by method: a route added without an entry here fails it.

use epay_domain::{CallbackKind, DeliveryStatus, Operation, TxStatus};
use serde_json::{json, Value};

use super::builder::{Auth, Builder};
use super::requests::*;
use super::responses::*;
use crate::edge::http::invoices::{InvoiceListResponse, InvoiceRequest, InvoiceResponse};
use crate::edge::http::oauth::TokenRequest;
use crate::edge::http::operations::OperationRequest;
use crate::edge::http::payments::{CryptopayFields, SavedCardFields};
use crate::edge::http::recurrent::SubscribeRequest;
use crate::edge::http::sandbox::ClockAdvance;
use crate::edge::http::three_ds::ConfirmRequest;
use crate::edge::http::transfers::TransferRequest;
use crate::edge::page::acs::{AcsAnswerForm, AcsChallengeForm};
use crate::edge::page::forms::{PayForm, ReceiptForm, TransferForm};
use crate::edge::page::params::PageCards;
use crate::services::callback_log::CallbackView;
use crate::services::cards::CardListEntry;
use crate::services::payments::PaymentOrderRequest;
use crate::services::subscriptions::SubscriptionAnswer;
use crate::services::three_ds_confirm::Confirmed;
use crate::services::transfers::TransferResponse;
use crate::wire::{ErrorBody, OAuthErrorBody, PaymentAnswer, StatusResponse, TokenResponse, TransferErrorBody};

const PAYMENT_TERMINAL: &str = crate::platform::test_merchant::PAYMENT_TERMINAL;

fn payment_example() -> Value {
    json!({"id":"8f0b5f5e-2b8c-4c6e-9a0e-6c1c1b4f7a10","accountId":"testUser1","amount":100,"amountBonus":0,
        "currency":"KZT","description":"test","email":"","invoiceID":"000000001","invoiceIdAlt":"",
        "language":"RU","phone":"","reference":"099467918563","intReference":"C3B673466A9600F3",
        "secure3D":null,"cardID":"22f2c5db-64d8-475f-8066-af3de3dc8233","fee":0,"code":0,"status":TxStatus::Auth.as_str()})
}

/// Seed 003's "not final" answer.
fn three_d_example() -> Value {
    json!({"id":"d5782400-d8c5-4856-b5b9-115be68b63ca","accountId":"","amount":100,"amountBonus":0,"currency":"",
        "description":"","email":"","invoiceID":"","language":"","phone":"","reference":"","intReference":"",
        "secure3D":{"paReq":"eyJtZXNzYWdlVHlwZSI6IkNSZXEiLCJtZXNzYWdlVmVyc2lvbiI6IjIuMi4wIn0",
            "md":"ZTBkMjZkMDEtMmYwNC00ZWY2LWEzZmMtNDRiNTkzMjE3Yzkx",
            "action":"http://127.0.0.1:8080/acs/challenge"},
        "cardID":"","fee":0,"code":0,"status":TxStatus::ThreeD.as_str()})
}

/// Seed 001's answer, field for field.
fn transfer_example() -> Value {
    json!({"id":"84d22915-f77f-491a-801c-aeb1b3b3bb36","amount":100,"fee":95,"accountID":"testUser1",
        "currency":"KZT","email":"dosbols@halykbank.kz","description":"Test p2p payment",
        "reference":"403752583641","orderID":"8161284658529816",
        "senderCardID":"10606a85-ffca-b6b3-e063-1d1a000a2f3d","senderCardPAN":"440563...5096",
        "senderCardType":"VISA","senderTransferType":"TYPEPAN",
        "receiverCardID":"fcf69516-f7e8-9b14-e053-1d1a000aef2f","receiverCardPAN":"552204...6736",
        "receiverCardType":"MasterCard","receiverTransferType":"TYPECARDID",
        "intReference":"C2679A7844D3A007","terminalID":"40a348cb-68a3-45d5-9002-a4836d79c3b5",
        "status":TxStatus::Charge.as_str()})
}

fn error(code: i64, message: &str) -> Value {
    json!({"code": code, "message": message})
}

fn decline(code: i64, message: &str) -> Value {
    json!({"code": code, "message": message, "id": "8f0b5f5e-2b8c-4c6e-9a0e-6c1c1b4f7a10"})
}

fn transfer_error(code: i64, message: &str, id: &str) -> Value {
    json!({"code": code, "message": message, "invoiceId": "8161284658529816", "id": id, "reference": "",
        "accountId": "testUser1"})
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

pub fn describe(b: &mut Builder) {
    oauth(b);
    payments(b);
    three_ds(b);
    status(b);
    operations(b);
    cards(b);
    transfers(b);
    callbacks(b);
    invoices(b);
    payment_page(b);
    demo_shop(b);
    cabinet(b);
    sandbox(b);
    subscriptions(b);
    operability(b);
    reference(b);
}

fn oauth(b: &mut Builder) {
    b.api(&["post"], "/oauth2/token", "OAuth2", "token", "Get an access token")
        .about(
            "OAuth2 client credentials (facts §2). With `invoiceID` (and then `amount` and `terminal`) the token is \
             bound to that invoice, amount, currency and terminal and pays it once; without, it is a service token \
             (or, with scope `transfer`, a transfer token for any order). A refused request writes nothing.",
        )
        .body::<TokenRequest>(
            &["application/x-www-form-urlencoded", "multipart/form-data", "application/json"],
            "Form fields (ePay's docs show form-data), or the same fields as a JSON object.",
            json!({"grant_type":"client_credentials","scope":"payment","client_id":"test",
                "client_secret":"yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG","invoiceID":"000000001","amount":100,
                "currency":"KZT","terminal": PAYMENT_TERMINAL}),
        )
        .json::<TokenResponse>(
            200,
            "The token.",
            &[(
                "payment token",
                json!({"access_token":"DCEB8O_ZM5U7SO_T_U5EJQ","expires_in":7200,"refresh_token":"",
                    "scope":"payment","token_type":"Bearer"}),
            )],
        )
        .json::<OAuthErrorBody>(
            400,
            "`invalid_request` (a field missing or malformed, unknown terminal, `invoiceID` without `amount` or \
             `terminal`), `unsupported_grant_type`, or `invalid_scope` (missing scope or an unknown word).",
            &[
                ("invalid_scope", json!({"error":"invalid_scope","error_description":"unknown scope \"payments\""})),
                (
                    "invalid_request",
                    json!({"error":"invalid_request","error_description":"terminal is required with invoiceID"}),
                ),
            ],
        )
        .json::<OAuthErrorBody>(
            401,
            "`invalid_client`: unknown `client_id` or wrong secret.",
            &[("invalid_client", json!({"error":"invalid_client","error_description":"client authentication failed"}))],
        )
        .header(401, "WWW-Authenticate", "`Basic`")
        .json::<OAuthErrorBody>(
            429,
            "`too_many_requests`: too many wrong secrets for this client (or from this address) lately.",
            &[(
                "locked",
                json!({"error":"too_many_requests","error_description":"too many failed attempts; retry after 60 seconds"}),
            )],
        )
        .header(429, "Retry-After", "Seconds to wait.")
        .json::<OAuthErrorBody>(
            500,
            "`server_error`: storage failure.",
            &[("server_error", json!({"error":"server_error","error_description":"internal error"}))],
        )
        .done();
    b.alias("/epay2/oauth2/token", "/oauth2/token", "Epay2");
}

/// The payment surface's errors, in the schema `E` (`ErrorBody`, or for `/payments/cards/auth`
/// `ErrorBody` or `TransferErrorBody`).
fn payment_errors<E: utoipa::ToSchema>(op: super::builder::Op<'_>) -> super::builder::Op<'_> {
    op.json::<E>(
        400,
        "Bad input or a mismatch with the token (`code` -1, nothing written, the token stays usable); or a \
         decline (`code` is the reason code, `id` the transaction recorded as `REJECT`; the token is spent).",
        &[
            ("decline", decline(484, "Insufficient funds")),
            ("bad input", error(-1, "field invoiceId does not match the token")),
        ],
    )
    .json::<E>(
        401,
        "Missing, unknown, expired or already used token.",
        &[("used token", error(-1, "token has already been used; request a new token"))],
    )
    .json::<E>(
        403,
        "The token's scope has no `payment`, it names no terminal, or it was not issued for an invoice.",
        &[("not a payment token", error(-1, "token was not issued for an invoice"))],
    )
    .json::<E>(
        409,
        "The invoice already has a transaction on this terminal (a declined one included); or an \
         `Idempotency-Key` request still running.",
        &[("duplicate", error(-1, "a transaction with invoiceId 000000001 already exists on this terminal"))],
    )
    .json::<E>(
        429,
        "Too many declined attempts with this card or on this terminal lately (card testing); nothing was written \
         and the token stays usable.",
        &[("card testing", error(-1, "too many declined attempts; retry after 60 seconds"))],
    )
    .header(429, "Retry-After", "Seconds to wait.")
    .json::<E>(
        500,
        "Internal error: check the payment status before retrying.",
        &[("internal", error(-1, "internal error, check the payment status"))],
    )
}

fn payments(b: &mut Builder) {
    b.api(&["get"], "/public.rsa", "Payments", "publicKey", "The cryptogram key")
        .about(
            "The public half of the cryptogram key: PEM `-----BEGIN PUBLIC KEY-----` (X.509 \
             SubjectPublicKeyInfo), RSA 2048 bits unless configured otherwise. Encrypt the `Cryptogram` JSON to it.",
        )
        .text(
            200,
            "application/x-pem-file",
            "The PEM.",
            Some(
                "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA…\n-----END PUBLIC KEY-----\n",
            ),
        )
        .done();

    let cryptopay_request = {
        let parts = json!({"allOf": [b.schema::<PaymentOrderRequest>(), b.schema::<CryptopayFields>()]});
        b.composed(
            "CryptopayRequest",
            "`POST /payment/cryptopay`: the order plus the encrypted card (facts §5).",
            parts,
        )
    };
    let op = b
        .api(&["post"], "/payment/cryptopay", "Payments", "cryptopay", "Pay with a card cryptogram")
        .about(
            "Pay with card data encrypted by the merchant (facts §5). `status` is `AUTH` on a two-step terminal, \
             `CHARGE` on a one-step one, `VERIFIED` for a card verification (amount 0 with `cardSave` and \
             `accountId`: the card is checked and saved, no money moves) and `3D` when the terminal has 3-D Secure \
             on and the card is enrolled (then the answer is seed 003's `ThreeDResponse`; see the 3-D Secure \
             operations). With `cardSave` and `accountId` an approved card is saved and its id returned as `cardID`.",
        )
        .auth(Auth::Payment)
        .body_schema(
            cryptopay_request,
            &["application/json"],
            "The order (it must match the token) and the cryptogram.",
            json!({"amount":100,"currency":"KZT","name":"TEST TEST","cryptogram":"<base64 of the encrypted Cryptogram>",
                "invoiceId":"000000001","description":"test","cardSave":true,"recurrent":true,"accountId":"testUser1",
                "terminalId": PAYMENT_TERMINAL}),
        )
        .json::<PaymentAnswer>(
            200,
            "Final (`PaymentResponse`), or waiting for 3-D Secure (`ThreeDResponse`, status `3D`).",
            &[("approved", payment_example()), ("3-D Secure (seed 003)", three_d_example())],
        );
    payment_errors::<ErrorBody>(op).done();
    b.schema::<CryptogramPlaintext>();

    let saved_card_request = {
        let parts = json!({"allOf": [b.schema::<PaymentOrderRequest>(), b.schema::<SavedCardFields>()]});
        let payment = b.composed(
            "SavedCardPaymentRequest",
            "`POST /payments/cards/auth` (seed 003): the order plus a saved card. A JSON body with both an\n\
             `order` and a `card` object is a P2P transfer instead (`TransferRequest`).",
            parts,
        );
        let either = json!({"oneOf": [payment, b.schema::<TransferRequest>()]});
        b.composed(
            "SavedCardRequest",
            "`POST /payments/cards/auth`: a saved-card payment, or (a JSON object with both `order` and\n\
             `card`) a P2P transfer, as seed 001 sends it.",
            either,
        )
    };
    let op = b
        .api(&["post"], "/payments/cards/auth", "Payments", "savedCardPayment", "Pay with a saved card")
        .about(
            "Pay with a card saved earlier (seed 003): the order fields of `/payment/cryptopay` and `cardId`; the \
             vault's copy of the card is used (no expiry or CVC asked). `amount` must be greater than 0. The \
             outcome follows the terminal: `AUTH`, `CHARGE` or `3D`.\n\nA JSON body with both an `order` and a \
             `card` object is a **P2P transfer** (seed 001 posts transfers here) and is handled exactly as \
             `POST /p2p/transfer`, with its answers and errors (`TransferResponse`, `TransferErrorBody`).",
        )
        .auth(Auth::PaymentOrTransfer)
        .body_schema(
            saved_card_request,
            &["application/json"],
            "Seed 003's body (or seed 001's transfer body).",
            json!({"amount":100,"currency":"KZT","name":"TEST TEST","terminalId": PAYMENT_TERMINAL,
                "invoiceId":"000000002","invoiceIdAlt":"8564546","description":"test","accountId":"testUser1",
                "email":"parkhomchik@gmail.com","phone":"77472261170","backLink":"https://testmerchant/order/1123",
                "failureBackLink":"https://testmerchant/order/1123/fail","postLink":"https://testmerchant/order/1123",
                "failurePostLink":"https://testmerchant/order/1123/fail","language":"rus","paymentType":"cardId",
                "recurrent":true,"cardId":{"id":"22f2c5db-64d8-475f-8066-af3de3dc8233"}}),
        )
        .json::<SavedCardAnswer>(
            200,
            "Final, or waiting for 3-D Secure; `cardID` is the saved card's id. For a transfer body: the transfer \
             answer.",
            &[
                ("approved", payment_example()),
                ("3-D Secure (seed 003)", three_d_example()),
                ("transfer (seed 001)", transfer_example()),
            ],
        );
    payment_errors::<SavedCardError>(op).done();
}

fn confirm_errors(op: super::builder::Op<'_>) -> super::builder::Op<'_> {
    op.json::<ErrorBody>(
        400,
        "The challenge failed (`code` 473 wrong code, 499 cancelled, 877 abandoned past the timeout) or the card \
         was declined after it (reason code), with the transaction `id` — for payments and transfers alike; or \
         `code` -1: the challenge is not answered yet, `MD` is unknown, `PaRes` belongs to another challenge.",
        &[
            ("wrong code", decline(473, "3DSecure authentication failed")),
            ("not answered yet", error(-1, "the 3-D Secure challenge has not been answered yet")),
        ],
    )
    .json::<ErrorBody>(
        401,
        "Not the token the payment was started with (or none).",
        &[("other token", error(-1, "the token is not the one this payment was started with"))],
    )
    .json::<ErrorBody>(
        409,
        "Already confirmed.",
        &[("again", error(-1, "this 3-D Secure transaction was already confirmed"))],
    )
    .json::<ErrorBody>(
        500,
        "Internal error.",
        &[("internal", error(-1, "internal error, check the payment status"))],
    )
}

fn three_ds(b: &mut Builder) {
    let op = b
        .api(
            &["post"],
            "/payment/cryptopay/confirm",
            "3-D Secure",
            "confirm",
            "Confirm a 3-D Secure payment or transfer",
        )
        .about(
            "\"On the partner's page (TermUrl), it is necessary to execute confirm\" (seed 003). Finishes the \
             payment (or transfer) that answered `3D`, with the `PaRes` and `MD` the ACS posted to the TermUrl. \
             `MD` and `PaRes` are read from a JSON body, else a form body, else the query string. The token is the \
             one the payment was started with (already spent: that is expected).",
        )
        .auth(Auth::PaymentOrTransfer)
        .body::<ConfirmRequest>(
            &["application/json", "application/x-www-form-urlencoded"],
            "What the ACS posted to the TermUrl.",
            json!({"PaRes":"eyJtZXNzYWdlVHlwZSI6IkNSZXMiLCJ0cmFuc1N0YXR1cyI6IlkifQ",
                "MD":"ZTBkMjZkMDEtMmYwNC00ZWY2LWEzZmMtNDRiNTkzMjE3Yzkx"}),
        )
        .json::<Confirmed>(
            200,
            "The final payment answer (`status` `AUTH` or `CHARGE`), or the transfer answer (`CHARGE`).",
            &[("payment", payment_example()), ("transfer", transfer_example())],
        );
    confirm_errors(op).done();

    let op = b
        .api(
            &["get", "post"],
            "/payments/cards/confirmPayment",
            "3-D Secure",
            "confirmPayment",
            "Confirm a 3-D Secure payment (Halyk SDK's TermUrl)",
        )
        .about(
            "The same as `POST /payment/cryptopay/confirm`, with the token in the `Access` query parameter: the \
             TermUrl Halyk's own SDK uses (facts §7). `MD` and `PaRes` come from a form or JSON body, or the query.",
        )
        .auth(Auth::AccessQuery)
        .query("Access", true, "The payment's token (also `access`).", json!({"type": "string"}))
        .query("MD", false, "When not in the body.", json!({"type": "string"}))
        .query("PaRes", false, "When not in the body.", json!({"type": "string"}))
        .body::<ConfirmRequest>(
            &["application/x-www-form-urlencoded", "application/json"],
            "What the ACS posted (the ACS's auto-submitted form, when this is the TermUrl).",
            Value::Null,
        )
        .json::<Confirmed>(200, "The final payment or transfer answer.", &[("payment", payment_example())]);
    confirm_errors(op).done();

    b.page(&["post"], "/acs/challenge", "3-D Secure", "acsChallenge", "The (simulated) ACS challenge")
        .about(
            "The `secure3D.action` of a `3D` answer. The merchant's page auto-submits seed 003's form here; the \
             answer is the simulated bank's page asking for a one-time code (sandbox code `123456`; production: a per-challenge code). When the \
             shopper answers, the page posts `PaRes` and `MD` to `TermUrl`. A second answer, an unknown `PaReq`, \
             an `MD` of another challenge or a missing `TermUrl` is a `400` page.",
        )
        .body::<AcsChallengeForm>(&["application/x-www-form-urlencoded"], "Seed 003's form.", Value::Null)
        .text(200, HTML, "The challenge page.", None)
        .text(400, HTML, "Refused: a page saying why.", None)
        .done();

    b.page(&["post"], "/acs/challenge/answer", "3-D Secure", "acsAnswer", "The ACS page's answer (internal)")
        .about(
            "The challenge page's own form, not an integration point. Code `123456` passes (sandbox; production: the \
             challenge's own code); another code fails \
             with 473; `action=cancel` fails with 499. Answers with a page that auto-posts `PaRes` and `MD` to \
             `TermUrl`.",
        )
        .body::<AcsAnswerForm>(&["application/x-www-form-urlencoded"], "The challenge form.", Value::Null)
        .text(200, HTML, "The page that posts the result to `TermUrl`.", None)
        .text(400, HTML, "Unknown or already answered challenge.", None)
        .text(500, HTML, "Internal error.", None)
        .done();
}

fn status(b: &mut Builder) {
    b.api(
        &["get"],
        "/check-status/payment/transaction/{invoiceId}",
        "Status",
        "checkStatus",
        "Transaction status by invoice",
    )
    .about(
        "The transaction of an invoice (or transfer order) on the token's terminal (facts §8). Any unexpired token \
         of the merchant that names a terminal works — a service token is the usual choice; a token issued for one \
         invoice sees only that invoice. The token is not spent. Always HTTP 200 for a valid token: `resultCode` \
         `\"100\"` found (read `statusName`), `\"107\"` found but in progress (a 3-D Secure challenge is open), \
         `\"101\"` found and rejected (`REJECT`, `FAILED`), each with the transaction; `\"102\"` not found or \
         malformed id, `\"104\"` token without a terminal.",
    )
    .auth(Auth::AnyToken)
    .path_param("invoiceId", "The invoice id (6–16 digits).", "000000001")
    .json::<StatusResponse>(
        200,
        "Found, or why not.",
        &[
            (
                "found",
                json!({"resultCode":"100","resultMessage":"SUCCESS","transaction":{
                    "id":"8f0b5f5e-2b8c-4c6e-9a0e-6c1c1b4f7a10","createdDate":"2026-11-22T14:10:56.765000+05:00",
                    "invoiceID":"000000001","amount":100,"amountBonus":0,"payoutAmount":0,"orgAmount":100,
                    "approvalCode":"170243","data":"","currency":"KZT","terminal":"98120001",
                    "terminalID": PAYMENT_TERMINAL,"accountID":"testUser1","description":"test",
                    "language":"RU","cardMask":"440563...5096","cardType":"VISA","issuer":"HALYK BANK",
                    "reference":"099467918563","reason":"success","reasonCode":"0","intReference":"C3B673466A9600F3",
                    "secure":false,"secureDetails":"","statusID":TxStatus::Auth.id().to_string(),
                    "statusName":TxStatus::Auth.as_str(),"name":"TEST TEST","email":"",
                    "phone":"","cardID":"22f2c5db-64d8-475f-8066-af3de3dc8233","xlsRRN":"099467918563","ip":"",
                    "ipCountry":"","ipCity":"","ipRegion":"","ipDistrict":"","ipLatitude":0.0,"ipLongitude":0.0}}),
            ),
            ("not found", json!({"resultCode":"102","resultMessage":"invoice not found","transaction":null})),
        ],
    )
    .json::<StatusResponse>(
        401,
        "Missing, unknown or expired token (`resultCode` `\"103\"`).",
        &[("bad token", json!({"resultCode":"103","resultMessage":"access token is invalid","transaction":null}))],
    )
    .json::<StatusResponse>(
        500,
        "Storage failure (`resultCode` `\"103\"`).",
        &[("internal", json!({"resultCode":"103","resultMessage":"internal error, retry later","transaction":null}))],
    )
    .done();
}

fn operations(b: &mut Builder) {
    let ops = [
        (
            Operation::Charge,
            "Charge an authorization",
            "`AUTH` → `CHARGE`. Without an amount the whole authorization is charged; with an amount up to the \
             authorized one, that part is charged and the rest of the hold released at once. One charge per payment.",
        ),
        (Operation::Cancel, "Cancel an authorization", "`AUTH` → `CANCEL`; the hold is released. Takes no amount."),
        (
            Operation::Refund,
            "Refund a charged payment",
            "From `CHARGE`, up to what is left (charged less refunded); without an amount, all that is left. \
             Several partial refunds are allowed, each at least 10 unless it refunds all that is left; the status \
             becomes `REFUND` when everything is refunded. An `externalID` already used on this payment replays the \
             earlier refund.",
        ),
    ];
    let paths = ["/operation/{id}/charge", "/operation/{id}/cancel", "/operation/{id}/refund"];
    for ((operation, summary, text), path) in ops.into_iter().zip(paths) {
        let mut op = b
            .api(&["post"], path, "Operations", operation.as_str(), summary)
            .about(&format!(
                "{text}\n\nOnly card payments (not transfers or verifications). Needs a service token, or a token \
                 bound to this payment's invoice and terminal that was issued after the payment was made (never the \
                 token it was paid with: that one was on the payment page). A token that names a terminal finds only \
                 that terminal's transactions. When the payment's terminal turns operation callbacks on, one goes \
                 to the payment's `postLink` with `\"code\":\"operation\"` (docs/callbacks.md)."
            ))
            .auth(Auth::Service)
            .path_param("id", "The transaction `id` (not the invoice).", "8f0b5f5e-2b8c-4c6e-9a0e-6c1c1b4f7a10");
        if operation != Operation::Cancel {
            op = op.query("amount", false, "Greater than 0 (also in the JSON body).", json!({"type": "number"}));
        }
        if operation == Operation::Refund {
            op = op
                .query("externalID", false, "At most 100 characters (also `externalId`).", json!({"type": "string"}))
                .body::<OperationRequest>(
                    &["application/json"],
                    "Optional; the arguments may be given in the query instead.",
                    json!({"amount":30,"externalID":"r-1"}),
                );
        } else if operation == Operation::Charge {
            op = op.body::<OperationRequest>(
                &["application/json"],
                "Optional; `amount` may be given in the query instead.",
                json!({"amount":60}),
            );
        }
        op.json::<OperationResult>(200, "Done.", &[("done", json!({"code":0,"message":""}))])
            .json::<ErrorBody>(
                400,
                "`code` 100: bad amount, unknown transaction, wrong status, over the amount, a transfer…",
                &[("wrong status", error(100, "transaction must have the AUTH status to be charged; it is CHARGE"))],
            )
            .json::<ErrorBody>(
                401,
                "`code` 100: missing, unknown or expired token; a transfer token; a scope without `webapi` or \
                 `payment`; a token bound to another invoice, or the payment's own page token (any token issued \
                 before the payment was made).",
                &[("the page's token", error(100, crate::services::auth::NOT_A_PAGE_TOKEN))],
            )
            .json::<ErrorBody>(500, "`code` 100: internal error.", &[("internal", error(100, "internal error"))])
            .done();
    }
}

fn service_errors(op: super::builder::Op<'_>) -> super::builder::Op<'_> {
    op.json::<ErrorBody>(
        401,
        "Missing, unknown or expired token.",
        &[("bad token", error(-1, "access token is invalid"))],
    )
    .json::<ErrorBody>(
        403,
        "Not a service token.",
        &[(
            "payment token",
            error(-1, "this endpoint needs a service token (requested without invoiceID), not a payment token"),
        )],
    )
    .json::<ErrorBody>(
        500,
        "Internal error.",
        &[("internal", error(-1, "internal error, check the payment status"))],
    )
}

fn cards(b: &mut Builder) {
    let op = b
        .api(&["get"], "/cards/{accountId}", "Saved cards", "listCards", "A customer's saved cards")
        .about(
            "The customer's active saved cards, oldest first, with ePay's PascalCase keys (facts §10.2); `[]` if \
             none. Covers all the merchant's terminals.",
        )
        .auth(Auth::Service)
        .path_param("accountId", "The merchant's customer id.", "testUser1")
        .json_array::<CardListEntry>(
            200,
            "The cards.",
            &[(
                "one card",
                json!([{"ID":"22f2c5db-64d8-475f-8066-af3de3dc8233","TransactionId":"8f0b5f5e-2b8c-4c6e-9a0e-6c1c1b4f7a10",
                    "MerchantID":"7b1c3a52-5e0b-4c59-9a43-2f1e7b0c0001",
                    "CardHash":"5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8","CardMask":"4405...5096",
                    "PayerName":"TEST TEST","Reference":"099467918563","IntReference":"C3B673466A9600F3",
                    "Token":"7F2C6B1E0A9D4C3B8E5F1A2D3C4B5A69","Terminal":"98120001",
                    "CreatedDate":"2026-11-22T14:10:56.765000+05:00","PaymentAvailable":true,"AccountID":"testUser1"}]),
            )],
        );
    service_errors(op).done();

    let op = b
        .api(&["post"], "/card/deactivate/{cardID}", "Saved cards", "deactivateCard", "Deactivate a saved card")
        .about(
            "The card disappears from the list and can no longer pay or be used in a transfer (facts §10.3); saving \
             the same card again for the same customer reactivates it.",
        )
        .auth(Auth::Service)
        .path_param("cardID", "The saved card's id.", "22f2c5db-64d8-475f-8066-af3de3dc8233")
        .json::<CardDeactivated>(200, "Deactivated.", &[("done", json!({"status":"card successfully deactivated"}))])
        .json::<ErrorBody>(
            400,
            "Unknown, another merchant's, or already deactivated card.",
            &[("unknown", error(-1, "card 22f2c5db-64d8-475f-8066-af3de3dc8233 not found or already deactivated"))],
        );
    service_errors(op).done();
}

fn transfers(b: &mut Builder) {
    let kinds = [
        (
            "/p2p/transfer",
            "p2pTransfer",
            "P2P transfer, card to card",
            "`card.sender` and `card.receiver` (different cards). The sender is authorized for amount plus fee; \
             the receiver gets the amount.",
        ),
        (
            "/chdebit/transfer",
            "aftTransfer",
            "AFT: a card pays the merchant",
            "`card.sender` only (a receiver is ignored). The merchant's balance is credited.",
        ),
        (
            "/chpayment/transfer",
            "octTransfer",
            "OCT: the merchant pays out to a card or phone",
            "`card.receiver` only (a sender is ignored): a card, a saved card, or `TYPEPHONE` with `phone` and \
             `iin`. The merchant's balance is debited.",
        ),
    ];
    for (path, id, summary, sides) in kinds {
        b.api(&["post"], path, "Transfers", id, summary)
            .about(&format!(
                "{sides}\n\nNeeds a token with scope `transfer`. Issued with `invoiceID`, `amount`, `currency` and \
                 `terminal`, the order must match them; issued without, `order.terminalId` names the terminal. \
                 Every recorded attempt, approved or declined, spends the token. The terminal must allow transfers \
                 (`487` otherwise). Fee = amount × the terminal's percent + its fixed part, at least its minimum \
                 (the seeded P2P terminal: 1%, at least 95). The receiving card's daily limit (528) and the \
                 terminal's daily total (529) apply.\n\nOn a 3-D Secure terminal with an enrolled sender card the \
                 answer is the transfer body with `status` `3D` and `secure3D`; finish it with the confirm \
                 endpoints."
            ))
            .auth(Auth::Transfer)
            .body::<TransferRequest>(
                &["application/json"],
                "Seed 001's body.",
                json!({"order":{"amount":100,"currency":"KZT","description":"Test p2p payment","id":"8161284658529816",
                    "accountID":"testUser1","senderEmail":"dosbols@halykbank.kz",
                    "terminalId":"40a348cb-68a3-45d5-9002-a4836d79c3b5",
                    "backLink":"https://example.kz/success.html","failureBackLink":"https://example.kz/failure.html",
                    "postLink":"https://example.kz/post","failurePostLink":"https://example.kz/fail"},
                    "card":{"sender":{"save":true,"transferType":"TYPEPAN","cvc":"321","expire":{"month":"01","year":"27"},
                        "name":"Arman Ali","cardCred":"4405639704015096"},
                        "receiver":{"cardCred":"fcf69516-f7e8-9b14-e053-1d1a000aef2f","transferType":"TYPECARDID"}}}),
            )
            .json::<TransferResponse>(200, "Seed 001's answer (no `code` field).", &[("approved (seed 001)", transfer_example())])
            .json::<TransferErrorBody>(
                400,
                "A decline (reason code, `id` set, token spent), a terminal without transfers (487), a phone payout \
                 without a card (2357, one answer for every failed lookup), or bad input (-1).",
                &[
                    ("not permitted (seed 001)", transfer_error(487, " Not permitted to merchant", "")),
                    ("decline", transfer_error(484, "Insufficient funds", "84d22915-f77f-491a-801c-aeb1b3b3bb36")),
                ],
            )
            .json::<TransferErrorBody>(
                401,
                "Missing, unknown, expired or used token.",
                &[("used", transfer_error(-1, "token has already been used; request a new token", ""))],
            )
            .json::<TransferErrorBody>(
                403,
                "The token's scope has no `transfer`.",
                &[("scope", transfer_error(-1, "token scope \"payment\" does not allow transfers", ""))],
            )
            .json::<TransferErrorBody>(
                409,
                "The order id already has a transaction on this terminal.",
                &[(
                    "duplicate",
                    transfer_error(-1, "a transaction with order id 8161284658529816 already exists on this terminal", ""),
                )],
            )
            .json::<TransferErrorBody>(
                429,
                "Too many declined attempts with the sending card or on this terminal lately (card testing).",
                &[("card testing", transfer_error(-1, "too many declined attempts; retry after 60 seconds", ""))],
            )
            .header(429, "Retry-After", "Seconds to wait.")
            .json::<TransferErrorBody>(
                500,
                "Internal error: check the transfer status.",
                &[("internal", transfer_error(-1, "internal error, check the transfer status", ""))],
            )
            .done();
    }
}

fn callbacks(b: &mut Builder) {
    let op = b
        .api(&["get"], "/callbacks/{transactionId}", "Callback log", "callbackLog", "The callbacks of a transaction")
        .about(
            "The postLink callbacks of one of the merchant's transactions, with every delivery attempt. `kind` is \
             `payment.success`, `payment.failure`, `transfer.success`, or `payment.charge`, `payment.cancel`, \
             `payment.refund`, `payment.expire` for operation callbacks; `status` `pending`, `delivered` or \
             `failed`.",
        )
        .auth(Auth::Service)
        .path_param("transactionId", "The transaction `id`.", "8f0b5f5e-2b8c-4c6e-9a0e-6c1c1b4f7a10")
        .json::<CallbackLog>(
            200,
            "The callbacks.",
            &[(
                "delivered",
                json!({"callbacks":[{"id":"msg_0c7d1f","kind":CallbackKind::PaymentSuccess,"url":"http://127.0.0.1:9000/post",
                    "status":DeliveryStatus::Delivered,"attempts":1,"nextAttemptAt":null,
                    "createdAt":"2026-11-22T14:10:56.765000+05:00","deliveredAt":"2026-11-22T14:10:56.901000+05:00",
                    "payload":{"invoiceId":"000000001","code":"ok"},
                    "attemptLog":[{"attempt":1,"startedAt":"2026-11-22T14:10:56.790000+05:00","httpStatus":200,
                        "latencyMs":11,"error":"","response":"OK","node":"host:1234"}]}]}),
            )],
        )
        .json::<ErrorBody>(400, "Unknown transaction.", &[("unknown", error(-1, "transaction 8f0b5f5e not found"))]);
    service_errors(op).done();
    b.schema::<CallbackView>();

    let op = b
        .api(&["post"], "/callbacks/{callbackId}/resend", "Callback log", "resendCallback", "Send a callback again")
        .about("Queues the callback (its `id` from the log) for delivery now.")
        .auth(Auth::Service)
        .path_param("callbackId", "The callback's `id`.", "msg_0c7d1f")
        .json::<CallbackQueued>(200, "Queued.", &[("queued", json!({"status":"queued"}))])
        .json::<ErrorBody>(400, "Unknown callback.", &[("unknown", error(-1, "callback msg_0c7d1f not found"))]);
    service_errors(op).done();
}

fn invoice_example() -> Value {
    json!({"id":"5b0c1a52-7e0b-4c59-9a43-2f1e7b0c0042","link":"http://127.0.0.1:8080/invoice-link/9f86d081884c7d659a2feaa0c55ad015",
        "state":"ACTIVE","invoice_id":"000000777","shop_id":"04f25a4b-d2bd-4dd8-b3a7-9390be4774c4",
        "terminal_id": PAYMENT_TERMINAL,"account_id":"","amount":1500,"currency":"KZT","language":"rus",
        "description":"Invoice for consulting","recipient_contact":"client@example.kz","recipient_contact_sms":"+77011234567",
        "notifier_contact_sms":"","post_link":"https://shop.example/ok","failure_post_link":"","back_link":"",
        "failure_back_link":"","expires_at":"2026-12-01T12:00:00.000Z","created_at":"2026-11-30T12:00:00.000Z",
        "cancelled_at":null,"payment_id":null,"payment_status":null})
}

/// The invoice-link API's errors besides its own 400/404/409.
fn invoice_errors(op: super::builder::Op<'_>) -> super::builder::Op<'_> {
    op.json::<ErrorBody>(
        401,
        "Missing, unknown or expired token.",
        &[("bad token", error(-1, "access token is invalid"))],
    )
    .json::<ErrorBody>(
        403,
        "Not a service token (a payment token is a shopper's).",
        &[(
            "payment token",
            error(-1, "this endpoint needs a service token (requested without invoiceID), not a payment token"),
        )],
    )
    .json::<ErrorBody>(500, "Internal error.", &[("internal", error(-1, "internal error"))])
}

fn invoices(b: &mut Builder) {
    let op = b
        .api(&["post"], "/invoice", "Invoice links", "createInvoice", "Create an invoice link")
        .about(
            "ePay's invoice-link API (facts §14), snake_case JSON. The token is the password grant's \
             (`grant_type=password` with a cabinet user's e-mail and password) or a service token of the merchant. \
             `shop_id` is one of the merchant's terminal ids (ePay's test shop id stands for the test merchant's \
             payments terminal). The answer's `link` opens the hosted payment page for this invoice until \
             `expire_period` ends; it can be paid once. A refused request writes nothing.",
        )
        .auth(Auth::Service)
        .body::<InvoiceRequest>(
            &["application/json"],
            "The invoice.",
            json!({"shop_id":"04f25a4b-d2bd-4dd8-b3a7-9390be4774c4","invoice_id":"000000777","amount":1500,
                "currency":"KZT","language":"rus","description":"Invoice for consulting","expire_period":"1d",
                "recipient_contact":"client@example.kz","recipient_contact_sms":"+77011234567",
                "post_link":"https://shop.example/ok"}),
        )
        .json::<InvoiceResponse>(200, "The new invoice link.", &[("created", invoice_example())])
        .json::<ErrorBody>(
            400,
            "A field missing or malformed, an unknown (or another merchant's) `shop_id`.",
            &[(
                "bad period",
                error(-1, "expire_period \"1w\" must be a number and m, h or d, e.g. \"30m\", \"2h\", \"1d\""),
            )],
        )
        .json::<ErrorBody>(
            409,
            "The shop's terminal already has this `invoice_id` (a link or a payment).",
            &[("duplicate", error(-1, "invoice_id 000000777 already exists on this shop (a link or a payment)"))],
        );
    invoice_errors(op).done();

    let op = b
        .api(&["get"], "/invoice", "Invoice links", "listInvoices", "List invoice links")
        .about("The merchant's invoice links, newest first (ours: ePay publishes no list).")
        .auth(Auth::Service)
        .query("state", false, "`ACTIVE`, `PAID`, `EXPIRED` or `CANCELLED`.", json!({"type":"string"}))
        .query("offset", false, "Rows to skip (default 0).", json!({"type":"integer"}))
        .query("limit", false, "At most this many (1 to 100, default 50).", json!({"type":"integer"}))
        .json::<InvoiceListResponse>(
            200,
            "The links.",
            &[("one", json!({"invoices":[invoice_example()],"offset":0,"limit":50}))],
        )
        .json::<ErrorBody>(
            400,
            "A bad filter.",
            &[("bad state", error(-1, "state \"LOST\" must be ACTIVE, PAID, EXPIRED or CANCELLED"))],
        );
    invoice_errors(op).done();

    let op = b
        .api(&["get"], "/invoice/{id}", "Invoice links", "readInvoice", "Read an invoice link")
        .about("One of the merchant's invoice links, by its `id` or its `invoice_id`.")
        .auth(Auth::Service)
        .path_param("id", "The invoice's `id` or `invoice_id`.", "000000777")
        .json::<InvoiceResponse>(200, "The link.", &[("paid", invoice_example())])
        .json::<ErrorBody>(
            404,
            "No such invoice of this merchant.",
            &[("unknown", error(-1, "invoice \"000000777\" not found"))],
        );
    invoice_errors(op).done();

    let op = b
        .api(&["post"], "/invoice/{id}/cancel", "Invoice links", "cancelInvoice", "Cancel an invoice link")
        .about("Cancels an `ACTIVE` link: it stops opening the page and its page tokens stop paying.")
        .auth(Auth::Service)
        .path_param("id", "The invoice's `id` or `invoice_id`.", "000000777")
        .json::<InvoiceResponse>(200, "Cancelled.", &[("cancelled", invoice_example())])
        .json::<ErrorBody>(
            404,
            "No such invoice of this merchant.",
            &[("unknown", error(-1, "invoice \"000000777\" not found"))],
        )
        .json::<ErrorBody>(
            409,
            "Paid, expired or already cancelled.",
            &[("paid", error(-1, "the invoice is PAID: only an ACTIVE invoice can be cancelled"))],
        );
    invoice_errors(op).done();

    b.page(&["get"], "/invoice-link/{linkId}", "Invoice links", "openInvoiceLink", "Open an invoice link")
        .about(
            "The link a customer gets. While the invoice is active: a redirect to the hosted payment page with a \
             payment token minted for this invoice (its terminal, amount, currency and callbacks). Paid: a page \
             saying so. Expired or cancelled: a page saying so (410), in the invoice's language.",
        )
        .path_param("linkId", "The link's 32 hex digits.", "9f86d081884c7d659a2feaa0c55ad015")
        .redirect(303, "To `/payform/?params=…`.")
        .text(200, "text/html; charset=utf-8", "Already paid.", None)
        .text(404, "text/html; charset=utf-8", "No such link.", None)
        .text(410, "text/html; charset=utf-8", "Expired or cancelled.", None)
        .done();
}

fn payment_page(b: &mut Builder) {
    b.page(&["get"], "/payform/payment-api.js", "Payment page", "paymentApiJs", "payment-api.js")
        .about(
            "The library a merchant's page loads: `halyk.pay(paymentObject)` (and `halyk.cardverification`, the \
             same) sends the browser to `/payform/?params=<LZString.compressToEncodedURIComponent(…)>`; \
             `halyk.showPaymentWidget(obj, cb)` opens the page in an iframe (`&isShortForm=true`) and calls \
             `cb({success})`; `halyk.p2p`, `halyk.aft`, `halyk.oct` open the transfer form (`&isTransfer=true`, \
             `&isAFT=true`, `&isOCT=true`). It takes the page's address from its own URL. lz-string is included. \
             `Access-Control-Allow-Origin: *`.",
        )
        .text(200, JS, "The script.", None)
        .done();
    b.alias("/redesign-payform/payment-api.js", "/payform/payment-api.js", "Redesign");

    b.page(&["get"], "/payform/", "Payment page", "paymentPage", "The hosted payment page")
        .about(
            "The card form (Russian, Kazakh or English by `language`), or with `isTransfer`/`isAFT`/`isOCT=true` the \
             transfer form (amount, fee and total shown first; the customer's saved cards offered, `senderCardId` \
             and `receiverCardId` pre-selected). A `transfer` token opens the transfer form of the kind it allows \
             without a flag too (seed 002 calls `halyk.pay`); its `transferKind` decides, not the call. The token and \
             the order in `params` (a `PaymentObject`) are checked as by the API before the form is shown. After \
             the payment the page shows the result and sends the browser to `backLink` or `failureBackLink`, \
             unchanged. In the widget it posts `{\"success\":true|false}` to the parent window instead.",
        )
        .query(
            "params",
            true,
            "`LZString.compressToEncodedURIComponent` of the encoded `PaymentObject` (what `payment-api.js` builds).",
            json!({"type": "string"}),
        )
        .query("isShortForm", false, "`true`: the widget (no redirect).", json!({"type": "boolean"}))
        .query("isTransfer", false, "`true`: the P2P transfer form (`halyk.p2p`).", json!({"type": "boolean"}))
        .query("isAFT", false, "`true`: the AFT form (`halyk.aft`).", json!({"type": "boolean"}))
        .query("isOCT", false, "`true`: the OCT form (`halyk.oct`).", json!({"type": "boolean"}))
        .query(
            "lang",
            false,
            "Ours, not ePay's: the page's language switch (`ru`, `kk`, `en`) over the payment's `language`. \
             Words only: the payment, its token and its stored language do not change.",
            json!({"type": "string"}),
        )
        .text(200, HTML, "The form.", None)
        .text(400, HTML, "A bad link or token: a page saying why.", None)
        .done();
    let auth = json!({
        "type": "object",
        "properties": {"auth": {"description": "The token answer of `POST /oauth2/token`, or just its `access_token`."}},
        "required": ["auth"],
    });
    let parts = json!({"allOf": [b.schema::<PaymentOrderRequest>(), b.schema::<PageCards>(), auth]});
    b.composed(
        "PaymentObject",
        "What `halyk.pay(paymentObject)` takes and the payment page receives in `params`: the fields\n\
         of `PaymentOrder` (its `cardSave`, for transfers, saves the sender's card) plus `auth`, the\n\
         whole token answer (or just the token string).",
        parts,
    );
    b.alias("/payform", "/payform/", "NoSlash");
    b.alias("/redesign-payform/", "/payform/", "Redesign");
    b.alias("/redesign-payform", "/payform/", "RedesignNoSlash");

    b.page(&["post"], "/payform/pay", "Payment page", "paymentPagePay", "The card form's submission (internal)")
        .about(
            "The card form posts here; not an integration point. Pays through the same service as the API. A card \
             that fails validation is refused before anything is written and the form is shown again (400). With \
             `card_id` it pays with one of the saved cards the form lists (only a token requested with `accountId` \
             has any); a card the token may not use is refused the same way.",
        )
        .body::<PayForm>(&["application/x-www-form-urlencoded"], "The card form.", Value::Null)
        .text(200, HTML, "The result (or the 3-D Secure hand-off to the ACS).", None)
        .text(400, HTML, "The form again, or a page saying why.", None)
        .done();
    b.alias("/redesign-payform/pay", "/payform/pay", "Redesign");

    b.page(
        &["post"],
        "/payform/transfer",
        "Payment page",
        "paymentPageTransfer",
        "The transfer form's submission (internal)",
    )
    .about("The transfer form posts here; not an integration point.")
    .body::<TransferForm>(&["application/x-www-form-urlencoded"], "The transfer form.", Value::Null)
    .text(200, HTML, "The result (or the 3-D Secure hand-off to the ACS).", None)
    .text(400, HTML, "The form again, or a page saying why.", None)
    .done();
    b.alias("/redesign-payform/transfer", "/payform/transfer", "Redesign");

    b.page(&["post"], "/payform/receipt", "Payment page", "paymentPageReceipt", "Send the receipt (internal)")
        .about(
            "The success page's \"send the receipt\" button posts here; not an integration point. The ticket names \
             the payment the page showed (the gateway's MAC, valid 30 minutes); the receipt goes to the order's own \
             `email`, at most once per payment (docs/security.md, \"Receipts\"). A refused ticket writes nothing.",
        )
        .body::<ReceiptForm>(&["application/x-www-form-urlencoded"], "The ticket.", Value::Null)
        .text(200, HTML, "The receipt again, saying where it was sent (or that it was sent before).", None)
        .text(400, HTML, "A forged or expired ticket, or a payment without an e-mail receipt.", None)
        .text(503, HTML, "Storage unavailable; nothing was written.", None)
        .done();

    b.page(
        &["get", "post"],
        "/payform/3ds-return",
        "Payment page",
        "paymentPage3dsReturn",
        "The page's TermUrl (internal)",
    )
    .about("The page's own 3-D Secure TermUrl: confirms the payment or transfer and shows its result.")
    .query("params", true, "The page's `params`.", json!({"type": "string"}))
    .query("isShortForm", false, "The widget.", json!({"type": "boolean"}))
    .query(
        "lang",
        false,
        "The language the shopper switched the page to (`ru`, `kk`, `en`).",
        json!({"type": "string"}),
    )
    .body::<ConfirmRequest>(&["application/x-www-form-urlencoded"], "What the ACS posts.", Value::Null)
    .text(200, HTML, "The result.", None)
    .text(400, HTML, "A bad link, token or challenge.", None)
    .done();

    for (path, id, what, content_type) in [
        ("/payform/assets/form.js", "paymentPageScript", "The form's script", JS),
        ("/payform/assets/form.css", "paymentPageStyle", "The form's stylesheet", "text/css; charset=utf-8"),
    ] {
        b.page(&["get"], path, "Payment page", id, &format!("{what} (internal)"))
            .about("A static file of the page, loaded with a Subresource Integrity hash under a strict CSP.")
            .text(200, content_type, "The file.", None)
            .done();
    }
    for path in crate::edge::page::assets::BRAND_ICONS {
        let stem = path.trim_start_matches("/payform/assets/brand-").trim_end_matches(".svg");
        b.page(
            &["get"],
            path,
            "Payment page",
            &format!("paymentPageBrand_{stem}"),
            &format!("The {stem} icon (internal)"),
        )
        .about("A card brand's icon, our own drawing, shown by the form as the number is typed.")
        .text(200, "image/svg+xml", "The icon.", None)
        .done();
    }
}

fn demo_shop(b: &mut Builder) {
    b.page(&["get"], "/", "Demo shop", "demoShop", "The demo shop")
        .about("A shop with one product (2500 KZT). In production mode: a notice and a link to this reference.")
        .text(200, HTML, "The shop.", None)
        .done();
    b.page(&["post"], "/demo/checkout", "Demo shop", "demoCheckout", "The demo shop's checkout")
        .about(
            "The shop's \"server\": gets a payment token for a new 12-digit invoice on the payments terminal and \
             serves a page that calls `halyk.pay` (or `halyk.showPaymentWidget` with `?widget=true`). `404` in \
             production mode.",
        )
        .query("widget", false, "`true`: open the payment widget.", json!({"type": "boolean"}))
        .text(200, HTML, "The checkout page.", None)
        .text(404, HTML, "Production mode.", None)
        .text(500, HTML, "The token could not be issued.", None)
        .done();
    for (path, id, summary) in [
        ("/demo/success", "demoSuccess", "The demo shop's backLink"),
        ("/demo/failure", "demoFailure", "The demo shop's failureBackLink"),
    ] {
        b.page(&["get"], path, "Demo shop", id, summary)
            .about("Shows the invoice's status and reason.")
            .query("invoiceId", true, "The demo invoice.", json!({"type": "string"}))
            .text(200, HTML, "The result page.", None)
            .done();
    }
    b.page(&["get"], "/demo/demo.js", "Demo shop", "demoScript", "The demo shop's script (internal)")
        .about("A static file of the demo shop.")
        .text(200, JS, "The file.", None)
        .done();
}

fn cabinet(b: &mut Builder) {
    let session = Auth::CabinetSession;
    let page = |b: &mut Builder, methods: &[&'static str], path: &'static str, id: &str, summary: &str, text: &str| {
        b.page(methods, path, "Cabinet", id, summary).about(text).auth(session).done_html()
    };
    b.page(&["get"], "/cabinet", "Cabinet", "cabinetHome", "The cabinet")
        .about("Redirects (`303`) to the overview when signed in, else to the sign-in page.")
        .redirect(303, "To the overview or the sign-in page.")
        .done();
    b.alias("/cabinet/", "/cabinet", "Slash");
    b.page(&["get", "post"], "/cabinet/login", "Cabinet", "cabinetLogin", "Sign in")
        .about(
            "GET shows the form (and sets a short-lived double-submit CSRF cookie); POST signs in with `email`, \
             `password` and `csrf`, sets the session cookie and redirects (`303`) to the overview. Repeated wrong \
             passwords lock the account for a while.",
        )
        .text(200, HTML, "The form (or the form again with the problem).", None)
        .redirect(303, "Signed in: to the overview.")
        .done();
    page(
        b,
        &["post"],
        "/cabinet/logout",
        "cabinetLogout",
        "Sign out",
        "Ends the session (form with `csrf`); `303` to the sign-in page.",
    );
    b.page(&["get"], "/cabinet/lang/{code}", "Cabinet", "cabinetLanguage", "Choose the language")
        .about(
            "`ru`, `kk` or `en`: sets the language cookie and goes back (`303`) to the cabinet page the link was on.",
        )
        .path_param("code", "`ru`, `kk` or `en`.", "en")
        .redirect(303, "Back to the page.")
        .done();
    page(
        b,
        &["get", "post"],
        "/cabinet/invoices",
        "cabinetInvoices",
        "Invoice links",
        "GET lists the merchant's invoice links (`?state=ACTIVE|PAID|EXPIRED|CANCELLED`) with the form for a new \
         one; POST creates one (the form's fields are `POST /invoice`'s, with `csrf`) and redirects (`303`) to the \
         list showing the new link.",
    );
    page(
        b,
        &["post"],
        "/cabinet/invoices/{id}/cancel",
        "cabinetInvoiceCancel",
        "Cancel an invoice link",
        "Cancels an active invoice link (form with `csrf`); `303` to the list.",
    );
    page(
        b,
        &["get"],
        "/cabinet/messages",
        "cabinetMessages",
        "Messages sent",
        "The e-mails and SMS the gateway queued for the merchant's customers (invoice links), newest first, with \
         their delivery state, attempts and last error; `?reference=` narrows to one invoice.",
    );
    page(
        b,
        &["get"],
        "/cabinet/messages/{id}",
        "cabinetMessage",
        "One message",
        "One message exactly as it was sent (recipient, subject, body), with its delivery attempts.",
    );
    page(
        b,
        &["get"],
        "/cabinet/subscriptions",
        "cabinetSubscriptions",
        "Subscriptions",
        "The merchant's subscriptions, newest first, filtered by `?status=ACTIVE|PAUSED|CANCELLED|STOPPED`.",
    );
    page(
        b,
        &["get"],
        "/cabinet/subscriptions/{id}",
        "cabinetSubscription",
        "One subscription",
        "A subscription's terms, its state and reason, and its charges by period and attempt.",
    );
    page(
        b,
        &["post"],
        "/cabinet/subscriptions/{id}/{action}",
        "cabinetSubscriptionAction",
        "Pause, resume or cancel a subscription",
        "`action` is `pause`, `resume` or `cancel`; the form carries `csrf`. Cancel first answers a confirmation \
         page; with `confirmed=yes` it runs. The change goes through the API's service; `303` to the subscription.",
    );
    b.page(&["get"], "/cabinet/assets/cabinet.css", "Cabinet", "cabinetStyle", "The cabinet's stylesheet (internal)")
        .text(200, "text/css; charset=utf-8", "The stylesheet.", None)
        .done();
    page(
        b,
        &["get"],
        "/cabinet/overview",
        "cabinetOverview",
        "Overview",
        "Totals and charts of the merchant's transactions.",
    );
    page(
        b,
        &["get"],
        "/cabinet/transactions",
        "cabinetTransactions",
        "Transactions",
        "The merchant's transactions, newest first, filtered by the query parameters `from`, `to` (YYYY-MM-DD), \
         `status`, `terminal`, `invoice`, `card`, `min`, `max`, `q`, and paged with `page`.",
    );
    b.page(&["get"], "/cabinet/transactions.csv", "Cabinet", "cabinetTransactionsCsv", "Transactions as CSV")
        .about("The same filters as the list, as a CSV download.")
        .auth(session)
        .text(200, "text/csv; charset=utf-8", "The CSV.", None)
        .redirect(303, "Not signed in: to the sign-in page.")
        .done();
    page(
        b,
        &["get"],
        "/cabinet/transactions/{id}",
        "cabinetTransaction",
        "One transaction",
        "The transaction with its status history, ledger entries, 3-D Secure and callback attempts, and the \
         operations it allows.",
    );
    page(
        b,
        &["post"],
        "/cabinet/transactions/{id}/{action}",
        "cabinetTransactionAction",
        "Charge, cancel, refund or re-send a callback",
        "`action` is `charge`, `cancel`, `refund` or `resend`; the form carries `csrf`, `amount`, `external_id` \
         or `event`. The first post answers a confirmation page; with `confirmed=yes` the operation runs through \
         the API's services and the answer redirects (`303`) to the transaction.",
    );
    page(
        b,
        &["get"],
        "/cabinet/terminals",
        "cabinetTerminals",
        "Terminals",
        "The merchant's terminals and their settings.",
    );
    page(
        b,
        &["post"],
        "/cabinet/terminals/{id}",
        "cabinetTerminalUpdate",
        "Change a terminal's settings",
        "Saves the form (with `csrf`) and redirects (`303`) to the terminals page.",
    );
    page(
        b,
        &["get"],
        "/cabinet/credentials",
        "cabinetCredentials",
        "Credentials",
        "The client id and the webhook secret.",
    );
    page(
        b,
        &["post"],
        "/cabinet/credentials/rotate",
        "cabinetRotate",
        "Rotate a secret",
        "`kind` is `client` or `webhook`; after confirmation (`confirmed=yes`) the new secret is shown once.",
    );
    page(
        b,
        &["get"],
        "/cabinet/cards",
        "cabinetCards",
        "Saved cards",
        "The merchant's active saved cards, optionally of one customer (`account`).",
    );
    page(
        b,
        &["get"],
        "/cabinet/cards/{id}",
        "cabinetCard",
        "One saved card",
        "A saved card's holder, its recurrent agreement, and its history (saved, agreement recorded, deactivated).",
    );
    page(
        b,
        &["post"],
        "/cabinet/cards/{id}/deactivate",
        "cabinetCardDeactivate",
        "Deactivate a saved card",
        "After confirmation (`confirmed=yes`, with `csrf`) the card is deactivated; `303` back to the cards.",
    );
}

fn sandbox(b: &mut Builder) {
    let op = b
        .page(&["get"], "/sandbox/clock", "Sandbox", "sandboxClock", "The gateway clock")
        .about(
            "The gateway clock is the wall clock plus an offset, one for the whole sandbox gateway. Needs a \
             merchant's service token. Sandbox mode only (`404` in production).",
        )
        .auth(Auth::Service)
        .json::<SandboxClock>(
            200,
            "The clock.",
            &[("now", json!({"now":"2026-11-22T14:00:00.000000+05:00","offsetSeconds":0}))],
        );
    service_errors(op).done();
    let op = b
        .page(&["post"], "/sandbox/clock/advance", "Sandbox", "sandboxClockAdvance", "Move the gateway clock forward")
        .about(
            "Moves the clock forward, then runs the authorization expiry job and fails abandoned 3-D Secure \
             challenges at once. The clock also decides card expiry, token expiry, daily transfer limits and \
             callback retry times. It is one clock for every merchant of the sandbox gateway, so moving it needs \
             a merchant's service token (a payment token, a browser or a callback cannot). Sandbox mode only.",
        )
        .auth(Auth::Service)
        .query("seconds", false, "1 to 34 560 000 (400 days); or in the JSON body.", json!({"type": "integer"}))
        .body::<ClockAdvance>(
            &["application/json"],
            "Optional, when `seconds` is not in the query.",
            json!({"seconds":691200}),
        )
        .json::<SandboxClockAdvanced>(
            200,
            "The clock, and what the jobs did.",
            &[(
                "eight days",
                json!({"now":"2026-11-30T14:00:00.000000+05:00","offsetSeconds":691200,"expired":1,"abandoned3ds":0,"subscriptionCharges":0}),
            )],
        )
        .json::<ErrorBody>(
            400,
            "A bad or missing `seconds`.",
            &[("missing", error(-1, "seconds is required, e.g. ?seconds=86400"))],
        );
    service_errors(op).done();
}

fn operability(b: &mut Builder) {
    b.page(&["get"], "/healthz", "Operability", "healthz", "Liveness")
        .about("The process answers.")
        .text(200, "text/plain; charset=utf-8", "Alive.", Some("ok"))
        .done();
    b.page(&["get"], "/readyz", "Operability", "readyz", "Readiness")
        .about(
            "Ready when the database answers, every migration this build carries is applied, and the cryptogram key \
             is loaded. A load balancer takes the node out while this answers 503.",
        )
        .json::<Ready>(
            200,
            "Ready.",
            &[("ready", json!({"status":"ready","database":"sqlite","migrations":9,"keys":"loaded"}))],
        )
        .json::<NotReady>(
            503,
            "Not ready.",
            &[("database down", json!({"status":"not ready","reason":"the database does not answer"}))],
        )
        .done();
    b.page(&["get"], "/metrics", "Operability", "metrics", "Prometheus metrics")
        .about(
            "Prometheus text format: requests by route and status with latency histograms, transactions by status \
             and reason code, callback deliveries and queue depth, database pool usage.",
        )
        .text(200, "text/plain; version=0.0.4; charset=utf-8", "The metrics.", None)
        .done();
}

fn reference(b: &mut Builder) {
    b.page(&["get"], "/openapi.json", "Reference", "openapi", "This OpenAPI description")
        .about("OpenAPI 3.1, generated from the code.")
        .text(200, "application/json", "The description.", None)
        .done();
    b.page(&["get"], "/docs", "Reference", "docs", "The API reference page")
        .about("This description rendered as HTML by the gateway itself (no scripts, no external assets).")
        .text(200, HTML, "The page.", None)
        .done();
    b.page(&["get"], super::page::CSS_PATH, "Reference", "docsStyle", "The reference page's stylesheet")
        .text(200, "text/css; charset=utf-8", "The stylesheet.", None)
        .done();
}

fn subscription_example() -> Value {
    json!({"id":"5d0c7c2e-8a41-4f5e-9f1b-3c2d1e0f9a88","createdDate":"2026-11-30T17:05:01.1230000+0500",
        "paymentFrequency":"MONTHLY","lastPaymentDate":"2026-11-30T17:04:58.5410000+0500","clientId":"test",
        "invoiceId":"000000001","amount":100,"currency":"KZT","reference":"099467918563","status":"ACTIVE",
        "statusReason":"","nextPaymentDate":"2026-12-30T17:04:58.5410000+0500","nextPeriod":1,
        "transactionId":"8f0b5f5e-2b8c-4c6e-9a0e-6c1c1b4f7a10","cardId":"22f2c5db-64d8-475f-8066-af3de3dc8233",
        "accountId":"testUser1","terminalId":"3a1f8d5e-5eed-4000-8000-000000000004"})
}

fn subscriptions(b: &mut Builder) {
    let op = b
        .api(&["post"], "/recurrent/subscribe", "Subscriptions", "subscribe", "Subscribe a payment")
        .about(
            "Repeats an approved card payment every `paymentFrequency` (`WEEKLY`, `MONTHLY` = calendar month, \
             `QUARTERLY`) with its saved card, which must have a recurrent agreement (saved in a payment with \
             `cardSave: true` and `recurrent: true`). Each period is a new payment with its own invoice id and \
             callbacks to the original payment's links. A declined period is retried after 1 and 3 days, then \
             the subscription is paused. Answer: facts §10.4's fields plus `id`, `status` and the schedule.",
        )
        .auth(Auth::Service)
        .body::<SubscribeRequest>(
            &["application/json"],
            "The original payment and the frequency.",
            json!({"transactionId":"8f0b5f5e-2b8c-4c6e-9a0e-6c1c1b4f7a10","paymentFrequency":"MONTHLY"}),
        )
        .json::<SubscriptionAnswer>(200, "The subscription.", &[("monthly", subscription_example())])
        .json::<ErrorBody>(
            400,
            "Unknown (or another merchant's) transaction, bad frequency, no recurrent agreement, already subscribed.",
            &[("no agreement", error(-1, "transaction 8f0b5f5e-2b8c-4c6e-9a0e-6c1c1b4f7a10 was not paid with a saved card that has a recurrent agreement"))],
        );
    service_errors(op).done();

    let op = b
        .api(&["get"], "/recurrent/subscriptions", "Subscriptions", "listSubscriptions", "The merchant's subscriptions")
        .about("Newest first, at most 500; `accountId` narrows to one customer.")
        .auth(Auth::Service)
        .query("accountId", false, "The merchant's customer id.", json!({"type": "string"}))
        .json_array::<SubscriptionAnswer>(200, "The subscriptions.", &[("one", json!([subscription_example()]))]);
    service_errors(op).done();

    let op = b
        .api(&["get"], "/recurrent/subscriptions/{id}", "Subscriptions", "readSubscription", "One subscription")
        .about("Another merchant's subscription is not found (400).")
        .auth(Auth::Service)
        .path_param("id", "The subscription's id.", "5d0c7c2e-8a41-4f5e-9f1b-3c2d1e0f9a88")
        .json::<SubscriptionAnswer>(200, "The subscription.", &[("active", subscription_example())])
        .json::<ErrorBody>(400, "Not found.", &[("unknown", error(-1, "subscription 5d0c7c2e not found"))]);
    service_errors(op).done();

    for (path, id, summary, about) in [
        (
            "/recurrent/subscriptions/{id}/pause",
            "pauseSubscription",
            "Pause a subscription",
            "ACTIVE → PAUSED: not charged until resumed.",
        ),
        (
            "/recurrent/subscriptions/{id}/resume",
            "resumeSubscription",
            "Resume a subscription",
            "PAUSED → ACTIVE. Periods that fell due while it was paused are not charged: the next charge is the \
             first period due after now.",
        ),
        (
            "/recurrent/subscriptions/{id}/cancel",
            "cancelSubscription",
            "Cancel a subscription",
            "ACTIVE or PAUSED → CANCELLED, for good.",
        ),
    ] {
        let op = b
            .api(&["post"], path, "Subscriptions", id, summary)
            .about(about)
            .auth(Auth::Service)
            .path_param("id", "The subscription's id.", "5d0c7c2e-8a41-4f5e-9f1b-3c2d1e0f9a88")
            .json::<SubscriptionAnswer>(
                200,
                "The subscription after the change.",
                &[("changed", subscription_example())],
            )
            .json::<ErrorBody>(
                400,
                "Not found, or not in a state that allows this change.",
                &[(
                    "not allowed",
                    error(-1, "subscription 5d0c7c2e is CANCELLED: it cannot be resumed (only a PAUSED one can)"),
                )],
            );
        service_errors(op).done();
    }
}
