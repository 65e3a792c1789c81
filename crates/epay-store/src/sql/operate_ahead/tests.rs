//! Charges, cancels and refunds decided ahead: written in one round trip when the payment is
//! still as read (SQLite: by the writer's committer; PostgreSQL: one statement that is its own
//! transaction), decided again the locked way when it is not (another operation moved it in a
//! unit the read could not see), never charged twice or over-refunded. Most tests run on both
//! databases (`EPAY_TEST_BACKENDS` narrows them); those of a converted payment and of a hold
//! from before shards, on SQLite (on PostgreSQL a conversion account is opened the locked way).

use std::sync::Arc;

use epay_domain::{AccountKind, Currency, PaymentKind, TxStatus};

use super::super::test_store::{behind_a_change, no_callback, on_both, pg_store, until_a_lock_wait, wanted};
use super::super::{Backend, SqlStore};
use crate::model::*;
use crate::ports::*;
use crate::StoreError;

const CARD: &str = "card:operate-ahead";

/// What [`CARD`] was funded with (credited).
const FUNDED: i64 = 1_000_000;

async fn store() -> Arc<SqlStore<sqlx::Sqlite>> {
    let store = super::super::test_store::sqlite_file_store("operate-ahead").await;
    store.ensure_accounts(&[(CARD.into(), AccountKind::Card, Currency::Kzt, FUNDED)], 1).await.unwrap();
    Arc::new(store)
}

/// A store on each database with [`CARD`] funded and the terminal's merchant account in KZT open
/// (on PostgreSQL a terminal's first payment in a currency opens it the locked way).
async fn funded<DB: Backend>(store: SqlStore<DB>) -> Arc<SqlStore<DB>> {
    let card = (CARD.to_string(), AccountKind::Card, Currency::Kzt, FUNDED);
    let merchant = (merchant_account("t1", "KZT"), AccountKind::Merchant, Currency::Kzt, 0);
    store.ensure_accounts(&[card, merchant], 1).await.unwrap();
    Arc::new(store)
}

on_both!(
    "operate-ahead", funded;
    a_charge_and_refunds_are_written_in_one_trip,
    a_cancel_is_written_in_one_trip,
    a_payment_moved_after_the_read_is_decided_again,
    a_twin_refund_in_the_batch_is_replayed_not_repeated,
    a_known_external_id_goes_the_locked_way,
    refusals_are_answered_as_before,
    refunds_at_once_never_refund_more_than_was_charged,
    charges_at_once_charge_once,
    a_charge_behind_a_cancel_is_refused_as_before,
    an_operation_decided_ahead_writes_its_callback,
    the_sweep_and_charges_at_once_settle_each_hold_once,
);

