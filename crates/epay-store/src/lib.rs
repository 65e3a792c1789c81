//! The storage port (`Store`) and its two adapters: SQLite (embedded default) and PostgreSQL.
//! Both adapters share one body of SQL (see `sql_store!`), so they cannot drift apart.

mod lost;
mod model;
mod sql;

use async_trait::async_trait;
use epay_domain::{Secret, ThreeDsState};
pub use lost::{is_connection_lost, watch as watch_connection_loss};
pub use model::*;
pub use sql::{connect, PgStore, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the token has already been used")]
    TokenSpent,
    /// An approved attempt holds the invoice (docs/compatibility.md §48).
    #[error("a transaction with this invoiceId already exists on this terminal")]
    DuplicateInvoice,
    /// An attempt at the invoice waits for its 3-D Secure challenge.
    #[error("a 3-D Secure challenge for this invoiceId is still open")]
    ChallengeOpen,
    /// Every attempt the terminal allows for the invoice was made and declined (reason 2740).
    #[error("too many failed payment attempts: {attempts} made")]
    AttemptsExhausted { attempts: i32 },
    /// Another attempt at the same invoice took this attempt's number at the same moment.
    #[error("another attempt at this invoiceId was recorded at the same moment")]
    ConcurrentAttempt,
    #[error("not found")]
    NotFound,
    /// The 3-D Secure transaction was already ended (confirmed, or failed when abandoned).
    #[error("this 3-D Secure transaction was already confirmed")]
    AlreadyConfirmed,
    /// A write would move a transaction where the state machine (`TxStatus::can_move_to`) has no
    /// move: a bug in the caller, refused inside the transaction so nothing is written.
    #[error("the transaction state machine has no move {from} → {to}")]
    IllegalMove { from: epay_domain::TxStatus, to: epay_domain::TxStatus },
    /// The request's Idempotency-Key lease ended and another request claimed the key.
    #[error("the Idempotency-Key was claimed by another request")]
    IdempotencyKeyLost,
    #[error("operation refused: {0:?}")]
    Refused(Refusal),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url {0:?}: use sqlite://path or postgres://...")]
    UnsupportedUrl(String),
}

impl From<sqlx::Error> for StoreError {
    /// Every database error passes here, so a lost connection is always noted (see `lost`).
    fn from(error: sqlx::Error) -> Self {
        lost::note(&error);
        StoreError::Database(error)
    }
}

impl StoreError {
    /// True when the database connection was lost: the caller may retry shortly.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, StoreError::Database(e) if lost::is_connection_lost(e))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the services ask of persistent storage. Each method is one database transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which adapter this is (`sqlite` or `postgres`), for logs and readiness.
    fn backend(&self) -> &'static str;

    async fn migrate(&self) -> StoreResult<()>;

    /// Readiness and pool usage: fails if the database does not answer.
    async fn health(&self) -> StoreResult<StoreHealth>;

    /// The card vault's data keys, oldest first.
    async fn vault_keys(&self) -> StoreResult<Vec<VaultKey>>;

    /// Adds a data key; when `make_active`, it becomes the only active one (one transaction).
    async fn add_vault_key(&self, key: &VaultKey, make_active: bool) -> StoreResult<()>;

    /// Up to `limit` stored values (non-empty) of the sealed columns holding `kinds` that do not
    /// start with `prefix`.
    async fn sealed_values_not_under(
        &self,
        kinds: &[SealedKind],
        prefix: &str,
        limit: i64,
    ) -> StoreResult<Vec<SealedValue>>;

    /// Replaces one sealed value if it is still `value.ciphertext` (compare-and-set, so a
    /// concurrent change wins); false if it changed meanwhile.
    async fn reseal(&self, value: &SealedValue, ciphertext: &str) -> StoreResult<bool>;

    /// Inserts or updates a merchant and its terminals (seeding, admin).
    async fn upsert_merchant(&self, merchant: &Merchant, terminals: &[Terminal]) -> StoreResult<()>;

