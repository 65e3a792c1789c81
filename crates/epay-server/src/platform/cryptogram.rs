//! The cryptogram of `/payment/cryptopay` (facts §5): the card as JSON,
//! `{"hpan","expDate","cvc","terminalId"}`, encrypted with RSA PKCS#1 v1.5 to the key from
//! `/public.rsa`, then base64. Its wire forms are read here, below the services: the base64 text
//! into a [`Cryptogram`] (at the edge), and the decrypted JSON into a [`CryptogramCard`]
//! (`Keys::open_cryptogram`), so the payment service sees neither bytes nor JSON.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use epay_domain::{Cvc, Expiry, Pan};
use serde_json::{Map, Value};

/// An RSA ciphertext, still sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct Cryptogram(Vec<u8>);

/// Why a cryptogram's text is no ciphertext at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cryptogram is not valid base64")]
pub struct NotBase64;

impl Cryptogram {
    /// The ciphertext in a cryptogram's text: base64, standard or URL-safe, padded or not,
    /// whitespace ignored.
    pub fn from_base64(text: &str) -> Result<Cryptogram, NotBase64> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        STANDARD
            .decode(&compact)
            .or_else(|_| STANDARD_NO_PAD.decode(compact.trim_end_matches('=')))
            .or_else(|_| URL_SAFE_NO_PAD.decode(compact.trim_end_matches('=')))
            .map(Cryptogram)
            .map_err(|_| NotBase64)
    }

    pub(crate) fn ciphertext(&self) -> &[u8] {
        &self.0
    }
}

/// Only its size: a ciphertext says nothing to a log reader, and need not be kept there.
impl std::fmt::Debug for Cryptogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cryptogram({} bytes)", self.0.len())
    }
}

/// The card a decrypted cryptogram carries (`Pan` and `Cvc` never print in clear).
#[derive(Debug)]
pub struct CryptogramCard {
    pub pan: Pan,
    pub expiry: Expiry,
    pub cvc: Cvc,
    /// `terminalId` when given and not empty: the payment service requires the token's.
    pub terminal_id: Option<String>,
}

impl CryptogramCard {
    /// Reads the decrypted JSON with the API's lenient rules (names in any case, numbers as
    /// text, null as absent); `None` for anything that gives no card: not a JSON object, a field
    /// missing, blank or invalid. Why is not said: the payment service answers every such
    /// cryptogram alike (docs/security.md, padding oracle).
    pub fn parse(plain: &[u8]) -> Option<CryptogramCard> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(plain) else { return None };
        let required = |name: &str| text(&map, name).ok().flatten().filter(|t| !t.trim().is_empty());
        Some(CryptogramCard {
            pan: Pan::parse(&required("hpan")?).ok()?,
            expiry: Expiry::parse(&required("expDate")?).ok()?,
            cvc: Cvc::parse(&required("cvc")?).ok()?,
            // A terminal that is no text reads as none, as it always has.
            terminal_id: text(&map, "terminalId").ok().flatten().filter(|t| !t.is_empty()),
        })
    }
}

/// The text of field `name`: spelled exactly, else in any case; a number as its digits; `Err`
/// for another JSON type.
fn text(map: &Map<String, Value>, name: &str) -> Result<Option<String>, ()> {
    let exact = map.get(name).filter(|v| !v.is_null());
    let value =
        exact.or_else(|| map.iter().find(|(k, v)| !v.is_null() && k.eq_ignore_ascii_case(name)).map(|(_, v)| v));
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_in_every_spelling_and_nothing_else() {
        let plain = b"\xfb\xff\x01cryptogram";
        for text in ["+/8BY3J5cHRvZ3JhbQ==", "+/8BY3J5cHRvZ3JhbQ", "-_8BY3J5cHRvZ3JhbQ", " +/8BY3J5\ncHRvZ3JhbQ== "] {
            assert_eq!(Cryptogram::from_base64(text).map(|c| c.0), Ok(plain.to_vec()), "{text:?}");
        }
        assert_eq!(Cryptogram::from_base64("%%% not base64 %%%"), Err(NotBase64));
        assert_eq!(format!("{:?}", Cryptogram::from_base64("aGVsbG8=").unwrap()), "Cryptogram(5 bytes)");
    }

    #[test]
    fn the_card_is_read_leniently_and_only_whole() {
        let card = CryptogramCard::parse(
            br#"{"HPAN":4405639704015096,"expDate":"01/27","cvc":"321","terminalid":null,"terminalId":""}"#,
        )
        .expect("a card");
        assert_eq!(card.pan.expose(), "4405639704015096");
        assert_eq!(card.expiry.mmyy(), "0127");
        assert_eq!(card.cvc.expose(), "321");
        assert_eq!(card.terminal_id, None);
        let with_terminal =
            CryptogramCard::parse(br#"{"hpan":"4405639704015096","expDate":"0127","cvc":"321","terminalId":"T1"}"#);
        assert_eq!(with_terminal.and_then(|c| c.terminal_id).as_deref(), Some("T1"));
        for not_a_card in [
            &b""[..],
            b"not json",
            b"[1]",
            br#"{"hpan":"4405639704015096"}"#,
            br#"{"hpan":"4405639704015097","expDate":"0127","cvc":"321"}"#,
            br#"{"hpan":"4405639704015096","expDate":"1327","cvc":"321"}"#,
            br#"{"hpan":"4405639704015096","expDate":"0127","cvc":" "}"#,
            br#"{"hpan":["4405639704015096"],"expDate":"0127","cvc":"321"}"#,
        ] {
            assert!(CryptogramCard::parse(not_a_card).is_none(), "{:?}", String::from_utf8_lossy(not_a_card));
        }
    }
}
