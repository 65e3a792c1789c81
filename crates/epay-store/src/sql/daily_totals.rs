//! Running daily totals of transfers (table `transfer_daily_totals`), what a terminal's and a
//! receiving card's daily transfer limits are checked against inside a transfer's transaction.
//!
//! A total is one row read (and locked) instead of a sum over the day's transfers, which grew
//! with every transfer and was taken while the transfer held its locks. The first limited
//! transfer of a day creates its subject's row from that sum, once; every approved transfer
//! then adds to the rows that exist. Transfers are never charged, cancelled or refunded
//! (docs/compatibility.md), so a total only grows.

use epay_domain::{LedgerTransferKind, PaymentKind, TransferKind, TxStatus};
use sqlx::Row;

use super::booking::BookedLeg;
use super::pipeline::Step;
use super::{Backend, SqlStore};
use crate::model::*;
use crate::StoreResult;

/// Whose transfers a daily total counts.
#[derive(Debug, Clone, Copy)]
pub(super) enum DailySubject<'a> {
    /// A terminal's approved transfers, by their amount in the transfer's currency.
    Terminal(&'a str),
    /// What transfers credited to a receiving ledger account, in the account's currency.
    Receiver(&'a str),
}

impl DailySubject<'_> {
    /// The subject's key in `transfer_daily_totals.subject`.
    pub(super) fn key(&self) -> String {
        match self {
            DailySubject::Terminal(id) => format!("terminal:{id}"),
            DailySubject::Receiver(account) => account.to_string(),
        }
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// The total of `subject`'s transfers in `currency` on the day starting at `day_start_ms`,
    /// its row locked until commit on PostgreSQL (SQLite's writer holds the whole database), so
    /// the limit check and the booking that follows see a total no concurrent transfer changes.
    /// The day's first limited transfer creates the row from the sum of the day's transfers.
    pub(super) async fn daily_total(
        tx: &mut super::Unit<DB>,
        subject: DailySubject<'_>,
        currency: &str,
        day_start_ms: i64,
    ) -> Result<i64, sqlx::Error> {
        let key = subject.key();
        if let Some(total) = Self::locked_total(tx, &key, currency, day_start_ms).await? {
            return Ok(total);
        }
        let sum = Self::day_sum(tx, subject, currency, day_start_ms).await?;
        // Two first transfers of a day on PostgreSQL: the second's insert waits for the first
        // to commit and then does nothing, and its read below locks and returns the first's
        // row, which includes the first's own transfer.
        sqlx::query(
            "INSERT INTO transfer_daily_totals (subject, currency, day_start_ms, total_minor)
             VALUES ($1, $2, $3, $4) ON CONFLICT (subject, currency, day_start_ms) DO NOTHING",
        )
        .bind(&key)
        .bind(currency)
        .bind(day_start_ms)
        .bind(sum)
        .execute(&mut **tx)
        .await?;
        Self::locked_total(tx, &key, currency, day_start_ms).await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// The row's total, locked until commit on PostgreSQL; `None` when the row does not exist.
    async fn locked_total(
        tx: &mut super::Unit<DB>,
        key: &str,
        currency: &str,
        day_start_ms: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let read = format!(
            "SELECT total_minor FROM transfer_daily_totals
             WHERE subject = $1 AND currency = $2 AND day_start_ms = $3 {}",
            DB::FOR_UPDATE
        );
        let row = sqlx::query(&read).bind(key).bind(currency).bind(day_start_ms).fetch_optional(&mut **tx).await?;
        row.map(|r| r.try_get("total_minor")).transpose()
    }

    /// Locks `subject`'s row of the day if it has one, without creating it: for a transfer that
    /// checks no limit but will add to a row a limited transfer may hold. Taken where the
    /// limited transfer takes it (after the accounts), so the two cannot wait for each other
    /// in opposite orders on PostgreSQL. SQLite's one writer needs no lock.
    pub(super) async fn lock_daily_total(
        tx: &mut super::Unit<DB>,
        subject: DailySubject<'_>,
        currency: &str,
        day_start_ms: i64,
    ) -> Result<(), sqlx::Error> {
        if DB::FOR_UPDATE.is_empty() {
            return Ok(());
        }
        Self::locked_total(tx, &subject.key(), currency, day_start_ms).await?;
        Ok(())
    }

    /// The day's total summed from the transfers themselves: what the limit checks counted
    /// before there were totals, and how a day's first total starts.
    async fn day_sum(
        tx: &mut super::Unit<DB>,
        subject: DailySubject<'_>,
        currency: &str,
        day_start_ms: i64,
    ) -> Result<i64, sqlx::Error> {
        let row = match subject {
            // Counted when the money moved (its ledger transfer), not when the transfer was
            // created: a 3-D Secure transfer confirmed after midnight counts on the new day.
            DailySubject::Terminal(terminal_id) => {
                sqlx::query(
                    "SELECT CAST(COALESCE(SUM(p.amount_minor), 0) AS BIGINT) AS total FROM payments p
                     WHERE p.terminal_id = $1 AND p.kind IN ($5, $6, $7) AND p.status = $4
                       AND p.currency = $3
                       AND EXISTS (SELECT 1 FROM ledger_transfers lt WHERE lt.payment_id = p.id
                                   AND lt.id LIKE '%:transfer' AND lt.created_at >= $2)",
                )
                .bind(terminal_id)
                .bind(day_start_ms)
                .bind(currency)
                .bind(TxStatus::Charge.as_str())
                .bind(PaymentKind::from(TransferKind::P2p).as_str())
                .bind(PaymentKind::from(TransferKind::Aft).as_str())
                .bind(PaymentKind::from(TransferKind::Oct).as_str())
                .fetch_one(&mut **tx)
                .await?
            }
            DailySubject::Receiver(account) => {
                sqlx::query(
                    "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM ledger_transfers
                     WHERE credit_account = $1 AND kind = $3 AND payment_id IS NOT NULL
                       AND (id LIKE '%:transfer' OR id LIKE '%:transfer:fx') AND created_at >= $2",
                )
                .bind(account)
                .bind(day_start_ms)
                .bind(LedgerTransferKind::Posted.as_str())
                .fetch_one(&mut **tx)
                .await?
            }
        };
        row.try_get("total")
    }

    /// Adds an approved transfer, whose ledger transfers are `booked` (queued in this unit), to
    /// the day's totals of its terminal and its receiving account, where those rows exist (a
    /// subject without a limit has none, and pays nothing for it). What the receiver was credited
    /// is summed from `booked`, the rows the receiver's total counts (its own posted credits of
    /// the `transfer` posting): read back from the database instead, they would have to be sent
    /// by a statement of their own first on PostgreSQL, whose sub-statements of one statement do
    /// not see each other's rows.
    pub(super) async fn count_in_daily_totals(
        tx: &mut super::Unit<DB>,
        payment: &Payment,
        money: &TransferMoney,
        booked: &[BookedLeg],
    ) -> StoreResult<()> {
        let terminal = DailySubject::Terminal(&payment.terminal_id).key();
        let terminal_total = Step::new(
            "UPDATE transfer_daily_totals SET total_minor = total_minor + $4
             WHERE subject = $1 AND currency = $2 AND day_start_ms = $3",
            vec![
                (&terminal).into(),
                (&payment.currency).into(),
                money.day_start_ms.into(),
                payment.amount_minor.into(),
            ],
        )
        .row(format!("transfer_daily_totals:{terminal}:{}:{}", payment.currency, money.day_start_ms));
        tx.defer(terminal_total).await?;
        // What the receiver was credited, in its account's currency (converted when the card's
        // currency differs): the receiver's total has that currency, its only one.
        let credited: i64 = booked
            .iter()
            .filter(|leg| leg.credit == money.to_account && counts_for_the_receiver(leg))
            .map(|leg| leg.amount)
            .sum();
        let receiver = DailySubject::Receiver(&money.to_account).key();
        let receiver_total = Step::new(
            "UPDATE transfer_daily_totals SET total_minor = total_minor + $3
             WHERE subject = $1 AND day_start_ms = $2",
            vec![(&receiver).into(), money.day_start_ms.into(), credited.into()],
        )
        .row(format!("transfer_daily_totals:{receiver}:{}", money.day_start_ms));
        tx.defer(receiver_total).await
    }
}

/// Whether a ledger transfer counts in its credit account's daily total as a receiver: a posted
/// leg of a `transfer` posting (and its conversion leg), as the receiver's total read from the
/// ledger counts them ([`SqlStore::daily_total`]).
fn counts_for_the_receiver(leg: &BookedLeg) -> bool {
    leg.kind == LedgerTransferKind::Posted && (leg.id.ends_with(":transfer") || leg.id.ends_with(":transfer:fx"))
}