    /// Creates or changes one terminal of an existing merchant, leaving the merchant row alone
    /// (so a concurrent secret rotation is never undone).
    async fn upsert_terminal(&self, terminal: &Terminal) -> StoreResult<()>;

    /// Replaces a merchant's client-secret digest or webhook secret (one column each, so two
    /// rotations at once cannot undo each other); false if there is no such merchant.
    async fn set_merchant_secret(&self, merchant_id: &str, secret_digest: &Secret) -> StoreResult<bool>;
    async fn set_webhook_secret(&self, merchant_id: &str, webhook_secret: &Secret) -> StoreResult<bool>;

    /// Creates ledger accounts (id, kind, currency, opening balance) that do not exist yet,
    /// funding each opening balance from the funding account of its currency. Existing accounts
    /// are left alone.
    async fn ensure_accounts(
        &self,
        accounts: &[(String, AccountKind, epay_domain::Currency, i64)],
        now_ms: i64,
    ) -> StoreResult<()>;

    async fn merchant_by_client_id(&self, client_id: &str) -> StoreResult<Option<Merchant>>;
    async fn merchant(&self, id: &str) -> StoreResult<Option<Merchant>>;
    async fn terminal(&self, id: &str) -> StoreResult<Option<Terminal>>;
    /// Ids of the terminals that send operation callbacks (for the expiry sweep, which expires
    /// payments of many terminals at once).
    async fn terminals_with_operation_callbacks(&self) -> StoreResult<Vec<String>>;

    async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()>;
    async fn token(&self, digest: &str) -> StoreResult<Option<TokenRecord>>;

    async fn saved_card(&self, merchant_id: &str, card_id: &str) -> StoreResult<Option<SavedCard>>;

    /// The invoice's latest attempt.
    async fn payment_by_invoice(&self, terminal_id: &str, invoice_id: &str) -> StoreResult<Option<Payment>>;

