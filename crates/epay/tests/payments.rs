//! Card payments by cryptogram and by saved card, status, ledger: black-box over HTTP, on SQLite
//! and PostgreSQL.

mod common;

use common::*;
use epay_client::{encrypt_cryptogram, CardData, PaymentRequest, SavedCardPaymentRequest};
use serde_json::{json, Value};

/// Seed 003's success response: exactly these keys (plus `email`, `fee` which facts §5.3 lists).
const PAYMENT_KEYS: &[&str] = &[
    "id",
    "accountId",
    "amount",
    "amountBonus",
    "currency",
    "description",
    "email",
    "invoiceID",
    "invoiceIdAlt",
    "language",
    "phone",
    "reference",
    "intReference",
    "secure3D",
    "cardID",
    "fee",
    "code",
    "status",
];

/// The status `transaction` fields of facts §8.1.
const STATUS_KEYS: &[&str] = &[
    "id",
    "createdDate",
    "invoiceID",
    "amount",
    "amountBonus",
    "payoutAmount",
    "orgAmount",
    "approvalCode",
    "data",
    "currency",
    "terminal",
    "terminalID",
    "accountID",
    "description",
    "language",
    "cardMask",
    "cardType",
    "issuer",
    "reference",
    "reason",
    "reasonCode",
    "intReference",
    "secure",
    "secureDetails",
    "statusID",
    "statusName",
    "name",
    "email",
    "phone",
    "cardID",
    "xlsRRN",
    "ip",
    "ipCountry",
    "ipCity",
    "ipRegion",
    "ipDistrict",
    "ipLatitude",
    "ipLongitude",
];

async fn status_of(gw: &Gateway, invoice: &str) -> Value {
    gw.status_answer(TERMINAL, invoice).await
}

#[tokio::test]
async fn cryptogram_payment_on_a_two_step_terminal_holds_funds_and_reports_status() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        let mut request = gw.payment_request(&invoice, major("100"), VISA).await;
        request.invoice_id_alt = Some("8564546".into());
        request.account_id = Some("uuid000001".into());
        request.email = Some("parkhomchik@gmail.com".into());
        request.phone = Some("77472261170".into());
        request.data = Some(r#"{"statement":{"name":"Arman Ali","invoiceID":"80000016"}}"#.into());
        let (status, body) =
            gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert_eq!(keys(&body), sorted(PAYMENT_KEYS), "{backend:?}");
        assert_eq!(body["status"], "AUTH");
        assert_eq!(body["code"], 0);
        assert_eq!(body["amount"], json!(100)); // an integer, as seed 003 prints it
        assert_eq!(body["amountBonus"], json!(0));
        assert_eq!(body["invoiceID"], invoice.as_str());
        assert_eq!(body["invoiceIdAlt"], "8564546");
        assert_eq!(body["accountId"], "uuid000001");
        assert_eq!(body["currency"], "KZT");
        assert_eq!(body["secure3D"], Value::Null);
        assert_eq!(body["cardID"], "");
        let reference = body["reference"].as_str().unwrap();
        assert!(reference.len() == 12 && reference.chars().all(|c| c.is_ascii_digit()), "{reference}");
        let int_reference = body["intReference"].as_str().unwrap();
        assert!(int_reference.len() == 16 && int_reference.chars().all(|c| c.is_ascii_hexdigit()));
        uuid::Uuid::parse_str(body["id"].as_str().unwrap()).unwrap();

        let answer = status_of(&gw, &invoice).await;
        assert_eq!(answer["resultCode"], "100", "{answer}");
        assert_eq!(answer["resultMessage"], "SUCCESS");
        let tx = &answer["transaction"];
        assert_eq!(keys(tx), sorted(STATUS_KEYS), "{backend:?}");
        assert_eq!(tx["statusName"], "AUTH");
        assert_eq!(tx["id"], body["id"]);
        assert_eq!(tx["invoiceID"], invoice.as_str());
        assert_eq!(tx["amount"], json!(100));
        assert_eq!(tx["orgAmount"], json!(100));
        assert_eq!(tx["payoutAmount"], json!(0));
        assert_eq!(tx["cardMask"], "440563...5096");
        assert_eq!(tx["cardType"], "VISA");
        assert_eq!(tx["reasonCode"], "0");
        assert_eq!(tx["terminal"], "98120001");
        assert_eq!(tx["terminalID"], TERMINAL);
        assert_eq!(tx["secure"], false);
        assert_eq!(tx["data"], r#"{"statement":{"name":"Arman Ali","invoiceID":"80000016"}}"#);
        let approval = tx["approvalCode"].as_str().unwrap();
        assert!(approval.len() == 6 && approval.chars().all(|c| c.is_ascii_digit()));
        let created = tx["createdDate"].as_str().unwrap();
        assert!(created.ends_with("+05:00") && created.len() == "2022-11-15T03:52:17.289853+05:00".len(), "{created}");

        // The hold is a pending ledger transfer card → merchant, and the ledger is sound.
        let store = gw.store().await;
        let transfers = store.ledger_transfers_of(body["id"].as_str().unwrap()).await.unwrap();
        assert_eq!(transfers.len(), 1);
        assert_eq!(transfers[0].kind.as_str(), "pending");
        assert_eq!(transfers[0].amount_minor, 10_000);
        let card = store.ledger_account(&transfers[0].debit_account).await.unwrap().unwrap();
        assert_eq!(card.debits_pending, 10_000);
        assert_eq!(card.available(), 100_000_000 - 10_000);
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(ok, "{backend:?}: {out}");
    }
}

