//! The one request schema that no handler reads: what a `/payment/cryptopay` client encrypts
//! into its `cryptogram` (the gateway reads that plaintext only after decrypting it, in
//! `platform::cryptogram`, below the edge). Every request body the gateway reads is its real
//! type, with the schemas of its parts composed in `paths.rs` where one body is read as two
//! types (the order and the fields beside it).

use serde::Serialize;
use utoipa::ToSchema;

/// What the cryptogram encrypts: compact JSON, encrypted with RSA PKCS#1 v1.5 to the key from
/// `GET /public.rsa`, then base64.
#[derive(Serialize, ToSchema)]
#[schema(as = Cryptogram)]
// Never built: the gateway only decrypts a cryptogram (`platform::cryptogram::CryptogramCard`).
#[allow(dead_code)]
pub struct CryptogramPlaintext {
    /// The card number: 12–19 digits passing Luhn (spaces ignored).
    #[schema(example = "4405639704015096")]
    hpan: String,
    /// `MMYY` (also `MM/YY`, `MM/YYYY`).
    #[serde(rename = "expDate")]
    #[schema(example = "0127")]
    exp_date: String,
    /// 3–4 digits.
    #[schema(example = "321")]
    cvc: String,
    /// If present, must equal the token's terminal.
    #[serde(rename = "terminalId")]
    #[schema(example = "67e34d63-102f-4bd1-898e-370781d0074d")]
    terminal_id: Option<String>,
}