/// The expiry sweep and charges of the same authorizations at once, on one card: each hold is
/// settled once, charged or expired, whichever locked it first; no charge fails but by finding
/// the payment expired, and nothing deadlocks (PostgreSQL would fail one side of a cycle).
async fn the_sweep_and_charges_at_once_settle_each_hold_once<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(hold(&store, &format!("5009{i:02}"), 1_000).await);
    }
    let mut charging = tokio::task::JoinSet::new();
    for id in ids.clone() {
        let store = store.clone();
        charging.spawn(async move { operate(&store, charge(&id)).await });
    }
    let sweeping = {
        let store = store.clone();
        tokio::spawn(async move { store.expire_authorizations(4_000_000_000_000, 100, &no_callback).await })
    };
    let expired = sweeping.await.unwrap().unwrap();
    let mut charged = 0;
    for outcome in charging.join_all().await {
        match outcome {
            Ok(outcome) => {
                assert_eq!(outcome.payment.status, TxStatus::Charge);
                charged += 1;
            }
            Err(StoreError::Refused(Refusal::WrongStatus { status: TxStatus::CancelOld })) => {}
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    // What the sweep skipped while a charge held it (PostgreSQL) is left for the next sweep.
    let later = store.expire_authorizations(4_000_000_000_000, 100, &no_callback).await.unwrap();
    assert_eq!(charged + expired.len() + later.len(), 10, "each hold settled once");
    for id in &ids {
        let stored = store.payment("m1", id).await.unwrap().unwrap();
        assert!(matches!(stored.status, TxStatus::Charge | TxStatus::CancelOld), "{:?}", stored.status);
    }
    let card = store.ledger_account(CARD).await.unwrap().unwrap();
    assert_eq!((card.debits_pending, card.debits_posted), (0, 1_000 * charged as i64), "no hold left");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// Holds `amount` KZT on [`CARD`] for `invoice` (a two-step payment's authorization): its id.
async fn hold<DB: Backend>(store: &SqlStore<DB>, invoice: &str, amount: i64) -> String {
    hold_on(store, invoice, amount, CARD, "KZT", epay_domain::FxRate::ONE).await
}

/// Holds `amount` in `currency` on tenge card `card` at `rate` (the card's tenge per unit of
/// `currency`) for `invoice`: its id.
async fn hold_on<DB: Backend>(
    store: &SqlStore<DB>,
    invoice: &str,
    amount: i64,
    card: &str,
    currency: &str,
    rate: epay_domain::FxRate,
) -> String {
    let payment = Payment {
        id: format!("pay-{invoice}"),
        merchant_id: "m1".into(),
        terminal_id: "t1".into(),
        invoice_id: invoice.into(),
        kind: PaymentKind::Payment,
        status: TxStatus::Auth,
        amount_minor: amount,
        currency: currency.into(),
        card_currency: "KZT".into(),
        card_amount_minor: rate.convert(amount),
        fx_rate_micros: if currency == "KZT" { 0 } else { rate.micros() },
        approval_code: "123456".into(),
        card_account: Some(card.into()),
        created_at: 10,
        updated_at: 10,
        ..Default::default()
    };
    let write = PaymentWrite {
        token_digest: format!("tok-{invoice}"),
        token_expires_at: 1_000_000,
        token_spend: TokenSpend::Always,
        payment,
        effect: PaymentEffect::Debit {
            card_account: card.into(),
            merchant_account: merchant_account("t1", currency),
            kind: DebitKind::Pending,
        },
        save_card: None,
        three_ds: None,
        idempotency: None,
        subscription: None,
    };
    store.record_payment(write, &no_callback).await.unwrap().payment.id
}

fn request(payment_id: &str, operation: Operation) -> OperationRequest {
    OperationRequest {
        merchant_id: "m1".into(),
        terminal_id: None,
        invoice_bound: None,
        payment_id: payment_id.into(),
        operation,
        now_ms: 20,
        idempotency: None,
    }
}

fn charge(payment_id: &str) -> OperationRequest {
    request(payment_id, Operation::Charge { amount_minor: None })
}

fn refund(payment_id: &str, amount: i64, external_id: Option<&str>) -> OperationRequest {
    request(payment_id, Operation::Refund { amount_minor: Some(amount), external_id: external_id.map(Into::into) })
}

/// An operation's callback builder that sends none.
fn no_operation_callback(_: &Payment, _: i64) -> Option<NewCallback> {
    None
}

async fn operate<DB: Backend>(store: &SqlStore<DB>, req: OperationRequest) -> Result<OperationOutcome, StoreError> {
    store.operate(req, &no_operation_callback).await
}

/// Decided ahead and written, and decided ahead but found out of date.
fn read_ahead<DB: Backend>(store: &SqlStore<DB>) -> (u64, u64) {
    let stats = store.read_ahead_stats();
    (stats.written, stats.out_of_date)
}

async fn available<DB: Backend>(store: &SqlStore<DB>) -> i64 {
    let card = store.ledger_account(CARD).await.unwrap().unwrap();
    card.credits_posted - card.debits_posted - card.debits_pending
}

async fn a_charge_and_refunds_are_written_in_one_trip<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let id = hold(&store, "500001", 50_000).await;
    assert_eq!(read_ahead(&store), (1, 0), "the hold");

    let charged = operate(&store, charge(&id)).await.unwrap();
    assert_eq!((charged.payment.status, charged.payment.charged_minor), (TxStatus::Charge, 50_000));
    assert_eq!(read_ahead(&store), (2, 0), "the charge was decided ahead");
    let card = store.ledger_account(CARD).await.unwrap().unwrap();
    assert_eq!((card.debits_pending, card.debits_posted), (0, 50_000), "the hold was posted");

    let refunded = operate(&store, refund(&id, 20_000, Some("r-1"))).await.unwrap();
    assert_eq!((refunded.payment.status, refunded.payment.refunded_minor), (TxStatus::Charge, 20_000));
    assert!(!refunded.replayed);
    let all = operate(&store, refund(&id, 30_000, None)).await.unwrap();
    assert_eq!((all.payment.status, all.payment.refunded_minor), (TxStatus::Refund, 50_000));
    assert_eq!(read_ahead(&store), (4, 0), "both refunds were decided ahead");

    // What each answered is what is stored, and the money went where the ledger says.
    let stored = store.payment("m1", &id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.charged_minor, stored.refunded_minor), (TxStatus::Refund, 50_000, 50_000));
    let refunds = store.refunds_of(&id).await.unwrap();
    let amounts: Vec<(Option<String>, i64)> = refunds.into_iter().map(|(_, ext, amount)| (ext, amount)).collect();
    assert_eq!(amounts, vec![(Some("r-1".into()), 20_000), (None, 30_000)]);
    assert_eq!(available(&store).await, FUNDED, "the whole payment came back to the card");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

async fn a_cancel_is_written_in_one_trip<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let id = hold(&store, "500002", 40_000).await;
    assert_eq!(available(&store).await, 960_000);
    let cancelled = operate(&store, request(&id, Operation::Cancel)).await.unwrap();
    assert_eq!(cancelled.payment.status, TxStatus::Cancel);
    assert_eq!(read_ahead(&store), (2, 0));
    assert_eq!(available(&store).await, FUNDED, "the hold was released");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// Another refund, made in a unit the read could not see, leaves less to refund than the read
/// said: the compare-and-set finds the payment moved, nothing of the unit stays, and the locked
/// way refuses the refund with what is really left.
async fn a_payment_moved_after_the_read_is_decided_again<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let id = hold(&store, "500003", 50_000).await;
    operate(&store, charge(&id)).await.unwrap();
    let before = read_ahead(&store);
    let refunding = {
        let store = store.clone();
        let id = id.clone();
        async move { operate(&store, refund(&id, 20_000, None)).await }
    };
    let moved = format!("UPDATE payments SET refunded_minor = 40000 WHERE id = '{id}'");
    let refused = behind_a_change(&store, Some(&moved), refunding).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::Refused(Refusal::OverAmount { left_minor: 10_000 })),
        "refused with what is left: {refused:?}"
    );
    assert_eq!(read_ahead(&store), (before.0, before.1 + 1), "the read was out of date, and decided again");
    assert!(store.refunds_of(&id).await.unwrap().is_empty(), "nothing of the out-of-date unit stayed");
    let card = store.ledger_account(CARD).await.unwrap().unwrap();
    assert_eq!(card.credits_posted, FUNDED, "no refund reached the card");
}