#[tokio::test]
async fn one_step_terminal_charges_at_once_and_card_save_returns_a_card_id_for_saved_card_payments() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // A one-step (SMS) terminal of the test merchant.
        let one_step = "a1b2c3d4-0000-4000-8000-000000000001";
        let store = gw.store().await;
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        store
            .upsert_merchant(
                &merchant,
                &[epay_store::Terminal {
                    id: one_step.into(),
                    merchant_id: merchant.id.clone(),
                    pos_id: "98120009".into(),
                    name: "one-step".into(),
                    two_step: false,
                    three_ds: false,
                    transfers_allowed: false,
                    hold_period_secs: 3600,
                    ..Default::default()
                }],
            )
            .await
            .unwrap();
        let invoice1 = invoice();
        let token = gw.token_on(&invoice1, major("250.5"), one_step).await;
        let mut request = PaymentRequest::new(&invoice1, major("250.5"), gw.cryptogram(MASTERCARD, one_step).await);
        request.card_save = true;
        // Seed 003's repeat below is `recurrent`: it needs the holder's agreement, given here.
        request.recurrent = true;
        request.account_id = Some("testUser1".into());
        let paid = gw.client.cryptopay(&token, &request).await.unwrap();
        assert_eq!(paid.status, "CHARGE", "{backend:?}");
        assert_eq!(paid.amount, major("250.5"));
        uuid::Uuid::parse_str(&paid.card_id).expect("cardID is a UUID");
        let transfers = store.ledger_transfers_of(&paid.id).await.unwrap();
        assert_eq!((transfers[0].kind.as_str(), transfers[0].amount_minor), ("posted", 25_050));

        // Seed 003: pay again with the saved card, no card data.
        let invoice2 = invoice();
        let token = gw.token_on(&invoice2, major("100"), one_step).await;
        let again = gw
            .client
            .pay_with_saved_card(
                &token,
                &SavedCardPaymentRequest::new(&invoice2, major("100"), one_step, "testUser1", &paid.card_id),
            )
            .await
            .unwrap();
        assert_eq!(again.status, "CHARGE");
        assert_eq!(again.card_id, paid.card_id);
        // Transaction ids are UUIDs that sort by when they were made (version 7: compatibility
        // §68), so a batch of payments shares index pages.
        let made_at = |id: &str| {
            let id = uuid::Uuid::parse_str(id).expect("a transaction id is a UUID");
            assert_eq!(id.get_version_num(), 7, "{id}");
            id.get_timestamp().expect("a time-ordered id").to_unix()
        };
        assert!(made_at(&paid.id) <= made_at(&again.id), "{} was made after {}", paid.id, again.id);
        let status_token = gw.service_token(one_step).await;
        let status = gw.client.status(&status_token, &invoice2).await.unwrap();
        let tx = status.transaction.unwrap();
        assert_eq!(tx.card_mask, "552204...6736");
        assert_eq!(tx.card_id, paid.card_id);
        assert_eq!(tx.payout_amount, major("100"));

        // Seed 003's exact request body, on the two-step terminal: AUTH. Its callback links are
        // in the body, not the token, so the merchant registers the shop's origin first.
        let (ok, out) = gw.run_cli(&["terminal", "update", TERMINAL, "--callback-origin", "https://testmerchant"]);
        assert!(ok, "{out}");
        let invoice3 = invoice();
        let token = gw.payment_token(&invoice3, major("100")).await;
        let seed_body = json!({
            "amount": 100, "currency": "KZT", "name": "TEST TEST", "terminalId": TERMINAL,
            "invoiceId": invoice3, "invoiceIdAlt": "8564546", "description": "test", "accountId": "testUser1",
            "email": "parkhomchik@gmail.com", "phone": "77472261170", "backLink": "https://testmerchant/order/1123",
            "failureBackLink": "https://testmerchant/order/1123/fail", "postLink": "https://testmerchant/order/1123",
            "failurePostLink": "https://testmerchant/order/1123/fail", "language": "rus", "paymentType": "cardId",
            "recurrent": true, "cardId": {"id": paid.card_id}
        });
        let (status, body) = gw.post_json("/payments/cards/auth", Some(&token), &seed_body.to_string()).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert_eq!(keys(&body), sorted(PAYMENT_KEYS));
        assert_eq!(body["status"], "AUTH");
        assert_eq!(body["language"], "RU");
        assert_eq!(body["cardID"], json!(paid.card_id));

        // Saved-card refusals: unknown card, another customer's card, wrong paymentType.
        for (card_id, account, payment_type, mention) in [
            ("00000000-0000-0000-0000-000000000000", "testUser1", "cardId", "not found"),
            (paid.card_id.as_str(), "someoneElse", "cardId", "not found"),
            (paid.card_id.as_str(), "testUser1", "cryptogram", "paymentType"),
        ] {
            let invoice4 = invoice();
            let token = gw.payment_token(&invoice4, major("100")).await;
            let body = json!({"amount": 100, "currency": "KZT", "invoiceId": invoice4, "accountId": account,
                "paymentType": payment_type, "cardId": {"id": card_id}});
            let (status, answer) = gw.post_json("/payments/cards/auth", Some(&token), &body.to_string()).await;
            assert_eq!(status, 400, "{backend:?}: {answer}");
            assert_eq!(answer["code"], -1);
            assert!(answer["message"].as_str().unwrap().contains(mention), "{answer}");
        }
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(ok, "{backend:?}: {out}");
    }
}

