//! The SQL adapters. One macro body holds every query; it is instantiated for SQLite and for
//! PostgreSQL. Both accept `$1`-style placeholders, and the schema uses types both understand
//! (TEXT, BIGINT, INTEGER, BOOLEAN), so the same statements run on either.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use epay_domain::posting::{Denomination, LegEnd, Posting, Role};
use epay_domain::transition::{self, Checks, DailyLimit, Decision, Decline, Refunded};
use epay_domain::{LedgerTransferKind, PaymentKind, PaymentState, Secret, ThreeDsState, TransferKind, TxStatus};
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};

use crate::model::*;
use crate::{Store, StoreError, StoreResult};

/// Opens the store named by `url`: `sqlite://path/to/file.sqlite` or `postgres://...`.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        // The message may be printed: never with the URL's password.
        Err(StoreError::UnsupportedUrl(epay_domain::secret::redact_url(url)))
    }
}

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before we answer; a payment the client saw succeed
            // survives power loss.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // One connection: SQLite has one writer anyway, and a single connection makes every
        // transaction serial, so read-then-write sequences cannot interleave.
        // No ping before each acquire (sqlx's default): on SQLite it is one more hand-off to the
        // connection's worker thread for every statement outside a transaction, and thread
        // hand-offs are the largest cost in `epay bench`'s profile; a local file cannot hang up.
        let pool = SqlitePoolOptions::new().max_connections(1).test_before_acquire(false).connect_with(options).await?;
        Ok(SqliteStore { pool })
    }
}

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        // No ping before every acquire (sqlx's default): it is one more round trip to the server
        // for every statement outside a transaction. Only a connection that idled a while, or
        // one that went idle before a lost connection was seen, is pinged (see `lost`), so a
        // database restart costs at most the one statement that finds it out.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if crate::lost::worth_a_ping(&meta) {
                        use sqlx::Connection;
                        if let Err(e) = conn.ping().await {
                            crate::lost::note(&e);
                            return Ok(false);
                        }
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await?;
        Ok(PgStore { pool })
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// What a unique violation on inserting a payment means. PostgreSQL names the index;
/// SQLite names its columns (and, with one connection, never meets the race at all).
fn attempt_conflict(err: &sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = err else { return StoreError::DuplicateInvoice };
    let attempt_index =
        db.constraint() == Some("payments_invoice_attempt") || db.message().contains("payments.attempt");
    if attempt_index {
        StoreError::ConcurrentAttempt
    } else {
        StoreError::DuplicateInvoice
    }
}

/// Refuses a write that moves a transaction where the state machine has no move (a caller's
/// bug), inside the transaction, so nothing is written.
fn check_move(from: TxStatus, to: TxStatus) -> StoreResult<()> {
    if from.can_move_to(to) {
        Ok(())
    } else {
        Err(StoreError::IllegalMove { from, to })
    }
}