/// A refund with the same externalID still in the batch when this one read: the lookup could
/// not see it, the compare-and-set finds the payment moved, and the locked way replays it.
async fn a_twin_refund_in_the_batch_is_replayed_not_repeated<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let id = hold(&store, "500004", 50_000).await;
    operate(&store, charge(&id)).await.unwrap();
    let refunding = {
        let store = store.clone();
        let id = id.clone();
        async move { operate(&store, refund(&id, 20_000, Some("twin"))).await }
    };
    // The twin as the locked way would have written it (the ledger's side is not needed here).
    let twin = format!(
        "UPDATE payments SET refunded_minor = 20000 WHERE id = '{id}';
         INSERT INTO refunds (id, payment_id, external_id, amount_minor, created_at)
         VALUES ('{id}:refund:0', '{id}', 'twin', 20000, 15)"
    );
    let before = read_ahead(&store);
    let replayed = behind_a_change(&store, Some(&twin), refunding).await.unwrap();
    assert!(replayed.replayed, "the same refund again is a replay");
    assert_eq!(read_ahead(&store), (before.0, before.1 + 1), "decided ahead, found out of date");
    assert_eq!(replayed.payment.refunded_minor, 20_000, "answered with the payment as it is");
    assert_eq!(store.refunds_of(&id).await.unwrap().len(), 1, "one refund row");
}

