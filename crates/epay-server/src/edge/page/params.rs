//! The `?params=` of the payment page: what `payment-api.js` (ePay's and ours) builds —
//! `LZString.compressToEncodedURIComponent(encodeParams(obj))`, where `encodeParams` turns every
//! key into `k=encodeURIComponent(v)` joined by `&`, nested objects (like `auth`) recursively
//! (facts §4.2).

use epay_domain::Secret;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::wire::lenient::{self, Body};

/// The longest `params` we accept (compressed); a real one is well under 4 KiB.
pub const MAX_PARAMS_CHARS: usize = 16 * 1024;
/// The longest decompressed parameter string.
const MAX_DECODED_CHARS: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("the payment link has no params")]
    Missing,
    #[error("the payment link is too long")]
    TooLong,
    #[error("the payment link is damaged (params cannot be decompressed)")]
    Damaged,
    #[error("the payment link has no auth token")]
    NoAuth,
}

/// The decoded payment object: its plain fields and the `auth` token object.
#[derive(Debug)]
pub struct PageParams {
    /// The fields the page reads itself.
    pub fields: PageFields,
    pub cards: PageCards,
    /// The same fields, for the request types read with `wire::lenient` (the payment order).
    pub body: Body,
    pub access_token: Secret,
}

/// The fields of the payment object that the page reads itself: its language and links, and a
/// transfer's order and pre-selected cards (a payment's order is a `PaymentOrderRequest`, read
/// from [`PageParams::body`]). Every value in `params` is text; one left out is empty.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PageFields {
    pub language: String,
    #[serde(rename(deserialize = "invoiceId"))]
    pub invoice_id: String,
    pub amount: String,
    pub currency: String,
    pub description: String,
    #[serde(rename(deserialize = "accountId"))]
    pub account_id: String,
    pub email: String,
    #[serde(rename(deserialize = "terminal|terminalId"))]
    pub terminal: String,
    #[serde(rename(deserialize = "backLink"))]
    pub back_link: String,
    #[serde(rename(deserialize = "failureBackLink"))]
    pub failure_back_link: String,
    #[serde(rename(deserialize = "postLink"))]
    pub post_link: String,
    #[serde(rename(deserialize = "failurePostLink"))]
    pub failure_post_link: String,
    /// Not a Boolean: not saved.
    #[serde(rename(deserialize = "cardSave"), deserialize_with = "lenient::or_none")]
    pub card_save: Option<bool>,
}

/// The transfer form's pre-selected cards, beside the order in the payment object.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(default)]
#[schema(as = PageCards)]
pub struct PageCards {
    /// Transfer form (seed 000): the saved card to pre-select as the sender. Only a payable card
    /// of the token's `accountId` is pre-selected; any other id is ignored.
    #[serde(rename(deserialize = "senderCardId"))]
    #[schema(rename = "senderCardId")]
    pub sender_card_id: Option<String>,
    /// Transfer form (seed 000): the saved card to pre-select as the receiver, of the token's
    /// `accountId`; any other id is ignored.
    #[serde(rename(deserialize = "receiverCardId"))]
    #[schema(rename = "receiverCardId")]
    pub receiver_card_id: Option<String>,
}

pub fn decode(raw: &str) -> Result<PageParams, ParamsError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ParamsError::Missing);
    }
    if raw.len() > MAX_PARAMS_CHARS {
        return Err(ParamsError::TooLong);
    }
    let wide = decompress(raw, MAX_DECODED_CHARS)?;
    let text = String::from_utf16(&wide).map_err(|_| ParamsError::Damaged)?;
    if text.is_empty() || !text.contains('=') {
        return Err(ParamsError::Damaged);
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes()).into_owned().collect();
    let auth = pairs.iter().find(|(k, _)| k == "auth").map(|(_, v)| v.clone()).ok_or(ParamsError::NoAuth)?;
    // `auth` is the token response object, itself encoded as an inner query string; a plain
    // token string is accepted too.
    let access_token = if auth.contains("access_token=") {
        url::form_urlencoded::parse(auth.as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    } else {
        auth
    };
    if access_token.trim().is_empty() {
        return Err(ParamsError::NoAuth);
    }
    let body = Body::pairs(pairs.into_iter().filter(|(k, _)| k != "auth"));
    // Text into text fields (or a Boolean that reads as absent): reading cannot fail.
    let (fields, cards) = (body.read().unwrap_or_default(), body.read().unwrap_or_default());
    Ok(PageParams { fields, cards, body, access_token: access_token.into() })
}

