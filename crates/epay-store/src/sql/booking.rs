//! Booking money inside a write's transaction: opening gateway-side accounts, locking and
//! reading a paying account's funds, and inserting a transition's postings as ledger transfers
//! with the four sums of every account they touch. Only ever called by a port method holding
//! the transaction.
//!
//! No single hot row: the accounts many concurrent payments credit (a terminal's merchant and
//! fee accounts, the conversion accounts) keep their sums in [`SHARDS`] rows of
//! `ledger_account_shards`, and a payment's transfers are booked on the shard its id picks
//! ([`shard_of`]), so two payments of one terminal update different rows. A card is never
//! sharded: its available balance is the guard of a payment and stays one locked row.

use epay_domain::posting::{Denomination, LegEnd, Posting, Role};
use epay_domain::LedgerTransferKind;
use sqlx::Row;

use super::pipeline::{Arg, Step};
use super::{Backend, OneTrip, SqlStore};
use crate::model::*;
use crate::StoreResult;

/// How many balance rows a sharded account has. Changing it is safe: a transfer records the
/// shard it was booked on, and `ledger check` recomputes every shard from its transfers.
pub(super) const SHARDS: u32 = 16;

/// Whether an account keeps its sums in shards (see the module's doc) rather than in its own
/// row. Decided by id, the same way migration 0019 decided it for existing accounts.
pub(super) fn is_sharded(account: &str) -> bool {
    ["merchant:", "fee:", "fx:"].iter().any(|prefix| account.starts_with(prefix))
}

/// The shard a payment's transfers are booked on: FNV-1a of its id, so it is the same for
/// every transfer of the payment and on every node, and spread evenly over [`SHARDS`].
pub(super) fn shard_of(payment_id: &str) -> i32 {
    let hash =
        payment_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash % u64::from(SHARDS)) as i32
}

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
    sqlx::Error::InvalidArgument(format!("ledger transfer {id} mixes currencies or names a missing account"))
}

/// A row of [`SqlStore::funds_and_currencies_sql`]'s answer: an account and its currency, and
/// for the payer's row (only) what it has available.
pub(super) struct FundsRow {
    pub id: String,
    pub currency: String,
    pub available: Option<i64>,
}

/// The payer's funds (`None`: no such account) and the currencies of the accounts that exist,
/// from [`SqlStore::funds_and_currencies_sql`]'s rows.
pub(super) fn funds_and_currencies_in(
    p: &Payment,
    payer: &str,
    rows: Vec<FundsRow>,
) -> Result<(Option<(Denomination, i64)>, Known), sqlx::Error> {
    let (mut funds, mut currencies) = (None, Vec::new());
    for FundsRow { id, currency, available } in rows {
        if id == payer {
            let side = denomination(p, &currency).ok_or_else(|| mixed_currencies(payer))?;
            let available = available.ok_or_else(|| sqlx::Error::ColumnNotFound("available".into()))?;
            funds = Some((side, available));
        }
        currencies.push((id, currency));
    }
    Ok((funds, Known::currencies(currencies)))
}

/// A ledger transfer [`SqlStore::book`] queued: what a later step of the same unit needs of it
/// without reading it back (on PostgreSQL the sub-statements of one statement do not see each
/// other's rows).
pub(super) struct BookedLeg {
    pub id: String,
    pub credit: String,
    pub kind: LedgerTransferKind,
    pub amount: i64,
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

/// Whether a transaction already holds the paying account's row lock when it reads its funds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PayerRow {
    /// Not yet: the funds read takes it (PostgreSQL).
    Unlocked,
    /// Taken by an earlier statement of the transaction ([`SqlStore::lock_accounts`]).
    Locked,
}

/// What a booking needs to know that was read earlier, in its transaction
/// ([`SqlStore::funds_and_currencies`]) or ahead of it (`operate_ahead.rs`): the currencies of
/// the existing accounts it names, and, when read, where the payment's holds are booked.
pub(super) struct Known {
    /// `(id, currency)` of each existing account.
    currencies: Vec<(String, String)>,
    /// `(transfer id, shard)` of each of the payment's transfers booked on another shard than
    /// its own ([`SqlStore::book`]'s `held`); `None` when not read, so a booking that resolves a
    /// hold reads them itself.
    held: Option<Vec<(String, i32)>>,
}

