//! Card-to-card transfers (P2P, AFT, OCT): recorded with their money, limits and saved cards in
//! one transaction, or finished after their 3-D Secure challenge.

use async_trait::async_trait;

use crate::{CallbackBuilder, Payment, StoreResult, TransferSettlement, TransferWrite};

#[async_trait]
pub trait TransfersPort: Send + Sync + 'static {
    /// Spends the token and records a transfer with its linked ledger transfers (amount and
    /// fee, all or nothing), daily limits and saved cards, in one transaction. A limit or a
    /// balance that does not allow it turns the transfer into a REJECT with that reason.
    /// Attempts at the order id are numbered and refused as for
    /// [`crate::PaymentsPort::record_payment`].
    async fn record_transfer(&self, write: TransferWrite, callback: CallbackBuilder<'_>) -> StoreResult<Payment>;

    /// Ends a transfer that waited for 3-D Secure, like [`crate::ThreeDsPort::finish_three_ds`]
    /// does for a payment: session `confirmed`, payment `3D` → CHARGE/REJECT/FAILED with its
    /// money, saved cards and callback, all in one transaction.
    async fn finish_three_ds_transfer(
        &self,
        session_id: &str,
        settlement: TransferSettlement,
        now_ms: i64,
        callback: CallbackBuilder<'_>,
    ) -> StoreResult<Payment>;
}