/// A replay found on the read is answered the locked way, with the payment as the write
/// connection has it; a reused externalID with another amount is refused there.
async fn a_known_external_id_goes_the_locked_way<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let id = hold(&store, "500005", 50_000).await;
    operate(&store, charge(&id)).await.unwrap();
    operate(&store, refund(&id, 10_000, Some("ext"))).await.unwrap();
    let before = read_ahead(&store);
    let again = operate(&store, refund(&id, 10_000, Some("ext"))).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.payment.refunded_minor, 10_000);
    let reused = operate(&store, refund(&id, 12_000, Some("ext"))).await.unwrap_err();
    assert!(matches!(reused, StoreError::Refused(Refusal::ExternalIdReused { .. })), "{reused:?}");
    assert_eq!(read_ahead(&store), before, "neither was decided ahead");
    assert_eq!(store.refunds_of(&id).await.unwrap().len(), 1);
}

/// Refusals are the locked way's to answer, in its order; nothing is written.
async fn refusals_are_answered_as_before<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let id = hold(&store, "500006", 50_000).await;
    let before = read_ahead(&store);
    let not_charged = operate(&store, refund(&id, 10_000, None)).await.unwrap_err();
    assert!(matches!(not_charged, StoreError::Refused(Refusal::WrongStatus { status: TxStatus::Auth })));
    let missing = operate(&store, charge("no-such-payment")).await.unwrap_err();
    assert!(matches!(missing, StoreError::Refused(Refusal::NotFound)));
    let mut elsewhere = charge(&id);
    elsewhere.merchant_id = "m2".into();
    let other_merchant = operate(&store, elsewhere).await.unwrap_err();
    assert!(matches!(other_merchant, StoreError::Refused(Refusal::NotFound)), "another merchant's payment");
    let mut other_terminal = charge(&id);
    other_terminal.terminal_id = Some("t2".into());
    let refused = operate(&store, other_terminal).await.unwrap_err();
    assert!(matches!(refused, StoreError::Refused(Refusal::NotFound)), "another terminal's token");
    let over = operate(&store, request(&id, Operation::Charge { amount_minor: Some(60_000) })).await.unwrap_err();
    assert!(matches!(over, StoreError::Refused(Refusal::OverAmount { .. })), "{over:?}");
    assert_eq!(read_ahead(&store), before, "none was decided ahead");
    let stored = store.payment("m1", &id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.charged_minor), (TxStatus::Auth, 0), "nothing was written");
}