impl Known {
    /// The currencies of the existing accounts, and no holds read.
    pub(super) fn currencies(currencies: Vec<(String, String)>) -> Self {
        Known { currencies, held: None }
    }

    /// The currencies, and with `holds` the holds' shards, from the rows of [`ACCOUNTS`] or
    /// [`ACCOUNTS_AND_HOLDS`]: `(id, currency, shard)`, where an account has a currency and a
    /// transfer a shard.
    pub(super) fn from_rows(
        rows: impl IntoIterator<Item = (String, Option<String>, Option<i32>)>,
        holds: bool,
    ) -> Self {
        let (mut currencies, mut held) = (Vec::new(), Vec::new());
        for (id, currency, shard) in rows {
            match (currency, shard) {
                (Some(currency), _) => currencies.push((id, currency)),
                (None, Some(shard)) => held.push((id, shard)),
                (None, None) => {}
            }
        }
        Known { currencies, held: holds.then_some(held) }
    }

    /// The currency of `account`, if it exists.
    pub(super) fn currency(&self, account: &str) -> Option<&str> {
        self.currencies.iter().find(|(id, _)| id == account).map(|(_, currency)| currency.as_str())
    }
}

/// The currencies of the existing accounts among `$1`, `$2`, `$3`.
const ACCOUNTS: &str = "SELECT id, currency, CAST(NULL AS INTEGER) AS shard
     FROM ledger_accounts WHERE id IN ($1, $2, $3)";

/// [`ACCOUNTS`], and the shard of each of payment `$4`'s transfers booked on another shard than
/// `$5` (a hold from before migration 0019, on shard 0). What a booking looks up here is the
/// shard of the hold it resolves, which was booked with the payment's authorization and never
/// changes, so this may be read ahead of the booking (`operate_ahead.rs`).
pub(super) const ACCOUNTS_AND_HOLDS: &str = "SELECT id, currency, CAST(NULL AS INTEGER) AS shard
     FROM ledger_accounts WHERE id IN ($1, $2, $3)
     UNION ALL
     SELECT id, CAST(NULL AS TEXT), shard FROM ledger_transfers WHERE payment_id = $4 AND shard <> $5";

impl<DB: Backend> SqlStore<DB> {
    /// The currency of a ledger account, if it exists.
    pub(super) async fn account_currency(tx: &mut super::Unit<DB>, id: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT currency FROM ledger_accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(|r| r.try_get("currency")).transpose()
    }

