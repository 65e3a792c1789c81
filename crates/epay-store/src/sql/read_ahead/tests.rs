//! A card payment decided ahead: written in one round trip when what it read still holds
//! (SQLite: by the writer's committer; PostgreSQL: one statement that is its own transaction),
//! decided again the locked way when it does not (the card's funds spent by a unit its read could
//! not see, the token spent, the invoice taken), never paid twice or overdrawn. Most tests run on
//! both databases (`EPAY_TEST_BACKENDS` narrows them); those of what only SQLite decides ahead
//! (a terminal's daily limit) or of how its writer orders units, on SQLite.

use std::sync::Arc;
use std::time::Duration;

use epay_domain::{AccountKind, Currency, PaymentKind, TxStatus};

use super::super::test_store::{behind_a_change, no_callback, on_both, pg_store, sqlite_file_store, wanted};
use super::super::{Backend, OneTrip, SqlStore};
use crate::model::*;
use crate::ports::*;
use crate::StoreError;

const CARD: &str = "card:read-ahead";

/// A SQLite store whose card [`CARD`] has 1,000 and whose terminal has no account yet.
async fn store() -> Arc<SqlStore<sqlx::Sqlite>> {
    let store = sqlite_file_store("read-ahead").await;
    with_card(&store).await;
    Arc::new(store)
}

async fn with_card<DB: Backend>(store: &SqlStore<DB>) {
    store.ensure_accounts(&[(CARD.into(), AccountKind::Card, Currency::Kzt, 1_000)], 1).await.unwrap();
}

/// A store on each database whose card [`CARD`] has 1,000 and whose terminal's merchant account
/// in KZT is open: on PostgreSQL, a terminal's first payment in a currency opens it the locked
/// way (`the_first_payment_of_a_terminal_opens_its_account_the_locked_way`).
async fn paying_store<DB: Backend>(store: SqlStore<DB>) -> Arc<SqlStore<DB>> {
    with_card(&store).await;
    let merchant = (merchant_account("t1", "KZT"), AccountKind::Merchant, Currency::Kzt, 0);
    store.ensure_accounts(&[merchant], 1).await.unwrap();
    Arc::new(store)
}

on_both!(
    "read-ahead", paying_store;
    funds_spent_after_the_read_are_checked_where_the_payment_writes,
    funds_that_still_cover_the_debit_pass,
    a_spent_token_pays_once,
    one_invoice_paid_at_once_pays_once,
    one_card_paying_at_once_is_never_overdrawn,
    the_whole_balance_pays_and_a_tiyn_more_is_declined,
    a_hold_is_written_in_one_trip,
    a_payment_dropped_anywhere_leaves_all_or_nothing,
    a_transfer_from_a_card_is_one_round_trip,
    a_transfer_whose_funds_went_is_declined_where_it_writes,
    transfers_both_ways_at_once_balance,
    a_receivers_total_counts_what_it_was_credited,
    a_terminals_total_without_a_limit_still_counts,
);