/// Recomputes every account's four sums from the transfers and compares.
fn check_accounts(accounts: &[LedgerAccount], transfers: &[LedgerTransfer]) -> Vec<InvariantViolation> {
    let mut violations = Vec::new();
    #[derive(Default)]
    struct Sums {
        debits_pending: i64,
        debits_posted: i64,
        credits_pending: i64,
        credits_posted: i64,
    }
    let mut sums: HashMap<&str, Sums> = HashMap::new();
    let pending_amounts: HashMap<&str, &LedgerTransfer> =
        transfers.iter().filter(|t| t.kind == LedgerTransferKind::Pending).map(|t| (t.id.as_str(), t)).collect();
    for t in transfers {
        if t.amount_minor <= 0 && t.kind != LedgerTransferKind::VoidPending {
            violations.push(InvariantViolation {
                subject: format!("transfer {}", t.id),
                problem: format!("non-positive amount {}", t.amount_minor),
            });
        }
        if t.debit_account == t.credit_account {
            violations.push(InvariantViolation {
                subject: format!("transfer {}", t.id),
                problem: "debits and credits the same account".into(),
            });
        }
        match t.kind {
            LedgerTransferKind::Posted => {
                sums.entry(&t.debit_account).or_default().debits_posted += t.amount_minor;
                sums.entry(&t.credit_account).or_default().credits_posted += t.amount_minor;
            }
            LedgerTransferKind::Pending => {
                sums.entry(&t.debit_account).or_default().debits_pending += t.amount_minor;
                sums.entry(&t.credit_account).or_default().credits_pending += t.amount_minor;
            }
            LedgerTransferKind::PostPending | LedgerTransferKind::VoidPending => {
                let Some(pending) = t.pending_id.as_deref().and_then(|id| pending_amounts.get(id)) else {
                    violations.push(InvariantViolation {
                        subject: format!("transfer {}", t.id),
                        problem: "resolves a pending transfer that does not exist".into(),
                    });
                    continue;
                };
                if t.amount_minor > pending.amount_minor {
                    violations.push(InvariantViolation {
                        subject: format!("transfer {}", t.id),
                        problem: "posts more than its pending transfer held".into(),
                    });
                }
                let d = sums.entry(&t.debit_account).or_default();
                d.debits_pending -= pending.amount_minor;
                d.debits_posted += t.amount_minor;
                let c = sums.entry(&t.credit_account).or_default();
                c.credits_pending -= pending.amount_minor;
                c.credits_posted += t.amount_minor;
            }
        }
    }
    for a in accounts {
        let s = sums.remove(a.id.as_str()).unwrap_or_default();
        if (s.debits_pending, s.debits_posted, s.credits_pending, s.credits_posted)
            != (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
        {
            violations.push(InvariantViolation {
                subject: format!("account {}", a.id),
                problem: format!(
                    "balances (dp {}, dP {}, cp {}, cP {}) differ from its transfers (dp {}, dP {}, cp {}, cP {})",
                    a.debits_pending,
                    a.debits_posted,
                    a.credits_pending,
                    a.credits_posted,
                    s.debits_pending,
                    s.debits_posted,
                    s.credits_pending,
                    s.credits_posted
                ),
            });
        }
        if a.kind == AccountKind::Card && a.available() < 0 {
            violations.push(InvariantViolation {
                subject: format!("account {}", a.id),
                problem: format!("card below zero: available {}", a.available()),
            });
        }
    }
    for (id, _) in sums {
        violations.push(InvariantViolation {
            subject: format!("account {id}"),
            problem: "transfers name an account that does not exist".into(),
        });
    }
    violations.extend(check_currencies(accounts, transfers));
    violations
}

/// Every transfer stays within one currency, and each currency balances on its own: over all
/// accounts of a currency, credits equal debits (posted and pending alike).
fn check_currencies(accounts: &[LedgerAccount], transfers: &[LedgerTransfer]) -> Vec<InvariantViolation> {
    let mut violations = Vec::new();
    let currency_of: HashMap<&str, &str> = accounts.iter().map(|a| (a.id.as_str(), a.currency.as_str())).collect();
    for t in transfers {
        let (Some(debit), Some(credit)) =
            (currency_of.get(t.debit_account.as_str()), currency_of.get(t.credit_account.as_str()))
        else {
            continue;
        };
        if debit != credit {
            violations.push(InvariantViolation {
                subject: format!("transfer {}", t.id),
                problem: format!(
                    "mixes currencies: debits {} ({debit}) and credits {} ({credit})",
                    t.debit_account, t.credit_account
                ),
            });
        }
    }
    let mut totals: Vec<(&str, i64, i64)> = Vec::new();
    for a in accounts {
        let (posted, pending) = (a.credits_posted - a.debits_posted, a.credits_pending - a.debits_pending);
        match totals.iter_mut().find(|(c, _, _)| *c == a.currency) {
            Some((_, p, q)) => {
                *p += posted;
                *q += pending;
            }
            None => totals.push((a.currency.as_str(), posted, pending)),
        }
    }
    for (currency, posted, pending) in totals {
        if posted != 0 || pending != 0 {
            violations.push(InvariantViolation {
                subject: format!("currency {currency}"),
                problem: format!(
                    "does not balance: credits minus debits over its accounts are {posted} posted, {pending} pending"
                ),
            });
        }
    }
    violations
}

/// A value bound to a placeholder of a query built at run time.
enum Bind {
    Text(String),
    Int(i64),
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The WHERE conditions (after `merchant_id = $1`) of a cabinet filter and their values, numbered
/// from `$2`. Only placeholders carry user text, never the SQL itself.
fn payment_conditions(f: &PaymentFilter) -> (String, Vec<Bind>) {
    let mut sql = String::new();
    let mut binds = Vec::new();
    let mut add = |condition: &str, values: Vec<Bind>| {
        let mut condition = condition.to_string();
        for (i, value) in values.into_iter().enumerate() {
            binds.push(value);
            condition = condition.replace(&format!("?{i}"), &format!("${}", binds.len() + 1));
        }
        sql.push_str(" AND ");
        sql.push_str(&condition);
    };
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(String::from);
    if let Some(from) = f.from_ms {
        add("created_at >= ?0", vec![Bind::Int(from)]);
    }
    if let Some(to) = f.to_ms {
        add("created_at < ?0", vec![Bind::Int(to)]);
    }
    if let Some(status) = f.status {
        add("status = ?0", vec![Bind::Text(status.as_str().to_string())]);
    }
    if let Some(terminal) = text(&f.terminal_id) {
        add("terminal_id = ?0", vec![Bind::Text(terminal)]);
    }
    if let Some(invoice) = text(&f.invoice_id) {
        add("(invoice_id = ?0 OR invoice_id_alt = ?0)", vec![Bind::Text(invoice)]);
    }
    if let Some(mask) = text(&f.card_mask) {
        add(
            "(LOWER(card_mask) LIKE ?0 ESCAPE '\\' OR LOWER(receiver_card_mask) LIKE ?0 ESCAPE '\\')",
            vec![Bind::Text(like_pattern(&mask))],
        );
    }
    if let Some(min) = f.min_amount_minor {
        add("amount_minor >= ?0", vec![Bind::Int(min)]);
    }
    if let Some(max) = f.max_amount_minor {
        add("amount_minor <= ?0", vec![Bind::Int(max)]);
    }
    if let Some(search) = text(&f.search) {
        let columns = ["invoice_id", "id", "description", "account_id", "payer_name", "email", "reference"];
        let any: Vec<String> = columns.iter().map(|c| format!("LOWER({c}) LIKE ?0 ESCAPE '\\'")).collect();
        add(&format!("({})", any.join(" OR ")), vec![Bind::Text(like_pattern(&search))]);
    }
    (sql, binds)
}

/// What the state machine's transitions (`epay_domain::transition`) read of a payment row.
fn state_of(p: &Payment) -> PaymentState {
    PaymentState {
        kind: p.kind,
        status: p.status,
        amount_minor: p.amount_minor,
        charged_minor: p.charged_minor,
        refunded_minor: p.refunded_minor,
        fx: p.fx_rate(),
    }
}

/// Which of `p`'s two currencies an account in `currency` is in; `None` for any other currency,
/// which would mix currencies in one posting.
fn denomination(p: &Payment, currency: &str) -> Option<Denomination> {
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

/// The ledger accounts a payment's postings name, by role.
struct RoleAccounts<'a> {
    payer: &'a str,
    payee: &'a str,
    /// A transfer's fee account (a payment takes no fee).
    fee: Option<&'a str>,
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

/// A merchant's request the state machine refuses, in the store's words.
fn refused(refusal: transition::Refusal) -> StoreError {
    StoreError::Refused(match refusal {
        transition::Refusal::WrongStatus { status } => Refusal::WrongStatus { status },
        transition::Refusal::OverAmount { left_minor } => Refusal::OverAmount { left_minor },
        transition::Refusal::BelowMinimumRefund { amount_minor } => Refusal::BelowMinimumRefund { amount_minor },
        transition::Refusal::ExternalIdReused { amount_minor } => Refusal::ExternalIdReused { amount_minor },
        transition::Refusal::NotAPayment { kind } => Refusal::NotAPayment { kind },
    })
}

/// A decision the state machine has no move for (no such move, or a decision that does not fit
/// the transaction's kind): the caller's bug, refused so nothing is written.
fn illegal(from: TxStatus, to: TxStatus) -> impl FnOnce(transition::TransitionError) -> StoreError {
    move |_| StoreError::IllegalMove { from, to }
}

/// The decision a caller recorded on a payment it hands to the store: the status it set and
/// the money it asked to move. Any other pairing is a caller's bug.
fn payment_decision(from: TxStatus, p: &Payment, effect: &PaymentEffect) -> StoreResult<Decision> {
    match (p.status, effect) {
        (TxStatus::Auth, PaymentEffect::Debit { kind: DebitKind::Pending, .. }) => Ok(Decision::Approve { hold: true }),
        (TxStatus::Charge, PaymentEffect::Debit { kind: DebitKind::Posted, .. }) => {
            Ok(Decision::Approve { hold: false })
        }
        (TxStatus::Verified, PaymentEffect::None) => Ok(Decision::Verify),
        (TxStatus::ThreeD, PaymentEffect::None) => Ok(Decision::Challenge),
        (status, PaymentEffect::None) if status.is_declined() => Ok(Decision::Decline { status }),
        (to, _) => Err(StoreError::IllegalMove { from, to }),
    }
}

/// The decision on a transfer: money to move means approved.
fn transfer_decision(from: TxStatus, settlement: &TransferSettlement) -> StoreResult<Decision> {
    match (&settlement.money, settlement.payment.status) {
        (Some(m), TxStatus::Charge) => Ok(Decision::Transfer { fee_minor: m.fee_minor }),
        (None, TxStatus::ThreeD) => Ok(Decision::Challenge),
        (None, status) if status.is_declined() => Ok(Decision::Decline { status }),
        (_, to) => Err(StoreError::IllegalMove { from, to }),
    }
}

/// How an operation's write ended.
enum Applied {
    Done,
    /// The payment was no longer as read (another request or node moved it first).
    Lost,
    /// A concurrent refund with the same externalID committed first: retry and replay it.
    RefundRace,
}

/// The store's refusal of a posting between currencies (the database refuses it too).
fn mixed_currencies(id: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("ledger transfer {id} mixes currencies or names a missing account"))
}

macro_rules! sql_store {
    (
        $store:ident, $db:ty, $row:ty, $backend:literal, $migrations:literal,
        $lock:literal, $skip_locked:literal, $skip_locked_plain:literal
    ) => {
        impl $store {
            /// Reads a text column holding one of a domain enum's words (a status, a kind, a
            /// state). Any other text is a decode error: the store never guesses what it means.
            fn word<T: FromStr<Err = epay_domain::Unknown>>(row: &$row, column: &str) -> Result<T, sqlx::Error> {
                let text: String = row.try_get(column)?;
                text.parse().map_err(|e| sqlx::Error::ColumnDecode { index: column.to_string(), source: Box::new(e) })
            }

            /// Stores a keyed request's answer in the transaction of the write it guards. Only
            /// the key's lease owner may do so: if the lease ended and another request claimed
            /// the key, the write fails and rolls back, so one key never commits twice.
            async fn commit_idempotency(
                tx: &mut sqlx::Transaction<'static, $db>,
                record: Option<&IdempotencyRecord>,
                payment: &Payment,
            ) -> StoreResult<()> {
                let Some(record) = record else { return Ok(()) };
                let answer = (record.answer)(payment);
                let stored = sqlx::query(
                    "UPDATE idempotency_keys SET response_status = $1, response_body = $2, lease_owner = NULL,
                         lease_until = NULL
                     WHERE scope_key = $3 AND lease_owner = $4 AND response_status IS NULL",
                )
                .bind(answer.status as i32)
                .bind(&answer.body)
                .bind(&record.scope_key)
                .bind(&record.owner)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if stored != 1 {
                    return Err(StoreError::IdempotencyKeyLost);
                }
                Ok(())
            }

            /// The currency of a ledger account, if it exists.
            async fn account_currency(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &str,
            ) -> Result<Option<String>, sqlx::Error> {
                let row = sqlx::query("SELECT currency FROM ledger_accounts WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                row.map(|r| r.try_get("currency")).transpose()
            }

            /// Creates a gateway-side account in `currency` unless it exists. Its currency is
            /// fixed from now on (no statement changes it; the database refuses it).
            async fn open_account(
                tx: &mut sqlx::Transaction<'static, $db>,
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
            async fn insert_leg(
                tx: &mut sqlx::Transaction<'static, $db>,
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

            /// Locks the paying account's row and reads what it has available, in which of the
            /// payment's currencies, for the decision's funds check (`None`: no such account).
            /// The lock (PostgreSQL; SQLite's writer already holds the database) keeps the amount
            /// true until the transaction books the payment, so two concurrent payments can never
            /// take an account below zero.
            async fn funds(
                tx: &mut sqlx::Transaction<'static, $db>,
                p: &Payment,
                account: &str,
            ) -> Result<Option<(Denomination, i64)>, sqlx::Error> {
                let row = sqlx::query(concat!(
                    "SELECT currency, credits_posted - debits_posted - debits_pending AS available
                     FROM ledger_accounts WHERE id = $1 ",
                    $lock
                ))
                .bind(account)
                .fetch_optional(&mut **tx)
                .await?;
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
            async fn book(
                tx: &mut sqlx::Transaction<'static, $db>,
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
                        Self::insert_leg(tx, &leg_id, Some(p.id.as_str()), &from, &to, leg.amount, leg.kind, pending.as_deref(), now)
                            .await?;
                        let (pending, posted) = leg.deltas();
                        add(&from, [pending, posted, 0, 0]);
                        add(&to, [0, 0, pending, posted]);
                    }
                    deltas.sort_by(|a, b| (!a.0.starts_with("card:"), &a.0).cmp(&(!b.0.starts_with("card:"), &b.0)));
                    for (account, [dp, dpo, cp, cpo]) in deltas {
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
                        .bind(&account)
                        .execute(&mut **tx)
                        .await?;
                    }
                }
                Ok(())
            }

            /// Decides a card payment (or verification) waiting in `from` (`NEW`, or `3D` after
            /// its challenge) as the caller recorded it, through the state machine: an approval
            /// the card cannot pay becomes the REJECT `insufficient` (code, reason). Books the
            /// money and saves the card of an approved payment.
            async fn decide_payment(
                tx: &mut sqlx::Transaction<'static, $db>,
                from: TxStatus,
                payment: &mut Payment,
                effect: &PaymentEffect,
                insufficient: (i32, String),
                now: i64,
            ) -> StoreResult<bool> {
                let decision = payment_decision(from, payment, effect)?;
                let state = PaymentState { status: from, charged_minor: 0, refunded_minor: 0, ..state_of(payment) };
                let mut checks = Checks::default();
                let mut payer = String::new();
                if let PaymentEffect::Debit { card_account, .. } = effect {
                    checks.payer = Self::funds(tx, payment, card_account).await?;
                    payer = card_account.clone();
                }
                let decided = transition::decide(&state, decision, &checks).map_err(illegal(from, payment.status))?;
                payment.status = decided.status;
                payment.charged_minor = decided.charged_minor;
                if decided.declined.is_some() {
                    let (code, reason) = insufficient;
                    payment.reason_code = code;
                    payment.reason = reason;
                    payment.approval_code = String::new();
                }
                if let PaymentEffect::Debit { merchant_account, .. } = effect {
                    if !decided.postings.is_empty() {
                        Self::open_account(tx, merchant_account, AccountKind::Merchant, &payment.currency, now).await?;
                        let accounts = RoleAccounts { payer: &payer, payee: merchant_account, fee: None };
                        Self::book(tx, payment, &accounts, &decided.postings, now).await?;
                    }
                }
                Ok(decided.declined.is_some())
            }

            async fn insert_three_ds(
                tx: &mut sqlx::Transaction<'static, $db>,
                t: &ThreeDsSession,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO three_ds_sessions (id, payment_id, server_trans_id, token_digest, pan_ciphertext,
                         expiry_mmyy, save_card, state, reason_code, created_at, updated_at,
                         receiver_pan_ciphertext, receiver_expiry_mmyy, save_receiver, keep_token_on_decline)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                )
                .bind(&t.id)
                .bind(&t.payment_id)
                .bind(&t.server_trans_id)
                .bind(&t.token_digest)
                .bind(&t.pan_ciphertext)
                .bind(&t.expiry_mmyy)
                .bind(t.save_card)
                .bind(t.state.as_str())
                .bind(t.reason_code)
                .bind(t.created_at)
                .bind(t.updated_at)
                .bind(&t.receiver_pan_ciphertext)
                .bind(&t.receiver_expiry_mmyy)
                .bind(t.save_receiver)
                .bind(t.token_spend == TokenSpend::UnlessDeclined)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            fn session_from(row: &$row) -> Result<ThreeDsSession, sqlx::Error> {
                Ok(ThreeDsSession {
                    id: row.try_get("id")?,
                    payment_id: row.try_get("payment_id")?,
                    server_trans_id: row.try_get("server_trans_id")?,
                    token_digest: row.try_get("token_digest")?,
                    pan_ciphertext: row.try_get("pan_ciphertext")?,
                    expiry_mmyy: row.try_get("expiry_mmyy")?,
                    save_card: row.try_get("save_card")?,
                    receiver_pan_ciphertext: row.try_get("receiver_pan_ciphertext")?,
                    receiver_expiry_mmyy: row.try_get("receiver_expiry_mmyy")?,
                    save_receiver: row.try_get("save_receiver")?,
                    token_spend: if row.try_get("keep_token_on_decline")? {
                        TokenSpend::UnlessDeclined
                    } else {
                        TokenSpend::Always
                    },
                    state: Self::word(row, "state")?,
                    reason_code: row.try_get("reason_code")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            /// Ends a 3-D Secure challenge (`confirmed`, by compare-and-set: only once), in the
            /// transaction that ends its payment or transfer. The challenge is over: the sealed
            /// card numbers are not needed any more.
            async fn confirm_session(
                tx: &mut sqlx::Transaction<'static, $db>,
                session_id: &str,
                now: i64,
            ) -> StoreResult<()> {
                let claimed = sqlx::query(
                    "UPDATE three_ds_sessions SET state = $1, updated_at = $2, pan_ciphertext = '',
                         receiver_pan_ciphertext = NULL
                     WHERE id = $3 AND state <> $1",
                )
                .bind(ThreeDsState::Confirmed.as_str())
                .bind(now)
                .bind(session_id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if claimed != 1 {
                    return Err(StoreError::AlreadyConfirmed);
                }
                Ok(())
            }

            /// Decides a transfer waiting in `from` (`NEW`, or `3D` after its challenge) through
            /// the state machine: limits checked, amount and fee together or not at all; a limit
            /// or balance that does not allow it turns it into a REJECT with that reason. Books
            /// the money and saves the cards of an approved transfer.
            async fn settle_transfer(
                tx: &mut sqlx::Transaction<'static, $db>,
                from: TxStatus,
                settlement: TransferSettlement,
                now: i64,
            ) -> StoreResult<Payment> {
                let decision = transfer_decision(from, &settlement)?;
                let TransferSettlement {
                    mut payment,
                    money,
                    save_sender,
                    save_receiver,
                    insufficient_funds,
                    receiver_limit,
                    terminal_limit,
                } = settlement;
                let state = PaymentState { status: from, charged_minor: 0, refunded_minor: 0, ..state_of(&payment) };
                let mut checks = Checks::default();
                if let Some(m) = &money {
                    if let Some(limit) = m.terminal_daily_limit_minor {
                        // Serializes this terminal's transfers on PostgreSQL for the limit check.
                        sqlx::query(concat!("SELECT id FROM terminals WHERE id = $1 ", $lock))
                            .bind(&payment.terminal_id)
                            .fetch_optional(&mut **tx)
                            .await?;
                        // Counted when the money moved (its ledger transfer), not when the transfer
                        // was created: a 3-D Secure transfer confirmed after midnight counts today.
                        // The limit is per currency: only transfers in this one count.
                        let row = sqlx::query(
                            "SELECT CAST(COALESCE(SUM(p.amount_minor), 0) AS BIGINT) AS total FROM payments p
                             WHERE p.terminal_id = $1 AND p.kind IN ($5, $6, $7) AND p.status = $4
                               AND p.currency = $3
                               AND EXISTS (SELECT 1 FROM ledger_transfers lt WHERE lt.payment_id = p.id
                                           AND lt.id LIKE '%:transfer' AND lt.created_at >= $2)",
                        )
                        .bind(&payment.terminal_id)
                        .bind(m.day_start_ms)
                        .bind(&payment.currency)
                        .bind(TxStatus::Charge.as_str())
                        .bind(PaymentKind::from(TransferKind::P2p).as_str())
                        .bind(PaymentKind::from(TransferKind::Aft).as_str())
                        .bind(PaymentKind::from(TransferKind::Oct).as_str())
                        .fetch_one(&mut **tx)
                        .await?;
                        checks.terminal_limit = Some(DailyLimit { limit_minor: limit, used_minor: row.try_get("total")? });
                    }
                    if m.to_account.starts_with("merchant:") {
                        Self::open_account(tx, &m.to_account, AccountKind::Merchant, &payment.currency, now).await?;
                    }
                    if m.from_account.starts_with("merchant:") {
                        Self::open_account(tx, &m.from_account, AccountKind::Merchant, &payment.currency, now).await?;
                    }
                    let to_currency =
                        Self::account_currency(tx, &m.to_account).await?.ok_or_else(|| mixed_currencies(&payment.id))?;
                    if let Some(limit) = m.receiver_daily_limit_minor {
                        sqlx::query(concat!("SELECT id FROM ledger_accounts WHERE id = $1 ", $lock))
                            .bind(&m.to_account)
                            .fetch_optional(&mut **tx)
                            .await?;
                        // The receiving account has one currency, and so have its credits and limit.
                        let row = sqlx::query(
                            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM ledger_transfers
                             WHERE credit_account = $1 AND kind = $3 AND payment_id IS NOT NULL
                               AND (id LIKE '%:transfer' OR id LIKE '%:transfer:fx') AND created_at >= $2",
                        )
                        .bind(&m.to_account)
                        .bind(m.day_start_ms)
                        .bind(LedgerTransferKind::Posted.as_str())
                        .fetch_one(&mut **tx)
                        .await?;
                        let side = denomination(&payment, &to_currency).ok_or_else(|| mixed_currencies(&payment.id))?;
                        checks.receiver_limit =
                            Some((side, DailyLimit { limit_minor: limit, used_minor: row.try_get("total")? }));
                    }
                    checks.payer = Self::funds(tx, &payment, &m.from_account).await?;
                    if checks.payer.is_none() {
                        return Err(mixed_currencies(&payment.id).into());
                    }
                }
                let decided = transition::decide(&state, decision, &checks).map_err(illegal(from, payment.status))?;
                payment.status = decided.status;
                payment.charged_minor = decided.charged_minor;
                if let Some(fee) = decided.fee_minor {
                    payment.fee_minor = fee;
                }
                if let Some(why) = decided.declined {
                    let (code, reason) = match why {
                        Decline::InsufficientFunds => insufficient_funds,
                        Decline::ReceiverLimit => receiver_limit,
                        Decline::TerminalLimit => terminal_limit,
                    };
                    payment.reason_code = code;
                    payment.reason = reason;
                    payment.approval_code = String::new();
                    payment.reference = String::new();
                }
                if let (Some(m), false) = (&money, decided.postings.is_empty()) {
                    if m.fee_minor > 0 {
                        Self::open_account(tx, &m.fee_account, AccountKind::Merchant, &payment.currency, now).await?;
                    }
                    let accounts = RoleAccounts { payer: &m.from_account, payee: &m.to_account, fee: Some(&m.fee_account) };
                    Self::book(tx, &payment, &accounts, &decided.postings, now).await?;
                }
                if payment.reason_code == 0 {
                    if let Some(card) = &save_sender {
                        payment.card_id = Self::save_card(tx, card).await?;
                    }
                    if let Some(card) = &save_receiver {
                        payment.receiver_card_id = Self::save_card(tx, card).await?;
                    }
                }
                Ok(payment)
            }

            /// Binds a cabinet filter's values, in the order `payment_conditions` numbered them.
            fn bind_filter<'q>(
                mut q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
                binds: &'q [Bind],
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
                for b in binds {
                    q = match b {
                        Bind::Text(t) => q.bind(t.as_str()),
                        Bind::Int(i) => q.bind(*i),
                    };
                }
                q
            }

            /// Appends one step to a payment's status history, inside the transaction that
            /// makes the change, so the history never disagrees with the payment row.
            async fn record_event(
                tx: &mut sqlx::Transaction<'static, $db>,
                payment_id: &str,
                operation: &str,
                status: TxStatus,
                amount_minor: i64,
                reason_code: i32,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO payment_events (payment_id, operation, status, amount_minor, reason_code, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(payment_id)
                .bind(operation)
                .bind(status.as_str())
                .bind(amount_minor)
                .bind(reason_code)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Inserts or updates one terminal row.
            async fn write_terminal(tx: &mut sqlx::Transaction<'static, $db>, t: &Terminal) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO terminals (id, merchant_id, pos_id, name, two_step, three_ds,
                         transfers_allowed, hold_period_secs, created_at, fee_percent_bp, fee_fixed_minor,
                         fee_min_minor, transfer_daily_limit_minor, callback_origins, operation_callbacks,
                         max_attempts)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                     ON CONFLICT (id) DO UPDATE SET merchant_id = excluded.merchant_id,
                         pos_id = excluded.pos_id, name = excluded.name, two_step = excluded.two_step,
                         three_ds = excluded.three_ds, transfers_allowed = excluded.transfers_allowed,
                         hold_period_secs = excluded.hold_period_secs, fee_percent_bp = excluded.fee_percent_bp,
                         fee_fixed_minor = excluded.fee_fixed_minor, fee_min_minor = excluded.fee_min_minor,
                         transfer_daily_limit_minor = excluded.transfer_daily_limit_minor,
                         callback_origins = excluded.callback_origins,
                         operation_callbacks = excluded.operation_callbacks, max_attempts = excluded.max_attempts",
                )
                .bind(&t.id)
                .bind(&t.merchant_id)
                .bind(&t.pos_id)
                .bind(&t.name)
                .bind(t.two_step)
                .bind(t.three_ds)
                .bind(t.transfers_allowed)
                .bind(t.hold_period_secs)
                .bind(0i64)
                .bind(t.fee_percent_bp)
                .bind(t.fee_fixed_minor)
                .bind(t.fee_min_minor)
                .bind(t.transfer_daily_limit_minor)
                .bind(t.callback_origins.join(" "))
                .bind(t.operation_callbacks)
                .bind(t.max_attempts.get())
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Numbers a new attempt at the payment's invoice (docs/compatibility.md §48). Refused
            /// while another attempt holds the invoice (`DuplicateInvoice`, or `ChallengeOpen`
            /// while it waits for 3-D Secure) and once the terminal's attempts are used
            /// (`AttemptsExhausted`). This read only chooses the answer: two attempts that read
            /// at the same moment are kept apart by the unique indexes the insert meets,
            /// `payments_invoice_attempt` (one number per attempt, so never more attempts than
            /// the limit) and `payments_invoice_holding` (one attempt that is not declined).
            async fn number_attempt(tx: &mut sqlx::Transaction<'static, $db>, p: &Payment) -> StoreResult<i32> {
                let rows = sqlx::query(
                    "SELECT t.max_attempts, p.attempt, p.status FROM terminals t
                     LEFT JOIN payments p ON p.terminal_id = t.id AND p.invoice_id = $2
                     WHERE t.id = $1",
                )
                .bind(&p.terminal_id)
                .bind(&p.invoice_id)
                .fetch_all(&mut **tx)
                .await?;
                let max: i32 = match rows.first() {
                    Some(row) => row.try_get("max_attempts")?,
                    None => return Err(StoreError::NotFound),
                };
                let mut last = 0;
                let mut statuses = Vec::new();
                for row in &rows {
                    if let Some(attempt) = row.try_get::<Option<i32>, _>("attempt")? {
                        last = last.max(attempt);
                        let status: String = row.try_get("status")?;
                        // A status this code does not know holds the invoice: refuse, never double.
                        statuses.push(status.parse().unwrap_or(TxStatus::New));
                    }
                }
                let attempts = epay_domain::InvoiceAttempts::of(statuses, max);
                match attempts.holding {
                    Some(TxStatus::ThreeD) => Err(StoreError::ChallengeOpen),
                    Some(_) => Err(StoreError::DuplicateInvoice),
                    None if attempts.exhausted() => Err(StoreError::AttemptsExhausted { attempts: attempts.used }),
                    None => Ok(last + 1),
                }
            }

            /// A declined attempt on the hosted page leaves its token usable: the shopper may try
            /// the same invoice again on the same page, within the terminal's attempts.
            async fn keep_token(tx: &mut sqlx::Transaction<'static, $db>, token_digest: &str) -> Result<(), sqlx::Error> {
                sqlx::query("UPDATE tokens SET used_at = NULL WHERE token_digest = $1")
                    .bind(token_digest)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// A 3-D Secure attempt from the hosted page that ends declined leaves the token that
            /// started it usable, like any declined attempt there.
            async fn keep_session_token(
                tx: &mut sqlx::Transaction<'static, $db>,
                session_id: &str,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "UPDATE tokens SET used_at = NULL
                     WHERE token_digest = (SELECT token_digest FROM three_ds_sessions
                                           WHERE id = $1 AND keep_token_on_decline)",
                )
                .bind(session_id)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Inserts a payment row. Another attempt that holds the invoice, or took the same
            /// attempt number, makes it `DuplicateInvoice` or `ConcurrentAttempt`.
            async fn insert_payment(tx: &mut sqlx::Transaction<'static, $db>, p: &Payment) -> StoreResult<()> {
                // An attempt is recorded decided (or waiting in 3D): its first move, from NEW.
                check_move(TxStatus::New, p.status)?;
                let inserted = sqlx::query(
                    "INSERT INTO payments (id, merchant_id, terminal_id, invoice_id, invoice_id_alt, kind, status,
                         amount_minor, charged_minor, refunded_minor, fee_minor, currency, description, account_id,
                         email, phone, payer_name, language, post_link, failure_post_link, back_link,
                         failure_back_link, secret_hash, data, card_id, card_mask, card_brand, card_account, issuer,
                         reference, int_reference, approval_code, reason_code, reason, secure, created_at, updated_at,
                         sender_transfer_type, receiver_transfer_type, receiver_card_id, receiver_card_mask,
                         receiver_card_brand, receiver_account, card_currency, fx_rate_micros, card_amount_minor,
                         attempt)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                         $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37,
                         $38, $39, $40, $41, $42, $43, $44, $45, $46, $47)",
                )
                .bind(&p.id)
                .bind(&p.merchant_id)
                .bind(&p.terminal_id)
                .bind(&p.invoice_id)
                .bind(&p.invoice_id_alt)
                .bind(p.kind.as_str())
                .bind(p.status.as_str())
                .bind(p.amount_minor)
                .bind(p.charged_minor)
                .bind(p.refunded_minor)
                .bind(p.fee_minor)
                .bind(&p.currency)
                .bind(&p.description)
                .bind(&p.account_id)
                .bind(&p.email)
                .bind(&p.phone)
                .bind(&p.payer_name)
                .bind(&p.language)
                .bind(&p.post_link)
                .bind(&p.failure_post_link)
                .bind(&p.back_link)
                .bind(&p.failure_back_link)
                .bind(p.secret_hash.as_ref().map(Secret::expose))
                .bind(&p.data)
                .bind(&p.card_id)
                .bind(&p.card_mask)
                .bind(&p.card_brand)
                .bind(&p.card_account)
                .bind(&p.issuer)
                .bind(&p.reference)
                .bind(&p.int_reference)
                .bind(&p.approval_code)
                .bind(p.reason_code)
                .bind(&p.reason)
                .bind(p.secure)
                .bind(p.created_at)
                .bind(p.updated_at)
                .bind(&p.sender_transfer_type)
                .bind(&p.receiver_transfer_type)
                .bind(&p.receiver_card_id)
                .bind(&p.receiver_card_mask)
                .bind(&p.receiver_card_brand)
                .bind(&p.receiver_account)
                .bind(&p.card_currency)
                .bind(p.fx_rate().micros())
                .bind(p.card_amount_minor)
                .bind(p.attempt)
                .execute(&mut **tx)
                .await;
                match inserted {
                    Ok(_) => {
                        Self::record_event(tx, &p.id, "created", p.status, p.amount_minor, p.reason_code, p.created_at)
                            .await?;
                        Ok(())
                    }
                    Err(e) if is_unique_violation(&e) => Err(attempt_conflict(&e)),
                    Err(e) => Err(e.into()),
                }
            }

            /// Saves a card for a customer (or reactivates the one already saved); returns its id,
            /// except where a receive-only save (`!card.payable`) met a card that may pay or was
            /// deactivated: that id is not the saver's to learn, and the card is left as it was.
            async fn save_card(
                tx: &mut sqlx::Transaction<'static, $db>,
                card: &SavedCard,
            ) -> Result<Option<String>, sqlx::Error> {
                let row = sqlx::query(
                    "INSERT INTO saved_cards (id, merchant_id, account_id, pan_fingerprint, pan_ciphertext,
                         card_mask, card_brand, expiry_mmyy, payer_name, transaction_id, terminal_pos_id,
                         reference, int_reference, card_token, active, created_at, payable)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, TRUE, $15, $16)
                     ON CONFLICT (merchant_id, account_id, pan_fingerprint) DO UPDATE
                         -- A proof that makes the card payable (again) gives it a new id: whoever
                         -- saved it as a receiver knows the old one. A receive-only save never
                         -- makes a card payable, never revives a deactivated one, and changes
                         -- nothing of a card that may pay.
                         SET id = CASE WHEN excluded.payable AND NOT (saved_cards.payable AND saved_cards.active)
                                       THEN excluded.id ELSE saved_cards.id END,
                             active = CASE WHEN excluded.payable THEN TRUE ELSE saved_cards.active END,
                             payable = CASE WHEN excluded.payable THEN TRUE ELSE saved_cards.payable END,
                             expiry_mmyy = CASE WHEN excluded.payable AND excluded.expiry_mmyy <> ''
                                                THEN excluded.expiry_mmyy ELSE saved_cards.expiry_mmyy END,
                             pan_ciphertext = CASE WHEN excluded.payable THEN excluded.pan_ciphertext
                                                   ELSE saved_cards.pan_ciphertext END
                     RETURNING id, payable, active",
                )
                .bind(&card.id)
                .bind(&card.merchant_id)
                .bind(&card.account_id)
                .bind(&card.pan_fingerprint)
                .bind(&card.pan_ciphertext)
                .bind(&card.card_mask)
                .bind(&card.card_brand)
                .bind(&card.expiry_mmyy)
                .bind(&card.payer_name)
                .bind(&card.transaction_id)
                .bind(&card.terminal_pos_id)
                .bind(&card.reference)
                .bind(&card.int_reference)
                .bind(&card.card_token)
                .bind(card.created_at)
                .bind(card.payable)
                .fetch_one(&mut **tx)
                .await?;
                let (id, payable, active): (String, bool, bool) =
                    (row.try_get("id")?, row.try_get("payable")?, row.try_get("active")?);
                Ok((card.payable || (!payable && active)).then_some(id))
            }

            async fn insert_callback(
                tx: &mut sqlx::Transaction<'static, $db>,
                cb: &NewCallback,
                now: i64,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO callback_events (id, merchant_id, payment_id, kind, url, payload, status, attempts,
                         next_attempt_at, locked_until, claim_id, created_at, delivered_at)
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, 0, '', $7, NULL)",
                )
                .bind(&cb.id)
                .bind(&cb.merchant_id)
                .bind(&cb.payment_id)
                .bind(&cb.kind)
                .bind(&cb.url)
                .bind(cb.payload.expose())
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            fn event_from(row: &$row) -> Result<CallbackEvent, sqlx::Error> {
                Ok(CallbackEvent {
                    id: row.try_get("id")?,
                    merchant_id: row.try_get("merchant_id")?,
                    payment_id: row.try_get("payment_id")?,
                    kind: row.try_get("kind")?,
                    url: row.try_get("url")?,
                    payload: row.try_get::<String, _>("payload")?.into(),
                    status: row.try_get("status")?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    created_at: row.try_get("created_at")?,
                    delivered_at: row.try_get("delivered_at")?,
                    webhook_secret: row.try_get::<String, _>("webhook_secret").unwrap_or_default().into(),
                })
            }

            fn attempt_from(row: &$row) -> Result<CallbackAttempt, sqlx::Error> {
                Ok(CallbackAttempt {
                    event_id: row.try_get("event_id")?,
                    attempt_no: row.try_get("attempt_no")?,
                    started_at: row.try_get("started_at")?,
                    http_status: row.try_get("http_status")?,
                    latency_ms: row.try_get("latency_ms")?,
                    error: row.try_get("error")?,
                    response_excerpt: row.try_get("response_excerpt")?,
                    node: row.try_get("node")?,
                })
            }

            /// Applies an operation the state machine allowed (`moved`, from `p` as read): the new
            /// status and money by compare-and-set on the status and money it was decided from,
            /// a refund's row, the postings, the history step.
            async fn apply_operation(
                tx: &mut sqlx::Transaction<'static, $db>,
                p: &Payment,
                moved: &transition::Moved,
                external_id: Option<&str>,
                now: i64,
            ) -> StoreResult<Applied> {
                let updated = sqlx::query(
                    "UPDATE payments SET status = $1, charged_minor = $2, refunded_minor = $3, updated_at = $4
                     WHERE id = $5 AND status = $6 AND charged_minor = $7 AND refunded_minor = $8",
                )
                .bind(moved.status.as_str())
                .bind(moved.charged_minor)
                .bind(moved.refunded_minor)
                .bind(now)
                .bind(&p.id)
                .bind(p.status.as_str())
                .bind(p.charged_minor)
                .bind(p.refunded_minor)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if updated != 1 {
                    return Ok(Applied::Lost);
                }
                if moved.operation == epay_domain::Operation::Refund {
                    // Named like its ledger transfer: refunded-so-far only grows, so it is unique.
                    let refund_id = format!("{}:refund:{}", p.id, p.refunded_minor);
                    let inserted = sqlx::query(
                        "INSERT INTO refunds (id, payment_id, external_id, amount_minor, created_at)
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&refund_id)
                    .bind(&p.id)
                    .bind(external_id)
                    .bind(moved.amount_minor)
                    .bind(now)
                    .execute(&mut **tx)
                    .await;
                    match inserted {
                        Ok(_) => {}
                        Err(e) if is_unique_violation(&e) => return Ok(Applied::RefundRace),
                        Err(e) => return Err(e.into()),
                    }
                }
                let card = p.card_account.clone().unwrap_or_default();
                let merchant = merchant_account(&p.terminal_id, &p.currency);
                let accounts = RoleAccounts { payer: &card, payee: &merchant, fee: None };
                Self::book(tx, p, &accounts, &moved.postings, now).await?;
                Self::record_event(tx, &p.id, moved.operation.as_str(), moved.status, moved.amount_minor, 0, now).await?;
                Ok(Applied::Done)
            }

            /// Ends a payment's or a transfer's 3-D Secure challenge once it is decided: the row
            /// moves from `3D` by compare-and-set (only once), its history step, the token given
            /// back to a declined hosted-page attempt, its callback; then commits.
            async fn end_challenge(
                mut tx: sqlx::Transaction<'static, $db>,
                session_id: &str,
                mut payment: Payment,
                now_ms: i64,
                callback: CallbackBuilder<'_>,
            ) -> StoreResult<Payment> {
                let moved = sqlx::query(
                    "UPDATE payments SET status = $1, charged_minor = $2, fee_minor = $3, reason_code = $4,
                         reason = $5, approval_code = $6, reference = $7, card_id = $8, receiver_card_id = $9,
                         secure = $10, issuer = $11, card_account = $12, receiver_account = $13, updated_at = $14
                     WHERE id = $15 AND status = $16",
                )
                .bind(payment.status.as_str())
                .bind(payment.charged_minor)
                .bind(payment.fee_minor)
                .bind(payment.reason_code)
                .bind(&payment.reason)
                .bind(&payment.approval_code)
                .bind(&payment.reference)
                .bind(&payment.card_id)
                .bind(&payment.receiver_card_id)
                .bind(payment.secure)
                .bind(&payment.issuer)
                .bind(&payment.card_account)
                .bind(&payment.receiver_account)
                .bind(now_ms)
                .bind(&payment.id)
                .bind(TxStatus::ThreeD.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved != 1 {
                    return Err(StoreError::AlreadyConfirmed);
                }
                payment.updated_at = now_ms;
                let amount = if payment.charged_minor > 0 { payment.charged_minor } else { payment.amount_minor };
                Self::record_event(&mut tx, &payment.id, "3ds", payment.status, amount, payment.reason_code, now_ms)
                    .await?;
                if payment.status.is_declined() {
                    Self::keep_session_token(&mut tx, session_id).await?;
                }
                if let Some(cb) = callback(&payment) {
                    Self::insert_callback(&mut tx, &cb, now_ms).await?;
                }
                tx.commit().await?;
                Ok(payment)
            }

            /// Whether a token bound to `bound.invoice_id` may move `p`'s money: it must name `p`'s
            /// invoice and have been issued after `p` was decided, i.e. after its history first
            /// shows AUTH or CHARGE. The decision, once made, never changes, so reading it in the
            /// operation's transaction is as good as a lock. No such step (a payment still in 3D,
            /// a declined one, or one made before migration 0007 wrote histories): refused.
            async fn bound_token_may_operate(
                tx: &mut sqlx::Transaction<'static, $db>,
                p: &Payment,
                bound: &InvoiceBound,
            ) -> Result<bool, sqlx::Error> {
                if p.invoice_id != bound.invoice_id {
                    return Ok(false);
                }
                let decided: Option<i64> = sqlx::query(
                    "SELECT MIN(created_at) AS decided FROM payment_events
                     WHERE payment_id = $1 AND status IN ($2, $3)",
                )
                .bind(&p.id)
                .bind(TxStatus::Auth.as_str())
                .bind(TxStatus::Charge.as_str())
                .fetch_one(&mut **tx)
                .await?
                .try_get("decided")?;
                Ok(decided.is_some_and(|decided| bound.issued_at > decided))
            }

            /// One attempt at an operation; `Ok(None)` asks the caller to retry (a concurrent
            /// refund with the same externalID committed first).
            async fn try_operate(
                &self,
                req: &OperationRequest,
                callback: CallbackBuilder<'_>,
            ) -> StoreResult<Option<OperationOutcome>> {
                let now = req.now_ms;
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query(concat!("SELECT * FROM payments WHERE id = $1 AND merchant_id = $2 ", $lock))
                    .bind(&req.payment_id)
                    .bind(&req.merchant_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let p = match row.as_ref().map(Self::payment_from).transpose()? {
                    Some(p) if req.terminal_id.as_ref().is_none_or(|t| *t == p.terminal_id) => p,
                    _ => return Err(StoreError::Refused(Refusal::NotFound)),
                };
                if let Some(bound) = &req.invoice_bound {
                    if !Self::bound_token_may_operate(&mut tx, &p, bound).await? {
                        return Err(StoreError::Refused(Refusal::NotThisToken));
                    }
                }
                // The state machine (epay_domain::transition) judges the operation on the row as
                // this transaction sees it: locked on PostgreSQL, and SQLite runs one transaction
                // at a time, so no concurrent operation changes it between the checks (ePay's
                // minimum refund among them) and the write, which is a compare-and-set anyway.
                let state = state_of(&p);
                let moved = match &req.operation {
                    Operation::Charge { amount_minor } => transition::charge(&state, *amount_minor).map_err(refused)?,
                    Operation::Cancel => transition::cancel(&state).map_err(refused)?,
                    Operation::Refund { amount_minor, external_id } => {
                        let mut earlier = None;
                        if let Some(external) = external_id {
                            let row = sqlx::query(
                                "SELECT amount_minor FROM refunds WHERE payment_id = $1 AND external_id = $2",
                            )
                            .bind(&p.id)
                            .bind(external)
                            .fetch_optional(&mut *tx)
                            .await?;
                            earlier = row.map(|r| r.try_get::<i64, _>("amount_minor")).transpose()?;
                        }
                        match transition::refund(&state, *amount_minor, earlier).map_err(refused)? {
                            Refunded::Moved(moved) => moved,
                            Refunded::Replay => {
                                Self::commit_idempotency(&mut tx, req.idempotency.as_ref(), &p).await?;
                                tx.commit().await?;
                                return Ok(Some(OperationOutcome { payment: p, replayed: true }));
                            }
                        }
                    }
                };
                let external_id = match &req.operation {
                    Operation::Refund { external_id, .. } => external_id.as_deref(),
                    _ => None,
                };
                match Self::apply_operation(&mut tx, &p, &moved, external_id, now).await? {
                    Applied::Done => {}
                    Applied::RefundRace => return Ok(None),
                    Applied::Lost if moved.operation == epay_domain::Operation::Refund => {
                        return Err(StoreError::Refused(Refusal::OverAmount { left_minor: state.refundable() }))
                    }
                    Applied::Lost => return Err(StoreError::Refused(Refusal::WrongStatus { status: p.status })),
                }
                let row = sqlx::query("SELECT * FROM payments WHERE id = $1").bind(&p.id).fetch_one(&mut *tx).await?;
                let payment = Self::payment_from(&row)?;
                if let Some(cb) = callback(&payment) {
                    Self::insert_callback(&mut tx, &cb, now).await?;
                }
                Self::commit_idempotency(&mut tx, req.idempotency.as_ref(), &payment).await?;
                tx.commit().await?;
                Ok(Some(OperationOutcome { payment, replayed: false }))
            }
            fn merchant_from(row: &$row) -> Result<Merchant, sqlx::Error> {
                Ok(Merchant {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    client_id: row.try_get("client_id")?,
                    secret_digest: row.try_get::<String, _>("secret_digest")?.into(),
                    webhook_secret: row.try_get::<String, _>("webhook_secret")?.into(),
                })
            }

            fn terminal_from(row: &$row) -> Result<Terminal, sqlx::Error> {
                Ok(Terminal {
                    id: row.try_get("id")?,
                    merchant_id: row.try_get("merchant_id")?,
                    pos_id: row.try_get("pos_id")?,
                    name: row.try_get("name")?,
                    two_step: row.try_get("two_step")?,
                    three_ds: row.try_get("three_ds")?,
                    transfers_allowed: row.try_get("transfers_allowed")?,
                    hold_period_secs: row.try_get("hold_period_secs")?,
                    fee_percent_bp: row.try_get("fee_percent_bp")?,
                    fee_fixed_minor: row.try_get("fee_fixed_minor")?,
                    fee_min_minor: row.try_get("fee_min_minor")?,
                    transfer_daily_limit_minor: row.try_get("transfer_daily_limit_minor")?,
                    callback_origins: row
                        .try_get::<String, _>("callback_origins")?
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                    operation_callbacks: row.try_get("operation_callbacks")?,
                    // Written only through `MaxAttempts::parse`; anything else reads as the default.
                    max_attempts: epay_domain::MaxAttempts::parse(row.try_get::<i32, _>("max_attempts")?.into())
                        .unwrap_or_default(),
                })
            }

            fn token_from(row: &$row) -> Result<TokenRecord, sqlx::Error> {
                Ok(TokenRecord {
                    token_digest: row.try_get("token_digest")?,
                    merchant_id: row.try_get("merchant_id")?,
                    terminal_id: row.try_get("terminal_id")?,
                    scope: row.try_get("scope")?,
                    invoice_id: row.try_get("invoice_id")?,
                    amount_minor: row.try_get("amount_minor")?,
                    currency: row.try_get("currency")?,
                    post_link: row.try_get("post_link")?,
                    failure_post_link: row.try_get("failure_post_link")?,
                    secret_hash: row.try_get::<Option<String>, _>("secret_hash")?.map(Secret::from),
                    transfer_kind: row
                        .try_get::<Option<String>, _>("transfer_kind")?
                        .map(|text| text.parse())
                        .transpose()
                        .map_err(|e| sqlx::Error::ColumnDecode { index: "transfer_kind".into(), source: Box::new(e) })?,
                    account_id: row.try_get("account_id")?,
                    expires_at: row.try_get("expires_at")?,
                    used_at: row.try_get("used_at")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            fn payment_from(row: &$row) -> Result<Payment, sqlx::Error> {
                Ok(Payment {
                    id: row.try_get("id")?,
                    merchant_id: row.try_get("merchant_id")?,
                    terminal_id: row.try_get("terminal_id")?,
                    invoice_id: row.try_get("invoice_id")?,
                    invoice_id_alt: row.try_get("invoice_id_alt")?,
                    kind: Self::word(row, "kind")?,
                    status: Self::word(row, "status")?,
                    amount_minor: row.try_get("amount_minor")?,
                    charged_minor: row.try_get("charged_minor")?,
                    refunded_minor: row.try_get("refunded_minor")?,
                    fee_minor: row.try_get("fee_minor")?,
                    currency: row.try_get("currency")?,
                    description: row.try_get("description")?,
                    account_id: row.try_get("account_id")?,
                    email: row.try_get("email")?,
                    phone: row.try_get("phone")?,
                    payer_name: row.try_get("payer_name")?,
                    language: row.try_get("language")?,
                    post_link: row.try_get("post_link")?,
                    failure_post_link: row.try_get("failure_post_link")?,
                    back_link: row.try_get("back_link")?,
                    failure_back_link: row.try_get("failure_back_link")?,
                    secret_hash: row.try_get::<Option<String>, _>("secret_hash")?.map(Secret::from),
                    data: row.try_get("data")?,
                    card_id: row.try_get("card_id")?,
                    card_mask: row.try_get("card_mask")?,
                    card_brand: row.try_get("card_brand")?,
                    card_account: row.try_get("card_account")?,
                    issuer: row.try_get("issuer")?,
                    reference: row.try_get("reference")?,
                    int_reference: row.try_get("int_reference")?,
                    approval_code: row.try_get("approval_code")?,
                    reason_code: row.try_get("reason_code")?,
                    reason: row.try_get("reason")?,
                    secure: row.try_get("secure")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    sender_transfer_type: row.try_get("sender_transfer_type")?,
                    receiver_transfer_type: row.try_get("receiver_transfer_type")?,
                    receiver_card_id: row.try_get("receiver_card_id")?,
                    receiver_card_mask: row.try_get("receiver_card_mask")?,
                    receiver_card_brand: row.try_get("receiver_card_brand")?,
                    receiver_account: row.try_get("receiver_account")?,
                    card_currency: row.try_get("card_currency")?,
                    fx_rate_micros: row.try_get("fx_rate_micros")?,
                    card_amount_minor: row.try_get("card_amount_minor")?,
                    attempt: row.try_get("attempt")?,
                })
            }

            fn saved_card_from(row: &$row) -> Result<SavedCard, sqlx::Error> {
                Ok(SavedCard {
                    id: row.try_get("id")?,
                    merchant_id: row.try_get("merchant_id")?,
                    account_id: row.try_get("account_id")?,
                    pan_fingerprint: row.try_get("pan_fingerprint")?,
                    pan_ciphertext: row.try_get("pan_ciphertext")?,
                    card_mask: row.try_get("card_mask")?,
                    card_brand: row.try_get("card_brand")?,
                    expiry_mmyy: row.try_get("expiry_mmyy")?,
                    payer_name: row.try_get("payer_name")?,
                    transaction_id: row.try_get("transaction_id")?,
                    terminal_pos_id: row.try_get("terminal_pos_id")?,
                    reference: row.try_get("reference")?,
                    int_reference: row.try_get("int_reference")?,
                    card_token: row.try_get("card_token")?,
                    active: row.try_get("active")?,
                    payable: row.try_get("payable")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            /// Reads ledger rows for `ledger check`: a row whose kind this code does not know is
            /// reported as a violation and left out, rather than failing the whole check.
            fn known_rows<T>(
                rows: &[$row],
                what: &str,
                read: fn(&$row) -> Result<T, sqlx::Error>,
                violations: &mut Vec<InvariantViolation>,
            ) -> Result<Vec<T>, sqlx::Error> {
                let mut known = Vec::new();
                for row in rows {
                    match read(row) {
                        Ok(item) => known.push(item),
                        Err(sqlx::Error::ColumnDecode { index, .. }) if index == "kind" => {
                            let (id, kind): (String, String) = (row.try_get("id")?, row.try_get("kind")?);
                            violations.push(InvariantViolation {
                                subject: format!("{what} {id}"),
                                problem: format!("unknown kind {kind:?}"),
                            });
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(known)
            }

            fn account_from(row: &$row) -> Result<LedgerAccount, sqlx::Error> {
                Ok(LedgerAccount {
                    id: row.try_get("id")?,
                    kind: Self::word(row, "kind")?,
                    currency: row.try_get("currency")?,
                    debits_pending: row.try_get("debits_pending")?,
                    debits_posted: row.try_get("debits_posted")?,
                    credits_pending: row.try_get("credits_pending")?,
                    credits_posted: row.try_get("credits_posted")?,
                })
            }

            fn transfer_from(row: &$row) -> Result<LedgerTransfer, sqlx::Error> {
                Ok(LedgerTransfer {
                    id: row.try_get("id")?,
                    payment_id: row.try_get("payment_id")?,
                    debit_account: row.try_get("debit_account")?,
                    credit_account: row.try_get("credit_account")?,
                    amount_minor: row.try_get("amount_minor")?,
                    kind: Self::word(row, "kind")?,
                    pending_id: row.try_get("pending_id")?,
                    created_at: row.try_get("created_at")?,
                })
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn vault_keys(&self) -> StoreResult<Vec<VaultKey>> {
                let rows = sqlx::query("SELECT * FROM vault_keys ORDER BY created_at, id").fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(VaultKey {
                            id: r.try_get("id")?,
                            wrapped_key: r.try_get("wrapped_key")?,
                            active: r.try_get("active")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::from)
            }

            async fn add_vault_key(&self, key: &VaultKey, make_active: bool) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                if make_active {
                    sqlx::query("UPDATE vault_keys SET active = FALSE WHERE active").execute(&mut *tx).await?;
                }
                sqlx::query("INSERT INTO vault_keys (id, wrapped_key, active, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&key.id)
                    .bind(&key.wrapped_key)
                    .bind(make_active)
                    .bind(key.created_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn sealed_values_not_under(
                &self,
                kinds: &[SealedKind],
                prefix: &str,
                limit: i64,
            ) -> StoreResult<Vec<SealedValue>> {
                let mut out = Vec::new();
                for sealed in SEALED_COLUMNS.iter().filter(|c| kinds.contains(&c.kind)) {
                    if out.len() as i64 >= limit {
                        break;
                    }
                    let SealedColumn { table, id_column, column, .. } = sealed;
                    // Identifiers come from the fixed SEALED_COLUMNS list, never from input.
                    let sql = format!(
                        "SELECT {id_column} AS id, {column} AS sealed FROM {table}
                         WHERE {column} IS NOT NULL AND {column} <> '' AND {column} NOT LIKE $1 LIMIT $2"
                    );
                    let rows = sqlx::query(&sql)
                        .bind(format!("{prefix}%"))
                        .bind(limit - out.len() as i64)
                        .fetch_all(&self.pool)
                        .await?;
                    for r in rows {
                        out.push(SealedValue { column: *sealed, id: r.try_get("id")?, ciphertext: r.try_get("sealed")? });
                    }
                }
                Ok(out)
            }

            async fn reseal(&self, value: &SealedValue, ciphertext: &str) -> StoreResult<bool> {
                // Only a column of the fixed list is ever named in SQL.
                if !SEALED_COLUMNS.contains(&value.column) {
                    return Err(StoreError::NotFound);
                }
                let SealedColumn { table, id_column, column, .. } = value.column;
                let sql = format!("UPDATE {table} SET {column} = $1 WHERE {id_column} = $2 AND {column} = $3");
                let changed = sqlx::query(&sql)
                    .bind(ciphertext)
                    .bind(&value.id)
                    .bind(&value.ciphertext)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(changed == 1)
            }

            async fn health(&self) -> StoreResult<StoreHealth> {
                let applied = "SELECT CAST(COUNT(*) AS BIGINT) AS applied FROM _sqlx_migrations WHERE success";
                // A read, so safe to retry: when it met a connection the database closed, the
                // retry's connection is checked first (see `lost`), and readiness recovers on
                // the first probe after the database is back.
                let row = match sqlx::query(applied).fetch_one(&self.pool).await {
                    Err(e) if crate::lost::is_connection_lost(&e) => {
                        crate::lost::note(&e);
                        sqlx::query(applied).fetch_one(&self.pool).await?
                    }
                    other => other?,
                };
                Ok(StoreHealth {
                    migrations_applied: row.try_get::<i64, _>("applied")? as usize,
                    migrations_known: sqlx::migrate!($migrations).migrations.len(),
                    pool_size: self.pool.size(),
                    pool_idle: self.pool.num_idle(),
                    pool_max: self.pool.options().get_max_connections(),
                })
            }

            async fn migrate(&self) -> StoreResult<()> {
                sqlx::migrate!($migrations).run(&self.pool).await?;
                Ok(())
            }

            async fn upsert_terminal(&self, t: &Terminal) -> StoreResult<()> {
                // The same statement as upsert_merchant's, without touching the merchant row (the
                // terminal's merchant must exist: a foreign key).
                let mut tx = self.pool.begin().await?;
                Self::write_terminal(&mut tx, t).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_merchant_secret(&self, merchant_id: &str, secret_digest: &Secret) -> StoreResult<bool> {
                // The tokens issued under the old secret are revoked with it, in one transaction:
                // whoever held the old secret keeps nothing it obtained with it.
                let mut tx = self.pool.begin().await?;
                let changed = sqlx::query("UPDATE merchants SET secret_digest = $1 WHERE id = $2")
                    .bind(secret_digest.expose())
                    .bind(merchant_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM tokens WHERE merchant_id = $1").bind(merchant_id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(changed == 1)
            }

            async fn set_webhook_secret(&self, merchant_id: &str, webhook_secret: &Secret) -> StoreResult<bool> {
                let changed = sqlx::query("UPDATE merchants SET webhook_secret = $1 WHERE id = $2")
                    .bind(webhook_secret.expose())
                    .bind(merchant_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(changed == 1)
            }

            async fn upsert_merchant(&self, m: &Merchant, terminals: &[Terminal]) -> StoreResult<()> {
                let now = 0i64;
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO merchants (id, name, client_id, secret_digest, created_at, webhook_secret)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, client_id = excluded.client_id,
                         secret_digest = excluded.secret_digest, webhook_secret = excluded.webhook_secret",
                )
                .bind(&m.id)
                .bind(&m.name)
                .bind(&m.client_id)
                .bind(m.secret_digest.expose())
                .bind(now)
                .bind(m.webhook_secret.expose())
                .execute(&mut *tx)
                .await?;
                for t in terminals {
                    Self::write_terminal(&mut tx, t).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn ensure_accounts(
                &self,
                accounts: &[(String, AccountKind, epay_domain::Currency, i64)],
                now_ms: i64,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                for (id, kind, currency, opening_minor) in accounts {
                    let currency = currency.code();
                    let exists = Self::account_currency(&mut tx, id).await?.is_some();
                    Self::open_account(&mut tx, id, *kind, currency, now_ms).await?;
                    if !exists && *opening_minor > 0 {
                        // The opening balance is a real transfer, so `ledger check` can account
                        // for every tiyn on the card.
                        let funding = funding_account(currency);
                        Self::open_account(&mut tx, &funding, AccountKind::Funding, currency, now_ms).await?;
                        Self::insert_leg(&mut tx, &format!("open:{id}"), None, &funding, id, *opening_minor, LedgerTransferKind::Posted, None, now_ms)
                            .await?;
                        sqlx::query("UPDATE ledger_accounts SET debits_posted = debits_posted + $1 WHERE id = $2")
                            .bind(opening_minor)
                            .bind(&funding)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("UPDATE ledger_accounts SET credits_posted = credits_posted + $1 WHERE id = $2")
                            .bind(opening_minor)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn merchant_by_client_id(&self, client_id: &str) -> StoreResult<Option<Merchant>> {
                let row = sqlx::query("SELECT * FROM merchants WHERE client_id = $1")
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::merchant_from).transpose()?)
            }

            async fn merchant(&self, id: &str) -> StoreResult<Option<Merchant>> {
                let row =
                    sqlx::query("SELECT * FROM merchants WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(Self::merchant_from).transpose()?)
            }

            async fn terminal(&self, id: &str) -> StoreResult<Option<Terminal>> {
                let row = sqlx::query("SELECT * FROM terminals WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::terminal_from).transpose()?)
            }

            async fn insert_token(&self, t: &TokenRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO tokens (token_digest, merchant_id, terminal_id, scope, invoice_id, amount_minor,
                         currency, post_link, failure_post_link, secret_hash, expires_at, used_at, created_at,
                         transfer_kind, account_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12, $13, $14)",
                )
                .bind(&t.token_digest)
                .bind(&t.merchant_id)
                .bind(&t.terminal_id)
                .bind(&t.scope)
                .bind(&t.invoice_id)
                .bind(t.amount_minor)
                .bind(&t.currency)
                .bind(&t.post_link)
                .bind(&t.failure_post_link)
                .bind(t.secret_hash.as_ref().map(Secret::expose))
                .bind(t.expires_at)
                .bind(t.created_at)
                .bind(t.transfer_kind.map(TransferKind::as_str))
                .bind(&t.account_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn token(&self, digest: &str) -> StoreResult<Option<TokenRecord>> {
                let row = sqlx::query("SELECT * FROM tokens WHERE token_digest = $1")
                    .bind(digest)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::token_from).transpose()?)
            }

            async fn saved_card(&self, merchant_id: &str, card_id: &str) -> StoreResult<Option<SavedCard>> {
                let row = sqlx::query("SELECT * FROM saved_cards WHERE merchant_id = $1 AND id = $2")
                    .bind(merchant_id)
                    .bind(card_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::saved_card_from).transpose()?)
            }

            async fn payment_by_invoice(&self, terminal_id: &str, invoice_id: &str) -> StoreResult<Option<Payment>> {
                let row = sqlx::query(
                    "SELECT * FROM payments WHERE terminal_id = $1 AND invoice_id = $2 ORDER BY attempt DESC LIMIT 1",
                )
                .bind(terminal_id)
                .bind(invoice_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.as_ref().map(Self::payment_from).transpose()?)
            }

            async fn invoice_attempts(
                &self,
                merchant_id: &str,
                terminal_id: &str,
                invoice_id: &str,
            ) -> StoreResult<Vec<Payment>> {
                let rows = sqlx::query(
                    "SELECT * FROM payments WHERE merchant_id = $1 AND terminal_id = $2 AND invoice_id = $3
                     ORDER BY attempt",
                )
                .bind(merchant_id)
                .bind(terminal_id)
                .bind(invoice_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(Self::payment_from).collect::<Result<_, _>>()?)
            }

            async fn record_payment(
                &self,
                write: PaymentWrite,
                callback: CallbackBuilder<'_>,
            ) -> StoreResult<RecordedPayment> {
                let PaymentWrite {
                    token_digest,
                    token_spend,
                    mut payment,
                    effect,
                    save_card,
                    on_insufficient_funds,
                    three_ds,
                    idempotency,
                } = write;
                let now = payment.created_at;
                let mut tx = self.pool.begin().await?;

                let spent = sqlx::query("UPDATE tokens SET used_at = $1 WHERE token_digest = $2 AND used_at IS NULL")
                    .bind(now)
                    .bind(&token_digest)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if spent != 1 {
                    return Err(StoreError::TokenSpent);
                }
                payment.attempt = Self::number_attempt(&mut tx, &payment).await?;

                // The state machine says a declined approval is a REJECT; the caller words why.
                let (_, code, reason) = on_insufficient_funds;
                Self::decide_payment(&mut tx, TxStatus::New, &mut payment, &effect, (code, reason), now).await?;

                let approved = payment.reason_code == 0;
                let mut saved_card_id = None;
                if let (true, Some(CardToSave { card })) = (approved, save_card) {
                    let id = Self::save_card(&mut tx, &card).await?;
                    payment.card_id = id.clone();
                    saved_card_id = id;
                }

                Self::insert_payment(&mut tx, &payment).await?;
                if token_spend == TokenSpend::UnlessDeclined && payment.status.is_declined() {
                    Self::keep_token(&mut tx, &token_digest).await?;
                }
                if let Some(session) = &three_ds {
                    Self::insert_three_ds(&mut tx, session).await?;
                }
                if let Some(cb) = callback(&payment) {
                    Self::insert_callback(&mut tx, &cb, now).await?;
                }
                Self::commit_idempotency(&mut tx, idempotency.as_ref(), &payment).await?;
                tx.commit().await?;
                Ok(RecordedPayment { payment, saved_card_id })
            }

            async fn payment(&self, merchant_id: &str, id: &str) -> StoreResult<Option<Payment>> {
                let row = sqlx::query("SELECT * FROM payments WHERE id = $1 AND merchant_id = $2")
                    .bind(id)
                    .bind(merchant_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::payment_from).transpose()?)
            }

            async fn payment_by_id(&self, id: &str) -> StoreResult<Option<Payment>> {
                let row = sqlx::query("SELECT * FROM payments WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(Self::payment_from).transpose()?)
            }

            async fn operate(
                &self,
                request: OperationRequest,
                callback: CallbackBuilder<'_>,
            ) -> StoreResult<OperationOutcome> {
                // Two attempts: the second runs only when a concurrent refund with the same
                // externalID won the race, and then replays it.
                for _ in 0..2 {
                    if let Some(outcome) = self.try_operate(&request, callback).await? {
                        return Ok(outcome);
                    }
                }
                Err(StoreError::Refused(Refusal::Busy))
            }

            async fn expire_authorizations(
                &self,
                now_ms: i64,
                limit: i64,
                callback: CallbackBuilder<'_>,
            ) -> StoreResult<Vec<Payment>> {
                let mut tx = self.pool.begin().await?;
                let expire = epay_domain::Operation::Expire;
                let rows = sqlx::query(concat!(
                    "SELECT p.* FROM payments p JOIN terminals t ON t.id = p.terminal_id
                     WHERE p.status = $3 AND p.created_at + t.hold_period_secs * 1000 <= $1
                     ORDER BY p.created_at LIMIT $2 ",
                    $skip_locked
                ))
                .bind(now_ms)
                .bind(limit)
                .bind(expire.from_status().as_str())
                .fetch_all(&mut *tx)
                .await?;
                let mut expired = Vec::new();
                for row in &rows {
                    let p = Self::payment_from(row)?;
                    // Only a card payment is ever held; anything else in AUTH is left alone.
                    let Ok(moved) = transition::expire(&state_of(&p)) else { continue };
                    if let Applied::Done = Self::apply_operation(&mut tx, &p, &moved, None, now_ms).await? {
                        let p = Payment { status: moved.status, updated_at: now_ms, ..p };
                        if let Some(cb) = callback(&p) {
                            Self::insert_callback(&mut tx, &cb, now_ms).await?;
                        }
                        expired.push(p);
                    }
                }
                tx.commit().await?;
                Ok(expired)
            }

            async fn refunds_of(&self, payment_id: &str) -> StoreResult<Vec<(String, Option<String>, i64)>> {
                let rows = sqlx::query(
                    "SELECT id, external_id, amount_minor FROM refunds WHERE payment_id = $1 ORDER BY created_at, id",
                )
                .bind(payment_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("id")?, r.try_get("external_id")?, r.try_get("amount_minor")?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(Into::into)
            }

            async fn saved_cards(&self, merchant_id: &str, account_id: &str) -> StoreResult<Vec<SavedCard>> {
                let rows = sqlx::query(
                    "SELECT * FROM saved_cards WHERE merchant_id = $1 AND account_id = $2 AND active
                     ORDER BY created_at, id",
                )
                .bind(merchant_id)
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(Self::saved_card_from).collect::<Result<_, _>>()?)
            }

            async fn deactivate_card(&self, merchant_id: &str, card_id: &str) -> StoreResult<bool> {
                let changed =
                    sqlx::query("UPDATE saved_cards SET active = FALSE WHERE merchant_id = $1 AND id = $2 AND active")
                        .bind(merchant_id)
                        .bind(card_id)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                Ok(changed == 1)
            }

            async fn idempotency_begin(&self, claim: &IdempotencyClaim) -> StoreResult<IdempotencyState> {
                // An expired key is forgotten first, so its next use is a new request.
                sqlx::query("DELETE FROM idempotency_keys WHERE scope_key = $1 AND created_at <= $2")
                    .bind(&claim.scope_key)
                    .bind(claim.expired_before_ms)
                    .execute(&self.pool)
                    .await?;
                let reserved = sqlx::query(
                    "INSERT INTO idempotency_keys
                         (scope_key, request_digest, response_status, response_body, created_at, lease_owner, lease_until)
                     VALUES ($1, $2, NULL, NULL, $3, $4, $5) ON CONFLICT (scope_key) DO NOTHING",
                )
                .bind(&claim.scope_key)
                .bind(&claim.request_digest)
                .bind(claim.now_ms)
                .bind(&claim.owner)
                .bind(claim.lease_until_ms)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if reserved == 1 {
                    return Ok(IdempotencyState::Reserved);
                }
                let row = sqlx::query("SELECT * FROM idempotency_keys WHERE scope_key = $1")
                    .bind(&claim.scope_key)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else {
                    // Released between our insert and this read: the caller may simply retry.
                    return Ok(IdempotencyState::InProgress);
                };
                let digest: String = row.try_get("request_digest")?;
                let status: Option<i32> = row.try_get("response_status")?;
                let body: Option<String> = row.try_get("response_body")?;
                if let (Some(status), Some(body)) = (status, body) {
                    return Ok(if digest == claim.request_digest {
                        IdempotencyState::Completed { status: status as u16, body }
                    } else {
                        IdempotencyState::Mismatch
                    });
                }
                let lease_until: Option<i64> = row.try_get("lease_until")?;
                if lease_until.is_some_and(|until| until > claim.lease_now_ms) {
                    return Ok(if digest == claim.request_digest {
                        IdempotencyState::InProgress
                    } else {
                        IdempotencyState::Mismatch
                    });
                }
                // The lease ended with nothing committed (its request died): take the key over,
                // by compare-and-set so only one of several waiting retries gets it.
                let taken = sqlx::query(
                    "UPDATE idempotency_keys SET request_digest = $1, lease_owner = $2, lease_until = $3, created_at = $4
                     WHERE scope_key = $5 AND response_status IS NULL AND (lease_until IS NULL OR lease_until <= $6)",
                )
                .bind(&claim.request_digest)
                .bind(&claim.owner)
                .bind(claim.lease_until_ms)
                .bind(claim.now_ms)
                .bind(&claim.scope_key)
                .bind(claim.lease_now_ms)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(if taken == 1 { IdempotencyState::Reserved } else { IdempotencyState::InProgress })
            }

            async fn idempotency_release(&self, key: &str, owner: &str) -> StoreResult<()> {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE scope_key = $1 AND lease_owner = $2 AND response_status IS NULL",
                )
                .bind(key)
                .bind(owner)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn purge_idempotency_keys(&self, expired_before_ms: i64, limit: i64) -> StoreResult<u64> {
                let purged = sqlx::query(
                    "DELETE FROM idempotency_keys WHERE scope_key IN
                         (SELECT scope_key FROM idempotency_keys WHERE created_at <= $1 LIMIT $2)",
                )
                .bind(expired_before_ms)
                .bind(limit)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(purged)
            }

            async fn claim_callbacks(
                &self,
                now_ms: i64,
                lease_until_ms: i64,
                limit: i64,
            ) -> StoreResult<Vec<CallbackEvent>> {
                // Random, so claims of different nodes can never share an id.
                let claim_id = uuid::Uuid::new_v4().to_string();
                let mut tx = self.pool.begin().await?;
                sqlx::query(concat!(
                    "UPDATE callback_events SET attempts = attempts + 1, locked_until = $1, claim_id = $2
                     WHERE id IN (SELECT id FROM callback_events
                                  WHERE status = 'pending' AND next_attempt_at <= $3 AND locked_until <= $3
                                  ORDER BY next_attempt_at LIMIT $4 ",
                    $skip_locked_plain,
                    ")"
                ))
                .bind(lease_until_ms)
                .bind(&claim_id)
                .bind(now_ms)
                .bind(limit)
                .execute(&mut *tx)
                .await?;
                let rows = sqlx::query(
                    "SELECT e.*, m.webhook_secret FROM callback_events e JOIN merchants m ON m.id = e.merchant_id
                     WHERE e.claim_id = $1 ORDER BY e.next_attempt_at, e.id",
                )
                .bind(&claim_id)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(rows.iter().map(Self::event_from).collect::<Result<_, _>>()?)
            }

            async fn record_callback_attempt(
                &self,
                a: &CallbackAttempt,
                next: CallbackNext,
                now_ms: i64,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO callback_attempts (event_id, attempt_no, started_at, http_status, latency_ms, error,
                         response_excerpt, node)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&a.event_id)
                .bind(a.attempt_no)
                .bind(a.started_at)
                .bind(a.http_status)
                .bind(a.latency_ms)
                .bind(&a.error)
                .bind(&a.response_excerpt)
                .bind(&a.node)
                .execute(&mut *tx)
                .await?;
                let (status, next_at, delivered_at) = match next {
                    CallbackNext::Delivered => ("delivered", now_ms, Some(now_ms)),
                    CallbackNext::RetryAt(at) => ("pending", at, None),
                    CallbackNext::GiveUp => ("failed", now_ms, None),
                };
                sqlx::query(
                    "UPDATE callback_events SET status = $1, next_attempt_at = $2, delivered_at = $3, locked_until = 0
                     WHERE id = $4",
                )
                .bind(status)
                .bind(next_at)
                .bind(delivered_at)
                .bind(&a.event_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn callbacks_of(
                &self,
                merchant_id: &str,
                payment_id: &str,
            ) -> StoreResult<Vec<(CallbackEvent, Vec<CallbackAttempt>)>> {
                let events = sqlx::query(
                    "SELECT * FROM callback_events WHERE merchant_id = $1 AND payment_id = $2 ORDER BY created_at, id",
                )
                .bind(merchant_id)
                .bind(payment_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::event_from)
                .collect::<Result<Vec<_>, _>>()?;
                let attempts = sqlx::query(
                    "SELECT a.* FROM callback_attempts a JOIN callback_events e ON e.id = a.event_id
                     WHERE e.merchant_id = $1 AND e.payment_id = $2 ORDER BY a.attempt_no",
                )
                .bind(merchant_id)
                .bind(payment_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::attempt_from)
                .collect::<Result<Vec<_>, _>>()?;
                Ok(events
                    .into_iter()
                    .map(|e| {
                        let mine = attempts.iter().filter(|a| a.event_id == e.id).cloned().collect();
                        (e, mine)
                    })
                    .collect())
            }

            async fn resend_callback(
                &self,
                merchant_id: &str,
                terminal_id: Option<&str>,
                event_id: &str,
                now_ms: i64,
            ) -> StoreResult<bool> {
                let changed = sqlx::query(
                    "UPDATE callback_events SET status = 'pending', next_attempt_at = $1
                     WHERE id = $2 AND merchant_id = $3
                       AND ($4 = '' OR payment_id IN (SELECT id FROM payments WHERE terminal_id = $4))",
                )
                .bind(now_ms)
                .bind(event_id)
                .bind(merchant_id)
                .bind(terminal_id.unwrap_or(""))
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(changed == 1)
            }

            async fn pending_callbacks(&self) -> StoreResult<i64> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM callback_events WHERE status = 'pending'")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("n")?)
            }


            async fn record_transfer(&self, write: TransferWrite, callback: CallbackBuilder<'_>) -> StoreResult<Payment> {
                let TransferWrite { token_digest, token_spend, settlement, three_ds, idempotency } = write;
                let now = settlement.payment.created_at;
                let mut tx = self.pool.begin().await?;
                let spent = sqlx::query("UPDATE tokens SET used_at = $1 WHERE token_digest = $2 AND used_at IS NULL")
                    .bind(now)
                    .bind(&token_digest)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if spent != 1 {
                    return Err(StoreError::TokenSpent);
                }
                let mut settlement = settlement;
                settlement.payment.attempt = Self::number_attempt(&mut tx, &settlement.payment).await?;
                let payment = Self::settle_transfer(&mut tx, TxStatus::New, settlement, now).await?;
                Self::insert_payment(&mut tx, &payment).await?;
                if token_spend == TokenSpend::UnlessDeclined && payment.status.is_declined() {
                    Self::keep_token(&mut tx, &token_digest).await?;
                }
                if let Some(session) = &three_ds {
                    Self::insert_three_ds(&mut tx, session).await?;
                }
                if let Some(cb) = callback(&payment) {
                    Self::insert_callback(&mut tx, &cb, now).await?;
                }
                Self::commit_idempotency(&mut tx, idempotency.as_ref(), &payment).await?;
                tx.commit().await?;
                Ok(payment)
            }

            async fn finish_three_ds_transfer(
                &self,
                session_id: &str,
                settlement: TransferSettlement,
                now_ms: i64,
                callback: CallbackBuilder<'_>,
            ) -> StoreResult<Payment> {
                let mut tx = self.pool.begin().await?;
                Self::confirm_session(&mut tx, session_id, now_ms).await?;
                let payment = Self::settle_transfer(&mut tx, TxStatus::ThreeD, settlement, now_ms).await?;
                Self::end_challenge(tx, session_id, payment, now_ms, callback).await
            }

            async fn three_ds_session(&self, id: &str) -> StoreResult<Option<ThreeDsSession>> {
                let row = sqlx::query("SELECT * FROM three_ds_sessions WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::session_from).transpose()?)
            }

            async fn three_ds_session_by_server_id(&self, server_trans_id: &str) -> StoreResult<Option<ThreeDsSession>> {
                let row = sqlx::query("SELECT * FROM three_ds_sessions WHERE server_trans_id = $1")
                    .bind(server_trans_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::session_from).transpose()?)
            }

            async fn answer_three_ds(
                &self,
                id: &str,
                state: ThreeDsState,
                reason_code: i32,
                now_ms: i64,
            ) -> StoreResult<bool> {
                let changed = sqlx::query(
                    "UPDATE three_ds_sessions SET state = $1, reason_code = $2, updated_at = $3
                     WHERE id = $4 AND state = $5",
                )
                .bind(state.as_str())
                .bind(reason_code)
                .bind(now_ms)
                .bind(id)
                .bind(ThreeDsState::Pending.as_str())
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(changed == 1)
            }

            async fn finish_three_ds(&self, finish: ThreeDsFinish, callback: CallbackBuilder<'_>) -> StoreResult<Payment> {
                let ThreeDsFinish { session_id, mut payment, effect, save_card, now_ms } = finish;
                let mut tx = self.pool.begin().await?;
                Self::confirm_session(&mut tx, &session_id, now_ms).await?;
                let insufficient = epay_domain::ReasonCode::INSUFFICIENT_FUNDS;
                let insufficient = (insufficient.code, insufficient.message.to_string());
                if Self::decide_payment(&mut tx, TxStatus::ThreeD, &mut payment, &effect, insufficient, now_ms).await? {
                    payment.reference = String::new();
                }
                if let (0, Some(card)) = (payment.reason_code, &save_card) {
                    payment.card_id = Self::save_card(&mut tx, card).await?;
                }
                Self::end_challenge(tx, &session_id, payment, now_ms, callback).await
            }

            async fn abandoned_three_ds(&self, older_than_ms: i64, limit: i64) -> StoreResult<Vec<ThreeDsSession>> {
                let rows = sqlx::query(
                    "SELECT s.* FROM three_ds_sessions s JOIN payments p ON p.id = s.payment_id
                     WHERE p.status = $3 AND s.state <> $4 AND s.created_at < $1
                     ORDER BY s.created_at LIMIT $2",
                )
                .bind(older_than_ms)
                .bind(limit)
                .bind(TxStatus::ThreeD.as_str())
                .bind(ThreeDsState::Confirmed.as_str())
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(Self::session_from).collect::<Result<_, _>>()?)
            }

            async fn ledger_account(&self, id: &str) -> StoreResult<Option<LedgerAccount>> {
                let row = sqlx::query("SELECT * FROM ledger_accounts WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(Self::account_from).transpose()?)
            }

            async fn ledger_transfers_of(&self, payment_id: &str) -> StoreResult<Vec<LedgerTransfer>> {
                let rows = sqlx::query("SELECT * FROM ledger_transfers WHERE payment_id = $1 ORDER BY created_at, id")
                    .bind(payment_id)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(Self::transfer_from).collect::<Result<_, _>>()?)
            }

            async fn check_ledger(&self) -> StoreResult<Vec<InvariantViolation>> {
                // One read transaction, so the accounts and transfers are a consistent snapshot.
                let mut tx = self.pool.begin().await?;
                let mut unknown = Vec::new();
                let accounts = sqlx::query("SELECT * FROM ledger_accounts").fetch_all(&mut *tx).await?;
                let accounts = Self::known_rows(&accounts, "account", Self::account_from, &mut unknown)?;
                let transfers = sqlx::query("SELECT * FROM ledger_transfers").fetch_all(&mut *tx).await?;
                let transfers = Self::known_rows(&transfers, "transfer", Self::transfer_from, &mut unknown)?;
                let over = sqlx::query(
                    "SELECT id, amount_minor, charged_minor, refunded_minor FROM payments
                     WHERE charged_minor > amount_minor OR refunded_minor > charged_minor
                        OR charged_minor < 0 OR refunded_minor < 0",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut violations = unknown;
                violations.extend(check_accounts(&accounts, &transfers));
                for row in over {
                    let id: String = row.try_get("id")?;
                    let amount: i64 = row.try_get("amount_minor")?;
                    let charged: i64 = row.try_get("charged_minor")?;
                    let refunded: i64 = row.try_get("refunded_minor")?;
                    violations.push(InvariantViolation {
                        subject: format!("payment {id}"),
                        problem: format!("authorized {amount}, charged {charged}, refunded {refunded}"),
                    });
                }
                Ok(violations)
            }

            async fn insert_cabinet_user(&self, u: &CabinetUser) -> StoreResult<bool> {
                let inserted = sqlx::query(
                    "INSERT INTO cabinet_users (id, merchant_id, email, password_hash, failed_attempts, locked_until,
                         created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (email) DO NOTHING",
                )
                .bind(&u.id)
                .bind(&u.merchant_id)
                .bind(&u.email)
                .bind(u.password_hash.expose())
                .bind(u.failed_attempts)
                .bind(u.locked_until)
                .bind(u.created_at)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(inserted == 1)
            }

            async fn cabinet_user_by_email(&self, email: &str) -> StoreResult<Option<CabinetUser>> {
                let row = sqlx::query("SELECT * FROM cabinet_users WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(r) = row else { return Ok(None) };
                Ok(Some(CabinetUser {
                    id: r.try_get("id")?,
                    merchant_id: r.try_get("merchant_id")?,
                    email: r.try_get("email")?,
                    password_hash: r.try_get::<String, _>("password_hash")?.into(),
                    failed_attempts: r.try_get("failed_attempts")?,
                    locked_until: r.try_get("locked_until")?,
                    created_at: r.try_get("created_at")?,
                }))
            }

            async fn purge_merchant(&self, purge: &MerchantPurge) -> StoreResult<PurgeOutcome> {
                let merchant = purge.merchant_id.as_str();
                let mut tx = self.pool.begin().await?;
                // Cabinet users first: the public e-mail may belong to any merchant.
                let users = "SELECT id FROM cabinet_users WHERE email = $1 OR merchant_id = $2";
                sqlx::query(&format!("DELETE FROM cabinet_sessions WHERE user_id IN ({users}) OR merchant_id = $2"))
                    .bind(&purge.cabinet_email)
                    .bind(merchant)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM cabinet_users WHERE email = $1 OR merchant_id = $2")
                    .bind(&purge.cabinet_email)
                    .bind(merchant)
                    .execute(&mut *tx)
                    .await?;
                let exists = sqlx::query("SELECT id FROM merchants WHERE id = $1")
                    .bind(merchant)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if !exists {
                    tx.commit().await?;
                    return Ok(PurgeOutcome::NoMerchant);
                }
                sqlx::query("DELETE FROM tokens WHERE merchant_id = $1").bind(merchant).execute(&mut *tx).await?;
                let transactions: i64 = sqlx::query("SELECT COUNT(*) AS n FROM payments WHERE merchant_id = $1")
                    .bind(merchant)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                if transactions > 0 {
                    let Some(retire) = &purge.retire_as else {
                        tx.rollback().await?;
                        return Ok(PurgeOutcome::HasTransactions(transactions));
                    };
                    sqlx::query(
                        "UPDATE merchants SET client_id = $2, secret_digest = $3, webhook_secret = $4 WHERE id = $1",
                    )
                    .bind(merchant)
                    .bind(&retire.client_id)
                    .bind(retire.secret_digest.expose())
                    .bind(retire.webhook_secret.expose())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    return Ok(PurgeOutcome::Retired { transactions });
                }
                // No transaction: the only ledger entries of its terminals' accounts are the
                // seeded opening balances. Each goes back to the account that funded it.
                let terminals: Vec<String> = sqlx::query("SELECT id FROM terminals WHERE merchant_id = $1")
                    .bind(merchant)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>("id"))
                    .collect::<Result<_, _>>()?;
                // Its terminals' merchant and fee accounts, one per currency.
                let mut accounts: Vec<String> = Vec::new();
                for terminal in &terminals {
                    for prefix in ["merchant", "fee"] {
                        let rows = sqlx::query("SELECT id FROM ledger_accounts WHERE id LIKE $1")
                            .bind(format!("{prefix}:{terminal}:%"))
                            .fetch_all(&mut *tx)
                            .await?;
                        for row in rows {
                            accounts.push(row.try_get("id")?);
                        }
                    }
                }
                for account in &accounts {
                    let opening = sqlx::query("SELECT debit_account, amount_minor FROM ledger_transfers WHERE id = $1")
                        .bind(format!("open:{account}"))
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(opening) = opening {
                        let funding: String = opening.try_get("debit_account")?;
                        let amount: i64 = opening.try_get("amount_minor")?;
                        sqlx::query("DELETE FROM ledger_transfers WHERE id = $1")
                            .bind(format!("open:{account}"))
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("UPDATE ledger_accounts SET debits_posted = debits_posted - $1 WHERE id = $2")
                            .bind(amount)
                            .bind(&funding)
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query("DELETE FROM ledger_accounts WHERE id = $1").bind(account).execute(&mut *tx).await?;
                }
                for table in ["saved_cards", "terminals"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE merchant_id = $1"))
                        .bind(merchant)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("DELETE FROM merchants WHERE id = $1").bind(merchant).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(PurgeOutcome::Deleted)
            }

            async fn insert_cabinet_session(&self, s: &CabinetSession, now_ms: i64) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM cabinet_sessions WHERE expires_at < $1")
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO cabinet_sessions (id_digest, user_id, merchant_id, csrf_token, expires_at, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&s.id_digest)
                .bind(&s.user_id)
                .bind(&s.merchant_id)
                .bind(s.csrf_token.expose())
                .bind(s.expires_at)
                .bind(s.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn cabinet_session(&self, id_digest: &str, now_ms: i64) -> StoreResult<Option<CabinetSession>> {
                let row = sqlx::query(
                    "SELECT s.*, u.email FROM cabinet_sessions s JOIN cabinet_users u ON u.id = s.user_id
                     WHERE s.id_digest = $1 AND s.expires_at > $2",
                )
                .bind(id_digest)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?;
                let Some(r) = row else { return Ok(None) };
                Ok(Some(CabinetSession {
                    id_digest: r.try_get("id_digest")?,
                    user_id: r.try_get("user_id")?,
                    merchant_id: r.try_get("merchant_id")?,
                    csrf_token: r.try_get::<String, _>("csrf_token")?.into(),
                    expires_at: r.try_get("expires_at")?,
                    created_at: r.try_get("created_at")?,
                    email: r.try_get("email")?,
                }))
            }

            async fn delete_cabinet_session(&self, id_digest: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM cabinet_sessions WHERE id_digest = $1")
                    .bind(id_digest)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn search_payments(
                &self,
                merchant_id: &str,
                filter: &PaymentFilter,
                offset: i64,
                limit: i64,
            ) -> StoreResult<PaymentPage> {
                let (conditions, binds) = payment_conditions(filter);
                let total_sql = format!("SELECT COUNT(*) AS n FROM payments WHERE merchant_id = $1{conditions}");
                let total: i64 = Self::bind_filter(sqlx::query(&total_sql).bind(merchant_id), &binds)
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?;
                let n = binds.len();
                let page_sql = format!(
                    "SELECT * FROM payments WHERE merchant_id = $1{conditions}
                     ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
                    n + 2,
                    n + 3
                );
                let rows = Self::bind_filter(sqlx::query(&page_sql).bind(merchant_id), &binds)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await?;
                let payments = rows.iter().map(Self::payment_from).collect::<Result<_, _>>()?;
                Ok(PaymentPage { payments, total })
            }

            async fn daily_stats(
                &self,
                merchant_id: &str,
                since_ms: i64,
                utc_offset_ms: i64,
            ) -> StoreResult<Vec<DailyStat>> {
                // Approved: a final answer without a decline reason (3D and NEW are not answers yet).
                // One row per currency: amounts in different currencies are never added.
                let rows = sqlx::query(
                    "SELECT terminal_id, day, currency, COUNT(*) AS attempts,
                         CAST(SUM(approved) AS BIGINT) AS approved,
                         CAST(SUM(approved * amount_minor) AS BIGINT) AS volume
                     FROM (SELECT terminal_id, currency, amount_minor, (created_at + $3) / 86400000 AS day,
                               CASE WHEN reason_code = 0 AND status NOT IN ($4, $5) THEN 1 ELSE 0 END
                                   AS approved
                           FROM payments WHERE merchant_id = $1 AND created_at >= $2) d
                     GROUP BY terminal_id, day, currency ORDER BY terminal_id, day, currency",
                )
                .bind(merchant_id)
                .bind(since_ms)
                .bind(utc_offset_ms)
                .bind(TxStatus::ThreeD.as_str())
                .bind(TxStatus::New.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(DailyStat {
                            terminal_id: r.try_get("terminal_id")?,
                            day: r.try_get("day")?,
                            attempts: r.try_get("attempts")?,
                            approved: r.try_get("approved")?,
                            currency: r.try_get("currency")?,
                            volume_minor: r.try_get("volume")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(Into::into)
            }

            async fn payment_events(&self, merchant_id: &str, payment_id: &str) -> StoreResult<Vec<PaymentEvent>> {
                let rows = sqlx::query(
                    "SELECT e.* FROM payment_events e JOIN payments p ON p.id = e.payment_id
                     WHERE p.merchant_id = $1 AND e.payment_id = $2 ORDER BY e.id",
                )
                .bind(merchant_id)
                .bind(payment_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(PaymentEvent {
                            operation: r.try_get("operation")?,
                            status: Self::word(r, "status")?,
                            amount_minor: r.try_get("amount_minor")?,
                            reason_code: r.try_get("reason_code")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(Into::into)
            }

            async fn terminals_with_operation_callbacks(&self) -> StoreResult<Vec<String>> {
                let rows = sqlx::query("SELECT id FROM terminals WHERE operation_callbacks").fetch_all(&self.pool).await?;
                Ok(rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?)
            }

            async fn terminals_of(&self, merchant_id: &str) -> StoreResult<Vec<Terminal>> {
                let rows = sqlx::query("SELECT * FROM terminals WHERE merchant_id = $1 ORDER BY pos_id, id")
                    .bind(merchant_id)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(Self::terminal_from).collect::<Result<_, _>>()?)
            }

            async fn merchant_saved_cards(
                &self,
                merchant_id: &str,
                account_id: &str,
                limit: i64,
            ) -> StoreResult<Vec<SavedCard>> {
                let rows = sqlx::query(
                    "SELECT * FROM saved_cards WHERE merchant_id = $1 AND active AND ($2 = '' OR account_id = $2)
                     ORDER BY created_at DESC, id LIMIT $3",
                )
                .bind(merchant_id)
                .bind(account_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(Self::saved_card_from).collect::<Result<_, _>>()?)
            }

            async fn abuse_window(&self, key: &str, now_ms: i64) -> StoreResult<Option<AbuseWindow>> {
                let row = sqlx::query("SELECT failures, expires_ms FROM abuse_counters WHERE key = $1 AND expires_ms > $2")
                    .bind(key)
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(r) = row else { return Ok(None) };
                Ok(Some(AbuseWindow { failures: r.try_get("failures")?, expires_ms: r.try_get("expires_ms")?, counted: false }))
            }

            async fn abuse_count(
                &self,
                key: &str,
                window_ms: i64,
                now_ms: i64,
                below: Option<i64>,
            ) -> StoreResult<AbuseWindow> {
                sqlx::query("DELETE FROM abuse_counters WHERE expires_ms <= $1").bind(now_ms).execute(&self.pool).await?;
                // One statement: the reset of an ended window, the ceiling and the increment are
                // decided on the row as it is when this statement locks it.
                let row = sqlx::query(
                    "INSERT INTO abuse_counters (key, failures, expires_ms) VALUES ($1, 1, $2 + $3)
                     ON CONFLICT (key) DO UPDATE SET
                         failures = CASE WHEN abuse_counters.expires_ms <= $2 THEN 1
                                         ELSE abuse_counters.failures + 1 END,
                         expires_ms = CASE WHEN abuse_counters.expires_ms <= $2 THEN $2 + $3
                                           ELSE abuse_counters.expires_ms END
                     WHERE abuse_counters.expires_ms <= $2 OR abuse_counters.failures < $4
                     RETURNING failures, expires_ms",
                )
                .bind(key)
                .bind(now_ms)
                .bind(window_ms)
                .bind(below.unwrap_or(i64::MAX))
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(r) => Ok(AbuseWindow {
                        failures: r.try_get("failures")?,
                        expires_ms: r.try_get("expires_ms")?,
                        counted: true,
                    }),
                    None => Ok(self
                        .abuse_window(key, now_ms)
                        .await?
                        .unwrap_or(AbuseWindow { failures: 0, expires_ms: now_ms, counted: false })),
                }
            }

            async fn abuse_clear(&self, key: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM abuse_counters WHERE key = $1").bind(key).execute(&self.pool).await?;
                Ok(())
            }

            async fn spend_token(&self, token_digest: &str, now_ms: i64) -> StoreResult<bool> {
                let spent = sqlx::query("UPDATE tokens SET used_at = $1 WHERE token_digest = $2 AND used_at IS NULL")
                    .bind(now_ms)
                    .bind(token_digest)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(spent == 1)
            }

            async fn three_ds_session_of(
                &self,
                merchant_id: &str,
                payment_id: &str,
            ) -> StoreResult<Option<ThreeDsSession>> {
                let row = sqlx::query(
                    "SELECT s.* FROM three_ds_sessions s JOIN payments p ON p.id = s.payment_id
                     WHERE p.merchant_id = $1 AND s.payment_id = $2 ORDER BY s.created_at DESC LIMIT 1",
                )
                .bind(merchant_id)
                .bind(payment_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.as_ref().map(Self::session_from).transpose()?)
            }
        }
    };
}

// SQLite runs one transaction at a time (one connection), so it needs no row locks; PostgreSQL
// locks the payment row for the operation, and expiry sweeps skip rows another node holds.
// Callback claims skip rows another node is claiming.
sql_store!(SqliteStore, sqlx::Sqlite, SqliteRow, "sqlite", "./migrations/sqlite", "", "", "");
sql_store!(
    PgStore,
    sqlx::Postgres,
    PgRow,
    "postgres",
    "./migrations/postgres",
    "FOR UPDATE",
    "FOR UPDATE OF p SKIP LOCKED",
    "FOR UPDATE SKIP LOCKED"
);

#[cfg(test)]
mod tests {
    use super::*;
    use LedgerTransferKind::{Pending, PostPending, Posted};

    fn account(id: &str, kind: AccountKind, dp: i64, dpo: i64, cp: i64, cpo: i64) -> LedgerAccount {
        LedgerAccount {
            id: id.into(),
            kind,
            currency: "KZT".into(),
            debits_pending: dp,
            debits_posted: dpo,
            credits_pending: cp,
            credits_posted: cpo,
        }
    }

    fn transfer(
        id: &str,
        d: &str,
        c: &str,
        amount: i64,
        kind: LedgerTransferKind,
        pending: Option<&str>,
    ) -> LedgerTransfer {
        LedgerTransfer {
            id: id.into(),
            payment_id: None,
            debit_account: d.into(),
            credit_account: c.into(),
            amount_minor: amount,
            kind,
            pending_id: pending.map(Into::into),
            created_at: 0,
        }
    }

    #[test]
    fn cabinet_filters_number_their_placeholders_and_match_text_literally() {
        assert_eq!(like_pattern("5_0%\\"), "%5\\_0\\%\\\\%");
        let filter = PaymentFilter {
            status: Some(TxStatus::Charge),
            invoice_id: Some(" 000001 ".into()),
            search: Some("Mug".into()),
            min_amount_minor: Some(100),
            card_mask: Some("  ".into()),
            ..PaymentFilter::default()
        };
        let (sql, binds) = payment_conditions(&filter);
        assert!(
            sql.starts_with(" AND status = $2 AND (invoice_id = $3 OR invoice_id_alt = $3) AND amount_minor >= $4"),
            "{sql}"
        );
        assert!(sql.contains("LOWER(description) LIKE $5") && !sql.contains("$6"), "{sql}");
        assert!(!sql.contains("card_mask"), "blank filters are left out");
        assert!(matches!(&binds[1], Bind::Text(t) if t == "000001"));
        assert!(matches!(&binds[3], Bind::Text(t) if t == "%mug%"));
        assert_eq!(payment_conditions(&PaymentFilter::default()).0, "");
    }

    #[test]
    fn sound_ledger_has_no_violations() {
        let accounts = [
            account("f", AccountKind::Funding, 0, 1000, 0, 0),
            account("c", AccountKind::Card, 0, 600, 0, 1000),
            account("m", AccountKind::Merchant, 0, 0, 0, 600),
        ];
        let transfers = [
            transfer("o", "f", "c", 1000, Posted, None),
            transfer("h", "c", "m", 800, Pending, None),
            transfer("p", "c", "m", 600, PostPending, Some("h")),
        ];
        assert_eq!(check_accounts(&accounts, &transfers), vec![]);
    }

    #[test]
    fn finds_drift_and_overdraft() {
        let accounts =
            [account("f", AccountKind::Funding, 0, 100, 0, 0), account("c", AccountKind::Card, 0, 200, 0, 100)];
        let transfers = [transfer("o", "f", "c", 100, Posted, None)];
        let v = check_accounts(&accounts, &transfers);
        assert!(v.iter().any(|v| v.problem.contains("differ")), "{v:?}");
        assert!(v.iter().any(|v| v.problem.contains("below zero")), "{v:?}");
    }

    #[test]
    fn finds_postings_between_currencies_and_unbalanced_currencies() {
        let usd = LedgerAccount { currency: "USD".into(), ..account("m", AccountKind::Merchant, 0, 0, 0, 100) };
        let accounts =
            [account("f", AccountKind::Funding, 0, 100, 0, 0), account("c", AccountKind::Card, 0, 100, 0, 100), usd];
        let transfers = [transfer("o", "f", "c", 100, Posted, None), transfer("x", "c", "m", 100, Posted, None)];
        let v = check_accounts(&accounts, &transfers);
        assert!(v.iter().any(|v| v.subject == "transfer x" && v.problem.contains("mixes currencies")), "{v:?}");
        assert!(v.iter().any(|v| v.subject == "currency KZT" && v.problem.contains("does not balance")), "{v:?}");
        assert!(v.iter().any(|v| v.subject == "currency USD"), "{v:?}");
    }
}
