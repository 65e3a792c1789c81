//! A card payment decided ahead on SQLite: written in one round trip when what it read still
//! holds, decided again on the write connection when it does not (the card's funds spent by a
//! unit its read could not see, the token spent, the invoice taken), never paid twice or
//! overdrawn.

use std::sync::Arc;
use std::time::Duration;

use epay_domain::{AccountKind, Currency, PaymentKind, Secret, TxStatus};

use super::super::SqlStore;
use crate::model::*;
use crate::ports::*;
use crate::StoreError;

const CARD: &str = "card:read-ahead";

async fn store() -> Arc<SqlStore<sqlx::Sqlite>> {
    let path = std::env::temp_dir().join(format!("epay-read-ahead-{}.sqlite", uuid::Uuid::new_v4().simple()));
    let store = SqlStore::<sqlx::Sqlite>::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    store.migrate().await.unwrap();
    let merchant = Merchant {
        id: "m1".into(),
        name: "Read ahead".into(),
        client_id: "read-ahead".into(),
        secret_digest: Secret::from("digest".to_string()),
        webhook_secret: Secret::from("whsec".to_string()),
        token_generation: 1,
    };
    let terminal =
        Terminal { id: "t1".into(), merchant_id: "m1".into(), pos_id: "00000001".into(), ..Default::default() };
    store.upsert_merchant(&merchant, &[terminal]).await.unwrap();
    store.ensure_accounts(&[(CARD.into(), AccountKind::Card, Currency::Kzt, 1_000)], 1).await.unwrap();
    Arc::new(store)
}

/// A one-step card payment of `amount` for `invoice`, spending `token`.
fn payment(invoice: &str, token: &str, amount: i64) -> PaymentWrite {
    let payment = Payment {
        id: format!("pay-{invoice}"),
        merchant_id: "m1".into(),
        terminal_id: "t1".into(),
        invoice_id: invoice.into(),
        kind: PaymentKind::Payment,
        status: TxStatus::Charge,
        amount_minor: amount,
        currency: "KZT".into(),
        card_currency: "KZT".into(),
        card_amount_minor: amount,
        approval_code: "123456".into(),
        card_account: Some(CARD.into()),
        created_at: 10,
        updated_at: 10,
        ..Default::default()
    };
    PaymentWrite {
        token_digest: token.into(),
        token_expires_at: 1_000_000,
        token_spend: TokenSpend::Always,
        payment,
        effect: PaymentEffect::Debit {
            card_account: CARD.into(),
            merchant_account: merchant_account("t1", "KZT"),
            kind: DebitKind::Posted,
        },
        save_card: None,
        three_ds: None,
        idempotency: None,
        subscription: None,
    }
}

fn no_callback(_: &Payment) -> Option<NewCallback> {
    None
}

async fn available(store: &SqlStore<sqlx::Sqlite>) -> i64 {
    let card = store.ledger_account(CARD).await.unwrap().unwrap();
    card.credits_posted - card.debits_posted - card.debits_pending
}

fn read_ahead(store: &SqlStore<sqlx::Sqlite>) -> (u64, u64) {
    let stats = store.group_commit_stats().unwrap();
    (stats.read_ahead, stats.read_out_of_date)
}

#[tokio::test]
async fn a_card_payment_is_written_in_one_trip() {
    let store = store().await;
    let paid = store.record_payment(payment("100001", "tok-1", 300), &no_callback).await.unwrap();
    assert_eq!((paid.payment.status, paid.payment.attempt), (TxStatus::Charge, 1));
    assert_eq!(read_ahead(&store), (1, 0), "decided ahead and written in one trip");
    assert_eq!(available(&store).await, 700);
    // The terminal's first payment in KZT opened its merchant account in the same trip.
    let merchant = store.ledger_account(&merchant_account("t1", "KZT")).await.unwrap();
    assert!(merchant.is_some(), "the merchant account was opened");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
    // Each path's payments are read back the same.
    let stored = store.payment_by_invoice("t1", "100001").await.unwrap().unwrap();
    assert_eq!((stored.status, stored.charged_minor, stored.attempt), (TxStatus::Charge, 300, 1));
}

