//! Card transfers (facts §12, seeds 000/001): P2P card to card, AFT (a card pays the merchant)
//! and OCT (the merchant pays a card). Each is asked for with a `transfer` token whose
//! `transferKind` names it.

use serde::{Deserialize, Serialize};

use crate::{Amount, TokenRequest};

pub use epay_domain::TransferKind;

/// The path each kind of transfer is asked for on.
pub fn transfer_path(kind: TransferKind) -> &'static str {
    match kind {
        TransferKind::P2p => "/p2p/transfer",
        TransferKind::Aft => "/chdebit/transfer",
        TransferKind::Oct => "/chpayment/transfer",
    }
}

impl TokenRequest {
    /// A transfer token bound to one order of `kind`.
    pub fn transfer(
        client_id: &str,
        secret: &str,
        order_id: &str,
        amount: Amount,
        terminal: &str,
        kind: TransferKind,
    ) -> Self {
        TokenRequest {
            scope: "transfer".into(),
            // The token request's `transferKind` is an epay extension; a token without one makes P2P only.
            transfer_kind: Some(kind.as_str().into()),
            ..TokenRequest::payment(client_id, secret, order_id, amount, "KZT", terminal)
        }
    }
}

/// A transfer body: `{"order": {...}, "card": {"sender": {...}, "receiver": {...}}}`.
#[derive(Debug, Clone, Serialize)]
pub struct TransferRequest {
    pub order: TransferOrder,
    pub card: TransferCards,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransferOrder {
    pub id: String,
    pub amount: Amount,
    pub currency: String,
    pub description: String,
    #[serde(rename = "accountID")]
    pub account_id: String,
    #[serde(rename = "terminalId")]
    pub terminal_id: String,
    #[serde(rename = "senderEmail", skip_serializing_if = "Option::is_none")]
    pub sender_email: Option<String>,
}

/// The two sides; AFT has no receiver (the merchant receives) and OCT no sender.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TransferCards {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<TransferCard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<TransferCard>,
}

/// One side of a transfer as seed 001 writes it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TransferCard {
    /// `TYPEPAN`, `TYPECARDID` or (an OCT's receiver) `TYPEPHONE`.
    #[serde(rename = "transferType")]
    pub transfer_type: String,
    /// The card number, or the saved card's id with `TYPECARDID`.
    #[serde(rename = "cardCred", skip_serializing_if = "Option::is_none")]
    pub card_cred: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire: Option<Expire>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvc: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub save: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Expire {
    pub month: String,
    pub year: String,
}

impl TransferCard {
    /// A card given by its details; `expiry` is `MMYY`.
    pub fn pan(pan: &str, expiry: &str, cvc: &str) -> TransferCard {
        let (month, year) = expiry.split_at(expiry.len().min(2));
        TransferCard {
            transfer_type: "TYPEPAN".into(),
            card_cred: Some(pan.into()),
            expire: Some(Expire { month: month.into(), year: year.into() }),
            cvc: Some(cvc.into()),
            ..TransferCard::default()
        }
    }

    /// A receiving card given by its number only (a receiver needs no expiry or CVC).
    pub fn receiver_pan(pan: &str) -> TransferCard {
        TransferCard { transfer_type: "TYPEPAN".into(), card_cred: Some(pan.into()), ..TransferCard::default() }
    }
}

impl TransferRequest {
    /// A transfer of `amount` tenge for order `id` on `terminal` between the given sides.
    pub fn new(
        id: &str,
        amount: Amount,
        terminal: &str,
        sender: Option<TransferCard>,
        receiver: Option<TransferCard>,
    ) -> TransferRequest {
        TransferRequest {
            order: TransferOrder {
                id: id.into(),
                amount,
                currency: "KZT".into(),
                description: "transfer".into(),
                account_id: String::new(),
                terminal_id: terminal.into(),
                sender_email: None,
            },
            card: TransferCards { sender, receiver },
        }
    }
}

/// The answer of a transfer (seed 001), the fields clients usually read.
#[derive(Debug, Clone, Deserialize)]
pub struct TransferResponse {
    pub id: String,
    pub amount: Amount,
    pub fee: Amount,
    pub currency: String,
    pub reference: String,
    #[serde(rename = "orderID")]
    pub order_id: String,
    #[serde(rename = "senderCardID", default)]
    pub sender_card_id: String,
    #[serde(rename = "receiverCardID", default)]
    pub receiver_card_id: String,
    pub status: String,
    #[serde(rename = "secure3D", default)]
    pub secure3d: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_p2p_body_is_seed_001s_shape() {
        let amount: Amount = "12.50".parse().unwrap();
        let request = TransferRequest::new(
            "000000000000042",
            amount,
            "t",
            Some(TransferCard::pan("4405639704015096", "0127", "321")),
            Some(TransferCard::receiver_pan("5522042705066736")),
        );
        let body: serde_json::Value = serde_json::to_value(&request).unwrap();
        assert_eq!(body["order"]["amount"].to_string(), "12.5");
        assert_eq!(body["order"]["terminalId"], "t");
        assert_eq!(body["card"]["sender"]["expire"], serde_json::json!({"month": "01", "year": "27"}));
        assert_eq!(body["card"]["sender"]["transferType"], "TYPEPAN");
        assert_eq!(body["card"]["receiver"]["cardCred"], "5522042705066736");
        assert!(body["card"]["receiver"].get("cvc").is_none());
        let aft =
            TransferRequest::new("1", amount, "t", Some(TransferCard::pan("4405639704015096", "0127", "321")), None);
        assert!(serde_json::to_value(&aft).unwrap()["card"].get("receiver").is_none());
    }

    #[test]
    fn the_token_names_the_kind() {
        let amount: Amount = "1".parse().unwrap();
        let token = TokenRequest::transfer("c", "s", "000001", amount, "t", TransferKind::Oct);
        assert!(token.pairs().contains(&("transferKind".into(), "oct".into())));
        assert!(token.pairs().contains(&("scope".into(), "transfer".into())));
    }
}
