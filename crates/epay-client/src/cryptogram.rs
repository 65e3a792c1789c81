//! Builds ePay cryptograms: RSA PKCS#1 v1.5 over `{"hpan","expDate","cvc","terminalId"}`,
//! standard base64 (facts §5.2).

use aws_lc_rs::rsa::{Pkcs1PublicEncryptingKey, PublicEncryptingKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use crate::ClientError;

/// The card fields a cryptogram carries.
#[derive(Clone, Serialize)]
pub struct CardData {
    pub hpan: String,
    #[serde(rename = "expDate")]
    pub exp_date: String,
    pub cvc: String,
    #[serde(rename = "terminalId")]
    pub terminal_id: String,
}

impl std::fmt::Debug for CardData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let last4 = self.hpan.get(self.hpan.len().saturating_sub(4)..).unwrap_or("");
        write!(f, "CardData(...{last4})")
    }
}

impl CardData {
    /// `exp_date` is `MMYY`.
    pub fn new(pan: &str, exp_date: &str, cvc: &str, terminal_id: &str) -> CardData {
        CardData { hpan: pan.into(), exp_date: exp_date.into(), cvc: cvc.into(), terminal_id: terminal_id.into() }
    }
}

/// Encrypts `card` to the PEM public key served at `/public.rsa`.
pub fn encrypt_cryptogram(public_pem: &str, card: &CardData) -> Result<String, ClientError> {
    let plain = serde_json::to_vec(card).map_err(|e| ClientError::Cryptogram(e.to_string()))?;
    encrypt_raw(public_pem, &plain)
}

/// Encrypts arbitrary bytes the way a cryptogram is encrypted (for tests of bad contents).
pub fn encrypt_raw(public_pem: &str, plain: &[u8]) -> Result<String, ClientError> {
    let body: String = public_pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = STANDARD.decode(body).map_err(|_| ClientError::Cryptogram("public key is not PEM".into()))?;
    let key = PublicEncryptingKey::from_der(&der).map_err(|e| ClientError::Cryptogram(e.to_string()))?;
    let key = Pkcs1PublicEncryptingKey::new(key).map_err(|e| ClientError::Cryptogram(e.to_string()))?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let ciphertext = key.encrypt(plain, &mut out).map_err(|e| ClientError::Cryptogram(e.to_string()))?;
    Ok(STANDARD.encode(ciphertext))
}
