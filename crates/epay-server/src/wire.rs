//! ePay's JSON at the edge. ePay's casing is odd (`invoiceId` in, `invoiceID` out, `cardID`,
//! `accountId` next to `accountID`), and that oddity lives only here.
//!
//! Requests are read with ePay's lenient rules (keys in any case: public clients send
//! `invoiceID`, `invoiceId` and `InvoiceID`; numbers as strings; every error names its field)
//! into typed requests, by the serde deserializer of [`lenient`].

pub mod lenient;

use epay_domain::{Amount, Secret};
use serde::Serialize;
use utoipa::ToSchema;

pub mod three_ds;

/// Why a request field was refused. The message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldError(pub String);

/// The most characters of a client's value an error repeats back (an `order.id`, a card id).
pub const MAX_ECHO_CHARS: usize = 64;
/// The most characters of an error message: every error shape stays small whatever was sent.
pub const MAX_MESSAGE_CHARS: usize = 256;

/// `text` cut to `max_chars` characters, with `…` when something was cut.
pub fn capped(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A client's value as an error repeats it: at most [`MAX_ECHO_CHARS`] characters.
pub fn echoed(value: &str) -> String {
    capped(value, MAX_ECHO_CHARS)
}

/// An amount on the wire, in major units, printed as ePay prints it: whole amounts as integers
/// (`100`, as seed 003 shows — a Go or Swift client decoding into an integer field would choke
/// on `100.0`), others with their decimals (`12.22`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JsonAmount(pub i64);

impl JsonAmount {
    pub fn of(amount: Amount) -> JsonAmount {
        JsonAmount(amount.minor())
    }
}

/// In the OpenAPI description: `Amount`, a number in major units.
impl utoipa::PartialSchema for JsonAmount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .description(Some(
                "An amount in major units (tenge): whole amounts are printed as integers (`100`), others \
                 with their decimals (`12.22`).",
            ))
            .examples([serde_json::json!(100), serde_json::json!(12.22)])
            .into()
    }
}

impl ToSchema for JsonAmount {
    fn name() -> std::borrow::Cow<'static, str> {
        "Amount".into()
    }
}

/// Written by [`Amount`]'s own `Serialize` (epay-domain `amount_json`), which the SDK shares: the
/// exact digits, never through an `f64`.
impl Serialize for JsonAmount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Every amount the gateway answers with is one it accepted, so this refuses only a bug.
        let amount = Amount::from_minor(self.0)
            .map_err(|e| serde::ser::Error::custom(format!("amount of {} minor units: {e}", self.0)))?;
        amount.serialize(serializer)
    }
}

/// ePay's language spellings: requests say `rus`/`kaz`/`eng` (or `RU`/`KZ`/`EN`), responses `RU`.
pub fn language_code(requested: &str) -> &'static str {
    match requested.trim().to_ascii_lowercase().as_str() {
        "kaz" | "kz" | "kk" => "KZ",
        "eng" | "en" => "EN",
        _ => "RU",
    }
}

/// The 3-D Secure challenge data of a payment in status `3D` (seed 003). The merchant's page
/// posts `PaReq`, `MD` and its own `TermUrl` to `action`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Secure3D {
    /// A 3DS 2.2 CReq, base64url without padding.
    #[serde(rename = "paReq")]
    pub pa_req: String,
    /// The `threeDSServerTransID`, standard base64.
    pub md: String,
    /// The ACS URL: `<public_url>/acs/challenge`.
    pub action: String,
}

