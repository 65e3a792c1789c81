//! Balance shards (migration 0019): a terminal's merchant account keeps its sums in several rows,
//! so concurrent payments of one terminal do not queue on one row, and `epay ledger check` still
//! accounts for every tiyn: per shard, per account, per currency.

mod common;

use common::*;

fn merchant() -> String {
    format!("merchant:{TERMINAL}:KZT")
}

/// The merchant account's four sums as the store reads them (own row plus shards).
async fn merchant_sums(gw: &Gateway) -> [i64; 4] {
    let a = gw.store().await.ledger_account(&merchant()).await.unwrap().expect("merchant account");
    [a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted]
}

#[tokio::test]
async fn concurrent_payments_of_one_terminal_book_exactly_on_several_shards() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        const PAYMENTS: i64 = 24;
        // Two cards, so the card rows (which stay single, locked rows) are not the only queue.
        let pay = |i: i64| {
            let gw = &gw;
            async move {
                let invoice = invoice();
                let amount = major(&format!("{}", 10 + i));
                let card = if i % 2 == 0 { VISA } else { MASTERCARD };
                let token = gw.payment_token(&invoice, amount).await;
                let request = gw.payment_request(&invoice, amount, card).await;
                let paid = gw.client.cryptopay(&token, &request).await.unwrap();
                assert_eq!(paid.status, "AUTH", "{backend:?}: payment {i}");
                (10 + i) * 100
            }
        };
        let held: i64 = futures::future::join_all((0..PAYMENTS).map(pay)).await.into_iter().sum();
        gw.assert_ledger_sound();
        assert_eq!(merchant_sums(&gw).await, [0, 0, held, 0], "{backend:?}");
        // Sharded: the merchant's own row holds nothing, its shards hold everything.
        let own = gw.count_rows(&format!("ledger_accounts WHERE id = '{}' AND credits_pending = 0", merchant())).await;
        assert_eq!(own, 1, "{backend:?}");
        let shards = gw.count_rows(&format!("ledger_account_shards WHERE account_id = '{}'", merchant())).await;
        assert!(shards > 1, "{backend:?}: {PAYMENTS} payments used {shards} shard(s)");
    }
}

#[tokio::test]
async fn ledger_check_finds_a_drifted_shard() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        for _ in 0..6 {
            gw.authorized_payment(major("100")).await;
        }
        gw.assert_ledger_sound();
        // Move one tiyn between two shards: the account's total still matches its transfers.
        let merchant = merchant();
        let shards = format!("SELECT shard FROM ledger_account_shards WHERE account_id = '{merchant}'");
        gw.execute_sql(&format!(
            "UPDATE ledger_account_shards SET credits_pending = credits_pending + 1
             WHERE account_id = '{merchant}' AND shard = ({shards} ORDER BY shard LIMIT 1)"
        ))
        .await;
        gw.execute_sql(&format!(
            "UPDATE ledger_account_shards SET credits_pending = credits_pending - 1
             WHERE account_id = '{merchant}' AND shard = ({shards} ORDER BY shard DESC LIMIT 1)"
        ))
        .await;
        assert_eq!(merchant_sums(&gw).await, [0, 0, 60_000, 0], "{backend:?}: the total did not change");
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(!ok, "{backend:?}: drift not detected: {out}");
        assert_eq!(out.matches(&format!("VIOLATION account {merchant} shard")).count(), 2, "{backend:?}: {out}");
    }
}

/// Undoes migration 0019 by hand, as a database migrated by the gateway before it would be:
/// every shard's sums back on its account's own row, no shard table, no `shard` column.
async fn undo_0019(gw: &Gateway) {
    let back = |column: &str| {
        format!(
            "{column} = {column} + COALESCE((SELECT SUM(s.{column}) FROM ledger_account_shards s
                 WHERE s.account_id = ledger_accounts.id), 0)"
        )
    };
    let columns = ["debits_pending", "debits_posted", "credits_pending", "credits_posted"].map(back).join(", ");
    gw.execute_sql(&format!("UPDATE ledger_accounts SET {columns}")).await;
    gw.execute_sql("DROP TABLE ledger_account_shards").await;
    gw.execute_sql("ALTER TABLE ledger_transfers DROP COLUMN shard").await;
    gw.execute_sql("DELETE FROM _sqlx_migrations WHERE version = 19").await;
}

#[tokio::test]
async fn a_populated_database_from_before_shards_migrates_and_keeps_its_balances() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        let mut held = Vec::new();
        for _ in 0..6 {
            held.push(gw.authorized_payment(major("100")).await);
        }
        // Charged and refunded in part before the migration.
        let (status, _) = gw.operation(&token, &held[0], "charge", "", None).await;
        assert_eq!(status, 200);
        let (status, body) = gw.operation(&token, &held[0], "refund", "?amount=30", None).await;
        assert_eq!(status, 200, "{body}");
        let before = merchant_sums(&gw).await;
        assert_eq!(before, [0, 3_000, 50_000, 10_000], "{backend:?}");

        undo_0019(&gw).await;
        let own =
            gw.count_rows(&format!("ledger_accounts WHERE id = '{}' AND credits_pending = 50000", merchant())).await;
        assert_eq!(own, 1, "{backend:?}: the pre-0019 merchant row holds the sums");
        let (ok, out) = gw.run_cli(&["migrate"]);
        assert!(ok, "{backend:?}: {out}");
        gw.assert_ledger_sound();
        assert_eq!(merchant_sums(&gw).await, before, "{backend:?}: the migration kept the balances");

        // A hold from before the migration (on shard 0 now) is charged and another cancelled
        // after it: each resolves on its hold's shard, and the ledger still checks.
        let (status, _) = gw.operation(&token, &held[1], "charge", "?amount=40", Some(r#"{"amount":40}"#)).await;
        assert_eq!(status, 200);
        let (status, _) = gw.operation(&token, &held[2], "cancel", "", None).await;
        assert_eq!(status, 200);
        let new = gw.authorized_payment(major("100")).await;
        let (status, _) = gw.operation(&token, &new, "charge", "", None).await;
        assert_eq!(status, 200);
        gw.assert_ledger_sound();
        assert_eq!(merchant_sums(&gw).await, [0, 3_000, 30_000, 24_000], "{backend:?}");
        let negative = gw
            .count_rows(
                "ledger_account_shards WHERE debits_pending < 0 OR debits_posted < 0 OR credits_pending < 0
                 OR credits_posted < 0",
            )
            .await;
        assert_eq!(negative, 0, "{backend:?}: a shard went below zero");
    }
}
