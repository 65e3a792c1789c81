//! Booking money inside a write's transaction: opening gateway-side accounts, locking and
//! reading a paying account's funds, and inserting a transition's postings as ledger transfers
//! with the four sums of every account they touch. Only ever called by a port method holding
//! the transaction.

use epay_domain::posting::{Denomination, LegEnd, Posting, Role};
use epay_domain::LedgerTransferKind;
use sqlx::Row;

use super::{Backend, RowsAffected, SqlStore};
use crate::model::*;

/// Which of `p`'s two currencies an account in `currency` is in; `None` for any other currency,
/// which would mix currencies in one posting.
pub(super) fn denomination(p: &Payment, currency: &str) -> Option<Denomination> {
    if currency == p.currency {
        Some(Denomination::Payment)
    } else if currency == p.card_currency {
        Some(Denomination::Card)
    } else {
        None
    }
}

/// The currency of `p` a denomination names.
fn currency_of(p: &Payment, denomination: Denomination) -> &str {
    match denomination {
        Denomination::Payment => &p.currency,
        Denomination::Card => &p.card_currency,
    }
}

/// The store's refusal of a posting between currencies (the database refuses it too).
pub(super) fn mixed_currencies(id: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("ledger transfer {id} mixes currencies or names a missing account"))
}

/// The ledger accounts a payment's postings name, by role.
pub(super) struct RoleAccounts<'a> {
    pub payer: &'a str,
    pub payee: &'a str,
    /// A transfer's fee account (a payment takes no fee).
    pub fee: Option<&'a str>,
}

