//! The storage ports (one trait per concern, in `ports`; `Store` is all of them) and their two
//! adapters: SQLite (embedded default) and PostgreSQL. Both adapters share one body of SQL, so
//! they cannot drift apart.

mod lost;
mod message;
mod model;
mod ports;
mod recurrent;
mod sql;

pub use lost::{is_connection_lost, watch as watch_connection_loss};
pub use message::*;
pub use model::*;
pub use ports::{
    CabinetPort, CallbackOutbox, DatabasePort, InvoicesPort, LedgerPort, MerchantsPort, MessageOutbox, PaymentsPort,
    SubscriptionsPort, ThreeDsPort, TokensPort, TransfersPort, VaultPort, WrongCode,
};
pub use recurrent::*;
pub use sql::config_cache::{ConfigCacheStats, CONFIG_STALENESS};
pub use sql::{connect, PgStore, SqliteStore};

/// The id prefix of the payment tokens an invoice link mints (`services::invoices`): a payment
/// with such a token re-checks its link inside its own transaction (`record_payment`).
pub const LINK_TOKEN_PREFIX: &str = "link-";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the token has already been used")]
    TokenSpent,
    /// The invoice link that minted the paying token is no longer ACTIVE (cancelled, expired,
    /// or paid): checked inside the payment's transaction (`PaymentsPort::record_payment`).
    #[error("the invoice link is no longer active")]
    LinkClosed,
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
    /// A read on SQLite's inline read connections failed (`sql/inline_reads.rs`). An SQLite
    /// file cannot hang up, so it is never a lost connection.
    #[error("database read error: {0}")]
    SqliteRead(#[from] rusqlite::Error),
    /// SQLite's inline read connections could not open the database file at start.
    #[error("cannot open the database for reading: {0}")]
    SqliteOpen(rusqlite::Error),
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

/// Everything the services ask of persistent storage: every port, as the one trait object the
/// application holds (`Arc<dyn Store>`). A port's methods are callable on it without importing
/// the port. Each method is one database transaction. The SQL adapter (`SqlStore`, on either
/// backend) implements it.
pub trait Store:
    DatabasePort
    + MerchantsPort
    + TokensPort
    + PaymentsPort
    + LedgerPort
    + TransfersPort
    + ThreeDsPort
    + CallbackOutbox
    + MessageOutbox
    + VaultPort
    + CabinetPort
    + InvoicesPort
    + SubscriptionsPort
{
}
