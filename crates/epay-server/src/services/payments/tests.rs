//! Compiled under `#[cfg(test)]` only (`mod.rs`). The payment service without a server: a
//! sandbox gateway over a real store in memory and a clock that stands still (`App::for_tests`).
//! What a black-box test shows through HTTP, these show at the service's door: the payer and the
//! command go in, a payment or a domain error comes out.

use epay_client::cryptogram::{encrypt_cryptogram, encrypt_raw, CardData};
use epay_domain::{Amount, Currency, Cvc, Expiry, Pan, TxStatus};
use epay_store::TokenRecord;

use super::{
    pay_from_page, pay_with_cryptogram, pay_with_saved_card, payer, EnteredCard, Field, PageCard, PagePayment,
    PayWithCryptogram, PayWithSavedCard, PaymentError, PaymentOrderRequest, CRYPTOGRAM_REFUSED,
};
use crate::app::App;
use crate::platform::cryptogram::Cryptogram;
use crate::platform::test_merchant::{P2P_TERMINAL, PAYMENT_TERMINAL, TEST_MERCHANT_ID};
use crate::services::auth::{Caller, NOT_A_PAGE_TOKEN};
use crate::services::operations::{self, Kind, OperationCommand, OperationError};
use crate::wire::lenient::Checked;
use crate::wire::{FieldError, PaymentAnswer};

/// 2026-11-19, before the public test cards' 01/27 expiry.
const NOW: i64 = 1_795_000_000_000;
const ACS: &str = "http://127.0.0.1/acs/challenge";
/// ePay's public test card, approved.
const GOOD: (&str, &str, &str) = ("4405639704015096", "01/27", "321");

/// A payment token as the merchant's server requests it: invoice, amount, KZT, the two-step
/// payments terminal.
fn page_token(invoice: &str, amount_minor: i64) -> TokenRecord {
    crate::testing::payment_token(PAYMENT_TERMINAL, invoice, amount_minor).1
}

/// Issued: sealed by the gateway, which stores nothing (the caller holds the binding), in the
/// merchant's current token generation.
async fn issued(app: &App, token: TokenRecord) -> Caller {
    crate::testing::issue(app, (String::new(), token)).await.caller
}

/// The caller's token as the gateway reads it again now: sealed, opened, its spending read.
async fn reread(app: &App, caller: &Caller) -> TokenRecord {
    let text = crate::services::tokens::seal(&app.keys, caller.token().unwrap());
    crate::services::auth::known_token(app, &text).await.expect("a known token")
}

/// A field as the client wrote it.
fn given<T>(value: T) -> Field<T> {
    Some(Checked(Ok(value)))
}

/// A field the edge could not read.
fn fault<T>(message: &str) -> Field<T> {
    Some(Checked(Err(FieldError(message.into()))))
}

/// The order as the page's `paymentObject` names it: invoice, amount, KZT, the payer's name.
fn order(invoice: &str, amount: &str) -> PaymentOrderRequest {
    PaymentOrderRequest {
        invoice_id: given(invoice.into()),
        amount: given(Amount::parse_major(amount).expect("an amount")),
        currency: given(Currency::Kzt),
        payer_name: given("TEST PAYER".into()),
        ..PaymentOrderRequest::default()
    }
}

fn card((pan, expiry, cvc): (&str, &str, &str)) -> EnteredCard {
    EnteredCard { pan: Pan::parse(pan).unwrap(), expiry: Expiry::parse(expiry).unwrap(), cvc: Cvc::parse(cvc).unwrap() }
}

async fn pay_order(
    app: &App,
    caller: &Caller,
    order: PaymentOrderRequest,
    card: EnteredCard,
) -> Result<PaymentAnswer, PaymentError> {
    let payer = payer(app, caller).await?;
    pay_from_page(app, payer, PagePayment { order, card: PageCard::Entered { card, save: false }, acs_url: ACS.into() })
        .await
}

async fn pay(
    app: &App,
    caller: &Caller,
    invoice: &str,
    amount: &str,
    card: EnteredCard,
) -> Result<PaymentAnswer, PaymentError> {
    pay_order(app, caller, order(invoice, amount), card).await
}

async fn stored_status(app: &App, invoice: &str) -> Option<TxStatus> {
    app.store.payment_by_invoice(PAYMENT_TERMINAL, invoice).await.unwrap().map(|p| p.status)
}

