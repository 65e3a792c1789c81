//! Entry points of the fuzz targets (`fuzz/` at the repository root, run by `scripts/fuzz`).
//!
//! Each function feeds arbitrary bytes to the gateway's own parsers of outside input — the very
//! functions the handlers and services call, with no database, network or keys — and checks what
//! a parser accepted. A parser may refuse any input with an error; it must never panic, hang or
//! accept something that breaks its type's rules. Not an API: only the fuzz targets and this
//! module's tests call it.

use std::sync::OnceLock;

use epay_domain::card::luhn_valid;
use epay_domain::money::MAX_AMOUNT_MINOR;
use epay_domain::{Amount, Currency, Cvc, Description, Expiry, InvoiceId, Pan};
use epay_store::TokenRecord;

use crate::edge::http::payments::{read_cryptopay, read_saved_card};
use crate::platform::config::Mode;
use crate::platform::cryptogram::{Cryptogram, CryptogramCard};
use crate::services::{payments, transfers};
use crate::wire::three_ds::{AcsTransId, ServerTransId};

/// The terminal the fuzzed tokens are bound to.
const TERMINAL: &str = "67e34d63-102f-4bd1-898e-370781d0074d";

/// A payment token bound to invoice 000000001, 100 KZT, [`TERMINAL`]; and a service token.
fn tokens_to_check_against() -> [TokenRecord; 2] {
    let bound = TokenRecord {
        token_digest: String::new(),
        merchant_id: "m".into(),
        terminal_id: Some(TERMINAL.into()),
        scope: "payment transfer".into(),
        invoice_id: Some("000000001".into()),
        amount_minor: Some(10_000),
        currency: Some("KZT".into()),
        post_link: String::new(),
        failure_post_link: String::new(),
        secret_hash: None,
        transfer_kind: None,
        account_id: None,
        expires_at: i64::MAX,
        generation: 0,
        used_at: None,
        created_at: 0,
    };
    let service =
        TokenRecord { invoice_id: None, amount_minor: None, currency: None, terminal_id: None, ..bound.clone() };
    [bound, service]
}

/// The tokens' terminal, vouching for one callback origin.
fn fuzz_terminal() -> epay_store::Terminal {
    epay_store::Terminal {
        id: TERMINAL.into(),
        callback_origins: vec!["https://shop.example.kz".into()],
        ..epay_store::Terminal::default()
    }
}

const MODES: [Mode; 2] = [Mode::Sandbox, Mode::Production];

fn check_card(pan: &Pan, expiry: Option<Expiry>, cvc: Option<&Cvc>) {
    let digits = pan.expose();
    assert!((12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()), "PAN format");
    assert!(luhn_valid(digits), "PAN Luhn");
    assert_eq!(pan.masked(), format!("{}...{}", &digits[..6], &digits[digits.len() - 4..]), "mask");
    if let Some(e) = expiry {
        assert!((1..=12).contains(&e.month) && e.year < 100, "expiry range");
        assert_eq!(Expiry::parse(&e.mmyy()), Ok(e), "expiry round trip");
    }
    if let Some(c) = cvc {
        assert!((3..=4).contains(&c.expose().len()) && c.expose().bytes().all(|b| b.is_ascii_digit()), "CVC format");
    }
}

/// The `/payment/cryptopay` cryptogram after RSA: its base64 text, and the decrypted JSON card.
pub fn cryptogram(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cryptogram) = Cryptogram::from_base64(text) {
            if let Some(card) = CryptogramCard::parse(cryptogram.ciphertext()) {
                check_card(&card.pan, Some(card.expiry), Some(&card.cvc));
            }
        }
    }
    if let Some(card) = CryptogramCard::parse(data) {
        check_card(&card.pan, Some(card.expiry), Some(&card.cvc));
        assert!(card.terminal_id.is_none_or(|t| !t.is_empty()), "an empty terminal is none");
    }
}

