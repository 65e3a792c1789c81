//! Invoice links (`POST /invoice`) and the password grant's refresh tokens. Every read of a
//! link takes the caller's merchant, so another merchant's link answers "not found".

use async_trait::async_trait;

use crate::{CabinetUser, InvoiceLink, InvoiceLinkRow, LinkCancel, LinkInsert, RefreshToken, StoreResult};

#[async_trait]
pub trait InvoicesPort: Send + Sync + 'static {
    /// Stores a new link unless its terminal already has a link or a payment with its
    /// invoice_id (one statement: nothing is written then); `messages` (the link sent by
    /// e-mail / SMS) are enqueued in the same transaction, only with the link.
    async fn insert_invoice_link(&self, link: &InvoiceLink, messages: &[crate::NewMessage]) -> StoreResult<LinkInsert>;
    /// One of the merchant's links by its id or, failing that, its invoice_id (newest first),
    /// with its state at `now_ms`.
    async fn invoice_link(
        &self,
        merchant_id: &str,
        id_or_invoice: &str,
        now_ms: i64,
    ) -> StoreResult<Option<InvoiceLinkRow>>;
    /// A link by the capability in its URL, whoever's it is (the shopper's browser asks).
    async fn invoice_link_by_link_id(&self, link_id: &str, now_ms: i64) -> StoreResult<Option<InvoiceLinkRow>>;
    /// The link of a terminal's invoice, if the invoice has one (a payment's guard).
    async fn invoice_link_of(
        &self,
        terminal_id: &str,
        invoice_id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<InvoiceLinkRow>>;
    /// A page (newest first) of the merchant's links, of one state when `state` is given.
    async fn invoice_links(
        &self,
        merchant_id: &str,
        state: Option<&str>,
        now_ms: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<InvoiceLinkRow>>;
    /// Cancels the merchant's link `id` if it is still active at `now_ms`: not paid, not
    /// expired, not cancelled (one compare-and-set).
    async fn cancel_invoice_link(&self, merchant_id: &str, id: &str, now_ms: i64) -> StoreResult<LinkCancel>;

    async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;
    /// Spends a refresh token: marks it used and returns it, if it was unused and unexpired at
    /// `now_ms` (one statement, so two refreshes with one token cannot both succeed).
    async fn take_refresh_token(&self, id_digest: &str, now_ms: i64) -> StoreResult<Option<RefreshToken>>;
    async fn cabinet_user_by_id(&self, id: &str) -> StoreResult<Option<CabinetUser>>;
}