/// LZString's `decompressFromEncodedURIComponent`, as `lz_str` does it (characters outside the
/// alphabet are skipped, a space is a '+' that a query string turned into one), but refusing
/// output over `max` UTF-16 units as soon as it would pass them. Each code may repeat the longest
/// entry so far plus one, so the output grows with the square of the input: 16 KiB of params
/// could expand to 35 million units (found with the `page_params` fuzz target's malloc limit).
/// Dictionary entries are ranges of the output, so memory stays linear in the output.
pub(crate) fn decompress(raw: &str, max: usize) -> Result<Vec<u16>, ParamsError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-$";
    let mut values = raw
        .bytes()
        .map(|b| if b == b' ' { b'+' } else { b })
        .filter_map(|b| ALPHABET.iter().position(|a| *a == b).map(|p| p as u32));
    let Some(first) = values.next() else { return Ok(Vec::new()) };
    let mut bits = Bits { values, value: first, position: 32 };

    /// A dictionary entry: one literal unit, or `len` units of the output from `start`.
    #[derive(Clone, Copy)]
    enum Entry {
        Literal(u16),
        Output { start: usize, len: usize },
    }
    // Codes 0, 1 and 2 are the stream's own (literal of 8 bits, of 16 bits, end).
    let mut dictionary = vec![Entry::Literal(0), Entry::Literal(1), Entry::Literal(2)];
    let literal = |bits: &mut Bits<_>, code: u32| -> Result<u16, ParamsError> {
        Ok(bits.read(if code == 0 { 8 } else { 16 })? as u16)
    };
    let first = match bits.read(2)? {
        code @ (0 | 1) => literal(&mut bits, code)?,
        2 => return Ok(Vec::new()),
        _ => return Err(ParamsError::Damaged),
    };
    dictionary.push(Entry::Literal(first));
    let mut out = vec![first];
    // The previous entry, as a range of `out`.
    let (mut w_start, mut w_len) = (0usize, 1usize);
    let mut num_bits = 3u32;
    let mut enlarge_in = 4u64;
    loop {
        let mut code = bits.read(num_bits)?;
        match code {
            0 | 1 => {
                let unit = literal(&mut bits, code)?;
                dictionary.push(Entry::Literal(unit));
                code = (dictionary.len() - 1) as u32;
                enlarge_in -= 1;
            }
            2 => return Ok(out),
            _ => {}
        }
        if enlarge_in == 0 {
            enlarge_in = 1 << num_bits;
            num_bits += 1;
        }
        let start = out.len();
        let len = match dictionary.get(code as usize) {
            Some(&Entry::Literal(unit)) => {
                check_room(&out, 1, max)?;
                out.push(unit);
                1
            }
            Some(&Entry::Output { start: from, len }) => {
                check_room(&out, len, max)?;
                out.extend_from_within(from..from + len);
                len
            }
            // The entry being defined: the previous one plus its own first unit.
            None if code as usize == dictionary.len() => {
                check_room(&out, w_len + 1, max)?;
                out.extend_from_within(w_start..w_start + w_len);
                out.push(out[w_start]);
                w_len + 1
            }
            None => return Err(ParamsError::Damaged),
        };
        // The previous entry followed by this one's first unit: contiguous in `out`.
        dictionary.push(Entry::Output { start: w_start, len: w_len + 1 });
        enlarge_in -= 1;
        (w_start, w_len) = (start, len);
        if enlarge_in == 0 {
            enlarge_in = 1 << num_bits;
            num_bits += 1;
        }
    }
}

fn check_room(out: &[u16], more: usize, max: usize) -> Result<(), ParamsError> {
    if out.len() + more > max {
        return Err(ParamsError::TooLong);
    }
    Ok(())
}

/// LZString's bit reader over 6-bit values, lowest bit of each code first.
struct Bits<I> {
    values: I,
    value: u32,
    position: u32,
}

impl<I: Iterator<Item = u32>> Bits<I> {
    fn read(&mut self, n: u32) -> Result<u32, ParamsError> {
        let mut result = 0;
        for i in 0..n {
            if self.value & self.position != 0 {
                result |= 1 << i;
            }
            self.position >>= 1;
            if self.position == 0 {
                self.position = 32;
                self.value = self.values.next().ok_or(ParamsError::Damaged)?;
            }
        }
        Ok(result)
    }
}