/// Answer of `/payment/cryptopay` and `/payments/cards/auth` (facts §5.3, §6.2).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentResponse {
    /// Transaction id (UUID): what charge, cancel and refund take.
    pub id: String,
    #[serde(rename = "accountId")]
    pub account_id: String,
    pub amount: JsonAmount,
    /// Always 0.
    #[serde(rename = "amountBonus")]
    pub amount_bonus: JsonAmount,
    pub currency: String,
    pub description: String,
    pub email: String,
    #[serde(rename = "invoiceID")]
    pub invoice_id: String,
    #[serde(rename = "invoiceIdAlt")]
    pub invoice_id_alt: String,
    /// `RU`, `KZ` or `EN`.
    pub language: String,
    pub phone: String,
    /// 12-digit RRN.
    pub reference: String,
    /// 16 upper-case hex digits.
    #[serde(rename = "intReference")]
    pub int_reference: String,
    /// `null` in a final answer.
    #[serde(rename = "secure3D")]
    #[schema(required = true)]
    pub secure3d: Option<Secure3D>,
    /// The saved card's id when `cardSave` saved the card (or a saved card paid), else `""`.
    #[serde(rename = "cardID")]
    pub card_id: String,
    /// Always 0.
    pub fee: JsonAmount,
    /// Always 0.
    pub code: i32,
    /// `AUTH` (two-step terminal), `CHARGE` (one-step terminal) or `VERIFIED` (card verification).
    pub status: String,
}

/// Answer of a payment that waits for a 3-D Secure challenge: seed 003's "not final" response,
/// field for field (most fields empty, as the seed shows).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ThreeDResponse {
    /// Transaction id (UUID).
    pub id: String,
    #[serde(rename = "accountId")]
    pub account_id: String,
    pub amount: JsonAmount,
    #[serde(rename = "amountBonus")]
    pub amount_bonus: JsonAmount,
    pub currency: String,
    pub description: String,
    pub email: String,
    #[serde(rename = "invoiceID")]
    pub invoice_id: String,
    pub language: String,
    pub phone: String,
    pub reference: String,
    #[serde(rename = "intReference")]
    pub int_reference: String,
    #[serde(rename = "secure3D")]
    pub secure3d: Secure3D,
    /// The saved card's id for `/payments/cards/auth`, else `""`.
    #[serde(rename = "cardID")]
    pub card_id: String,
    pub fee: JsonAmount,
    pub code: i32,
    /// `3D`.
    pub status: String,
}

/// What a payment request answers: final, or waiting for 3-D Secure.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PaymentAnswer {
    Final(PaymentResponse),
    ThreeD(ThreeDResponse),
}

/// Answer of the token endpoint (facts §2.2).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenResponse {
    /// 22 characters of `[A-Z0-9_-]`; only its SHA-256 digest is stored.
    #[serde(serialize_with = "epay_domain::secret::serialize_exposed")]
    #[schema(value_type = String)]
    pub access_token: Secret,
    /// Lifetime in seconds (`token_ttl_secs`, default 7200).
    pub expires_in: i64,
    /// Always `""`.
    pub refresh_token: String,
    /// The requested scope, verbatim.
    pub scope: String,
    /// `Bearer`.
    pub token_type: String,
}

/// Answer of the status endpoint (facts §8.1).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusResponse {
    /// Found: `"100"` (read `statusName`), `"107"` in progress (a 3-D Secure challenge is
    /// open), `"101"` rejected or failed. Not found: `"102"` (also a malformed invoice id),
    /// `"103"` bad token, `"104"` token without a terminal (facts §8.3; docs/api.md).
    #[serde(rename = "resultCode")]
    pub result_code: String,
    #[serde(rename = "resultMessage")]
    pub result_message: String,
    /// The transaction when one was found (`"100"`, `"101"`, `"107"`), else `null`.
    #[schema(required = true)]
    pub transaction: Option<StatusTransaction>,
}