#[tokio::test]
async fn an_approved_payment_on_a_two_step_terminal_is_authorized_and_spends_the_token() {
    let app = App::for_tests(NOW).await;
    let caller = issued(&app, page_token("000001", 10_000)).await;
    let answer = pay(&app, &caller, "000001", "100", card(GOOD)).await.expect("approved");
    let PaymentAnswer::Final(payment) = answer else { panic!("no 3-D Secure on this terminal") };
    assert_eq!(payment.status, "AUTH");
    assert_eq!(payment.amount.0, 10_000);
    assert_eq!(stored_status(&app, "000001").await, Some(TxStatus::Auth));
    let token = reread(&app, &caller).await;
    assert_eq!(token.used_at, Some(NOW), "an approved page payment spends its token");
    let again = pay(&app, &Caller::Token(token), "000001", "100", card(GOOD)).await;
    assert!(matches!(again, Err(PaymentError::Unauthorized(m)) if m.contains("already been used")));
}

#[tokio::test]
async fn a_declined_card_is_recorded_with_its_reason_and_the_page_token_stays_usable() {
    let app = App::for_tests(NOW).await;
    let caller = issued(&app, page_token("000002", 10_000)).await;
    let declined = pay(&app, &caller, "000002", "100", card(("4000000000000002", "12/30", "123"))).await;
    let Err(PaymentError::Declined { reason, transaction_id }) = declined else { panic!("{declined:?}") };
    assert_eq!(reason.code, 466);
    let payment = app.store.payment(TEST_MERCHANT_ID, &transaction_id).await.unwrap().expect("decline recorded");
    assert_eq!(payment.status, TxStatus::Reject);
    assert_eq!(payment.reason_code, 466);
    assert!(!payment.card_mask.contains("4000000000000002"), "no PAN in clear: {}", payment.card_mask);
    // The shopper tries another card on the same page.
    let token = reread(&app, &caller).await;
    assert_eq!(token.used_at, None);
    pay(&app, &Caller::Token(token), "000002", "100", card(GOOD)).await.expect("second attempt approved");
    assert_eq!(stored_status(&app, "000002").await, Some(TxStatus::Auth));
}

#[tokio::test]
async fn a_token_pays_only_the_order_it_was_issued_for() {
    let app = App::for_tests(NOW).await;
    let caller = issued(&app, page_token("000003", 10_000)).await;
    let other_amount = pay(&app, &caller, "000003", "200", card(GOOD)).await;
    assert_eq!(
        other_amount.unwrap_err(),
        PaymentError::BadRequest("amount 200 does not match the token's amount 100".into())
    );
    let other_invoice = pay(&app, &caller, "000004", "100", card(GOOD)).await;
    assert_eq!(
        other_invoice.unwrap_err(),
        PaymentError::BadRequest("invoiceId 000004 does not match the token's invoiceID 000003".into())
    );
    let service = issued(&app, TokenRecord { invoice_id: None, amount_minor: None, ..page_token("x", 0) }).await;
    assert!(matches!(
        pay(&app, &service, "000003", "100", card(GOOD)).await,
        Err(PaymentError::Forbidden(m)) if m.starts_with("token was not issued for an invoice")
    ));
    let transfer = issued(&app, TokenRecord { scope: "transfer".into(), ..page_token("000003", 10_000) }).await;
    assert_eq!(
        pay(&app, &transfer, "000003", "100", card(GOOD)).await.unwrap_err(),
        PaymentError::Forbidden("token scope \"transfer\" does not allow payments".into())
    );
    // Nothing was written by any refusal.
    assert_eq!(stored_status(&app, "000003").await, None);
    let cabinet = Caller::Cabinet { merchant_id: TEST_MERCHANT_ID.into() };
    assert!(matches!(pay(&app, &cabinet, "000003", "100", card(GOOD)).await, Err(PaymentError::Unauthorized(_))));
}

#[tokio::test]
async fn charge_and_refund_follow_the_payment_state_machine() {
    let app = App::for_tests(NOW).await;
    let caller = issued(&app, page_token("000005", 10_000)).await;
    let PaymentAnswer::Final(paid) = pay(&app, &caller, "000005", "100", card(GOOD)).await.unwrap() else {
        panic!("no 3-D Secure on this terminal")
    };
    let merchant = Caller::Cabinet { merchant_id: TEST_MERCHANT_ID.into() };
    let command = |kind, amount: Option<i64>| OperationCommand {
        payment_id: paid.id.clone(),
        kind,
        amount: amount.map(|a| Amount::from_minor(a).unwrap()),
        external_id: None,
    };
    // The page's token, even spent, never moves the payment's money.
    let page = Caller::Token(reread(&app, &caller).await);
    assert_eq!(
        operations::run(&app, &page, command(Kind::Charge, None)).await.unwrap_err(),
        OperationError::Unauthorized(NOT_A_PAGE_TOKEN.into())
    );
    let refund_first = operations::run(&app, &merchant, command(Kind::Refund, None)).await.unwrap_err();
    assert!(matches!(&refund_first, OperationError::Refused(m) if m.contains("CHARGE status")), "{refund_first:?}");
    let over = operations::run(&app, &merchant, command(Kind::Charge, Some(20_000))).await.unwrap_err();
    assert!(matches!(&over, OperationError::Refused(m) if m.starts_with("charge amount exceeds")), "{over:?}");
    assert_eq!(
        operations::run(&app, &merchant, command(Kind::Cancel, Some(100))).await.unwrap_err(),
        OperationError::BadRequest("cancel takes no amount: it releases the whole authorization".into())
    );
    let charged = operations::run(&app, &merchant, command(Kind::Charge, Some(6_000))).await.expect("partial charge");
    assert_eq!((charged.status, charged.charged_minor), (TxStatus::Charge, 6_000));
    let over_refund = operations::run(&app, &merchant, command(Kind::Refund, Some(7_000))).await.unwrap_err();
    assert!(matches!(&over_refund, OperationError::Refused(m) if m.starts_with("refund amount exceeds")));
    let refunded = operations::run(&app, &merchant, command(Kind::Refund, Some(2_000))).await.expect("partial refund");
    assert_eq!(refunded.refunded_minor, 2_000);
    let missing = OperationCommand { payment_id: "no-such-payment".into(), ..command(Kind::Refund, None) };
    assert_eq!(
        operations::run(&app, &merchant, missing).await.unwrap_err(),
        OperationError::NotFound("no-such-payment".into())
    );
}

