//! The payment service without a server: a sandbox gateway over a real store in memory and a
//! clock that stands still (`App::for_tests`). What a black-box test shows through HTTP, these
//! show at the service's door: the caller and the order go in, a payment or a domain error
//! comes out.

use epay_domain::{Amount, Cvc, Expiry, Pan, TxStatus};
use epay_store::TokenRecord;

use super::{pay_from_page, payer, EnteredCard, PaymentError};
use crate::app::App;
use crate::keys::digest;
use crate::seed::{PAYMENT_TERMINAL, TEST_MERCHANT_ID};
use crate::services::auth::{Caller, NOT_A_PAGE_TOKEN};
use crate::services::operations::{self, Kind, OperationCommand, OperationError};
use crate::wire::{Fields, PaymentAnswer};

/// 2026-11-19, before the public test cards' 01/27 expiry.
const NOW: i64 = 1_795_000_000_000;
const ACS: &str = "http://127.0.0.1/acs/challenge";

/// A payment token as the merchant's server requests it: invoice, amount, KZT, the two-step
/// payments terminal.
fn page_token(invoice: &str, amount_minor: i64) -> TokenRecord {
    TokenRecord {
        token_digest: digest(&epay_domain::ids::access_token()),
        merchant_id: TEST_MERCHANT_ID.into(),
        terminal_id: Some(PAYMENT_TERMINAL.into()),
        scope: "payment".into(),
        invoice_id: Some(invoice.into()),
        amount_minor: Some(amount_minor),
        currency: Some("KZT".into()),
        post_link: String::new(),
        failure_post_link: String::new(),
        secret_hash: None,
        transfer_kind: None,
        account_id: None,
        expires_at: NOW + 3_600_000,
        used_at: None,
        created_at: NOW,
    }
}

async fn issued(app: &App, token: TokenRecord) -> Caller {
    app.store.insert_token(&token).await.expect("token stored");
    Caller::Token(token)
}

/// The order as the page's `paymentObject` names it.
fn order(invoice: &str, amount: &str) -> Fields {
    let json = format!(r#"{{"invoiceId":"{invoice}","amount":{amount},"currency":"KZT","name":"TEST PAYER"}}"#);
    Fields::from_json(json.as_bytes()).expect("order JSON")
}

fn card(pan: &str, expiry: &str, cvc: &str) -> EnteredCard {
    EnteredCard { pan: Pan::parse(pan).unwrap(), expiry: Expiry::parse(expiry).unwrap(), cvc: Cvc::parse(cvc).unwrap() }
}

/// ePay's public test card, approved.
fn good_card() -> EnteredCard {
    card("4405639704015096", "01/27", "321")
}

async fn pay(
    app: &App,
    caller: &Caller,
    invoice: &str,
    amount: &str,
    card: EnteredCard,
) -> Result<PaymentAnswer, PaymentError> {
    let payer = payer(app, caller).await?;
    pay_from_page(app, payer, &order(invoice, amount), card, ACS).await
}

async fn stored_status(app: &App, invoice: &str) -> Option<TxStatus> {
    app.store.payment_by_invoice(PAYMENT_TERMINAL, invoice).await.unwrap().map(|p| p.status)
}

#[tokio::test]
async fn an_approved_payment_on_a_two_step_terminal_is_authorized_and_spends_the_token() {
    let app = App::for_tests(NOW).await;
    let caller = issued(&app, page_token("000001", 10_000)).await;
    let answer = pay(&app, &caller, "000001", "100", good_card()).await.expect("approved");
    let PaymentAnswer::Final(payment) = answer else { panic!("no 3-D Secure on this terminal") };
    assert_eq!(payment.status, "AUTH");
    assert_eq!(payment.amount.0, 10_000);
    assert_eq!(stored_status(&app, "000001").await, Some(TxStatus::Auth));
    let token = app.store.token(&caller.token().unwrap().token_digest).await.unwrap().unwrap();
    assert_eq!(token.used_at, Some(NOW), "an approved page payment spends its token");
    let again = pay(&app, &Caller::Token(token), "000001", "100", good_card()).await;
    assert!(matches!(again, Err(PaymentError::Unauthorized(m)) if m.contains("already been used")));
}

#[tokio::test]
async fn a_declined_card_is_recorded_with_its_reason_and_the_page_token_stays_usable() {
    let app = App::for_tests(NOW).await;
    let caller = issued(&app, page_token("000002", 10_000)).await;
    let declined = pay(&app, &caller, "000002", "100", card("4000000000000002", "12/30", "123")).await;
    let Err(PaymentError::Declined { reason, transaction_id }) = declined else { panic!("{declined:?}") };
    assert_eq!(reason.code, 466);
    let payment = app.store.payment(TEST_MERCHANT_ID, &transaction_id).await.unwrap().expect("decline recorded");
    assert_eq!(payment.status, TxStatus::Reject);
    assert_eq!(payment.reason_code, 466);
    assert!(!payment.card_mask.contains("4000000000000002"), "no PAN in clear: {}", payment.card_mask);
    // The shopper tries another card on the same page.
    let token = app.store.token(&caller.token().unwrap().token_digest).await.unwrap().unwrap();
    assert_eq!(token.used_at, None);
    pay(&app, &Caller::Token(token), "000002", "100", good_card()).await.expect("second attempt approved");
    assert_eq!(stored_status(&app, "000002").await, Some(TxStatus::Auth));
}

#[tokio::test]
async fn a_token_pays_only_the_order_it_was_issued_for() {
    let app = App::for_tests(NOW).await;
    let caller = issued(&app, page_token("000003", 10_000)).await;
    let other_amount = pay(&app, &caller, "000003", "200", good_card()).await;
    assert_eq!(
        other_amount.unwrap_err(),
        PaymentError::BadRequest("amount 200 does not match the token's amount 100".into())
    );
    let other_invoice = pay(&app, &caller, "000004", "100", good_card()).await;
    assert_eq!(
        other_invoice.unwrap_err(),
        PaymentError::BadRequest("invoiceId 000004 does not match the token's invoiceID 000003".into())
    );
    let service = issued(&app, TokenRecord { invoice_id: None, amount_minor: None, ..page_token("x", 0) }).await;
    assert!(matches!(
        pay(&app, &service, "000003", "100", good_card()).await,
        Err(PaymentError::Forbidden(m)) if m.starts_with("token was not issued for an invoice")
    ));
    let transfer = issued(&app, TokenRecord { scope: "transfer".into(), ..page_token("000003", 10_000) }).await;
    assert_eq!(
        pay(&app, &transfer, "000003", "100", good_card()).await.unwrap_err(),
        PaymentError::Forbidden("token scope \"transfer\" does not allow payments".into())
    );
    // Nothing was written by any refusal.
    assert_eq!(stored_status(&app, "000003").await, None);
    let cabinet = Caller::Cabinet { merchant_id: TEST_MERCHANT_ID.into() };
    assert!(matches!(pay(&app, &cabinet, "000003", "100", good_card()).await, Err(PaymentError::Unauthorized(_))));
}

#[tokio::test]
async fn charge_and_refund_follow_the_payment_state_machine() {
    let app = App::for_tests(NOW).await;
    let caller = issued(&app, page_token("000005", 10_000)).await;
    let PaymentAnswer::Final(paid) = pay(&app, &caller, "000005", "100", good_card()).await.unwrap() else {
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
    let page = Caller::Token(app.store.token(&caller.token().unwrap().token_digest).await.unwrap().unwrap());
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