    /// What booking `payment_id`'s postings needs to know first, in one statement: the
    /// currencies of the existing accounts among `ids` (up to three), and, when a posting
    /// resolves a hold (`holds`), the shard of each of the payment's transfers booked on
    /// another shard than `shard` (a hold from before migration 0019, on shard 0).
    async fn accounts_and_holds(
        tx: &mut super::Unit<DB>,
        ids: [&str; 3],
        payment_id: &str,
        shard: i32,
        holds: bool,
    ) -> Result<Known, sqlx::Error> {
        let query = if holds {
            sqlx::query(ACCOUNTS_AND_HOLDS).bind(ids[0]).bind(ids[1]).bind(ids[2]).bind(payment_id).bind(shard)
        } else {
            sqlx::query(ACCOUNTS).bind(ids[0]).bind(ids[1]).bind(ids[2])
        };
        let rows = query.fetch_all(&mut **tx).await?;
        let rows = rows
            .iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("currency")?, row.try_get("shard")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Known::from_rows(rows, holds))
    }

    /// Creates a gateway-side account in `currency` unless it exists. Its currency is
    /// fixed from now on (no statement changes it; the database refuses it).
    pub(super) async fn open_account(
        tx: &mut super::Unit<DB>,
        id: &str,
        kind: AccountKind,
        currency: &str,
        now: i64,
    ) -> StoreResult<()> {
        Self::open_account_step(id, kind, currency, now).run::<DB>(&mut **tx).await
    }

    /// [`Self::open_account`] as a write the unit queues. On SQLite the queued steps run in
    /// order, so the ledger transfers queued after it find the account; on PostgreSQL the
    /// sub-statements of one statement would not see it, so the account is opened at once.
    pub(super) async fn open_account_in_turn(
        tx: &mut super::Unit<DB>,
        id: &str,
        kind: AccountKind,
        currency: &str,
        now: i64,
    ) -> StoreResult<()> {
        match DB::ONE_TRIP {
            OneTrip::Statements => tx.defer(Self::open_account_step(id, kind, currency, now)).await,
            // A unit decided ahead has no transaction to open it in first: it goes the locked way.
            OneTrip::WritableCte if tx.is_detached() => {
                tx.needs_a_statement_first();
                Ok(())
            }
            OneTrip::WritableCte => Self::open_account(tx, id, kind, currency, now).await,
        }
    }

    fn open_account_step(id: &str, kind: AccountKind, currency: &str, now: i64) -> Step {
        Step::new(
            "INSERT INTO ledger_accounts (id, kind, currency, debits_pending, debits_posted, credits_pending,
                 credits_posted, created_at)
             VALUES ($1, $2, $3, 0, 0, 0, 0, $4) ON CONFLICT (id) DO NOTHING",
            vec![id.into(), kind.as_str().into(), currency.into(), now.into()],
        )
    }

    /// Inserts one ledger transfer, only between two existing accounts of one currency, on
    /// `shard` (the caller passes its pending transfer's shard when it resolves one, so a hold
    /// booked before migration 0019, on shard 0, is posted or voided there and no shard's
    /// pending sums go below zero). A write queued in the unit (`pipeline.rs`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn leg_step(
        id: &str,
        payment_id: Option<&str>,
        debit: &str,
        credit: &str,
        amount: i64,
        kind: LedgerTransferKind,
        pending_id: Option<&str>,
        shard: i32,
        now: i64,
    ) -> Step {
        let sql = "INSERT INTO ledger_transfers (id, payment_id, debit_account, credit_account, amount_minor,
                 kind, pending_id, created_at, shard)
             SELECT $1, $2, d.id, c.id, $5, $6, $7, $8, $9
             FROM ledger_accounts d JOIN ledger_accounts c ON c.id = $4
             WHERE d.id = $3 AND d.currency = c.currency";
        let args = vec![
            id.into(),
            payment_id.into(),
            debit.into(),
            credit.into(),
            amount.into(),
            kind.as_str().into(),
            pending_id.into(),
            now.into(),
            shard.into(),
        ];
        Step::new(sql, args).unless_one(mixed_currencies(id).into())
    }

    /// The row lock this module takes on PostgreSQL (nothing on SQLite, whose one writer holds
    /// the database): `FOR NO KEY UPDATE`, which keeps every other writer of the row out but
    /// not the `FOR KEY SHARE` a foreign key check takes, so a payout holding its merchant
    /// account's row does not stop payments from inserting transfers that name the account.
    fn row_lock() -> String {
        DB::FOR_UPDATE.replace("FOR UPDATE", "FOR NO KEY UPDATE")
    }

    /// Locks the rows of `accounts` in the one order every transaction takes them in (see
    /// [`Self::lock_order`]), before any of them is read for a check or updated. A write
    /// that touches two accounts from opposite ends of another's (an AFT into a merchant
    /// account while an OCT pays out of it to the same card; P2P transfers both ways
    /// between two cards) would otherwise hold one row and wait for the other, and
    /// PostgreSQL would end one of them as a deadlock. SQLite's one writer needs no lock.
    /// A sharded account's own row is never updated, so only a caller that reads it for a
    /// check (a payout's funds, a receiver's daily limit) needs to lock it.
    pub(super) async fn lock_accounts(tx: &mut super::Unit<DB>, accounts: &[&str]) -> Result<(), sqlx::Error> {
        if DB::FOR_UPDATE.is_empty() {
            return Ok(());
        }
        let mut ordered: Vec<&str> = accounts.to_vec();
        ordered.sort_by(|a, b| Self::lock_order(a).cmp(&Self::lock_order(b)));
        ordered.dedup();
        if ordered.is_empty() {
            return Ok(());
        }
        // One statement: PostgreSQL sorts the rows first and then locks them one by one in
        // that order (its docs on the locking clause), so the `ORDER BY`, which is
        // `lock_order` in SQL (`false` sorts first; `COLLATE "C"` compares bytes, as Rust's
        // `str` does), keeps the one order every transaction locks in.
        let list: Vec<String> = (1..=ordered.len()).map(|n| format!("${n}")).collect();
        let lock = format!(
            "SELECT id FROM ledger_accounts WHERE id IN ({})
             ORDER BY id NOT LIKE 'card:%', id COLLATE \"C\" {}",
            list.join(", "),
            Self::row_lock()
        );
        let mut query = sqlx::query(&lock);
        for account in ordered {
            query = query.bind(account);
        }
        query.fetch_all(&mut **tx).await?;
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
    /// take an account below zero. A sharded payer (a merchant account a payout pays from)
    /// is summed over its shards after its row is locked, in a statement of its own: on
    /// PostgreSQL that statement sees every payout that held the lock before, which one
    /// statement taking the lock and summing at once would not. Whatever else changes the
    /// shards meanwhile is a payment's credit (it only adds to what is available; not yet
    /// committed, it is not counted) or a refund (never checked against the merchant's
    /// balance, as before sharding).
    pub(super) async fn funds(
        tx: &mut super::Unit<DB>,
        p: &Payment,
        account: &str,
    ) -> Result<Option<(Denomination, i64)>, sqlx::Error> {
        let lock = format!(
            "SELECT currency, credits_posted - debits_posted - debits_pending AS available
             FROM ledger_accounts WHERE id = $1 {}",
            Self::row_lock()
        );
        let row = sqlx::query(&lock).bind(account).fetch_optional(&mut **tx).await?;
        let Some(row) = row else { return Ok(None) };
        let currency: String = row.try_get("currency")?;
        let side = denomination(p, &currency).ok_or_else(|| mixed_currencies(account))?;
        let mut available: i64 = row.try_get("available")?;
        if is_sharded(account) {
            let shards = sqlx::query(
                "SELECT CAST(COALESCE(SUM(credits_posted - debits_posted - debits_pending), 0) AS BIGINT)
                     AS available
                 FROM ledger_account_shards WHERE account_id = $1",
            )
            .bind(account)
            .fetch_one(&mut **tx)
            .await?;
            available += shards.try_get::<i64, _>("available")?;
        }
        Ok(Some((side, available)))
    }

    /// [`Self::funds`] and the currencies [`Self::book`] reads, in one statement: the paying
    /// account's funds and currency, and the currencies of the `others` that exist. For a
    /// booking that checks a payer's funds and then books between known accounts (a payment:
    /// card → merchant; a transfer: sender → receiver and fee), so `book` is handed the
    /// currencies (`Known`) instead of reading them again after the decision.
    ///
    /// `row` says whether the caller holds the payer's row lock already (a transfer's
    /// [`Self::lock_accounts`]) or this statement takes it (a payment: the card first, as
    /// before). Only the payer's row is locked; the others are read as they are, which is all
    /// `book` ever did (an account's currency never changes). A sharded payer's shards are
    /// summed in this statement only when its lock was taken by an earlier one: see
    /// [`Self::funds`] for why; otherwise the two reads stay two.
    pub(super) async fn funds_and_currencies(
        tx: &mut super::Unit<DB>,
        p: &Payment,
        payer: &str,
        others: [&str; 2],
        row: PayerRow,
    ) -> Result<(Option<(Denomination, i64)>, Known), sqlx::Error> {
        let Some(sql) = Self::funds_and_currencies_sql(payer, row, "") else {
            let funds = Self::funds(tx, p, payer).await?;
            let known = Self::accounts_and_holds(tx, [payer, others[0], others[1]], &p.id, 0, false).await?;
            return Ok((funds, known));
        };
        let rows = sqlx::query(&sql).bind(payer).bind(others[0]).bind(others[1]).fetch_all(&mut **tx).await?;
        Self::funds_and_currencies_of(p, payer, &rows)
    }

    /// The one statement of [`Self::funds_and_currencies`], its arguments `$1` the payer and
    /// `$2`, `$3` the others; `None` when it takes two (a sharded payer not yet locked).
    /// `only_if` is a further condition on the payer's row (`AND …`), which must hold for the
    /// row to be read and locked.
    pub(super) fn funds_and_currencies_sql(payer: &str, row: PayerRow, only_if: &str) -> Option<String> {
        let sharded = is_sharded(payer);
        if sharded && row == PayerRow::Unlocked {
            return None;
        }
        let lock = if row == PayerRow::Unlocked { Self::row_lock() } else { String::new() };
        let shards = if sharded {
            " + (SELECT CAST(COALESCE(SUM(credits_posted - debits_posted - debits_pending), 0) AS BIGINT)
                 FROM ledger_account_shards WHERE account_id = $1)"
        } else {
            ""
        };
        Some(format!(
            "WITH payer AS (SELECT id, currency, credits_posted - debits_posted - debits_pending{shards} AS available
                 FROM ledger_accounts WHERE id = $1{only_if} {lock})
             SELECT id, currency, available FROM payer
             UNION ALL
             SELECT id, currency, CAST(NULL AS BIGINT) AS available
             FROM ledger_accounts WHERE id IN ($2, $3) AND id <> $1"
        ))
    }

    /// What [`Self::funds_and_currencies_sql`] answered: the payer's funds (`None`: no such
    /// account) and the currencies of the accounts that exist.
    pub(super) fn funds_and_currencies_of(
        p: &Payment,
        payer: &str,
        rows: &[DB::Row],
    ) -> Result<(Option<(Denomination, i64)>, Known), sqlx::Error> {
        funds_and_currencies_in(p, payer, Self::funds_rows(payer, rows)?)
    }

    /// [`Self::funds_and_currencies_sql`]'s rows as sqlx answered them (what is available read
    /// for the payer's row only: the others have none).
    pub(super) fn funds_rows(payer: &str, rows: &[DB::Row]) -> Result<Vec<FundsRow>, sqlx::Error> {
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let available = if id == payer { Some(row.try_get::<i64, _>("available")?) } else { None };
                Ok(FundsRow { id, currency: row.try_get("currency")?, available })
            })
            .collect()
    }

    /// Books a transition's postings: for each, its ledger transfers `<payment>:<name>`
    /// (see [`Posting::legs`]: through the pair's conversion accounts when the card is in
    /// another currency) on the payment's shard, then the sums of every account they touch.
    /// A gateway-side account the postings name that does not exist yet (a terminal's first
    /// payment in a currency) is opened in the payment's currency.
    ///
    /// Lock order: the caller has locked the card (and any account it checks) first; the
    /// transfer inserts only take the foreign keys' shared locks; the sums are updated last,
    /// all postings' together, card rows first, then by account and shard. One order for
    /// every transaction, so concurrent ones on PostgreSQL cannot deadlock.
    ///
    /// `known`: the currencies [`Self::funds_and_currencies`] read in this transaction, so they
    /// are not read again (unless a posting resolves a hold: the holds' shards are read then).
    /// Answers the ledger transfers it queued.
    pub(super) async fn book(
        tx: &mut super::Unit<DB>,
        p: &Payment,
        accounts: &RoleAccounts<'_>,
        postings: &[Posting],
        known: Option<Known>,
        now: i64,
    ) -> StoreResult<Vec<BookedLeg>> {
        let shard = shard_of(&p.id);
        let mut named: Vec<&str> = Vec::new();
        for role in postings.iter().flat_map(|posting| [posting.debit, posting.credit]) {
            let account = accounts.of(role).ok_or_else(|| mixed_currencies(&p.id))?;
            if !named.contains(&account) {
                named.push(account);
            }
        }
        let roles = [accounts.payer, accounts.payee, accounts.fee.unwrap_or(accounts.payee)];
        let holds = postings.iter().any(|posting| posting.resolves().is_some());
        let known = match known {
            Some(known) if known.held.is_some() || !holds => known,
            // A unit decided ahead holds no connection to read them on (never reached: what is
            // decided ahead resolves no hold, or read the holds ahead): it goes the locked way.
            _ if tx.is_detached() => {
                tx.needs_a_statement_first();
                return Ok(Vec::new());
            }
            _ => Self::accounts_and_holds(tx, roles, &p.id, shard, holds).await?,
        };
        let (mut currencies, held) = (known.currencies, known.held.unwrap_or_default());
        for id in named {
            let gateway_side = id.starts_with("merchant:") || id.starts_with("fee:");
            if gateway_side && !currencies.iter().any(|(known, _)| known == id) {
                Self::open_account_in_turn(tx, id, AccountKind::Merchant, &p.currency, now).await?;
                currencies.push((id.to_string(), p.currency.clone()));
            }
        }
        let mut booked = Vec::new();
        let mut deltas: Vec<((String, i32), [i64; 4])> = Vec::new();
        let mut add = |account: &str, shard: i32, delta: [i64; 4]| {
            let shard = if is_sharded(account) { shard } else { 0 };
            match deltas.iter_mut().find(|((a, s), _)| a == account && *s == shard) {
                Some((_, sums)) => sums.iter_mut().zip(delta).for_each(|(s, d)| *s += d),
                None => deltas.push(((account.to_string(), shard), delta)),
            }
        };
        for posting in postings {
            let id = format!("{}:{}", p.id, posting.name);
            let account = |role| accounts.of(role).ok_or_else(|| mixed_currencies(&id));
            let (debit, credit) = (account(posting.debit)?, account(posting.credit)?);
            let side = |account: &str| {
                let currency = currencies.iter().find(|(known, _)| known == account).map(|(_, c)| c.as_str());
                currency.and_then(|c| denomination(p, c)).ok_or_else(|| mixed_currencies(&id))
            };
            let (debit_side, credit_side) = (side(debit)?, side(credit)?);
            for leg in posting.legs(debit_side, credit_side) {
                let currency = currency_of(p, leg.denomination);
                let end = |e: LegEnd| match e {
                    LegEnd::Account(role) => account(role).map(str::to_string),
                    LegEnd::Conversion => Ok(fx_account(&p.currency, &p.card_currency, currency)),
                };
                let (from, to) = (end(leg.debit)?, end(leg.credit)?);
                if leg.debit == LegEnd::Conversion || leg.credit == LegEnd::Conversion {
                    let fx = if leg.debit == LegEnd::Conversion { &from } else { &to };
                    Self::open_account_in_turn(tx, fx, AccountKind::Fx, currency, now).await?;
                }
                let suffix = if leg.fx_leg { ":fx" } else { "" };
                let leg_id = format!("{id}{suffix}");
                let pending = posting.resolves().map(|hold| format!("{}:{hold}{suffix}", p.id));
                let held_on = |hold: &str| held.iter().find(|(id, _)| id == hold).map(|(_, on)| *on);
                let booked_on = pending.as_deref().and_then(held_on).unwrap_or(shard);
                let leg_step = Self::leg_step(
                    &leg_id,
                    Some(p.id.as_str()),
                    &from,
                    &to,
                    leg.amount,
                    leg.kind,
                    pending.as_deref(),
                    booked_on,
                    now,
                );
                tx.defer(leg_step).await?;
                let (pending, posted) = leg.deltas();
                add(&from, booked_on, [pending, posted, 0, 0]);
                add(&to, booked_on, [0, 0, pending, posted]);
                booked.push(BookedLeg { id: leg_id, credit: to, kind: leg.kind, amount: leg.amount });
            }
        }
        deltas.sort_by(|((a, x), _), ((b, y), _)| (Self::lock_order(a), x).cmp(&(Self::lock_order(b), y)));
        for ((account, shard), sums) in deltas {
            tx.defer(Self::sums_step(&account, shard, sums)).await?;
        }
        Ok(booked)
    }

    /// Adds `[debits pending, debits posted, credits pending, credits posted]` to an account's
    /// four sums (shard 0 of a sharded account), in the transaction that inserts the ledger
    /// transfers they sum.
    pub(super) async fn add_to_sums(tx: &mut super::Unit<DB>, account: &str, sums: [i64; 4]) -> StoreResult<()> {
        Self::sums_step(account, 0, sums).run::<DB>(&mut **tx).await
    }

    /// Adds to the sums of `account`: its `shard` when it is sharded (created by the same
    /// statement when it is the shard's first transfer), else its own row.
    fn sums_step(account: &str, shard: i32, [dp, dpo, cp, cpo]: [i64; 4]) -> Step {
        let mut args: Vec<Arg> = vec![dp.into(), dpo.into(), cp.into(), cpo.into(), account.into()];
        if is_sharded(account) {
            args.push(shard.into());
            let sql = "INSERT INTO ledger_account_shards (debits_pending, debits_posted, credits_pending,
                     credits_posted, account_id, shard)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (account_id, shard) DO UPDATE
                 SET debits_pending = ledger_account_shards.debits_pending + excluded.debits_pending,
                     debits_posted = ledger_account_shards.debits_posted + excluded.debits_posted,
                     credits_pending = ledger_account_shards.credits_pending + excluded.credits_pending,
                     credits_posted = ledger_account_shards.credits_posted + excluded.credits_posted";
            Step::new(sql, args).row(format!("ledger_account_shards:{account}:{shard}"))
        } else {
            let sql = "UPDATE ledger_accounts SET debits_pending = debits_pending + $1,
                     debits_posted = debits_posted + $2, credits_pending = credits_pending + $3,
                     credits_posted = credits_posted + $4
                 WHERE id = $5";
            Step::new(sql, args).row(format!("ledger_accounts:{account}"))
        }
    }
}