/// Many refunds of one payment at once, each read before the others committed: every one the
/// payment still covers is written once, the rest are refused, and the card gets back exactly
/// what was refunded.
async fn refunds_at_once_never_refund_more_than_was_charged<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let id = hold(&store, "500007", 50_000).await;
    operate(&store, charge(&id)).await.unwrap();
    let before = read_ahead(&store);
    let refunds: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            let id = id.clone();
            tokio::spawn(async move { operate(&store, refund(&id, 15_000, None)).await })
        })
        .collect();
    let mut done = 0;
    for refund in refunds {
        match refund.await.unwrap() {
            Ok(outcome) => {
                assert!(!outcome.replayed);
                done += 1;
            }
            Err(StoreError::Refused(Refusal::OverAmount { .. } | Refusal::BelowMinimumRefund { .. })) => {}
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(done, 3, "50,000 covers three refunds of 15,000");
    let (written, out_of_date) = read_ahead(&store);
    assert!(written - before.0 <= 3, "no more written ahead than were refunded");
    assert!(written + out_of_date > before.0 + before.1, "decided ahead, at least one of them");
    let stored = store.payment("m1", &id).await.unwrap().unwrap();
    assert_eq!(stored.refunded_minor, 45_000);
    assert_eq!(store.refunds_of(&id).await.unwrap().len(), 3);
    let card = store.ledger_account(CARD).await.unwrap().unwrap();
    assert_eq!(card.credits_posted - FUNDED, 45_000, "the card got back what was refunded");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// Charges of one authorization at once: one charges it, the others find it charged.
async fn charges_at_once_charge_once<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let id = hold(&store, "500008", 50_000).await;
    let before = read_ahead(&store);
    let charges: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let id = id.clone();
            tokio::spawn(async move { operate(&store, charge(&id)).await })
        })
        .collect();
    let mut charged = 0;
    for charge in charges {
        match charge.await.unwrap() {
            Ok(outcome) => {
                assert_eq!(outcome.payment.status, TxStatus::Charge);
                charged += 1;
            }
            Err(StoreError::Refused(Refusal::WrongStatus { status: TxStatus::Charge })) => {}
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(charged, 1);
    let (written, out_of_date) = read_ahead(&store);
    assert!(written - before.0 <= 1, "no more written ahead than were charged");
    assert!(written + out_of_date > before.0 + before.1, "decided ahead, at least one of them");
    let card = store.ledger_account(CARD).await.unwrap().unwrap();
    assert_eq!((card.debits_pending, card.debits_posted), (0, 50_000), "posted once");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}

/// A cancel committed in a unit the read could not see: the charge decided on the authorization
/// as read finds the status moved (only the status: the amounts are as read), and the locked way
/// refuses it. Only the compare-and-set's status holds this: a charge's ledger transfer is new.
async fn a_charge_behind_a_cancel_is_refused_as_before<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let id = hold(&store, "500009", 50_000).await;
    let before = read_ahead(&store);
    let charging = {
        let store = store.clone();
        let id = id.clone();
        async move { operate(&store, charge(&id)).await }
    };
    let cancelled = format!("UPDATE payments SET status = 'CANCEL' WHERE id = '{id}'");
    let refused = behind_a_change(&store, Some(&cancelled), charging).await.unwrap_err();
    assert!(matches!(refused, StoreError::Refused(Refusal::WrongStatus { status: TxStatus::Cancel })), "{refused:?}");
    assert_eq!(read_ahead(&store), (before.0, before.1 + 1), "decided ahead, found out of date");
    let card = store.ledger_account(CARD).await.unwrap().unwrap();
    assert_eq!((card.debits_pending, card.debits_posted), (50_000, 0), "nothing was charged");
}