#[tokio::test]
async fn zero_amount_with_card_save_is_a_card_verification() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice1 = invoice();
        let token = gw.payment_token(&invoice1, Amount::ZERO).await;
        let mut request = gw.payment_request(&invoice1, Amount::ZERO, AMEX).await;
        request.card_save = true;
        request.account_id = Some("verify-me".into());
        let verified = gw.client.cryptopay(&token, &request).await.unwrap();
        assert_eq!(verified.status, "VERIFIED", "{backend:?}");
        assert!(!verified.card_id.is_empty());
        let store = gw.store().await;
        assert!(store.ledger_transfers_of(&verified.id).await.unwrap().is_empty(), "verification moved money");

        // Amount 0 without cardSave is refused, and nothing is recorded.
        let invoice2 = invoice();
        let token = gw.payment_token(&invoice2, Amount::ZERO).await;
        let request = gw.payment_request(&invoice2, Amount::ZERO, AMEX).await;
        let err = gw.client.cryptopay(&token, &request).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (Some(400), Some(-1)), "{err}");
        assert_eq!(status_of(&gw, &invoice2).await["resultCode"], "102");
    }
}

#[tokio::test]
async fn declines_carry_epay_reason_codes_and_move_no_money() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let cases: &[((&str, &str, &str), Amount, i64)] = &[
            (("4003032704547597", "0920", "170"), major("100"), 489), // locked test card
            (("5578342710750560", "0920", "254"), major("100"), 489), // locked test card
            (("4000000000009987", "1230", "123"), major("100"), 481), // lost
            (("4000000000009979", "1230", "123"), major("100"), 483), // stolen
            (("4000000000000002", "1230", "123"), major("100"), 466), // issuer decline
            (("4000000000000119", "1230", "123"), major("100"), 493), // issuer unavailable
            (("4000000000009920", "1230", "123"), major("1000.01"), 488), // over the card's limit
            (("4000000000009995", "1230", "123"), major("100"), 484), // no money
            (("4405639704015096", "0227", "321"), major("100"), 457), // wrong expiry
            (("4405639704015096", "0127", "999"), major("100"), 2872), // wrong CVC
            (("4111111111111111", "1230", "123"), major("100"), 471), // not issued by the simulator
        ];
        let store = gw.store().await;
        for (card, amount, code) in cases {
            let invoice = invoice();
            let token = gw.payment_token(&invoice, *amount).await;
            let request = gw.payment_request(&invoice, *amount, *card).await;
            let (status, body) =
                gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
            assert_eq!(status, 400, "{backend:?} {}: {body}", card.0);
            assert_eq!(body["code"], json!(code), "{backend:?} {}: {body}", card.0);
            assert!(!body["message"].as_str().unwrap().is_empty());
            // The attempt is recorded as REJECT with its reason, and no money moved.
            let answer = status_of(&gw, &invoice).await;
            assert_eq!(answer["transaction"]["statusName"], "REJECT", "{backend:?}: {answer}");
            assert_eq!(answer["transaction"]["reasonCode"], code.to_string());
            let id = answer["transaction"]["id"].as_str().unwrap();
            assert!(store.ledger_transfers_of(id).await.unwrap().is_empty());
            // The token served its one operation.
            let again =
                gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
            assert_eq!(again.0, 401, "{again:?}");
        }
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(ok, "{backend:?}: {out}");
    }
}

