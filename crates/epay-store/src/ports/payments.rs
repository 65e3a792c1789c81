//! Payments: their attempts, the operations on them (charge, cancel, refund), the expiry of
//! holds, refunds. Every write moves the payment, its ledger transfers, its history and its
//! callback in one transaction.

use async_trait::async_trait;

use crate::{
    CallbackBuilder, OperationCallbackBuilder, OperationOutcome, OperationRequest, Payment, PaymentWrite,
    RecordedPayment, StoreResult,
};

#[async_trait]
pub trait PaymentsPort: Send + Sync + 'static {
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
    async fn operate(
        &self,
        request: OperationRequest,
        callback: OperationCallbackBuilder<'_>,
    ) -> StoreResult<OperationOutcome>;

    /// Turns up to `limit` authorizations older than their terminal's hold period into
    /// CANCEL_OLD and releases their holds, each payment in a transaction of its own. Safe on
    /// several nodes at once: each payment moves by compare-and-set, and PostgreSQL nodes skip
    /// rows another node (or an operation) has locked.
    async fn expire_authorizations(
        &self,
        now_ms: i64,
        limit: i64,
        callback: CallbackBuilder<'_>,
    ) -> StoreResult<Vec<Payment>>;

    /// A payment's refunds: (id, externalID, amount), oldest first.
    async fn refunds_of(&self, payment_id: &str) -> StoreResult<Vec<(String, Option<String>, i64)>>;
}