/// One transaction as the status endpoint shows it (docs/api.md lists how each field is filled).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusTransaction {
    /// Transaction id (UUID).
    pub id: String,
    /// `YYYY-MM-DDTHH:MM:SS.ffffff+05:00`.
    pub created_date: String,
    /// Invoice (or transfer order) id.
    #[serde(rename = "invoiceID")]
    pub invoice_id: String,
    /// In `CHARGE` and `REFUND`: charged less refunded; otherwise the original amount.
    pub amount: JsonAmount,
    pub amount_bonus: JsonAmount,
    /// Payments: charged less refunded less fee; transfers: what the receiver got.
    pub payout_amount: JsonAmount,
    /// The original amount.
    pub org_amount: JsonAmount,
    /// 6 digits; `""` if declined or waiting in `3D`.
    pub approval_code: String,
    pub data: String,
    pub currency: String,
    pub terminal: String,
    #[serde(rename = "terminalID")]
    pub terminal_id: String,
    #[serde(rename = "accountID")]
    pub account_id: String,
    pub description: String,
    pub language: String,
    pub card_mask: String,
    pub card_type: String,
    pub issuer: String,
    pub reference: String,
    /// `success`, or the decline's message.
    pub reason: String,
    /// `"0"`, or the decline's reason code (`"484"`).
    pub reason_code: String,
    pub int_reference: String,
    /// `true` once the payment's 3-D Secure challenge has ended, whatever its outcome.
    pub secure: bool,
    /// `"Y"` when `secure`, else `""`.
    pub secure_details: String,
    /// epay's numbering: 1 NEW, 2 AUTH, 3 CHARGE, 4 CANCEL, 5 REFUND, 6 REJECT, 7 FAILED, 8 3D,
    /// 9 CANCEL_OLD, 10 VERIFIED.
    #[serde(rename = "statusID")]
    pub status_id: String,
    /// `3D`, `AUTH`, `CHARGE`, `CANCEL`, `CANCEL_OLD`, `REFUND`, `REJECT`, `FAILED` or `VERIFIED`.
    pub status_name: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    #[serde(rename = "cardID")]
    pub card_id: String,
    #[serde(rename = "xlsRRN")]
    pub xls_rrn: String,
    pub ip: String,
    pub ip_country: String,
    pub ip_city: String,
    pub ip_region: String,
    pub ip_district: String,
    pub ip_latitude: f64,
    pub ip_longitude: f64,
}

/// The error body of the payment, 3-D Secure confirm, saved-card, callback-log and sandbox
/// endpoints (seed 003): `{"code": -1, "message": "…"}`. A decline carries its ePay reason code
/// in `code` (e.g. 484) and the id of the transaction it was recorded under; the operations
/// endpoints answer `code` 100.
#[derive(Debug, Clone, Serialize, ToSchema)]
// No other fields (`additionalProperties: false`), so a `TransferErrorBody` is not also an
// `ErrorBody` where the description offers either.
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// -1 for a refused request, 100 from the operations endpoints, or a reason code (declines).
    pub code: i32,
    pub message: String,
    /// Only on a decline: the transaction the attempt was recorded under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl ErrorBody {
    pub fn new(code: i32, message: impl Into<String>) -> ErrorBody {
        ErrorBody { code, message: capped(&message.into(), MAX_MESSAGE_CHARS), id: None }
    }
}

/// The token endpoint's errors, RFC 6749 §5.2.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, `invalid_scope` or
    /// `server_error`.
    pub error: String,
    pub error_description: String,
}

/// The transfer endpoints' errors, seed 001's shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferErrorBody {
    /// -1 for a refused request, 487 when the terminal does not allow transfers, or a reason
    /// code (declines).
    pub code: i32,
    pub message: String,
    /// The order id, when the request got that far.
    #[serde(rename = "invoiceId")]
    pub invoice_id: String,
    /// The transaction a decline was recorded under, else `""`.
    pub id: String,
    /// Always `""`.
    pub reference: String,
    #[serde(rename = "accountId")]
    pub account_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_print_like_epay() {
        let json = |minor| serde_json::to_string(&JsonAmount(minor)).unwrap();
        assert_eq!(json(10_000), "100");
        assert_eq!(json(1_222), "12.22");
        assert_eq!(json(50), "0.5");
        assert_eq!(json(0), "0");
    }
}