/// The card's funds spent by a unit still open on the write connection (so invisible to the
/// read-only one) when the payment read them: its check fails on the write connection and the
/// payment is declined there, instead of overdrawing the card.
#[tokio::test]
async fn funds_spent_after_the_read_are_checked_on_the_write_connection() {
    let store = store().await;
    let mut holder = store.begin_unit().await.unwrap();
    sqlx::query("UPDATE ledger_accounts SET debits_posted = debits_posted + 500 WHERE id = $1")
        .bind(CARD)
        .execute(&mut *holder)
        .await
        .unwrap();
    let paying = tokio::spawn({
        let store = store.clone();
        async move { store.record_payment(payment("100002", "tok-2", 700), &no_callback).await }
    });
    // The payment reads 1,000 available (the holder's change is not committed) and waits for
    // the write connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.commit().await.unwrap();
    let paid = paying.await.unwrap().unwrap();
    assert_eq!(paid.payment.status, TxStatus::Reject, "500 left cannot pay 700");
    assert_eq!(paid.payment.reason_code, epay_domain::ReasonCode::INSUFFICIENT_FUNDS.code);
    assert_eq!(read_ahead(&store), (0, 1), "the read was out of date, and decided again");
    assert_eq!(available(&store).await, 500, "nothing of the out-of-date unit stayed");
    let stored = store.payment_by_invoice("t1", "100002").await.unwrap().unwrap();
    assert_eq!(stored.status, TxStatus::Reject);
}

/// Funds that still cover the debit pass the check, whatever else changed since the read: the
/// payments of one card in one batch do not undo each other.
#[tokio::test]
async fn funds_that_still_cover_the_debit_pass() {
    let store = store().await;
    let mut holder = store.begin_unit().await.unwrap();
    sqlx::query("UPDATE ledger_accounts SET debits_posted = debits_posted + 500 WHERE id = $1")
        .bind(CARD)
        .execute(&mut *holder)
        .await
        .unwrap();
    let paying = tokio::spawn({
        let store = store.clone();
        async move { store.record_payment(payment("100003", "tok-3", 400), &no_callback).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.commit().await.unwrap();
    let paid = paying.await.unwrap().unwrap();
    assert_eq!(paid.payment.status, TxStatus::Charge);
    assert_eq!(read_ahead(&store), (1, 0));
    assert_eq!(available(&store).await, 100);
}

/// A token spent since the read: the spend's unique key stops the trip, and the locked way
/// refuses the token.
#[tokio::test]
async fn a_spent_token_pays_once() {
    let store = store().await;
    store.record_payment(payment("100004", "tok-4", 100), &no_callback).await.unwrap();
    let again = store.record_payment(payment("100005", "tok-4", 100), &no_callback).await;
    assert!(matches!(again, Err(StoreError::TokenSpent)), "{again:?}");
    assert_eq!(read_ahead(&store), (1, 1));
    assert_eq!(available(&store).await, 900, "paid once");
    assert!(store.payment_by_invoice("t1", "100005").await.unwrap().is_none());
}

/// Eight payments of one invoice at once, each with its own token: one pays, whichever way
/// each was decided.
#[tokio::test]
async fn one_invoice_paid_at_once_pays_once() {
    let store = store().await;
    let mut paying = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        paying.spawn(
            async move { store.record_payment(payment("100006", &format!("tok-6-{i}"), 100), &no_callback).await },
        );
    }
    let mut paid = 0;
    while let Some(outcome) = paying.join_next().await {
        match outcome.unwrap() {
            Ok(p) if p.payment.status == TxStatus::Charge => paid += 1,
            Ok(p) => panic!("unexpected {:?}", p.payment.status),
            Err(StoreError::DuplicateInvoice | StoreError::ConcurrentAttempt) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(paid, 1);
    assert_eq!(available(&store).await, 900, "paid once");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}