impl RoleAccounts<'_> {
    fn of(&self, role: Role) -> Option<&str> {
        match role {
            Role::Payer => Some(self.payer),
            Role::Payee => Some(self.payee),
            Role::Fee => self.fee,
        }
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// The currency of a ledger account, if it exists.
    pub(super) async fn account_currency(tx: &mut super::Unit<DB>, id: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT currency FROM ledger_accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(|r| r.try_get("currency")).transpose()
    }

    /// Creates a gateway-side account in `currency` unless it exists. Its currency is
    /// fixed from now on (no statement changes it; the database refuses it).
    pub(super) async fn open_account(
        tx: &mut super::Unit<DB>,
        id: &str,
        kind: AccountKind,
        currency: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO ledger_accounts (id, kind, currency, debits_pending, debits_posted, credits_pending,
                 credits_posted, created_at)
             VALUES ($1, $2, $3, 0, 0, 0, 0, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(kind.as_str())
        .bind(currency)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Inserts one ledger transfer, only between two existing accounts of one currency.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn insert_leg(
        tx: &mut super::Unit<DB>,
        id: &str,
        payment_id: Option<&str>,
        debit: &str,
        credit: &str,
        amount: i64,
        kind: LedgerTransferKind,
        pending_id: Option<&str>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO ledger_transfers (id, payment_id, debit_account, credit_account, amount_minor,
                 kind, pending_id, created_at)
             SELECT $1, $2, d.id, c.id, $5, $6, $7, $8
             FROM ledger_accounts d JOIN ledger_accounts c ON c.id = $4
             WHERE d.id = $3 AND d.currency = c.currency",
        )
        .bind(id)
        .bind(payment_id)
        .bind(debit)
        .bind(credit)
        .bind(amount)
        .bind(kind.as_str())
        .bind(pending_id)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted != 1 {
            return Err(mixed_currencies(id));
        }
        Ok(())
    }

    /// Locks the rows of `accounts` in the one order every transaction takes them in (see
    /// [`Self::lock_order`]), before any of them is read for a check or updated. A write
    /// that touches two accounts from opposite ends of another's (an AFT into a merchant
    /// account while an OCT pays out of it to the same card; P2P transfers both ways
    /// between two cards) would otherwise hold one row and wait for the other, and
    /// PostgreSQL would end one of them as a deadlock. SQLite's one writer needs no lock.
    pub(super) async fn lock_accounts(tx: &mut super::Unit<DB>, accounts: &[&str]) -> Result<(), sqlx::Error> {
        if DB::FOR_UPDATE.is_empty() {
            return Ok(());
        }
        let mut ordered: Vec<&str> = accounts.to_vec();
        ordered.sort_by(|a, b| Self::lock_order(a).cmp(&Self::lock_order(b)));
        ordered.dedup();
        let lock = format!("SELECT id FROM ledger_accounts WHERE id = $1 {}", DB::FOR_UPDATE);
        for account in ordered {
            sqlx::query(&lock).bind(account).fetch_optional(&mut **tx).await?;
        }
        Ok(())
    }

    /// The order ledger rows are locked and updated in: card accounts first (a payment
    /// locks its card before anything else), then by id.
    fn lock_order(account: &str) -> (bool, &str) {
        (!account.starts_with("card:"), account)
    }

    /// Locks the paying account's row and reads what it has available, in which of the
    /// payment's currencies, for the decision's funds check (`None`: no such account).
    /// The lock (PostgreSQL; SQLite's writer already holds the database) keeps the amount
    /// true until the transaction books the payment, so two concurrent payments can never
    /// take an account below zero.
    pub(super) async fn funds(
        tx: &mut super::Unit<DB>,
        p: &Payment,
        account: &str,
    ) -> Result<Option<(Denomination, i64)>, sqlx::Error> {
        let lock = format!(
            "SELECT currency, credits_posted - debits_posted - debits_pending AS available
             FROM ledger_accounts WHERE id = $1 {}",
            DB::FOR_UPDATE
        );
        let row = sqlx::query(&lock).bind(account).fetch_optional(&mut **tx).await?;
        let Some(row) = row else { return Ok(None) };
        let currency: String = row.try_get("currency")?;
        let side = denomination(p, &currency).ok_or_else(|| mixed_currencies(account))?;
        Ok(Some((side, row.try_get("available")?)))
    }

    /// Books a transition's postings: for each, its ledger transfers `<payment>:<name>`
    /// (see [`Posting::legs`]: through the pair's conversion accounts when the card is in
    /// another currency), then the four sums of every account it touches, card rows first
    /// and then by id, one order for every transaction so concurrent ones on PostgreSQL
    /// cannot deadlock.
    pub(super) async fn book(
        tx: &mut super::Unit<DB>,
        p: &Payment,
        accounts: &RoleAccounts<'_>,
        postings: &[Posting],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        for posting in postings {
            let id = format!("{}:{}", p.id, posting.name);
            let account = |role| accounts.of(role).ok_or_else(|| mixed_currencies(&id));
            let (debit, credit) = (account(posting.debit)?, account(posting.credit)?);
            let side = |currency: Option<String>| {
                currency.as_deref().and_then(|c| denomination(p, c)).ok_or_else(|| mixed_currencies(&id))
            };
            let debit_side = side(Self::account_currency(tx, debit).await?)?;
            let credit_side = side(Self::account_currency(tx, credit).await?)?;
            let mut deltas: Vec<(String, [i64; 4])> = Vec::new();
            let mut add = |account: &str, delta: [i64; 4]| match deltas.iter_mut().find(|(a, _)| a == account) {
                Some((_, sums)) => sums.iter_mut().zip(delta).for_each(|(s, d)| *s += d),
                None => deltas.push((account.to_string(), delta)),
            };
            for leg in posting.legs(debit_side, credit_side) {
                let currency = currency_of(p, leg.denomination);
                let end = |e: LegEnd| match e {
                    LegEnd::Account(role) => account(role).map(str::to_string),
                    LegEnd::Conversion => Ok(fx_account(&p.currency, &p.card_currency, currency)),
                };
                let (from, to) = (end(leg.debit)?, end(leg.credit)?);
                if leg.debit == LegEnd::Conversion || leg.credit == LegEnd::Conversion {
                    let fx = if leg.debit == LegEnd::Conversion { &from } else { &to };
                    Self::open_account(tx, fx, AccountKind::Fx, currency, now).await?;
                }
                let suffix = if leg.fx_leg { ":fx" } else { "" };
                let leg_id = format!("{id}{suffix}");
                let pending = posting.resolves().map(|hold| format!("{}:{hold}{suffix}", p.id));
                Self::insert_leg(
                    tx,
                    &leg_id,
                    Some(p.id.as_str()),
                    &from,
                    &to,
                    leg.amount,
                    leg.kind,
                    pending.as_deref(),
                    now,
                )
                .await?;
                let (pending, posted) = leg.deltas();
                add(&from, [pending, posted, 0, 0]);
                add(&to, [0, 0, pending, posted]);
            }
            deltas.sort_by(|a, b| Self::lock_order(&a.0).cmp(&Self::lock_order(&b.0)));
            for (account, sums) in deltas {
                Self::add_to_sums(tx, &account, sums).await?;
            }
        }
        Ok(())
    }

    /// Adds `[debits pending, debits posted, credits pending, credits posted]` to an account's
    /// four sums, in the transaction that inserts the ledger transfers they sum.
    pub(super) async fn add_to_sums(
        tx: &mut super::Unit<DB>,
        account: &str,
        [dp, dpo, cp, cpo]: [i64; 4],
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE ledger_accounts SET debits_pending = debits_pending + $1,
                 debits_posted = debits_posted + $2, credits_pending = credits_pending + $3,
                 credits_posted = credits_posted + $4
             WHERE id = $5",
        )
        .bind(dp)
        .bind(dpo)
        .bind(cp)
        .bind(cpo)
        .bind(account)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
