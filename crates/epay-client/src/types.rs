//! Request and response bodies with ePay's field names.

use serde::{Deserialize, Serialize};

/// A client-credentials token request (facts §2.1).
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub scope: String,
    pub client_id: String,
    pub client_secret: String,
    pub invoice_id: Option<String>,
    pub amount: Option<f64>,
    pub currency: Option<String>,
    pub terminal: Option<String>,
    pub post_link: Option<String>,
    pub failure_post_link: Option<String>,
    pub secret_hash: Option<String>,
    /// epay extension: the one kind of transfer the token may make (`p2p`, `aft`, `oct`).
    pub transfer_kind: Option<String>,
    /// epay extension: the customer whose saved cards the token may list and use.
    pub account_id: Option<String>,
}

impl TokenRequest {
    /// A payment token bound to one invoice.
    pub fn payment(
        client_id: &str,
        secret: &str,
        invoice_id: &str,
        amount: f64,
        currency: &str,
        terminal: &str,
    ) -> Self {
        TokenRequest {
            scope: "payment".into(),
            client_id: client_id.into(),
            client_secret: secret.into(),
            invoice_id: Some(invoice_id.into()),
            amount: Some(amount),
            currency: Some(currency.into()),
            terminal: Some(terminal.into()),
            ..Default::default()
        }
    }

    /// A service token (status, operations, cards) for a terminal.
    pub fn service(client_id: &str, secret: &str, terminal: &str) -> Self {
        TokenRequest {
            scope: "webapi usermanagement email_send verification statement statistics payment".into(),
            client_id: client_id.into(),
            client_secret: secret.into(),
            terminal: Some(terminal.into()),
            ..Default::default()
        }
    }

    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("scope".into(), self.scope.clone()),
            ("client_id".into(), self.client_id.clone()),
            ("client_secret".into(), self.client_secret.clone()),
        ];
        let optional = [
            ("invoiceID", self.invoice_id.clone()),
            ("amount", self.amount.map(|a| a.to_string())),
            ("currency", self.currency.clone()),
            ("terminal", self.terminal.clone()),
            ("postLink", self.post_link.clone()),
            ("failurePostLink", self.failure_post_link.clone()),
            ("secret_hash", self.secret_hash.clone()),
            ("transferKind", self.transfer_kind.clone()),
            ("accountId", self.account_id.clone()),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                pairs.push((name.to_string(), value));
            }
        }
        pairs
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: serde_json::Value,
    pub refresh_token: String,
    pub scope: String,
    pub token_type: String,
}

/// `POST /payment/cryptopay` body (facts §5.1).
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    pub amount: f64,
    pub currency: String,
    pub name: String,
    pub cryptogram: String,
    pub invoice_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_id_alt: Option<String>,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_post_link: Option<String>,
    pub card_save: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl PaymentRequest {
    pub fn new(invoice_id: &str, amount: f64, cryptogram: String) -> Self {
        PaymentRequest {
            amount,
            currency: "KZT".into(),
            name: "TEST TEST".into(),
            cryptogram,
            invoice_id: invoice_id.into(),
            description: "test payment".into(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardIdRef {
    pub id: String,
}

/// `POST /payments/cards/auth` body (seed 003).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedCardPaymentRequest {
    pub amount: f64,
    pub currency: String,
    pub name: String,
    pub terminal_id: String,
    pub invoice_id: String,
    pub description: String,
    pub account_id: String,
    pub back_link: String,
    pub post_link: String,
    pub language: String,
    pub payment_type: String,
    pub recurrent: bool,
    pub card_id: CardIdRef,
}

impl SavedCardPaymentRequest {
    pub fn new(invoice_id: &str, amount: f64, terminal_id: &str, account_id: &str, card_id: &str) -> Self {
        SavedCardPaymentRequest {
            amount,
            currency: "KZT".into(),
            name: "TEST TEST".into(),
            terminal_id: terminal_id.into(),
            invoice_id: invoice_id.into(),
            description: "test".into(),
            account_id: account_id.into(),
            back_link: "https://example.com/ok".into(),
            post_link: String::new(),
            language: "rus".into(),
            payment_type: "cardId".into(),
            recurrent: false,
            card_id: CardIdRef { id: card_id.into() },
        }
    }
}

/// Answer of the payment endpoints (facts §5.3, §6.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentResponse {
    pub id: String,
    #[serde(rename = "accountId")]
    pub account_id: String,
    pub amount: f64,
    #[serde(rename = "amountBonus")]
    pub amount_bonus: f64,
    pub currency: String,
    pub description: String,
    #[serde(default)]
    pub email: String,
    #[serde(rename = "invoiceID")]
    pub invoice_id: String,
    #[serde(rename = "invoiceIdAlt", default)]
    pub invoice_id_alt: String,
    pub language: String,
    pub phone: String,
    pub reference: String,
    #[serde(rename = "intReference")]
    pub int_reference: String,
    #[serde(rename = "secure3D")]
    pub secure3d: Option<serde_json::Value>,
    #[serde(rename = "cardID")]
    pub card_id: String,
    #[serde(default)]
    pub fee: f64,
    pub code: i64,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusResponse {
    #[serde(rename = "resultCode")]
    pub result_code: String,
    #[serde(rename = "resultMessage")]
    pub result_message: String,
    pub transaction: Option<StatusTransaction>,
}

/// The fields of a status `transaction` that clients usually read; the rest stay in `extra`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusTransaction {
    pub id: String,
    pub created_date: String,
    #[serde(rename = "invoiceID")]
    pub invoice_id: String,
    pub amount: f64,
    pub payout_amount: f64,
    pub org_amount: f64,
    pub approval_code: String,
    pub currency: String,
    #[serde(rename = "terminalID")]
    pub terminal_id: String,
    pub card_mask: String,
    pub reason_code: String,
    pub status_name: String,
    #[serde(rename = "cardID")]
    pub card_id: String,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}
