//! Request and response bodies with ePay's field names.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Amount;

/// A client-credentials token request (facts §2.1).
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub scope: String,
    pub client_id: String,
    pub client_secret: String,
    pub invoice_id: Option<String>,
    pub amount: Option<Amount>,
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
        amount: Amount,
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
    pub amount: Amount,
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
    /// With `card_save`: the cardholder agrees to merchant-initiated repeats (a `recurrent`
    /// saved-card payment, a subscription). Sent only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recurrent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl PaymentRequest {
    pub fn new(invoice_id: &str, amount: Amount, cryptogram: String) -> Self {
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
    pub amount: Amount,
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
    pub fn new(invoice_id: &str, amount: Amount, terminal_id: &str, account_id: &str, card_id: &str) -> Self {
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
    pub amount: Amount,
    #[serde(rename = "amountBonus")]
    pub amount_bonus: Amount,
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
    pub fee: Amount,
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
#[serde(rename_all = "camelCase", try_from = "Box<RawValue>")]
pub struct StatusTransaction {
    pub id: String,
    pub created_date: String,
    #[serde(rename = "invoiceID")]
    pub invoice_id: String,
    pub amount: Amount,
    pub amount_bonus: Amount,
    pub payout_amount: Amount,
    pub org_amount: Amount,
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

/// Read by hand because `#[serde(flatten)]` would first buffer the object, its amounts as
/// floating-point numbers, and an exact [`Amount`] cannot be read back from that. Here each field
/// keeps its JSON text until it is decoded into its own type.
impl TryFrom<Box<RawValue>> for StatusTransaction {
    type Error = serde_json::Error;

    fn try_from(raw: Box<RawValue>) -> Result<Self, Self::Error> {
        let mut fields = RawFields(serde_json::from_str(raw.get())?);
        Ok(StatusTransaction {
            id: fields.take("id")?,
            created_date: fields.take("createdDate")?,
            invoice_id: fields.take("invoiceID")?,
            amount: fields.take("amount")?,
            amount_bonus: fields.take_or_default("amountBonus")?,
            payout_amount: fields.take("payoutAmount")?,
            org_amount: fields.take("orgAmount")?,
            approval_code: fields.take("approvalCode")?,
            currency: fields.take("currency")?,
            terminal_id: fields.take("terminalID")?,
            card_mask: fields.take("cardMask")?,
            reason_code: fields.take("reasonCode")?,
            status_name: fields.take("statusName")?,
            card_id: fields.take("cardID")?,
            extra: fields.rest()?,
        })
    }
}

/// A JSON object's fields, each still as its text.
struct RawFields(BTreeMap<String, Box<RawValue>>);

impl RawFields {
    fn take<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<T, serde_json::Error> {
        let raw = self.0.remove(name).ok_or_else(|| serde::de::Error::missing_field(name))?;
        serde_json::from_str(raw.get()).map_err(|e| serde::de::Error::custom(format!("field {name}: {e}")))
    }

    fn take_or_default<T: DeserializeOwned + Default>(&mut self, name: &'static str) -> Result<T, serde_json::Error> {
        if self.0.contains_key(name) {
            self.take(name)
        } else {
            Ok(T::default())
        }
    }

    /// The fields not taken, as plain JSON values.
    fn rest(self) -> Result<serde_json::Map<String, serde_json::Value>, serde_json::Error> {
        self.0.into_iter().map(|(name, raw)| Ok((name, serde_json::from_str(raw.get())?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn amount(text: &str) -> Amount {
        text.parse().unwrap()
    }

    /// A status answer as the gateway (and ePay's example, facts §8.1) writes it.
    fn status_answer(amount: &str, payout: &str) -> String {
        format!(
            r#"{{"resultCode":"100","resultMessage":"OK","transaction":{{"id":"t1","createdDate":"2025-01-01T00:00:00",
            "invoiceID":"000001","amount":{amount},"amountBonus":0,"payoutAmount":{payout},"orgAmount":22.22,
            "approvalCode":"170243","currency":"KZT","terminalID":"t","cardMask":"440563...5096","reasonCode":"0",
            "statusName":"CHARGE","cardID":"","secure":true,"statusID":"3"}}}}"#
        )
    }

    #[test]
    fn requests_carry_the_exact_digits() {
        for (text, wire) in [("0.01", "0.01"), ("12.22", "12.22"), ("1000000.99", "1000000.99"), ("100.00", "100")] {
            let request = PaymentRequest::new("000001", amount(text), "c".into());
            let body: serde_json::Value = serde_json::from_slice(&serde_json::to_vec(&request).unwrap()).unwrap();
            assert!(serde_json::to_string(&request).unwrap().contains(&format!(r#""amount":{wire},"#)), "{text}");
            assert!(body["amount"].is_number(), "{text}: a number, not a string");
            let saved = SavedCardPaymentRequest::new("000001", amount(text), "t", "a", "c");
            assert!(serde_json::to_string(&saved).unwrap().starts_with(&format!(r#"{{"amount":{wire},"#)));
            let token = TokenRequest::payment("c", "s", "000001", amount(text), "KZT", "t");
            assert!(token.pairs().contains(&("amount".into(), wire.into())), "{text}");
        }
        let largest = Amount::from_minor(epay_domain::money::MAX_AMOUNT_MINOR).unwrap();
        assert!(serde_json::to_string(&PaymentRequest::new("1", largest, "c".into()))
            .unwrap()
            .contains(r#""amount":1000000000,"#));
    }

    #[test]
    fn answers_are_read_exactly() {
        let answer: StatusResponse = serde_json::from_str(&status_answer("12.22", "10")).unwrap();
        let tx = answer.transaction.unwrap();
        assert_eq!((tx.amount, tx.payout_amount, tx.org_amount), (amount("12.22"), amount("10"), amount("22.22")));
        assert_eq!(tx.amount.minor(), 1_222);
        assert_eq!(tx.amount_bonus, Amount::ZERO);
        // Fields not typed here stay available, and the typed ones are not repeated there.
        assert_eq!((tx.extra["secure"].clone(), tx.extra["statusID"].clone()), (json!(true), json!("3")));
        assert!(!tx.extra.contains_key("amount") && !tx.extra.contains_key("cardID"));
        // Written back, it is the same answer (extra fields included).
        let again = serde_json::to_value(&tx).unwrap();
        assert_eq!((again["amount"].clone(), again["secure"].clone()), (json!(12.22), json!(true)));

        // A numeric string is read exactly too, and large amounts keep every digit.
        let answer: StatusResponse = serde_json::from_str(&status_answer(r#""12.22""#, "1000000.99")).unwrap();
        let tx = answer.transaction.unwrap();
        assert_eq!((tx.amount.minor(), tx.payout_amount.minor()), (1_222, 100_000_099));

        let paid: PaymentResponse = serde_json::from_value(json!({
            "id": "p", "accountId": "", "amount": 999999999.99, "amountBonus": 0, "currency": "KZT",
            "description": "", "invoiceID": "1", "language": "RU", "phone": "", "reference": "",
            "intReference": "", "secure3D": null, "cardID": "", "fee": 0.19, "code": 0, "status": "AUTH"
        }))
        .unwrap();
        assert_eq!((paid.amount.minor(), paid.fee.minor()), (99_999_999_999, 19));
    }

    #[test]
    fn an_inexact_amount_is_a_clear_error() {
        let error = serde_json::from_str::<StatusResponse>(&status_answer("12.225", "10")).unwrap_err().to_string();
        assert!(
            error.contains("field amount: invalid amount 12.225 (amount must have at most 2 decimal places)"),
            "{error}"
        );
        let error = serde_json::from_str::<StatusResponse>(&status_answer(r#""NaN""#, "10")).unwrap_err().to_string();
        assert!(error.contains("field amount: invalid amount \"NaN\" (amount must be a number)"), "{error}");
        let error = serde_json::from_str::<StatusResponse>(&status_answer("12.22", "-1")).unwrap_err().to_string();
        assert!(error.contains("field payoutAmount: invalid amount -1 (amount must not be negative)"), "{error}");
        let error = serde_json::from_str::<StatusResponse>(&status_answer("null", "10")).unwrap_err().to_string();
        assert!(error.contains("amount must be a number"), "{error}");
        let missing = status_answer("1", "1").replace(r#""orgAmount":22.22,"#, "");
        let error = serde_json::from_str::<StatusResponse>(&missing).unwrap_err().to_string();
        assert!(error.contains("missing field `orgAmount`"), "{error}");
    }
}