/// Pays 100 tenge with `card` by cryptogram on the payments terminal; (HTTP status, body).
async fn pay_with_card(gw: &Gateway, card: (&str, &str, &str)) -> (u16, Value) {
    let invoice = invoice();
    let token = gw.payment_token(&invoice, major("100")).await;
    let request = gw.payment_request(&invoice, major("100"), card).await;
    gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await
}

#[tokio::test]
async fn every_published_test_card_combination_pays_as_its_source_says_at_any_sandbox_date() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let today = gw.sandbox_clock().await["now"].as_str().unwrap().to_string();
        assert!(today.starts_with("2026-11-22"), "the harness's sandbox date: {today}");
        // At the harness's date, then five and a half years on: published dates are labels.
        for (moment, days_ahead) in [("2026-11-22", 0), ("2032-05", 5 * 400)] {
            gw.advance_clock_days(days_ahead).await;
            let now = gw.sandbox_clock().await["now"].as_str().unwrap().to_string();
            assert!(now.starts_with(moment), "{now}");
            let cases: &[((&str, &str, &str), i64)] = &[
                (SEED_VISA, 0),                                                                 // seed 001, 01/25
                (SEED_MASTERCARD, 0),                                                           // seed 001, 01/25
                (SEED_AMEX, 489),                                                               // seed 001 says "lock"
                (VISA, 0),                                   // the test-card page, 01/27
                (MASTERCARD, 0),                             // the test-card page, 01/27
                (AMEX, 0),                                   // the test-card page, 01/28
                (("377514500000794", "0923", "1687"), 0),    // the payouts page, 09/23
                (("4003032704547597", "0920", "170"), 489),  // "lock" in both
                (("4405639704015096", "0125", "816"), 2872), // seed card, wrong CVC
                (("4405639704015096", "0125", "321"), 2872), // 01/25 with the 01/27 CVC
                (("4405639704015096", "0126", "815"), 457),  // seed card, wrong expiry
                (EXPIRED, 478),                              // the expired outcome card
                (("4000000000000002", "1230", "123"), if days_ahead == 0 { 466 } else { 478 }), // unpublished: a real date
            ];
            for (card, code) in cases {
                let (status, body) = pay_with_card(&gw, *card).await;
                if *code == 0 {
                    assert_eq!(status, 200, "{backend:?} {moment} {card:?}: {body}");
                    assert_eq!(body["status"], "AUTH", "{backend:?} {moment} {card:?}: {body}");
                } else {
                    assert_eq!(status, 400, "{backend:?} {moment} {card:?}: {body}");
                    assert_eq!(body["code"], json!(code), "{backend:?} {moment} {card:?}: {body}");
                }
            }
        }
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_a_clear_error_and_writes_nothing() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let pem = gw.public_key().await;
        let invoice = invoice();
        let good = gw.payment_request(&invoice, major("100"), VISA).await;
        let good_json = serde_json::to_value(&good).unwrap();
        let patch = |field: &str, value: Value| {
            let mut v = good_json.clone();
            v[field] = value;
            v.to_string()
        };
        let remove = |field: &str| {
            let mut v = good_json.clone();
            v.as_object_mut().unwrap().remove(field);
            v.to_string()
        };
        let crypt = |plain: &str| Value::from(epay_client::cryptogram::encrypt_raw(&pem, plain.as_bytes()).unwrap());
        let card = |pan: &str, exp: &str, cvc: &str| {
            Value::from(encrypt_cryptogram(&pem, &CardData::new(pan, exp, cvc, TERMINAL)).unwrap())
        };
        // A key the gateway does not have.
        let foreign = {
            let other = std::env::temp_dir().join(format!("epay-foreign-{}", uuid::Uuid::new_v4()));
            let k =
                epay_server::platform::keys::Keys::load_or_generate(&other.join("r.pem"), 2048, &other.join("v.key"))
                    .unwrap();
            Value::from(encrypt_cryptogram(&k.public_pem, &CardData::new(VISA.0, VISA.1, VISA.2, TERMINAL)).unwrap())
        };
        let other_invoice = self::invoice();
        // Every cryptogram that gives no card gets one answer (no padding oracle).
        const NOT_VALID: &str = "cryptogram is not valid";
        let cases: Vec<(String, &str)> = vec![
            ("{not json".into(), "not valid JSON"),
            ("[1,2]".into(), "JSON object"),
            ("".into(), "empty"),
            (remove("invoiceId"), "invoiceId is required"),
            (remove("amount"), "amount is required"),
            (remove("cryptogram"), "cryptogram is required"),
            (patch("invoiceId", Value::from("12345")), "6 to 15 digits"),
            (patch("invoiceId", Value::from(other_invoice.as_str())), "does not match the token"),
            (patch("amount", json!(101)), "does not match the token"),
            (patch("amount", json!(100.001)), "decimal"),
            (patch("amount", json!(-100)), "negative"),
            (patch("amount", json!("abc")), "number"),
            (patch("amount", json!([1])), "must be a number"),
            (patch("currency", json!("XYZ")), "currency"),
            (patch("currency", json!("USD")), "does not match the token"),
            (patch("description", Value::from("я".repeat(63))), "125 bytes"),
            (patch("cardSave", json!("yes")), "Boolean"),
            (patch("cardSave", json!(true)), "accountId is required"),
            // Another terminal is not bad input (the token's governs, docs/compatibility.md 53); a
            // terminal that is not a string is.
            (patch("terminalId", json!({"id": "x"})), "must be a string"),
            (patch("cryptogram", Value::from("%%% not base64 %%%")), "base64"),
            (patch("cryptogram", Value::from("aGVsbG8=")), NOT_VALID),
            (patch("cryptogram", foreign), NOT_VALID),
            (patch("cryptogram", crypt("not json")), NOT_VALID),
            (patch("cryptogram", crypt(r#"{"hpan":"4405639704015096"}"#)), NOT_VALID),
            (patch("cryptogram", card("4405639704015097", "0127", "321")), NOT_VALID),
            (patch("cryptogram", card("44056397", "0127", "321")), NOT_VALID),
            (patch("cryptogram", card(VISA.0, "1327", "321")), NOT_VALID),
            (patch("cryptogram", card(VISA.0, "0127", "32")), NOT_VALID),
            (
                patch(
                    "cryptogram",
                    Value::from(
                        encrypt_cryptogram(
                            &pem,
                            &CardData::new(VISA.0, VISA.1, VISA.2, "40a348cb-68a3-45d5-9002-a4836d79c3b5"),
                        )
                        .unwrap(),
                    ),
                ),
                NOT_VALID,
            ),
        ];
        for (body, mention) in &cases {
            // A fresh token each: a token allows only 3 cryptograms (docs/security.md).
            let token = gw.payment_token(&invoice, major("100")).await;
            let (status, answer) = gw.post_json("/payment/cryptopay", Some(&token), body).await;
            assert_eq!(status, 400, "{backend:?} {mention}: {answer}");
            assert_eq!(answer["code"], -1, "{answer}");
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains(mention), "{backend:?}: {message:?} should mention {mention:?}");
        }
        // Token problems: missing, unknown, wrong scope, no invoice, another invoice, expired.
        let transfer_token = gw
            .client
            .token(&epay_client::TokenRequest {
                scope: "transfer".into(),
                ..epay_client::TokenRequest::payment(CLIENT, SECRET, &invoice, major("100"), "KZT", TERMINAL)
            })
            .await
            .unwrap()
            .access_token;
        let service_token = gw.service_token(TERMINAL).await;
        let other_token = gw.payment_token(&other_invoice, major("100")).await;
        let body = good_json.to_string();
        for (token, status, mention) in [
            (None, 401, "Bearer"),
            (Some("NOSUCHTOKEN"), 401, "invalid"),
            (Some(transfer_token.as_str()), 403, "scope"),
            (Some(service_token.as_str()), 403, "not issued for an invoice"),
            (Some(other_token.as_str()), 400, "does not match the token"),
        ] {
            let (got, answer) = gw.post_json("/payment/cryptopay", token, &body).await;
            assert_eq!(got, status, "{backend:?} {mention}: {answer}");
            assert!(answer["message"].as_str().unwrap().contains(mention), "{answer}");
        }
        let expired_invoice = self::invoice();
        let expired = gw.payment_token(&expired_invoice, major("100")).await;
        // Past the token's two hours on the sandbox clock (the expiry is sealed in the token).
        assert_eq!(gw.advance_clock(7_201).await.0, 200);
        let request = gw.payment_request(&expired_invoice, major("100"), VISA).await;
        let (got, answer) =
            gw.post_json("/payment/cryptopay", Some(&expired), &serde_json::to_string(&request).unwrap()).await;
        assert_eq!(got, 401, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("expired"));

        // Nothing was written: no transaction for these invoices, no ledger movement.
        for inv in [&invoice, &other_invoice, &expired_invoice] {
            let store = gw.store().await;
            assert!(store.payment_by_invoice(TERMINAL, inv).await.unwrap().is_none(), "{backend:?}: {inv} recorded");
        }
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(ok, "{out}");
    }
}