/// A one-step card payment of `amount` for `invoice`, spending `token`.
fn payment(invoice: &str, token: &str, amount: i64) -> PaymentWrite {
    let payment = Payment {
        id: format!("pay-{invoice}-{token}"),
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

async fn available<DB: Backend>(store: &SqlStore<DB>) -> i64 {
    let card = store.ledger_account(CARD).await.unwrap().unwrap();
    card.credits_posted - card.debits_posted - card.debits_pending
}

fn read_ahead<DB: Backend>(store: &SqlStore<DB>) -> (u64, u64) {
    let stats = store.read_ahead_stats();
    (stats.written, stats.out_of_date)
}

/// Spends `minor` of [`CARD`]'s funds.
fn spend_card(minor: i64) -> String {
    format!("UPDATE ledger_accounts SET debits_posted = debits_posted + {minor} WHERE id = '{CARD}'")
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

/// The card's funds spent by a unit not yet committed when the payment read them (SQLite: open
/// on the write connection, invisible to the read-only one; PostgreSQL: another transaction's,
/// holding the card's row): the database's rule on the card fails where the payment writes, and
/// the locked way declines it, instead of overdrawing the card.
async fn funds_spent_after_the_read_are_checked_where_the_payment_writes<DB: Backend>(store: Arc<SqlStore<DB>>) {
    // The payment reads 1,000 available, and 500 are left when it writes.
    let paying = {
        let store = store.clone();
        async move { store.record_payment(payment("100002", "tok-2", 700), &no_callback).await }
    };
    let paid = behind_a_change(&store, Some(&spend_card(500)), paying).await.unwrap();
    assert_eq!(paid.payment.status, TxStatus::Reject, "500 left cannot pay 700");
    assert_eq!(paid.payment.reason_code, epay_domain::ReasonCode::INSUFFICIENT_FUNDS.code);
    assert_eq!(read_ahead(&store), (0, 1), "the read was out of date, and decided again");
    assert_eq!(available(&store).await, 500, "nothing of the out-of-date unit stayed");
    let stored = store.payment_by_invoice("t1", "100002").await.unwrap().unwrap();
    assert_eq!(stored.status, TxStatus::Reject);
}

/// Funds that still cover the debit pass the check, whatever else changed since the read: the
/// payments of one card in one batch do not undo each other.
async fn funds_that_still_cover_the_debit_pass<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let paying = {
        let store = store.clone();
        async move { store.record_payment(payment("100003", "tok-3", 400), &no_callback).await }
    };
    let paid = behind_a_change(&store, Some(&spend_card(500)), paying).await.unwrap();
    assert_eq!(paid.payment.status, TxStatus::Charge);
    assert_eq!(read_ahead(&store), (1, 0));
    assert_eq!(available(&store).await, 100);
}

/// A token spent since the read: the spend's unique key stops the trip, and the locked way
/// refuses the token.
async fn a_spent_token_pays_once<DB: Backend>(store: Arc<SqlStore<DB>>) {
    store.record_payment(payment("100004", "tok-4", 100), &no_callback).await.unwrap();
    let again = store.record_payment(payment("100005", "tok-4", 100), &no_callback).await;
    assert!(matches!(again, Err(StoreError::TokenSpent)), "{again:?}");
    assert_eq!(read_ahead(&store), (1, 1));
    assert_eq!(available(&store).await, 900, "paid once");
    assert!(store.payment_by_invoice("t1", "100005").await.unwrap().is_none());
}

/// Two payments of one invoice, each with its own token, both read while the write connection
/// is busy (both number themselves attempt 1): the first pays; the second's insert meets the
/// invoice's unique indexes on the write connection, and the locked way refuses it.
#[tokio::test]
async fn an_invoice_taken_after_the_read_is_refused_on_the_write_connection() {
    let store = store().await;
    let holder = store.begin_unit().await.unwrap();
    let first = tokio::spawn({
        let store = store.clone();
        async move { store.record_payment(payment("100006", "tok-6a", 100), &no_callback).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = tokio::spawn({
        let store = store.clone();
        async move { store.record_payment(payment("100006", "tok-6b", 100), &no_callback).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    holder.commit().await.unwrap();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.payment.status, TxStatus::Charge);
    let second = second.await.unwrap();
    assert!(matches!(second, Err(StoreError::DuplicateInvoice)), "{second:?}");
    assert_eq!(read_ahead(&store), (1, 1), "the second's read was out of date");
    assert_eq!(available(&store).await, 900, "paid once");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// Eight payments of one invoice at once, each with its own token: one pays, whichever way
/// each was decided.
async fn one_invoice_paid_at_once_pays_once<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let mut paying = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        paying.spawn(
            async move { store.record_payment(payment("100007", &format!("tok-7-{i}"), 100), &no_callback).await },
        );
    }
    let mut paid = 0;
    while let Some(outcome) = paying.join_next().await {
        match outcome.unwrap() {
            Ok(p) if p.payment.status == TxStatus::Charge => paid += 1,
            Ok(p) => panic!("unexpected {:?}", p.payment.status),
            Err(StoreError::DuplicateInvoice) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(paid, 1);
    assert_eq!(available(&store).await, 900, "paid once");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// Twenty payments of 100 from one card holding 1,000, all at once, each its own invoice: ten
/// pay and ten are declined for its funds, whichever way each was decided; the card never goes
/// below zero and the ledger balances.
async fn one_card_paying_at_once_is_never_overdrawn<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let mut paying = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = store.clone();
        paying.spawn(async move {
            store.record_payment(payment(&format!("5000{i:02}"), &format!("tok-c{i}"), 100), &no_callback).await
        });
    }
    let (mut paid, mut declined) = (0, 0);
    while let Some(outcome) = paying.join_next().await {
        let recorded = outcome.unwrap().unwrap();
        match recorded.payment.status {
            TxStatus::Charge => paid += 1,
            TxStatus::Reject => {
                assert_eq!(recorded.payment.reason_code, epay_domain::ReasonCode::INSUFFICIENT_FUNDS.code);
                declined += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((paid, declined), (10, 10));
    assert_eq!(available(&store).await, 0, "one debit per payment paid");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// PostgreSQL: a terminal's first payment in a currency opens its merchant account, which a
/// statement of its own must do before the booking: that payment goes the locked way, and the
/// next one is one statement. Nothing is written by the one that could not be.
#[tokio::test]
async fn the_first_payment_of_a_terminal_opens_its_account_the_locked_way() {
    if !wanted("postgres") {
        return;
    }
    let store = pg_store("read_ahead").await;
    with_card(&store).await;
    let first = store.record_payment(payment("600001", "tok-f1", 300), &no_callback).await.unwrap();
    assert_eq!((first.payment.status, first.payment.attempt), (TxStatus::Charge, 1));
    assert_eq!(read_ahead(&store), (0, 0), "not decided ahead, nothing sent ahead");
    let second = store.record_payment(payment("600002", "tok-f2", 200), &no_callback).await.unwrap();
    assert_eq!(second.payment.status, TxStatus::Charge);
    assert_eq!(read_ahead(&store), (1, 0), "one statement");
    assert_eq!(available(&store).await, 500);
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
    let stored = store.payment_by_invoice("t1", "600002").await.unwrap().unwrap();
    assert_eq!((stored.status, stored.charged_minor, stored.attempt), (TxStatus::Charge, 200, 1));
    let events = store.payment_events("m1", &stored.id).await.unwrap();
    assert_eq!(events.len(), 1, "its history written with it: {events:?}");
}

/// The funds' edge: what the card has pays in one trip; a tiyn more is declined (the read
/// refuses, so the locked way decides it, with 484).
async fn the_whole_balance_pays_and_a_tiyn_more_is_declined<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let over = store.record_payment(payment("100008", "tok-8", 1_001), &no_callback).await.unwrap();
    assert_eq!(over.payment.status, TxStatus::Reject);
    assert_eq!(over.payment.reason_code, epay_domain::ReasonCode::INSUFFICIENT_FUNDS.code);
    assert_eq!(read_ahead(&store), (0, 0), "a decline is decided the locked way");
    let all = store.record_payment(payment("100009", "tok-9", 1_000), &no_callback).await.unwrap();
    assert_eq!(all.payment.status, TxStatus::Charge);
    assert_eq!(read_ahead(&store), (1, 0));
    assert_eq!(available(&store).await, 0);
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// A two-step payment's hold is decided ahead too: the card's funds held, not posted.
async fn a_hold_is_written_in_one_trip<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let mut hold = payment("100010", "tok-10", 250);
    hold.payment.status = TxStatus::Auth;
    if let PaymentEffect::Debit { kind, .. } = &mut hold.effect {
        *kind = DebitKind::Pending;
    }
    let held = store.record_payment(hold, &no_callback).await.unwrap();
    assert_eq!((held.payment.status, held.payment.charged_minor), (TxStatus::Auth, 0));
    assert_eq!(read_ahead(&store), (1, 0));
    let card = store.ledger_account(CARD).await.unwrap().unwrap();
    assert_eq!((card.debits_pending, card.debits_posted), (250, 0));
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// Payments whose requests are dropped at any point (a client that hangs up): each leaves a
/// whole payment or nothing, and the card and the ledger agree.
async fn a_payment_dropped_anywhere_leaves_all_or_nothing<DB: Backend>(store: Arc<SqlStore<DB>>) {
    for i in 0..40u64 {
        let invoice = format!("2{i:05}");
        let paying = tokio::spawn({
            let store = store.clone();
            let invoice = invoice.clone();
            async move { store.record_payment(payment(&invoice, &format!("tok-d{i}"), 10), &no_callback).await }
        });
        tokio::time::sleep(Duration::from_micros(50 * i)).await;
        paying.abort();
        let _ = paying.await;
    }
    // A last payment makes the writer settle whatever a dropped one left in doubt.
    store.record_payment(payment("300000", "tok-last", 10), &no_callback).await.unwrap();
    let mut paid = 1;
    for i in 0..40u64 {
        if store.payment_by_invoice("t1", &format!("2{i:05}")).await.unwrap().is_some() {
            paid += 1;
        }
    }
    assert_eq!(available(&store).await, 1_000 - 10 * paid, "one debit per stored payment");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

const RECEIVER: &str = "card:receiver";

/// A P2P transfer of `amount` with `fee` from [`CARD`] to [`RECEIVER`], spending `token`.
fn transfer(order: &str, token: &str, amount: i64, fee: i64) -> TransferWrite {
    let payment = Payment {
        id: format!("p2p-{order}-{token}"),
        merchant_id: "m1".into(),
        terminal_id: "t1".into(),
        invoice_id: order.into(),
        kind: PaymentKind::P2p,
        status: TxStatus::Charge,
        amount_minor: amount,
        fee_minor: fee,
        currency: "KZT".into(),
        card_currency: "KZT".into(),
        card_amount_minor: amount,
        approval_code: "123456".into(),
        card_account: Some(CARD.into()),
        created_at: 10,
        updated_at: 10,
        ..Default::default()
    };
    let reason = |code: i32| (code, format!("reason {code}"));
    TransferWrite {
        token_digest: token.into(),
        token_expires_at: 1_000_000,
        token_spend: TokenSpend::Always,
        settlement: TransferSettlement {
            payment,
            money: Some(TransferMoney {
                from_account: CARD.into(),
                to_account: RECEIVER.into(),
                fee_account: fee_account("t1", "KZT"),
                fee_minor: fee,
                receiver_daily_limit_minor: None,
                terminal_daily_limit_minor: None,
                day_start_ms: 0,
            }),
            save_sender: None,
            save_receiver: None,
            insufficient_funds: reason(484),
            receiver_limit: reason(528),
            terminal_limit: reason(529),
        },
        three_ds: None,
        idempotency: None,
    }
}

async fn with_receiver<DB: Backend>(store: &SqlStore<DB>) {
    store.ensure_accounts(&[(RECEIVER.into(), AccountKind::Card, Currency::Kzt, 0)], 1).await.unwrap();
}

/// [`RECEIVER`], and the terminal's fee account in KZT open: on PostgreSQL, a terminal's first
/// fee opens it the locked way.
async fn with_receiver_and_fees<DB: Backend>(store: &SqlStore<DB>) {
    with_receiver(store).await;
    let fees = (fee_account("t1", "KZT"), AccountKind::Merchant, Currency::Kzt, 0);
    store.ensure_accounts(&[fees], 1).await.unwrap();
}

/// A transfer from a card in one round trip, amount and fee, on both databases.
async fn a_transfer_from_a_card_is_one_round_trip<DB: Backend>(store: Arc<SqlStore<DB>>) {
    with_receiver_and_fees(&store).await;
    let sent = store.record_transfer(transfer("400101", "tok-o1", 300, 20), &no_callback).await.unwrap();
    assert_eq!((sent.status, sent.fee_minor, sent.attempt), (TxStatus::Charge, 20, 1));
    assert_eq!(read_ahead(&store), (1, 0), "decided ahead and written in one round trip");
    assert_eq!(available(&store).await, 680, "amount and fee");
    let receiver = store.ledger_account(RECEIVER).await.unwrap().unwrap();
    assert_eq!(receiver.credits_posted, 300);
    let fees = store.ledger_account(&fee_account("t1", "KZT")).await.unwrap().unwrap();
    assert_eq!(fees.credits_posted, 20);
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
    let again = store.record_transfer(transfer("400102", "tok-o1", 300, 20), &no_callback).await;
    assert!(matches!(again, Err(StoreError::TokenSpent)), "{again:?}");
    assert_eq!(available(&store).await, 680, "sent once");
}

/// Twenty transfers of 100 between two cards at once, ten each way: every one is sent (each
/// card always has what it sends, its 1,000 less what it sent plus what it got), none waits on
/// the other for ever (PostgreSQL would end one as a deadlock), and both cards end as they began.
async fn transfers_both_ways_at_once_balance<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let receiver = (RECEIVER.to_string(), AccountKind::Card, Currency::Kzt, 1_000);
    store.ensure_accounts(&[receiver], 1).await.unwrap();
    with_receiver_and_fees(&store).await;
    let mut sending = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = store.clone();
        sending.spawn(async move {
            let mut write = transfer(&format!("4002{i:02}"), &format!("tok-w{i}"), 100, 0);
            if i % 2 == 1 {
                let m = write.settlement.money.as_mut().unwrap();
                std::mem::swap(&mut m.from_account, &mut m.to_account);
                write.settlement.payment.card_account = Some(RECEIVER.into());
            }
            store.record_transfer(write, &no_callback).await
        });
    }
    for sent in sending.join_all().await {
        assert_eq!(sent.unwrap().status, TxStatus::Charge);
    }
    let (written, out_of_date) = read_ahead(&store);
    assert_eq!(written + out_of_date, 20, "each decided ahead (and, if out of date, again)");
    assert_eq!(available(&store).await, 1_000);
    let receiver = store.ledger_account(RECEIVER).await.unwrap().unwrap();
    assert_eq!(receiver.credits_posted - receiver.debits_posted - receiver.debits_pending, 1_000);
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// A receiving account's total of the day (its row made when a limit was checked) grows by what
/// each approved transfer credited it, the fee not counted: summed from the ledger transfers the
/// unit queued, the same for a transfer decided ahead and one decided the locked way.
async fn a_receivers_total_counts_what_it_was_credited<DB: Backend>(store: Arc<SqlStore<DB>>) {
    with_receiver_and_fees(&store).await;
    let subject = super::super::daily_totals::DailySubject::Receiver(RECEIVER).key();
    let mut tx = store.begin_unit().await.unwrap();
    let row = format!(
        "INSERT INTO transfer_daily_totals (subject, currency, day_start_ms, total_minor) VALUES ('{subject}', 'KZT', 0, 5)"
    );
    sqlx::query::<DB>(&row).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    store.record_transfer(transfer("400301", "tok-r1", 300, 20), &no_callback).await.unwrap();
    assert_eq!(read_ahead(&store), (1, 0), "decided ahead");
    assert_eq!(day_total(&store, &subject).await, 305);
    let mut limited = transfer("400302", "tok-r2", 200, 20);
    limited.settlement.money.as_mut().unwrap().receiver_daily_limit_minor = Some(10_000);
    store.record_transfer(limited, &no_callback).await.unwrap();
    assert_eq!(read_ahead(&store), (1, 0), "a receiver's limit is checked the locked way");
    assert_eq!(day_total(&store, &subject).await, 505);
}

/// A terminal's total of the day whose limit is gone (removed today, or this node's copy of the
/// terminal older): each approved transfer still adds to it. SQLite decides it ahead; PostgreSQL
/// goes the locked way, which locks the total's row before the fee's shard (one statement would
/// update it after, and two transfers taking them in opposite orders would deadlock).
async fn a_terminals_total_without_a_limit_still_counts<DB: Backend>(store: Arc<SqlStore<DB>>) {
    with_receiver_and_fees(&store).await;
    let mut tx = store.begin_unit().await.unwrap();
    let row = "INSERT INTO transfer_daily_totals (subject, currency, day_start_ms, total_minor)
         VALUES ('terminal:t1', 'KZT', 0, 40)";
    sqlx::query::<DB>(row).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let sent = store.record_transfer(transfer("400401", "tok-n1", 300, 20), &no_callback).await.unwrap();
    assert_eq!(sent.status, TxStatus::Charge);
    let ahead = if DB::ONE_TRIP == OneTrip::Statements { (1, 0) } else { (0, 0) };
    assert_eq!(read_ahead(&store), ahead);
    assert_eq!(day_total(&store, "terminal:t1").await, 340, "the amount, not the fee");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// PostgreSQL: what one statement cannot write goes the locked way, and sends nothing ahead: a
/// terminal's first fee (its account opened by a statement of its own) and a transfer with the
/// terminal's daily limit (its check and its count change one row).
#[tokio::test]
async fn postgres_sends_the_first_fee_and_a_limited_transfer_the_locked_way() {
    if !wanted("postgres") {
        return;
    }
    let store = Arc::new(pg_store("read_ahead").await);
    with_card(&store).await;
    with_receiver(&store).await;
    let first = store.record_transfer(transfer("400501", "tok-p1", 100, 10), &no_callback).await.unwrap();
    assert_eq!((first.status, first.fee_minor), (TxStatus::Charge, 10));
    assert_eq!(read_ahead(&store), (0, 0), "the fee account opened the locked way");
    let limited = store.record_transfer(limited_transfer("400502", "tok-p2", 100, 1_000), &no_callback).await.unwrap();
    assert_eq!(limited.status, TxStatus::Charge);
    assert_eq!(read_ahead(&store), (0, 0), "a limited transfer is decided the locked way");
    let next = store.record_transfer(transfer("400503", "tok-p3", 100, 10), &no_callback).await.unwrap();
    assert_eq!(next.status, TxStatus::Charge);
    assert_eq!(read_ahead(&store), (0, 0), "the day's total now exists: the locked way");
    // The row the limited transfer made counts the day's transfers before it too.
    assert_eq!(day_total(&store, "terminal:t1").await, 300);
    assert_eq!(available(&store).await, 1_000 - 100 - 10 - 100 - 100 - 10);
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

async fn day_total<DB: Backend>(store: &SqlStore<DB>, subject: &str) -> i64 {
    let total = format!("SELECT total_minor FROM transfer_daily_totals WHERE subject = '{subject}'");
    let row = sqlx::query::<DB>(&total).fetch_one(&store.reads).await.unwrap();
    sqlx::Row::try_get::<i64, _>(&row, "total_minor").unwrap()
}

#[tokio::test]
async fn a_transfer_from_a_card_is_written_in_one_trip() {
    let store = store().await;
    with_receiver(&store).await;
    let sent = store.record_transfer(transfer("400001", "tok-t1", 300, 20), &no_callback).await.unwrap();
    assert_eq!((sent.status, sent.fee_minor, sent.attempt), (TxStatus::Charge, 20, 1));
    assert_eq!(read_ahead(&store), (1, 0), "decided ahead and written in one trip");
    assert_eq!(available(&store).await, 680, "amount and fee");
    let receiver = store.ledger_account(RECEIVER).await.unwrap().unwrap();
    assert_eq!(receiver.credits_posted, 300);
    // The fee account was opened in the same trip, on the terminal's first fee.
    assert!(store.ledger_account(&fee_account("t1", "KZT")).await.unwrap().is_some());
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// A transfer whose amount and fee the card covered when it was read, but no longer once a
/// unit the read could not see spent part of it: declined where it writes (484).
async fn a_transfer_whose_funds_went_is_declined_where_it_writes<DB: Backend>(store: Arc<SqlStore<DB>>) {
    with_receiver_and_fees(&store).await;
    let sending = {
        let store = store.clone();
        // 690 + 20 fit in 1,000 but not in the 700 left.
        async move { store.record_transfer(transfer("400002", "tok-t2", 690, 20), &no_callback).await }
    };
    let sent = behind_a_change(&store, Some(&spend_card(300)), sending).await.unwrap();
    assert_eq!((sent.status, sent.reason_code), (TxStatus::Reject, 484));
    assert_eq!(read_ahead(&store), (0, 1), "the read was out of date, and decided again");
    assert_eq!(available(&store).await, 700, "nothing of the out-of-date unit stayed");
    let receiver = store.ledger_account(RECEIVER).await.unwrap().unwrap();
    assert_eq!(receiver.credits_posted, 0);
}

/// A transfer with a daily limit, or from a merchant's account, is decided the locked way.
#[tokio::test]
async fn a_limited_transfer_is_decided_on_the_write_connection() {
    let store = store().await;
    with_receiver(&store).await;
    let mut limited = transfer("400003", "tok-t3", 100, 0);
    if let Some(m) = &mut limited.settlement.money {
        m.receiver_daily_limit_minor = Some(50);
    }
    let sent = store.record_transfer(limited, &no_callback).await.unwrap();
    assert_eq!((sent.status, sent.reason_code), (TxStatus::Reject, 528), "over the receiver's limit");
    assert_eq!(read_ahead(&store), (0, 0), "not decided ahead");
}

/// [`transfer`] on a terminal whose transfers may total `limit` a day.
fn limited_transfer(order: &str, token: &str, amount: i64, limit: i64) -> TransferWrite {
    let mut write = transfer(order, token, amount, 0);
    if let Some(m) = &mut write.settlement.money {
        m.terminal_daily_limit_minor = Some(limit);
    }
    write
}

async fn terminal_total(store: &SqlStore<sqlx::Sqlite>) -> i64 {
    let mut conn = store.reads.acquire().await.unwrap();
    sqlx::query_scalar("SELECT total_minor FROM transfer_daily_totals WHERE subject = 'terminal:t1'")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

/// The terminal's daily limit: the day's first transfer creates its total the locked way; the
/// next ones are decided ahead against it, up to the limit exactly; one over is declined (529).
#[tokio::test]
async fn a_terminal_limit_is_checked_ahead_against_the_days_total() {
    let store = store().await;
    with_receiver(&store).await;
    let first = store.record_transfer(limited_transfer("400010", "tok-l1", 100, 300), &no_callback).await.unwrap();
    assert_eq!(first.status, TxStatus::Charge);
    assert_eq!(read_ahead(&store), (0, 0), "the day's first limited transfer creates the total");
    let second = store.record_transfer(limited_transfer("400011", "tok-l2", 200, 300), &no_callback).await.unwrap();
    assert_eq!(second.status, TxStatus::Charge, "100 + 200 is the limit exactly");
    assert_eq!(read_ahead(&store), (1, 0));
    assert_eq!(terminal_total(&store).await, 300);
    let over = store.record_transfer(limited_transfer("400012", "tok-l3", 1, 300), &no_callback).await.unwrap();
    assert_eq!((over.status, over.reason_code), (TxStatus::Reject, 529));
    assert_eq!(read_ahead(&store), (1, 0), "a decline is decided the locked way");
    assert_eq!(terminal_total(&store).await, 300);
    assert_eq!(available(&store).await, 700);
}

/// The terminal's total grown by a transfer the read could not see: the transfer no longer fits,
/// the write connection's check stops it, and the locked way declines it (529).
#[tokio::test]
async fn a_terminal_total_grown_after_the_read_is_checked_on_the_write_connection() {
    let store = store().await;
    with_receiver(&store).await;
    store.record_transfer(limited_transfer("400020", "tok-g1", 100, 300), &no_callback).await.unwrap();
    let grow = "UPDATE transfer_daily_totals SET total_minor = total_minor + 150 WHERE subject = 'terminal:t1'";
    let sending = {
        let store = store.clone();
        // 100 + 150 fits in 300 as read; 250 + 150 does not.
        async move { store.record_transfer(limited_transfer("400021", "tok-g2", 150, 300), &no_callback).await }
    };
    let sent = behind_a_change(&store, Some(grow), sending).await.unwrap();
    assert_eq!((sent.status, sent.reason_code), (TxStatus::Reject, 529));
    assert_eq!(read_ahead(&store), (0, 1), "the read was out of date, and decided again");
    assert_eq!(terminal_total(&store).await, 250, "nothing of the out-of-date unit stayed");
    assert_eq!(available(&store).await, 900);
}

/// Five limited transfers read at once, each fitting the total as read (100 of 300): written in
/// turn on the write connection, two fit and three are stopped by the check and declined (529).
#[tokio::test]
async fn limited_transfers_read_together_never_pass_the_limit() {
    let store = store().await;
    with_receiver(&store).await;
    store.record_transfer(limited_transfer("400030", "tok-b0", 100, 300), &no_callback).await.unwrap();
    let sending = {
        let store = store.clone();
        async move {
            let mut sending = tokio::task::JoinSet::new();
            for i in 1..=5 {
                let store = store.clone();
                sending.spawn(async move {
                    let write = limited_transfer(&format!("40003{i}"), &format!("tok-b{i}"), 100, 300);
                    store.record_transfer(write, &no_callback).await
                });
            }
            sending.join_all().await
        }
    };
    let mut charged = 0;
    for sent in behind_a_change(&store, None, sending).await {
        let sent = sent.unwrap();
        match (sent.status, sent.reason_code) {
            (TxStatus::Charge, _) => charged += 1,
            (TxStatus::Reject, 529) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(charged, 2, "100 + 2 × 100 is the limit");
    assert_eq!(read_ahead(&store), (2, 3), "three reads were out of date");
    assert_eq!(terminal_total(&store).await, 300);
    assert_eq!(available(&store).await, 700);
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}
