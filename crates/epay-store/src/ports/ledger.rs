//! The double-entry ledger: opening accounts, reading them, checking its invariants. Money
//! moves only by the payment, transfer and 3-D Secure writes, inside their transactions.

use async_trait::async_trait;

use crate::{AccountKind, InvariantViolation, LedgerAccount, LedgerTransfer, StoreResult};

#[async_trait]
pub trait LedgerPort: Send + Sync + 'static {
    /// Creates ledger accounts (id, kind, currency, opening balance) that do not exist yet,
    /// funding each opening balance from the funding account of its currency. Existing accounts
    /// are left alone.
    async fn ensure_accounts(
        &self,
        accounts: &[(String, AccountKind, epay_domain::Currency, i64)],
        now_ms: i64,
    ) -> StoreResult<()>;

    async fn ledger_account(&self, id: &str) -> StoreResult<Option<LedgerAccount>>;
    async fn ledger_transfers_of(&self, payment_id: &str) -> StoreResult<Vec<LedgerTransfer>>;

    /// Verifies every ledger invariant; an empty list means the ledger is sound.
    async fn check_ledger(&self) -> StoreResult<Vec<InvariantViolation>>;
}
