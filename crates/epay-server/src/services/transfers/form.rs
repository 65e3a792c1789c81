//! What the hosted transfer form shows before the customer confirms: the order checked exactly
//! as the API would check it (nothing written), the fee, and the customer's saved cards.

use epay_domain::{Amount, Currency, Scope, TransferKind};
use epay_store::TokenRecord;

use super::command::OrderRequest;
use super::error::{internal, Refusal, TransferError};
use super::money::fee;
use super::order::{allowed_kind, caller_token, check_order, check_token, transfer_terminal};
use crate::app::App;
use crate::services::auth::{has_scope, Caller};
use crate::services::capability;

/// What the transfer page shows before the customer confirms.
#[derive(Debug, Clone)]
pub struct PageTransfer {
    pub merchant_name: String,
    pub description: String,
    pub amount: Amount,
    pub fee: Amount,
    pub currency: Currency,
    pub back_link: String,
    pub failure_back_link: String,
    /// The saved cards (id, mask) of the customer the token names: all of them may receive.
    pub saved_cards: Vec<(String, String)>,
    /// Those of them proven for paying, offered as the sender.
    pub paying_cards: Vec<(String, String)>,
    /// The saved cards the page's `senderCardId` / `receiverCardId` pre-select (seed 000), when
    /// they are among the cards offered on that side.
    pub preselected: Preselected,
}

/// Saved cards a transfer page pre-selects on each side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preselected {
    pub sender: Option<String>,
    pub receiver: Option<String>,
}

/// The saved cards a transfer page asks to pre-select (`senderCardId`, `receiverCardId`).
#[derive(Debug, Clone, Default)]
pub struct PreselectRequest {
    pub sender: Option<String>,
    pub receiver: Option<String>,
}

impl Preselected {
    /// Seed 000's "transfer by saved cards": the page names the sender's (`senderCardId`) or the
    /// receiver's (`receiverCardId`) saved card. An id is kept only when it is one of the cards
    /// the form offers on that side, which are the token's customer's cards (a receive-only card
    /// is never offered as the sender). Any other id is ignored, so the page looks the same
    /// whether the id is another customer's, deactivated or unknown: it reveals nothing.
    fn pick(
        asked: &PreselectRequest,
        paying_cards: &[(String, String)],
        saved_cards: &[(String, String)],
    ) -> Preselected {
        let pick = |name: &str, asked: &Option<String>, offered: &[(String, String)]| -> Option<String> {
            let asked = asked.as_deref().map(str::trim).filter(|id| !id.is_empty())?;
            let found = offered.iter().find(|(id, _)| id == asked).map(|(id, _)| id.clone());
            if found.is_none() {
                tracing::info!(field = name, "the page names a saved card the form does not offer; ignored");
            }
            found
        };
        Preselected {
            sender: pick("senderCardId", &asked.sender, paying_cards),
            receiver: pick("receiverCardId", &asked.receiver, saved_cards),
        }
    }
}

/// Checks a transfer page's token and order exactly as the API would, writing nothing.
pub async fn check_page_transfer(
    app: &App,
    caller: Caller,
    kind: TransferKind,
    order: &OrderRequest,
    preselect: &PreselectRequest,
) -> Result<(TokenRecord, PageTransfer), TransferError> {
    let token = caller_token(caller)?;
    check_token(&token, kind)?;
    capability::account_id(&token, &order.account_id).map_err(|e| TransferError::bad(format!("order.{e}")))?;
    let terminal = transfer_terminal(app, &token, order).await?;
    let order = check_order(app.config.mode, order, &token, &terminal)?;
    if !terminal.transfers_allowed {
        return Err(Refusal::NotPermitted.into());
    }
    // The page offers saved cards only of the customer the merchant named in the token request;
    // an accountId in the page's params is the shopper's to write, so it never lists cards.
    let cards = match token.account_id.as_deref() {
        Some(account_id) => app.store.saved_cards(&token.merchant_id, account_id).await.map_err(internal)?,
        None => Vec::new(),
    };
    let paying_cards: Vec<_> =
        cards.iter().filter(|c| c.payable).map(|c| (c.id.clone(), c.card_mask.clone())).collect();
    let saved_cards: Vec<_> = cards.into_iter().map(|c| (c.id, c.card_mask)).collect();
    let preselected = Preselected::pick(preselect, &paying_cards, &saved_cards);
    let merchant = app.store.merchant(&token.merchant_id).await.map_err(internal)?;
    let from_tenge = app.network.rate(Currency::Kzt, order.currency);
    let fee = Amount::from_minor(fee(&terminal, order.amount, from_tenge)).unwrap_or_default();
    Ok((
        token,
        PageTransfer {
            merchant_name: merchant.map(|m| m.name).unwrap_or_default(),
            description: order.description.as_str().to_string(),
            amount: order.amount,
            fee,
            currency: order.currency,
            back_link: order.back_link,
            failure_back_link: order.failure_back_link,
            saved_cards,
            paying_cards,
            preselected,
        },
    ))
}

/// The transfer form a `halyk.pay` call opens, if its token is a transfer token: seed 002 gets a
/// `transfer` token and calls `halyk.pay`. The token, not the page's call, fixes the kind
/// ([`allowed_kind`]: its `transferKind`, P2P without one), as it does for `halyk.p2p`,
/// `halyk.aft` and `halyk.oct`. `None` for every other token (a payment token).
pub fn kind_for_pay_call(caller: &Caller) -> Option<TransferKind> {
    let token = caller.token()?;
    (has_scope(token, Scope::Transfer) && !has_scope(token, Scope::Payment)).then(|| allowed_kind(token))
}