/// The order's faults are reported in ePay's order: a bad invoice id before a field the edge
/// could not read further down, and both before the token's binding.
#[tokio::test]
async fn the_first_fault_of_an_order_is_the_one_reported() {
    let app = App::for_tests(NOW).await;
    let caller = issued(&app, page_token("000006", 10_000)).await;
    let faulty = PaymentOrderRequest {
        invoice_id: given("12345".into()),
        email: fault("field email must be a string"),
        ..order("000006", "200")
    };
    let first = pay_order(&app, &caller, faulty.clone(), card(GOOD)).await.unwrap_err();
    assert!(matches!(&first, PaymentError::BadRequest(m) if m.starts_with("invoiceId: ")), "{first:?}");
    let fixed_invoice = PaymentOrderRequest { invoice_id: given("000006".into()), ..faulty };
    assert_eq!(
        pay_order(&app, &caller, fixed_invoice.clone(), card(GOOD)).await.unwrap_err(),
        PaymentError::BadRequest("field email must be a string".into())
    );
    let fixed_email = PaymentOrderRequest { email: None, ..fixed_invoice };
    assert_eq!(
        pay_order(&app, &caller, fixed_email, card(GOOD)).await.unwrap_err(),
        PaymentError::BadRequest("amount 200 does not match the token's amount 100".into())
    );
    let other_currency = PaymentOrderRequest { currency: given(Currency::Usd), ..order("000006", "100") };
    assert_eq!(
        pay_order(&app, &caller, other_currency, card(GOOD)).await.unwrap_err(),
        PaymentError::BadRequest("currency USD does not match the token's currency".into())
    );
    let missing = PaymentOrderRequest { invoice_id: given(" ".into()), ..order("000006", "100") };
    assert_eq!(
        pay_order(&app, &caller, missing, card(GOOD)).await.unwrap_err(),
        PaymentError::BadRequest("field invoiceId is required".into())
    );
    assert_eq!(stored_status(&app, "000006").await, None);
}

/// A saved card pays only for the customer it was saved for.
#[tokio::test]
async fn a_saved_card_pays_only_for_its_own_customer() {
    let app = App::for_tests(NOW).await;
    let saving =
        PaymentOrderRequest { account_id: given("alice".into()), card_save: given(true), ..order("000007", "100") };
    let caller = issued(&app, page_token("000007", 10_000)).await;
    pay_order(&app, &caller, saving, card(GOOD)).await.expect("approved and saved");
    let saved = app.store.saved_cards(TEST_MERCHANT_ID, "alice").await.unwrap();
    let [saved] = &saved[..] else { panic!("one card saved for alice, not {}", saved.len()) };
    let card_id = saved.id.clone();
    let with_card = |invoice: &str, account: &str| PayWithSavedCard {
        order: PaymentOrderRequest { account_id: given(account.into()), ..order(invoice, "50") },
        payment_type: given("cardId".into()),
        card_id: given(card_id.clone()),
        acs_url: ACS.into(),
    };
    let bob = issued(&app, page_token("000008", 5_000)).await;
    let refused = pay_with_saved_card(&app, payer(&app, &bob).await.unwrap(), with_card("000008", "bob")).await;
    assert_eq!(refused.unwrap_err(), PaymentError::BadRequest(format!("card {card_id} not found")));
    let nobody = pay_with_saved_card(&app, payer(&app, &bob).await.unwrap(), with_card("000008", "")).await;
    assert_eq!(nobody.unwrap_err(), PaymentError::BadRequest("accountId is required to pay with a saved card".into()));
    // A token bound to alice cannot be turned to bob by the request.
    let bound = issued(&app, TokenRecord { account_id: Some("alice".into()), ..page_token("000008", 5_000) }).await;
    let turned = pay_with_saved_card(&app, payer(&app, &bound).await.unwrap(), with_card("000008", "bob")).await;
    assert_eq!(
        turned.unwrap_err(),
        PaymentError::BadRequest("accountId \"bob\" does not match the token's accountId".into())
    );
    assert_eq!(stored_status(&app, "000008").await, None, "no refusal wrote a payment");
    let paid = pay_with_saved_card(&app, payer(&app, &bob).await.unwrap(), with_card("000008", "alice")).await;
    let Ok(PaymentAnswer::Final(paid)) = paid else { panic!("{paid:?}") };
    assert_eq!((paid.status.as_str(), paid.card_id.as_str()), ("AUTH", card_id.as_str()));
}

