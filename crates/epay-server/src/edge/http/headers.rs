//! Security headers on every response, in one place: `nosniff` everywhere; HSTS when the
//! gateway is reached over TLS; and no framing except for the pages a merchant embeds (the
//! payment widget and the ACS challenge it shows).

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::app::AppState;

/// Paths whose pages merchants frame: `halyk.showPaymentWidget` puts the form in an iframe.
const FRAMABLE: &[&str] = &["/payform", "/redesign-payform", "/acs/"];

pub async fn secure(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let framable = FRAMABLE.iter().any(|p| request.uri().path().starts_with(p));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let tls = app.config.tls_cert_path.is_some()
        || app.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
    if tls {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    if !framable {
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        let csp = headers.get(CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).map(str::to_string);
        if let Some(csp) = csp.filter(|c| !c.contains("frame-ancestors")) {
            if let Ok(value) = HeaderValue::from_str(&format!("{csp}; frame-ancestors 'none'")) {
                headers.insert(CONTENT_SECURITY_POLICY, value);
            }
        }
    }
    response
}