/// What `encodeParams` + `compressToEncodedURIComponent` produce for a flat object with an
/// `auth` object: used by the demo shop and by tests.
pub fn encode(fields: &[(&str, String)], auth: &[(&str, String)]) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20");
    let inner: Vec<String> = auth.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
    let mut outer: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
    outer.push(format!("auth={}", enc(&inner.join("&"))));
    lz_str::compress_to_encoded_uri_component(&outer.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_fields_are_read_in_any_case_and_the_first_terminal_spelling_wins() {
        let raw = encode(
            &[
                ("INVOICEID", "000000002".into()),
                ("terminalId", "second".into()),
                ("terminal", "first".into()),
                ("cardSave", "TRUE".into()),
                ("senderCardId", "card-1".into()),
                ("language", "kaz".into()),
            ],
            &[("access_token", "T".into())],
        );
        let PageParams { fields, cards, .. } = decode(&raw).unwrap();
        assert_eq!((fields.invoice_id.as_str(), fields.terminal.as_str()), ("000000002", "first"));
        assert_eq!((fields.card_save, cards.sender_card_id.as_deref()), (Some(true), Some("card-1")));
        assert_eq!((fields.language.as_str(), cards.receiver_card_id), ("kaz", None));
        let odd = encode(&[("cardSave", "yes".into())], &[("access_token", "T".into())]);
        assert_eq!(decode(&odd).unwrap().fields, PageFields::default());
    }

    #[test]
    fn roundtrip_and_garbage() {
        let raw = encode(
            &[("invoiceId", "000000001".into()), ("amount", "100".into()), ("description", "Оплата & co".into())],
            &[("access_token", "ABC_DEF".into()), ("expires_in", "7200".into())],
        );
        let decoded = decode(&raw).unwrap();
        assert_eq!(decoded.access_token.expose(), "ABC_DEF");
        assert_eq!(decoded.fields.description, "Оплата & co");
        assert_eq!((decoded.fields.invoice_id.as_str(), decoded.fields.amount.as_str()), ("000000001", "100"));
        assert_eq!(decode("").unwrap_err(), ParamsError::Missing);
        assert!(decode("!!!not-lz!!!").is_err());
        assert!(decode(&"A".repeat(MAX_PARAMS_CHARS + 1)).is_err());
        assert_eq!(decode(&lz_str::compress_to_encoded_uri_component("invoiceId=1")).unwrap_err(), ParamsError::NoAuth);
    }

    /// Found by the `page_params` fuzz target (with its 64 MiB allocation limit): 16 KiB of
    /// params expanded to 33 million units before the length check.
    #[test]
    fn expansion_is_bounded_while_decompressing() {
        // The fuzz target's seed: a mode byte, then 33 million 'a's compressed.
        let seed = include_bytes!("../../../../../fuzz/seeds/page_params/lz-bomb");
        let bomb = std::str::from_utf8(&seed[1..]).unwrap();
        assert!(bomb.len() <= MAX_PARAMS_CHARS);
        assert_eq!(decompress(bomb, 40_000_000).unwrap().len(), 33_000_000);
        assert_eq!(decode(bomb).unwrap_err(), ParamsError::TooLong);
        let fits = lz_str::compress_to_encoded_uri_component("a".repeat(1000).as_str());
        assert_eq!(decompress(&fits, 1000).unwrap().len(), 1000);
        assert_eq!(decompress(&fits, 999).unwrap_err(), ParamsError::TooLong);
    }

    /// The same output as `lz_str` (and so LZString in the browser) on what it compresses.
    #[test]
    fn decompresses_like_lz_str() {
        let texts = ["", "a", "invoiceId=000000001&amount=100", "Оплата заказа № 1 & co 💳", &"abcabcabd".repeat(500)];
        for text in texts {
            let compressed = lz_str::compress_to_encoded_uri_component(text);
            let expected = lz_str::decompress_from_encoded_uri_component(&compressed).unwrap();
            assert_eq!(decompress(&compressed, usize::MAX).unwrap(), expected, "{text:?}");
            assert_eq!(decompress(&compressed.replace('+', " "), usize::MAX).unwrap(), expected);
        }
        for garbage in ["!!!", "A", "AAAA", "zzzzzz", "Q"] {
            let ours = decompress(garbage, usize::MAX).ok();
            assert_eq!(ours, lz_str::decompress_from_encoded_uri_component(garbage), "{garbage:?}");
        }
    }
}