/// A payment in dollars from a tenge card: its charge and refund are booked ahead through the
/// conversion accounts, each currency balancing alone.
#[tokio::test]
async fn a_converted_payment_is_charged_and_refunded_ahead() {
    let store = store().await;
    let tenge_card = "card:operate-ahead-fx";
    store.ensure_accounts(&[(tenge_card.into(), AccountKind::Card, Currency::Kzt, 10_000_000)], 1).await.unwrap();
    let usd = epay_domain::FxRate::from_micros(500_000_000);
    let id = hold_on(&store, "500010", 4_000, tenge_card, "USD", usd).await;
    let before = read_ahead(&store);
    operate(&store, charge(&id)).await.unwrap();
    let refunded = operate(&store, refund(&id, 1_500, None)).await.unwrap();
    assert_eq!(refunded.payment.refunded_minor, 1_500);
    assert_eq!(read_ahead(&store), (before.0 + 2, before.1), "both decided ahead");
    let card = store.ledger_account(tenge_card).await.unwrap().unwrap();
    let available = card.credits_posted - card.debits_posted - card.debits_pending;
    assert_eq!(available, 10_000_000 - 2_000_000 + 750_000, "40 USD taken at 500, 15 USD given back");
    let merchant = store.ledger_account(&merchant_account("t1", "USD")).await.unwrap().unwrap();
    assert_eq!(
        (merchant.currency.as_str(), merchant.credits_posted, merchant.debits_posted),
        ("USD", 4_000, 1_500),
        "the merchant's dollars"
    );
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances, per currency");
}

/// The operation's callback is written in the same unit as the operation; a terminal-bound
/// caller of the payment's own terminal takes the path too.
async fn an_operation_decided_ahead_writes_its_callback<DB: Backend>(store: Arc<SqlStore<DB>>) {
    let id = hold(&store, "500011", 50_000).await;
    let before = read_ahead(&store);
    let announce = |p: &Payment, amount: i64| {
        Some(NewCallback {
            id: format!("cb-{}-{}", p.id, p.status),
            merchant_id: p.merchant_id.clone(),
            payment_id: p.id.clone(),
            kind: epay_domain::CallbackKind::PaymentCharge,
            url: "http://127.0.0.1:9/charged".into(),
            payload: epay_domain::Secret::from(format!("{{\"amount\":{amount}}}")),
        })
    };
    let mut own_terminal = charge(&id);
    own_terminal.terminal_id = Some("t1".into());
    store.operate(own_terminal, &announce).await.unwrap();
    assert_eq!(read_ahead(&store), (before.0 + 1, before.1), "decided ahead");
    let callbacks = store.callbacks_of("m1", &id).await.unwrap();
    let kinds: Vec<_> = callbacks.iter().map(|(event, _)| event.kind).collect();
    assert_eq!(kinds, vec![epay_domain::CallbackKind::PaymentCharge], "one callback, written with the charge");
    assert_eq!(callbacks[0].0.payload.expose(), "{\"amount\":50000}");
}

/// A hold booked before balance shards (migration 0019 left it on shard 0, not on its payment's
/// shard): the charge decided ahead reads where the hold is and posts it there, so no shard's
/// pending sums go wrong.
#[tokio::test]
async fn a_hold_from_before_shards_is_charged_on_its_own_shard() {
    let store = store().await;
    let invoice = (500_100..)
        .map(|n| n.to_string())
        .find(|invoice| super::super::booking::shard_of(&format!("pay-{invoice}")) != 0)
        .expect("a payment id off shard 0");
    let id = hold(&store, &invoice, 50_000).await;
    let merchant = merchant_account("t1", "KZT");
    let own = super::super::booking::shard_of(&id);
    // Where 0019 left an old hold: its transfer and its pending credit on shard 0.
    for moved in [
        format!("UPDATE ledger_transfers SET shard = 0 WHERE payment_id = '{id}'"),
        format!(
            "UPDATE ledger_account_shards SET credits_pending = credits_pending - 50000
             WHERE account_id = '{merchant}' AND shard = {own}"
        ),
        format!(
            "INSERT INTO ledger_account_shards (account_id, shard, debits_pending, debits_posted, credits_pending,
                 credits_posted)
             VALUES ('{merchant}', 0, 0, 0, 50000, 0)
             ON CONFLICT (account_id, shard) DO UPDATE SET credits_pending = credits_pending + 50000"
        ),
    ] {
        let mut unit = store.begin_unit().await.unwrap();
        sqlx::query(&moved).execute(&mut *unit).await.unwrap();
        unit.commit().await.unwrap();
    }
    assert!(store.check_ledger().await.unwrap().is_empty(), "the moved hold balances");
    let before = read_ahead(&store);
    operate(&store, request(&id, Operation::Charge { amount_minor: Some(30_000) })).await.unwrap();
    assert_eq!(read_ahead(&store), (before.0 + 1, before.1), "decided ahead");
    let violations = store.check_ledger().await.unwrap();
    assert!(violations.is_empty(), "a charge on another shard than its hold's is one: {violations:?}");
    // And where its transfers and the pending sums are.
    let shards: Vec<(String, i32)> =
        sqlx::query_as("SELECT id, shard FROM ledger_transfers WHERE payment_id = $1 ORDER BY id")
            .bind(&id)
            .fetch_all(&store.reads)
            .await
            .unwrap();
    assert!(shards.len() > 1 && shards.iter().all(|(_, shard)| *shard == 0), "all on the hold's shard: {shards:?}");
    let pending: Vec<(i32, i64)> =
        sqlx::query_as("SELECT shard, credits_pending FROM ledger_account_shards WHERE account_id = $1 ORDER BY shard")
            .bind(&merchant)
            .fetch_all(&store.reads)
            .await
            .unwrap();
    assert!(pending.iter().all(|(_, credits)| *credits == 0), "no pending left, none below zero: {pending:?}");
}

