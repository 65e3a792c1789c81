//! The cards of a transfer (`card.sender`, `card.receiver`): typed in (`TYPEPAN`), a saved card
//! (`TYPECARDID`), or for a payout the card registered to a phone + IIN (`TYPEPHONE`); and the
//! cards a successful transfer saves.

use epay_domain::{ids, Cvc, Expiry, Pan};
use epay_store::{Payment, SavedCard, Terminal};

use super::command::CardRequest;
use super::error::{internal, too_many_attempts, Refusal, TransferError};
use crate::app::App;
use crate::wire::echoed;

/// How a side names its card (`transferType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = TransferType)]
pub enum CardGiven {
    /// `TYPEPAN`: the card number.
    #[schema(rename = "TYPEPAN")]
    Pan,
    /// `TYPECARDID`: a card the customer saved.
    #[schema(rename = "TYPECARDID")]
    SavedCard,
    /// `TYPEPHONE`: the card registered to a phone + IIN (payouts only).
    #[schema(rename = "TYPEPHONE")]
    Phone,
}

impl CardGiven {
    /// ePay's word for it, as a transfer records and answers it.
    pub fn as_str(self) -> &'static str {
        match self {
            CardGiven::Pan => "TYPEPAN",
            CardGiven::SavedCard => "TYPECARDID",
            CardGiven::Phone => "TYPEPHONE",
        }
    }
}

/// One side of a transfer once resolved.
pub struct Side {
    pub pan: Pan,
    pub given: CardGiven,
    /// The saved card used, when given by id.
    pub saved_card_id: Option<String>,
    pub expiry: Option<Expiry>,
    pub cvc: Option<Cvc>,
    pub name: String,
    pub save: bool,
}

/// `what` of the paying side and its messages.
pub(super) const SENDER: &str = "sender";

/// How `card.{what}.transferType` names the card.
pub fn card_given(card: &CardRequest, what: &str) -> Result<CardGiven, TransferError> {
    match card.transfer_type.trim().to_ascii_uppercase().as_str() {
        "TYPEPAN" | "TYPECARD" | "" => Ok(CardGiven::Pan),
        "TYPECARDID" => Ok(CardGiven::SavedCard),
        "TYPEPHONE" => Ok(CardGiven::Phone),
        other => Err(TransferError::bad(format!(
            "card.{what}.transferType {other:?} is not one of TYPEPAN, TYPECARDID, TYPEPHONE"
        ))),
    }
}

/// A required text of a side: present and not blank.
fn required<'a>(value: &'a Option<String>, what: &str, name: &str) -> Result<&'a str, TransferError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| TransferError::bad(format!("card.{what}.{name} is required")))
}

pub(super) async fn resolve_side(
    app: &App,
    merchant_id: &str,
    account_id: &str,
    card: &CardRequest,
    what: &str,
    phone_scope: Option<PhoneScope<'_>>,
) -> Result<Side, TransferError> {
    let given = card_given(card, what)?;
    let name = card.name.clone();
    match given {
        CardGiven::SavedCard => {
            let id = required(&card.card_cred, what, "cardCred")?;
            // A saved card serves only the customer it was saved for, named by the order (and by
            // the token, when it binds one): a card id alone does not spend a card.
            if account_id.is_empty() {
                return Err(TransferError::bad(format!("order.accountID is required to use a saved card as {what}")));
            }
            let card = app
                .store
                .saved_card(merchant_id, id.trim())
                .await
                .map_err(internal)?
                .filter(|c| c.active && c.account_id == account_id)
                .ok_or_else(|| TransferError::bad(format!("card.{what}: saved card {} not found", echoed(id))))?;
            if what == SENDER && !card.payable {
                return Err(TransferError::bad(format!(
                    "card.{what}: saved card {} was saved as a receiver and can only receive",
                    echoed(id)
                )));
            }
            let pan = app.open_pan(&card.pan_ciphertext).await.ok_or_else(|| {
                tracing::error!(card_id = %card.id, "saved card cannot be decrypted with the vault key");
                TransferError::from(Refusal::Internal)
            })?;
            Ok(Side { pan, given, saved_card_id: Some(card.id), expiry: None, cvc: None, name, save: false })
        }
        CardGiven::Phone => {
            let Some(scope) = phone_scope else {
                return Err(TransferError::bad(format!(
                    "card.{what}.transferType TYPEPHONE is only for payouts (OCT)"
                )));
            };
            let phone = required(&card.phone, what, "phone")?;
            let iin = required(&card.iin, what, "iin")?;
            let digits = |s: &str| s.chars().filter(char::is_ascii_digit).count();
            if digits(phone) != 11 || digits(iin) != 12 {
                return Err(TransferError::bad(format!("card.{what}: phone must be 11 digits and iin 12 digits")));
            }
            let pan = card_by_phone(app, scope, phone, iin)?;
            Ok(Side { pan, given, saved_card_id: None, expiry: None, cvc: None, name, save: false })
        }
        CardGiven::Pan => pan_side(card, what),
    }
}