/// The hosted page's LZString `?params=`: the raw text, and (first byte odd) the text
/// LZString-compressed first, so the decoded form and its order fields are reached too.
pub fn page_params(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let raw = if mode % 2 == 1 { lz_str::compress_to_encoded_uri_component(text.as_ref()) } else { text.into_owned() };
    // The bounded decompressor against lz_str's, wherever the output stays small.
    match crate::edge::page::params::decompress(&raw, 1 << 16) {
        Ok(ours) => assert_eq!(lz_str::decompress_from_encoded_uri_component(&raw), Some(ours), "decompress"),
        Err(crate::edge::page::params::ParamsError::Damaged) => {
            assert_eq!(lz_str::decompress_from_encoded_uri_component(&raw), None, "damaged")
        }
        Err(_) => {}
    }
    let Ok(params) = crate::edge::page::params::decode(&raw) else { return };
    assert!(!params.access_token.expose().trim().is_empty(), "params without a token");
    // What the page does with them: the payment order, and the transfer order.
    for token in &tokens_to_check_against() {
        for mode in MODES {
            if let Ok(order) = params.body.read::<payments::PaymentOrderRequest>() {
                let _ = payments::Order::check(&order, token, &fuzz_terminal(), mode);
            }
            let order = crate::edge::page::transfer_order(&params.fields);
            let _ = transfers::check_order(mode, &order, token, &fuzz_terminal());
        }
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime"))
}

/// Content types of token requests; the first input byte picks one.
const TOKEN_CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=fuzz",
    "application/json",
    "",
    "text/plain; charset=utf-8",
];

/// `POST /oauth2/token` bodies: the handler's `read_form` (urlencoded, multipart or JSON), then
/// the token service's parsing of the credentials and of what the token is bound to.
pub fn token_request(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else { return };
    let content_type = TOKEN_CONTENT_TYPES[pick as usize % TOKEN_CONTENT_TYPES.len()];
    let mut request = axum::extract::Request::new(axum::body::Body::from(body.to_vec()));
    if !content_type.is_empty() {
        request
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static(content_type));
    }
    let Ok(form) = runtime().block_on(crate::edge::http::oauth::read_form(request)) else { return };
    let scope = match crate::edge::http::oauth::read_credentials(&form) {
        Ok(c) => {
            assert!(!c.scope.split_whitespace().next().unwrap_or("").is_empty(), "empty scope accepted");
            c.scope
        }
        Err(_) => epay_domain::Scope::Payment.to_string(),
    };
    for scope in [scope.as_str(), epay_domain::Scope::Transfer.as_str()] {
        for mode in MODES {
            if let Ok(b) = crate::edge::http::oauth::read_binding(&form, scope, mode) {
                if b.invoice.is_some() {
                    assert!(b.amount.is_some() && b.terminal_id.is_some(), "invoice without amount or terminal");
                }
                if let Some(t) = &b.terminal_id {
                    assert!(!t.is_empty() && t.trim() == t, "terminal id not trimmed");
                }
            }
        }
    }
}

/// `/payment/cryptopay` and `/payments/cards/auth` JSON bodies: the order checked against a
/// bound token and a service token, and the cryptogram field.
pub fn payment_request(data: &[u8]) {
    let Ok(body) = crate::wire::lenient::Body::json(data) else { return };
    // Every field keeps its own fault: a JSON object is always read.
    let cryptopay = read_cryptopay(&body, String::new(), None).expect("an object reads as a cryptopay request");
    for token in &tokens_to_check_against() {
        for mode in MODES {
            let _ = payments::Order::check(&cryptopay.order, token, &fuzz_terminal(), mode);
        }
    }
    read_saved_card(&body, String::new()).expect("an object reads as a saved-card request");
}

/// P2P, AFT and OCT JSON bodies: `order`, and each side of `card` given by card number.
pub fn transfer_request(data: &[u8]) {
    let Ok(body) = crate::wire::lenient::Body::json(data) else { return };
    let spend = epay_store::TokenSpend::Always;
    let Ok(command) =
        crate::edge::http::transfers::read_transfer(&body, epay_domain::TransferKind::P2p, spend, String::new())
    else {
        return;
    };
    for token in &tokens_to_check_against() {
        for mode in MODES {
            let _ = transfers::check_order(mode, &command.order, token, &fuzz_terminal());
        }
    }
    for (what, side) in [("sender", &command.sender), ("receiver", &command.receiver)] {
        let Some(side) = side else { continue };
        if transfers::card_given(side, what).is_ok_and(|given| given == transfers::CardGiven::Pan) {
            if let Ok(s) = transfers::pan_side(side, what) {
                check_card(&s.pan, s.expiry, s.cvc.as_ref());
            }
        }
    }
}