#[tokio::test]
async fn duplicate_invoice_on_a_terminal_is_refused() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let first = gw.payment_token(&invoice, major("100")).await;
        let second = gw.payment_token(&invoice, major("100")).await;
        gw.client.cryptopay(&first, &gw.payment_request(&invoice, major("100"), VISA).await).await.unwrap();
        let err =
            gw.client.cryptopay(&second, &gw.payment_request(&invoice, major("100"), VISA).await).await.unwrap_err();
        assert_eq!(err.status(), Some(409), "{backend:?}: {err}");
        assert!(err.to_string().contains("already exists"), "{err}");
        // The second token was not spent by the refused attempt.
        let store = gw.store().await;
        let p = store.payment_by_invoice(TERMINAL, &invoice).await.unwrap().unwrap();
        assert_eq!(store.ledger_transfers_of(&p.id).await.unwrap().len(), 1);
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(ok, "{out}");
    }
}

#[tokio::test]
async fn concurrent_payments_never_take_a_card_below_zero() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // Card 4000000000000069 opens with 100 tenge: at most three 30-tenge payments fit.
        let card = ("4000000000000069", "1230", "123");
        let mut requests = Vec::new();
        for _ in 0..12 {
            let invoice = invoice();
            let token = gw.payment_token(&invoice, major("30")).await;
            requests.push((token, gw.payment_request(&invoice, major("30"), card).await));
        }
        let results =
            futures::future::join_all(requests.iter().map(|(token, request)| gw.client.cryptopay(token, request)))
                .await;
        let approved = results.iter().filter(|r| r.is_ok()).count();
        let insufficient = results.iter().filter(|r| matches!(r, Err(e) if e.code() == Some(484))).count();
        // Once five have been declined, the card-testing guard may refuse the rest before the
        // network is asked (429, nothing written): how many depends on the interleaving.
        let held_back = results.iter().filter(|r| matches!(r, Err(e) if e.status() == Some(429))).count();
        assert_eq!(approved, 3, "{backend:?}: {results:?}");
        assert_eq!(insufficient + held_back, 9, "{backend:?}: {results:?}");
        assert!(insufficient >= 5, "{backend:?}: {results:?}");
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(ok, "{backend:?}: {out}");
    }
}