/// Who asks for a phone lookup: the token and the terminal its failures count against.
#[derive(Clone, Copy)]
pub(crate) struct PhoneScope<'a> {
    pub token_digest: &'a str,
    pub terminal_id: &'a str,
}

/// The card registered to a phone + IIN, for a payout. Every failed lookup (unknown phone,
/// another IIN) gets one answer, so the answer does not tell who has a card, and counts
/// against the token and the terminal: after the limit the lookup is refused before the
/// network is asked, and nothing is written.
fn card_by_phone(app: &App, scope: PhoneScope<'_>, phone: &str, iin: &str) -> Result<Pan, TransferError> {
    let keys = crate::services::guard::phone_keys(
        scope.token_digest,
        scope.terminal_id,
        &crate::services::guard::Limits::from_config(&app.config),
    );
    let keys = crate::services::guard::as_refs(&keys);
    let now = app.clock.now_ms();
    app.guard.check_all(&keys, now).map_err(too_many_attempts)?;
    app.network.card_by_phone(phone, iin).map_err(|_| {
        app.guard.fail_all(&keys, now);
        TransferError::from(Refusal::PhoneMismatch)
    })
}

/// A side given by card number (`TYPEPAN`): `cardCred`, and `expire` and `cvc` when given.
pub fn pan_side(card: &CardRequest, what: &str) -> Result<Side, TransferError> {
    let cred = required(&card.card_cred, what, "cardCred")?;
    let pan = Pan::parse(cred).map_err(|e| TransferError::bad(format!("card.{what}.cardCred: {e}")))?;
    let expiry = match &card.expire {
        Some(expire) => Some(
            Expiry::from_parts(&expire.month, &expire.year)
                .map_err(|err| TransferError::bad(format!("card.{what}.expire: {err}")))?,
        ),
        None => None,
    };
    let cvc = match card.cvc.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(Cvc::parse(c).map_err(|e| TransferError::bad(format!("card.{what}.cvc: {e}")))?),
        None => None,
    };
    Ok(Side { pan, given: CardGiven::Pan, saved_card_id: None, expiry, cvc, name: card.name.clone(), save: card.save })
}

/// A card saved by a successful transfer (either side), sealed under the vault key.
/// `payable` only for the paying side, whose expiry and CVC were just checked; a receiver was
/// never proven and may only receive.
pub(super) fn new_saved_card(
    app: &App,
    p: &Payment,
    terminal: &Terminal,
    pan: &Pan,
    expiry_mmyy: &str,
    name: &str,
    payable: bool,
) -> SavedCard {
    SavedCard {
        id: ids::uuid(),
        merchant_id: p.merchant_id.clone(),
        account_id: p.account_id.clone(),
        pan_fingerprint: app.keys.pan_fingerprint(pan),
        pan_ciphertext: app.keys.seal_pan(pan),
        card_mask: pan.masked(),
        card_brand: pan.brand().as_str().to_string(),
        expiry_mmyy: expiry_mmyy.to_string(),
        payer_name: name.to_string(),
        transaction_id: p.id.clone(),
        terminal_pos_id: terminal.pos_id.clone(),
        reference: String::new(),
        int_reference: String::new(),
        card_token: hex::encode_upper(uuid::Uuid::new_v4().as_bytes()),
        active: true,
        payable,
        created_at: p.updated_at,
    }
}