/// PostgreSQL: the sweep expires each authorization in a transaction of its own, so it never
/// holds one payment's merchant shard while it waits for another payment's card. A transaction
/// holding the second card and then wanting the first payment's shard (as a payment from that
/// card on that shard does) met the sweep in a deadlock when the sweep took a batch in one.
#[tokio::test]
async fn postgres_the_sweep_never_holds_a_shard_while_it_waits_for_a_card() {
    if !wanted("postgres") {
        return;
    }
    let store = funded(pg_store("operate_ahead").await).await;
    let other_card = "card:operate-ahead-2";
    store.ensure_accounts(&[(other_card.into(), AccountKind::Card, Currency::Kzt, FUNDED)], 1).await.unwrap();
    let first = hold(&store, "500950", 1_000).await;
    let second = hold_on(&store, "500951", 1_000, other_card, "KZT", epay_domain::FxRate::ONE).await;
    let mut tx = store.begin_unit().await.unwrap();
    let later = format!("UPDATE payments SET created_at = 11 WHERE id = '{second}'");
    sqlx::query::<sqlx::Postgres>(&later).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();

    // Holds the second card's row, as a payment from it would.
    let mut holder = store.begin_unit().await.unwrap();
    let card_row = format!("UPDATE ledger_accounts SET credits_posted = credits_posted WHERE id = '{other_card}'");
    sqlx::query::<sqlx::Postgres>(&card_row).execute(&mut *holder).await.unwrap();
    let sweeping = {
        let store = store.clone();
        tokio::spawn(async move { store.expire_authorizations(4_000_000_000_000, 100, &no_callback).await })
    };
    // The sweep waits for the second card (the first payment, before it, is expired by then).
    until_a_lock_wait(&store).await;
    // Then wants the first payment's merchant shard, as a payment from the second card on that
    // shard would.
    let shard = super::super::booking::shard_of(&first);
    let shard_row = format!(
        "UPDATE ledger_account_shards SET credits_posted = credits_posted
         WHERE account_id = '{}' AND shard = {shard}",
        merchant_account("t1", "KZT")
    );
    sqlx::query::<sqlx::Postgres>(&shard_row).execute(&mut *holder).await.expect("no deadlock");
    holder.commit().await.unwrap();
    let expired = sweeping.await.unwrap().expect("the sweep ends well");
    assert_eq!(expired.len(), 2, "both expired");
    assert!(store.check_ledger().await.unwrap().is_empty(), "the ledger balances");
}