#[tokio::test]
async fn status_answers_not_found_and_missing_terminal_in_the_status_shape() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        let answer = gw.client.status(&token, "999999999").await.unwrap();
        assert_eq!((answer.result_code.as_str(), answer.transaction.is_none()), ("102", true));
        // /api prefix (older test host) answers the same.
        let response = gw
            .http
            .get(format!("{}/api/check-status/payment/transaction/999999999", gw.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["resultCode"], "102");
        // A token without a terminal: 104.
        let no_terminal = gw
            .client
            .token(&epay_client::TokenRequest {
                terminal: None,
                ..epay_client::TokenRequest::service(CLIENT, SECRET, "")
            })
            .await
            .unwrap()
            .access_token;
        assert_eq!(gw.client.status(&no_terminal, "999999999").await.unwrap().result_code, "104");
        // No or a bad token: 401 in the status shape.
        let response =
            gw.http.get(format!("{}/check-status/payment/transaction/999999999", gw.url)).send().await.unwrap();
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert!(body["resultCode"].is_string() && body["resultMessage"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn no_card_number_in_clear_in_the_database_or_the_logs() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        for (i, card) in
            [VISA, MASTERCARD, AMEX, ("4003032704547597", "0920", "170"), ("4000000000009995", "1230", "123")]
                .into_iter()
                .enumerate()
        {
            let invoice = invoice();
            let token = gw.payment_token(&invoice, major("100")).await;
            let mut request = gw.payment_request(&invoice, major("100"), card).await;
            request.card_save = true;
            request.account_id = Some(format!("user{i}"));
            let _ = gw.client.cryptopay(&token, &request).await;
        }
        let contents = gw.database_contents().await;
        let log = gw.log();
        assert!(log.contains("payment recorded"), "the log should show the payments: {log}");
        for pan in ALL_TEST_PANS {
            assert!(!contents.contains(pan), "{backend:?}: PAN {pan} in the database");
            assert!(!log.contains(pan), "{backend:?}: PAN {pan} in the log");
        }
        for cvc in ["\"321\"", "\"775\"", "\"0198\""] {
            assert!(!log.contains(cvc), "{backend:?}: CVC {cvc} in the log");
        }
        assert!(contents.contains("440563...5096"), "masked PAN should be stored");
    }
}

#[tokio::test]
async fn public_client_spellings_are_accepted() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // Halyk's iOS SDK: the key spelled with a Cyrillic "с"; standard base64 without padding;
        // `data` as an object; InvoiceID in capitals on the token; the `curency` typo.
        let invoice = invoice();
        let response = gw
            .http
            .post(format!("{}/oauth2/token", gw.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "payment"),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("InvoiceID", invoice.as_str()),
                ("amount", "100"),
                ("curency", "KZT"),
                ("terminal", TERMINAL),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let token: Value = response.json().await.unwrap();
        let token = token["access_token"].as_str().unwrap();
        let cryptogram = gw.cryptogram(VISA, TERMINAL).await;
        let unpadded = cryptogram.trim_end_matches('=');
        let body = json!({"amount": 100, "currency": "KZT", "name": "TEST", "\u{0441}ryptogram": unpadded,
            "invoiceId": invoice, "description": "sdk", "data": {"statement": {"name": "Arman"}}});
        let (status, answer) = gw.post_json("/payment/cryptopay", Some(token), &body.to_string()).await;
        assert_eq!(status, 200, "{backend:?}: {answer}");
        let tx = status_of(&gw, &invoice).await;
        assert_eq!(tx["transaction"]["data"], r#"{"statement":{"name":"Arman"}}"#);
    }
}

/// Issue 15 (low): a JSON number amount went through an f64, so `99.999999999999999999` was
/// taken as 100 and paid a token for 100, while the same text as a string was refused. Now a
/// number is read from its exact digits, like a string; ordinary numbers work as before.
#[tokio::test]
async fn a_json_number_amount_is_parsed_from_its_exact_digits() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        let mut body = serde_json::to_value(gw.payment_request(&invoice, major("100"), VISA).await).unwrap();
        // serde_json cannot hold the number exactly, so it goes into the body as text.
        body["amount"] = json!("AMOUNT");
        let with_amount = |amount: &str| body.to_string().replace(r#""AMOUNT""#, amount);
        let (status, as_number) =
            gw.post_json("/payment/cryptopay", Some(&token), &with_amount("99.999999999999999999")).await;
        assert_eq!(status, 400, "{backend:?}: {as_number}");
        let (_, as_string) =
            gw.post_json("/payment/cryptopay", Some(&token), &with_amount(r#""99.999999999999999999""#)).await;
        assert_eq!(as_number["message"], as_string["message"], "{backend:?}");
        assert!(as_number["message"].as_str().unwrap().contains("at most 2 decimal places"), "{as_number}");
        assert_eq!(status_of(&gw, &invoice).await["resultCode"], "102", "{backend:?}: nothing was paid");
        // 100 and 1e2 as numbers still pay the token for 100 (the first pays; the token is spent).
        let (status, paid) = gw.post_json("/payment/cryptopay", Some(&token), &with_amount("1e2")).await;
        assert_eq!(status, 200, "{backend:?}: {paid}");
        assert_eq!(paid["amount"], json!(100), "{backend:?}");
        // 12.22 and 100 as numbers in an operation's JSON body, exactly.
        let service = gw.service_token(TERMINAL).await;
        let p = gw.authorized_payment(major("200")).await;
        let (status, answer) = gw.operation(&service, &p, "charge", "", Some(r#"{"amount": 112.22}"#)).await;
        assert_eq!(status, 200, "{backend:?}: {answer}");
        let (status, answer) = gw.operation(&service, &p, "refund", "", Some(r#"{"amount": 100}"#)).await;
        assert_eq!(status, 200, "{backend:?}: {answer}");
        let (status, answer) = gw.operation(&service, &p, "refund", "", Some(r#"{"amount": 12.22}"#)).await;
        assert_eq!(status, 200, "{backend:?}: {answer}");
        let payment = gw.store().await.payment_by_id(&p).await.unwrap().unwrap();
        assert_eq!((payment.charged_minor, payment.refunded_minor), (11_222, 11_222), "{backend:?}");
    }
}