    /// Every attempt at one of the merchant's invoices on a terminal, first attempt first.
    async fn invoice_attempts(
        &self,
        merchant_id: &str,
        terminal_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Vec<Payment>>;

    /// Numbers the attempt at its invoice, spends the token (unless the attempt is declined:
    /// the token may try again), inserts the payment, applies its money effect and saves the
    /// card, all in one transaction. Fails with `TokenSpent`, `DuplicateInvoice`,
    /// `ChallengeOpen`, `AttemptsExhausted` or `ConcurrentAttempt` and writes nothing.
    async fn record_payment(&self, write: PaymentWrite, callback: CallbackBuilder<'_>) -> StoreResult<RecordedPayment>;

    async fn payment(&self, merchant_id: &str, id: &str) -> StoreResult<Option<Payment>>;
    /// A payment by id across merchants: for background jobs only, never for a request.
    async fn payment_by_id(&self, id: &str) -> StoreResult<Option<Payment>>;

    /// Charge, cancel or refund, in one transaction: every check that guards the money (the
    /// status, the amounts left, ePay's minimum refund), the compare-and-set of the payment, its
    /// ledger transfers, the refund row. Refusals come back as `StoreError::Refused` and write
    /// nothing.
    async fn operate(&self, request: OperationRequest, callback: CallbackBuilder<'_>) -> StoreResult<OperationOutcome>;

    /// Turns up to `limit` authorizations older than their terminal's hold period into
    /// CANCEL_OLD and releases their holds. Safe on several nodes at once: each payment moves by
    /// compare-and-set, and PostgreSQL nodes skip rows another node has locked.
    async fn expire_authorizations(
        &self,
        now_ms: i64,
        limit: i64,
        callback: CallbackBuilder<'_>,
    ) -> StoreResult<Vec<Payment>>;

    /// Claims up to `limit` due callbacks for one delivery attempt each: their attempt counter
    /// goes up and they are leased until `lease_until_ms`, so no other worker or node sends the
    /// same attempt. PostgreSQL skips rows another node is claiming.
    async fn claim_callbacks(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> StoreResult<Vec<CallbackEvent>>;

    /// Records one attempt and what follows from it, in one transaction.
    async fn record_callback_attempt(
        &self,
        attempt: &CallbackAttempt,
        next: CallbackNext,
        now_ms: i64,
    ) -> StoreResult<()>;

    /// Every callback of a payment with its attempts, oldest first.
    async fn callbacks_of(
        &self,
        merchant_id: &str,
        payment_id: &str,
    ) -> StoreResult<Vec<(CallbackEvent, Vec<CallbackAttempt>)>>;

    /// Queues a callback again for delivery now; false if the merchant has no such event.
    /// Queues one of the merchant's callbacks again; with `terminal_id`, only one of that
    /// terminal's payments (another is "not found", as in its callback log).
    async fn resend_callback(
        &self,
        merchant_id: &str,
        terminal_id: Option<&str>,
        event_id: &str,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Callbacks waiting for delivery (queue depth).
    async fn pending_callbacks(&self) -> StoreResult<i64>;

    async fn refunds_of(&self, payment_id: &str) -> StoreResult<Vec<(String, Option<String>, i64)>>;

    /// Active saved cards of one customer of a merchant.
    async fn saved_cards(&self, merchant_id: &str, account_id: &str) -> StoreResult<Vec<SavedCard>>;

    /// Deactivates a saved card; false if the merchant has no such active card.
    async fn deactivate_card(&self, merchant_id: &str, card_id: &str) -> StoreResult<bool>;

    /// Leases the claim's key to its request, or reports what an earlier use left. An expired
    /// key, or one whose lease ended without an answer (its request crashed), is free again.
    async fn idempotency_begin(&self, claim: &IdempotencyClaim) -> StoreResult<IdempotencyState>;
    /// Ends `owner`'s lease on `key` if no answer was committed under it: the key is free again.
    async fn idempotency_release(&self, key: &str, owner: &str) -> StoreResult<()>;
    /// Deletes up to `limit` keys first used at or before `expired_before_ms`; how many.
    async fn purge_idempotency_keys(&self, expired_before_ms: i64, limit: i64) -> StoreResult<u64>;

    /// Spends the token and records a transfer with its linked ledger transfers (amount and
    /// fee, all or nothing), daily limits and saved cards, in one transaction. A limit or a
    /// balance that does not allow it turns the transfer into a REJECT with that reason.
    /// Attempts at the order id are numbered and refused as for [`Store::record_payment`].
    async fn record_transfer(&self, write: TransferWrite, callback: CallbackBuilder<'_>) -> StoreResult<Payment>;

    /// Ends a transfer that waited for 3-D Secure, like [`Store::finish_three_ds`] does for a
    /// payment: session `confirmed`, payment `3D` → CHARGE/REJECT/FAILED with its money,
    /// saved cards and callback, all in one transaction.
    async fn finish_three_ds_transfer(
        &self,
        session_id: &str,
        settlement: TransferSettlement,
        now_ms: i64,
        callback: CallbackBuilder<'_>,
    ) -> StoreResult<Payment>;

    async fn three_ds_session(&self, id: &str) -> StoreResult<Option<ThreeDsSession>>;
    async fn three_ds_session_by_server_id(&self, server_trans_id: &str) -> StoreResult<Option<ThreeDsSession>>;

    /// Records the challenge's result (`pending` → `passed`/`failed`/`cancelled`); false if the
    /// challenge was already answered.
    async fn answer_three_ds(&self, id: &str, state: ThreeDsState, reason_code: i32, now_ms: i64) -> StoreResult<bool>;

    /// Ends a 3D payment in one transaction: the session moves to `confirmed` and the payment
    /// from `3D` to its final status (by compare-and-set, so a replayed confirm does nothing),
    /// with its money, saved card and callback. `AlreadyConfirmed` if already finished.
    /// A declined end frees the invoice and the token for another attempt.
    async fn finish_three_ds(&self, finish: ThreeDsFinish, callback: CallbackBuilder<'_>) -> StoreResult<Payment>;

    /// 3D payments started before `older_than_ms` whose challenge never ended.
    async fn abandoned_three_ds(&self, older_than_ms: i64, limit: i64) -> StoreResult<Vec<ThreeDsSession>>;

    async fn ledger_account(&self, id: &str) -> StoreResult<Option<LedgerAccount>>;
    async fn ledger_transfers_of(&self, payment_id: &str) -> StoreResult<Vec<LedgerTransfer>>;

    /// Verifies every ledger invariant; an empty list means the ledger is sound.
    async fn check_ledger(&self) -> StoreResult<Vec<InvariantViolation>>;

    // The merchant cabinet. Every query about payments, cards or terminals takes the signed-in
    // merchant's id, so another merchant's ids answer "not found".

    /// Creates a cabinet user unless one with this e-mail exists; true if created.
    async fn insert_cabinet_user(&self, user: &CabinetUser) -> StoreResult<bool>;
    async fn cabinet_user_by_email(&self, email: &str) -> StoreResult<Option<CabinetUser>>;
    /// Removes a merchant and every cabinet user with `cabinet_email`, in one transaction (see
    /// [`MerchantPurge`]).
    async fn purge_merchant(&self, purge: &MerchantPurge) -> StoreResult<PurgeOutcome>;
    /// Stores a new session (and drops sessions that expired before `now_ms`).
    async fn insert_cabinet_session(&self, session: &CabinetSession, now_ms: i64) -> StoreResult<()>;
    /// A session by the digest of its id, if it has not expired at `now_ms`.
    async fn cabinet_session(&self, id_digest: &str, now_ms: i64) -> StoreResult<Option<CabinetSession>>;
    async fn delete_cabinet_session(&self, id_digest: &str) -> StoreResult<()>;

    /// One page (newest first) of the merchant's transactions matching `filter`, with the total.
    async fn search_payments(
        &self,
        merchant_id: &str,
        filter: &PaymentFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<PaymentPage>;
    /// Attempts, approvals and approved volume per terminal and day since `since_ms`; days
    /// start at midnight of the zone `utc_offset_ms` east of UTC.
    async fn daily_stats(&self, merchant_id: &str, since_ms: i64, utc_offset_ms: i64) -> StoreResult<Vec<DailyStat>>;
    /// The status history of one of the merchant's payments, oldest first.
    async fn payment_events(&self, merchant_id: &str, payment_id: &str) -> StoreResult<Vec<PaymentEvent>>;
    async fn terminals_of(&self, merchant_id: &str) -> StoreResult<Vec<Terminal>>;
    /// The merchant's active saved cards, newest first; one customer's when `account_id` is
    /// not empty.
    async fn merchant_saved_cards(
        &self,
        merchant_id: &str,
        account_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<SavedCard>>;
    // Abuse counters (table abuse_counters), shared by every node on one database.

    /// The current window of `key`, if one is open at `now_ms`.
    async fn abuse_window(&self, key: &str, now_ms: i64) -> StoreResult<Option<AbuseWindow>>;
    /// Counts one failure of `key` in one statement: a window that ended starts again at
    /// `now_ms` for `window_ms`. With `below`, the failure is counted only while the window holds
    /// fewer than `below` (a reservation: concurrent callers cannot all slip under the limit);
    /// otherwise `counted` is false and nothing changes. Also sweeps ended windows.
    async fn abuse_count(&self, key: &str, window_ms: i64, now_ms: i64, below: Option<i64>)
        -> StoreResult<AbuseWindow>;
    /// Forgets `key`'s window (a success that clears earlier failures).
    async fn abuse_clear(&self, key: &str) -> StoreResult<()>;
    /// Marks a token used, so it authorises nothing more; false if it already was.
    async fn spend_token(&self, token_digest: &str, now_ms: i64) -> StoreResult<bool>;

    /// The latest 3-D Secure session of one of the merchant's payments.
    async fn three_ds_session_of(&self, merchant_id: &str, payment_id: &str) -> StoreResult<Option<ThreeDsSession>>;
}