/// Every cryptogram that gives no card for the token's terminal gets the one refusal, whatever
/// is wrong with it (docs/security.md: no padding oracle); a good one pays.
#[tokio::test]
async fn every_bad_cryptogram_gets_the_one_refusal() {
    let app = App::for_tests(NOW).await;
    let pem = app.keys.public_pem.clone();
    let sealed = |card: &CardData| encrypt_cryptogram(&pem, card).unwrap();
    let raw = |plain: &str| encrypt_raw(&pem, plain.as_bytes()).unwrap();
    let bad = [
        // Not a ciphertext of our key: it decrypts to noise (implicit rejection).
        "aGVsbG8=".to_string(),
        raw("not json"),
        raw(r#"{"hpan":"4405639704015096"}"#),
        sealed(&CardData::new("4405639704015097", "0127", "321", PAYMENT_TERMINAL)),
        sealed(&CardData::new(GOOD.0, "1327", "321", PAYMENT_TERMINAL)),
        sealed(&CardData::new(GOOD.0, "0127", "32", PAYMENT_TERMINAL)),
        sealed(&CardData::new(GOOD.0, "0127", "321", P2P_TERMINAL)),
    ];
    let command = |invoice: &str, text: &str| PayWithCryptogram {
        order: order(invoice, "100"),
        cryptogram: given(Cryptogram::from_base64(text).expect("base64")),
        acs_url: ACS.into(),
        from: None,
    };
    for (i, text) in bad.iter().enumerate() {
        // A fresh token each: a token allows only a few cryptograms.
        let invoice = format!("00001{i}");
        let caller = issued(&app, page_token(&invoice, 10_000)).await;
        let refused = pay_with_cryptogram(&app, payer(&app, &caller).await.unwrap(), command(&invoice, text)).await;
        assert_eq!(refused.unwrap_err(), PaymentError::BadRequest(CRYPTOGRAM_REFUSED.into()), "case {i}");
        assert_eq!(stored_status(&app, &invoice).await, None);
    }
    let caller = issued(&app, page_token("000020", 10_000)).await;
    let good = sealed(&CardData::new(GOOD.0, "0127", GOOD.2, PAYMENT_TERMINAL));
    let paid = pay_with_cryptogram(&app, payer(&app, &caller).await.unwrap(), command("000020", &good)).await;
    assert!(matches!(paid, Ok(PaymentAnswer::Final(_))), "{paid:?}");
    assert_eq!(stored_status(&app, "000020").await, Some(TxStatus::Auth));
}

/// A token has only a few cryptograms: after the last refused one it is spent.
#[tokio::test]
async fn a_token_that_tried_too_many_cryptograms_is_spent() {
    let app = App::for_tests(NOW).await;
    let caller = issued(&app, page_token("000021", 10_000)).await;
    let command = || PayWithCryptogram {
        order: order("000021", "100"),
        cryptogram: given(Cryptogram::from_base64("aGVsbG8=").unwrap()),
        acs_url: ACS.into(),
        from: None,
    };
    let allowed = app.config.cryptogram_attempts_per_token;
    assert!(allowed > 0);
    for _ in 0..allowed {
        let refused = pay_with_cryptogram(&app, payer(&app, &caller).await.unwrap(), command()).await;
        assert_eq!(refused.unwrap_err(), PaymentError::BadRequest(CRYPTOGRAM_REFUSED.into()));
    }
    let token = reread(&app, &caller).await;
    assert_eq!(token.used_at, Some(NOW), "spent by its last refused cryptogram");
    let missing = PayWithCryptogram { order: order("000022", "100"), cryptogram: None, ..command() };
    let fresh = issued(&app, page_token("000022", 10_000)).await;
    assert_eq!(
        pay_with_cryptogram(&app, payer(&app, &fresh).await.unwrap(), missing).await.unwrap_err(),
        PaymentError::BadRequest("field cryptogram is required".into())
    );
}