/// Charge, cancel and refund: the query string (first line) and the optional JSON body (the rest).
pub fn operation_request(data: &[u8]) {
    let (query, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let query = String::from_utf8_lossy(query);
    if let Ok(args) = crate::edge::http::operations::args(Some(&query), body) {
        assert!(args.amount.is_none_or(|a| a.minor() <= MAX_AMOUNT_MINOR));
        assert!(args.external_id.is_none_or(|e| e.len() <= 100 && !e.trim().is_empty()));
    }
}

/// The domain's field parsers on one text each, with their round trips; and the 3-D Secure
/// `MD`/`PaRes` decoders.
pub fn fields(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    if let Ok(a) = Amount::parse_major(text) {
        assert!((0..=MAX_AMOUNT_MINOR).contains(&a.minor()), "amount out of range");
        assert_eq!(Amount::parse_major(&a.to_string()), Ok(a), "amount round trip");
        if let Some(exact) = hundredths(text) {
            assert_eq!(exact, Some(a.minor() as i128), "amount {text:?} is not exactly {a}");
        }
    }
    if let Ok(c) = text.parse::<Currency>() {
        assert_eq!(c.code().parse::<Currency>(), Ok(c), "currency round trip");
    }
    for id in [InvoiceId::parse(text), InvoiceId::parse_transfer_order(text)].into_iter().flatten() {
        assert!((6..=16).contains(&id.as_str().len()) && id.as_str().bytes().all(|b| b.is_ascii_digit()));
    }
    if let Ok(pan) = Pan::parse(text) {
        check_card(&pan, None, None);
    }
    if let Ok(e) = Expiry::parse(text) {
        check_card(&Pan::parse("4405639704015096").expect("test card"), Some(e), None);
    }
    if let Some((m, y)) = text.split_once('/') {
        if let Ok(e) = Expiry::from_parts(m, y) {
            assert_eq!(Expiry::parse(&e.mmyy()), Ok(e), "expiry round trip");
        }
    }
    if let Ok(c) = Cvc::parse(text) {
        assert!((3..=4).contains(&c.expose().len()));
    }
    if let Ok(d) = Description::parse(text) {
        assert!(d.as_str().len() <= Description::MAX_BYTES);
    }
    if let Some(id) = ServerTransId::from_md(text) {
        assert!(uuid::Uuid::parse_str(id.as_str()).is_ok());
    }
    if let Some(id) = AcsTransId::named_by(text) {
        assert!(uuid::Uuid::parse_str(id.as_str()).is_ok());
    }
}

/// An unsigned decimal text (`12.5`, `1.25e1`) times 100, computed exactly: `Some(None)` when
/// that is not a whole number, `None` when the text is not of that form or too large to check.
fn hundredths(text: &str) -> Option<Option<i128>> {
    let t = text.trim();
    let (mantissa, exponent) = match t.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty()) || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let mut digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(Some(0));
    }
    // value × 100 = digits × 10^shift
    let mut shift = i64::from(exponent) - frac.len() as i64 + 2;
    while let Some(rest) = digits.strip_suffix('0') {
        digits = rest;
        shift += 1;
    }
    if shift < 0 {
        return Some(None);
    }
    if digits.len() as i64 + shift > 30 {
        return None;
    }
    Some(Some(digits.parse::<i128>().ok()? * 10i128.pow(shift as u32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz targets' seeds run as a unit test, so the entry points are exercised on every
    /// `cargo test` (the fuzzing itself is `scripts/fuzz`).
    #[test]
    fn entry_points_take_their_seeds() {
        let card = br#"{"hpan":"4405639704015096","expDate":"0127","cvc":"321","terminalId":"67e34d63-102f-4bd1-898e-370781d0074d"}"#;
        cryptogram(card);
        cryptogram(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, card).as_bytes());
        page_params(b"\x01invoiceId=000000001&amount=100&auth=access_token%3DABC");
        token_request(b"\x00grant_type=client_credentials&scope=payment&client_id=test&client_secret=x&invoiceID=000000001&amount=100&terminal=t");
        token_request(b"\x01--fuzz\r\nContent-Disposition: form-data; name=\"scope\"\r\n\r\npayment\r\n--fuzz--\r\n");
        token_request(
            b"\x02{\"grant_type\":\"client_credentials\",\"scope\":\"transfer\",\"invoiceID\":1234567890123456}",
        );
        payment_request(
            br#"{"invoiceId":"000000001","amount":100,"currency":"KZT","cryptogram":"AAAA","cardId":{"id":"x"}}"#,
        );
        transfer_request(
            br#"{"order":{"id":"0000000000000001","amount":100},"card":{"sender":{"cardCred":"4405639704015096","expire":{"month":"01","year":"27"},"cvc":"321"}}}"#,
        );
        operation_request(b"amount=10&externalID=r1\n{\"amount\":10}");
        fields(b"12.22");
        fields(b"01/27");
    }
}
