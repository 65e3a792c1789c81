//! Fixtures for the services' unit tests: tokens and payments of the seeded test merchant, made
//! through the services themselves in the in-memory gateway of [`App::for_tests`], whose clock
//! stands still. A test moves time by giving the same store a later clock ([`App::at`]).

use std::sync::Arc;

use epay_domain::{Amount, Currency, Cvc, Expiry, Pan};
use epay_store::{Payment, ThreeDsSession, TokenRecord};

use crate::app::App;
use crate::platform::clock::FixedClock;
use crate::platform::test_merchant::{PAYMENT_TERMINAL, TEST_MERCHANT_ID, THREE_DS_TERMINAL};
use crate::services::auth::Caller;
use crate::services::payments::{self, EnteredCard, PageCard, PagePayment, PaymentError, PaymentOrderRequest};
use crate::wire::lenient::Checked;
use crate::wire::PaymentAnswer;

/// 2026-11-19, before the public test cards' 01/27 expiry.
pub(crate) const NOW: i64 = 1_795_000_000_000;
/// Where a `3D` answer sends the shopper (no server listens: nothing follows the link).
pub(crate) const ACS_URL: &str = "http://127.0.0.1/acs/challenge";
/// ePay's public test card, approved, not enrolled in 3-D Secure.
pub(crate) const GOOD_CARD: (&str, &str, &str) = ("4405639704015096", "01/27", "321");
/// The simulator's card enrolled in 3-D Secure (docs/test-cards.md).
pub(crate) const ENROLLED_CARD: (&str, &str, &str) = ("4000000000003220", "12/30", "123");

impl App {
    /// This gateway with its clock standing at `now_ms`: the same store, network and keys.
    pub(crate) fn at(self, now_ms: i64) -> App {
        App { clock: Arc::new(FixedClock(now_ms)), ..self }
    }
}

/// A token as it is stored, and its text (what a client presents).
pub(crate) struct Issued {
    pub text: String,
    pub caller: Caller,
}

impl Issued {
    pub(crate) fn record(&self) -> &TokenRecord {
        self.caller.token().expect("a token caller")
    }
}

/// A payment token of the test merchant, as a merchant's server requests one for a page: bound
/// to `invoice`, `amount_minor` of KZT, on `terminal`, valid for an hour from [`NOW`].
pub(crate) fn payment_token(terminal: &str, invoice: &str, amount_minor: i64) -> (String, TokenRecord) {
    let record = TokenRecord {
        token_digest: crate::services::tokens::new_token_id(),
        merchant_id: TEST_MERCHANT_ID.into(),
        terminal_id: Some(terminal.into()),
        scope: "payment".into(),
        invoice_id: Some(invoice.into()),
        amount_minor: Some(amount_minor),
        currency: Some("KZT".into()),
        post_link: String::new(),
        failure_post_link: String::new(),
        secret_hash: None,
        transfer_kind: None,
        account_id: None,
        generation: 0,
        expires_at: NOW + 3_600_000,
        used_at: None,
        created_at: NOW,
    };
    (String::new(), record)
}

/// A service token of the test merchant (no invoice), as the merchant's back office uses one.
pub(crate) fn service_token(terminal: &str) -> (String, TokenRecord) {
    let (text, record) = payment_token(terminal, "", 0);
    (
        text,
        TokenRecord { scope: "webapi payment".into(), invoice_id: None, amount_minor: None, currency: None, ..record },
    )
}

/// Seals a token, as the token endpoint does (the text given is ignored: the sealed one is it).
pub(crate) async fn issue(app: &App, (_, mut record): (String, TokenRecord)) -> Issued {
    // In the merchant's current generation (a new merchant row starts at a random one).
    if let Ok(Some(merchant)) = app.store.merchant(&record.merchant_id).await {
        record.generation = merchant.token_generation;
    }
    Issued { text: crate::services::tokens::seal(&app.keys, &record), caller: Caller::Token(record) }
}

pub(crate) fn card((pan, expiry, cvc): (&str, &str, &str)) -> EnteredCard {
    EnteredCard { pan: Pan::parse(pan).unwrap(), expiry: Expiry::parse(expiry).unwrap(), cvc: Cvc::parse(cvc).unwrap() }
}

/// Pays `invoice` on the hosted page with `card`, as the shopper does, with `token`.
pub(crate) async fn pay_on_page(
    app: &App,
    token: &Issued,
    invoice: &str,
    amount: &str,
    entered: (&str, &str, &str),
) -> Result<PaymentAnswer, PaymentError> {
    let given = |text: &str| Some(Checked(Ok(text.to_string())));
    let order = PaymentOrderRequest {
        invoice_id: given(invoice),
        amount: Some(Checked(Ok(Amount::parse_major(amount).expect("an amount")))),
        currency: Some(Checked(Ok(Currency::Kzt))),
        payer_name: given("TEST PAYER"),
        ..PaymentOrderRequest::default()
    };
    let payer = payments::payer(app, &token.caller).await?;
    payments::pay_from_page(
        app,
        payer,
        PagePayment { order, card: PageCard::Entered { card: card(entered), save: false }, acs_url: ACS_URL.into() },
    )
    .await
}

/// A payment of 100 KZT authorized on the two-step payments terminal (a hold, no charge yet).
pub(crate) async fn authorized(app: &App, invoice: &str) -> Payment {
    let token = issue(app, payment_token(PAYMENT_TERMINAL, invoice, 10_000)).await;
    let answer = pay_on_page(app, &token, invoice, "100", GOOD_CARD).await.expect("approved");
    let PaymentAnswer::Final(paid) = answer else { panic!("no 3-D Secure on the payments terminal") };
    app.store.payment(TEST_MERCHANT_ID, &paid.id).await.unwrap().expect("recorded")
}

/// A payment of 100 KZT waiting in `3D` on the seeded 3-D Secure terminal: its page token, the
/// payment and its challenge.
pub(crate) struct Challenged {
    pub token: Issued,
    pub payment: Payment,
    pub session: ThreeDsSession,
}

/// Pays `invoice` with the enrolled card on the 3-D Secure terminal, which challenges it.
pub(crate) async fn challenged(app: &App, invoice: &str) -> Challenged {
    let token = issue(app, payment_token(THREE_DS_TERMINAL, invoice, 10_000)).await;
    let answer = pay_on_page(app, &token, invoice, "100", ENROLLED_CARD).await.expect("challenged");
    let PaymentAnswer::ThreeD(three_d) = answer else { panic!("the enrolled card is challenged: {answer:?}") };
    let payment = app.store.payment(TEST_MERCHANT_ID, &three_d.id).await.unwrap().expect("recorded");
    let session = app.store.three_ds_session_of(TEST_MERCHANT_ID, &payment.id).await.unwrap().expect("its challenge");
    Challenged { token, payment, session }
}

/// A token record of merchant `m` bound to nothing (no terminal, invoice, customer or kind), for
/// tests of rules that read a token without a store; each test sets what it varies.
pub(crate) fn bare_token() -> TokenRecord {
    TokenRecord {
        token_digest: String::new(),
        merchant_id: "m".into(),
        terminal_id: None,
        scope: "webapi payment".into(),
        invoice_id: None,
        amount_minor: None,
        currency: None,
        post_link: String::new(),
        failure_post_link: String::new(),
        secret_hash: None,
        transfer_kind: None,
        account_id: None,
        generation: 0,
        expires_at: 0,
        used_at: None,
        created_at: 0,
    }
}
