//! The `?params=` of the payment page: what `payment-api.js` (ePay's and ours) builds —
//! `LZString.compressToEncodedURIComponent(encodeParams(obj))`, where `encodeParams` turns every
//! key into `k=encodeURIComponent(v)` joined by `&`, nested objects (like `auth`) recursively
//! (facts §4.2).

use crate::wire::Fields;

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
    pub fields: Fields,
    pub access_token: String,
}

pub fn decode(raw: &str) -> Result<PageParams, ParamsError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ParamsError::Missing);
    }
    if raw.len() > MAX_PARAMS_CHARS {
        return Err(ParamsError::TooLong);
    }
    // A '+' may have turned into a space on the way through a query string.
    let raw = raw.replace(' ', "+");
    let wide = lz_str::decompress_from_encoded_uri_component(&raw).ok_or(ParamsError::Damaged)?;
    if wide.len() > MAX_DECODED_CHARS {
        return Err(ParamsError::TooLong);
    }
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
    Ok(PageParams { fields: Fields::from_pairs(pairs.into_iter().filter(|(k, _)| k != "auth")), access_token })
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
    fn roundtrip_and_garbage() {
        let raw = encode(
            &[("invoiceId", "000000001".into()), ("amount", "100".into()), ("description", "Оплата & co".into())],
            &[("access_token", "ABC_DEF".into()), ("expires_in", "7200".into())],
        );
        let decoded = decode(&raw).unwrap();
        assert_eq!(decoded.access_token, "ABC_DEF");
        assert_eq!(decoded.fields.req_str(&["description"]).unwrap(), "Оплата & co");
        assert_eq!(decode("").unwrap_err(), ParamsError::Missing);
        assert!(decode("!!!not-lz!!!").is_err());
        assert!(decode(&"A".repeat(MAX_PARAMS_CHARS + 1)).is_err());
        assert_eq!(decode(&lz_str::compress_to_encoded_uri_component("invoiceId=1")).unwrap_err(), ParamsError::NoAuth);
    }
}
