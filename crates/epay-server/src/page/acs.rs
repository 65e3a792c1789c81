//! The simulated issuer's 3-D Secure ACS (seed 003): it receives the merchant's auto-submitted
//! form (`PaReq`, `MD`, `TermUrl`), shows the challenge, and posts the result (`PaRes`, `MD`)
//! back to `TermUrl`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use epay_domain::ThreeDsState;

use super::i18n::Lang;
use super::views;
use crate::app::AppState;
use crate::config::Mode;
use crate::services::three_ds;

/// The ACS posts to the merchant's TermUrl, which may be any site: no form-action limit here.
const ACS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; base-uri 'none'";

pub fn routes() -> Router<AppState> {
    Router::new().route("/acs/challenge", post(challenge)).route("/acs/challenge/answer", post(answer))
}

fn page(status: StatusCode, body: views::Rendered) -> Response {
    super::rendered(status, body, ACS_CSP)
}

fn refused(message: &str) -> Response {
    page(StatusCode::BAD_REQUEST, views::message(Lang::En, false, "3-D Secure", message))
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

async fn challenge(State(app): State<AppState>, body: Bytes) -> Response {
    let f = form(&body);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (pa_req, md, term_url) = (get("PaReq"), get("MD"), get("TermUrl"));
    if let Err(e) = crate::delivery::check_target_url(&term_url, app.config.mode) {
        return refused(&format!("TermUrl: {e}"));
    }
    if term_url.is_empty() {
        return refused("TermUrl is required");
    }
    let Some(acs_id) = three_ds::acs_trans_id(&pa_req) else {
        return refused("PaReq is not a challenge request of this ACS");
    };
    let session = match app.store.three_ds_session(&acs_id).await {
        Ok(Some(s)) => s,
        _ => return refused("PaReq is not a challenge request of this ACS"),
    };
    if three_ds::server_trans_id(&md).as_deref() != Some(session.server_trans_id.as_str()) {
        return refused("MD does not belong to this PaReq");
    }
    if !session.state.can_be_answered() {
        return refused("this challenge was already answered");
    }
    let Ok(Some(payment)) = app.store.payment_by_id(&session.payment_id).await else {
        return refused("transaction not found");
    };
    let merchant = app.store.merchant(&payment.merchant_id).await.ok().flatten().map(|m| m.name).unwrap_or_default();
    let amount = epay_domain::Amount::from_minor(payment.amount_minor).unwrap_or_default().to_string();
    if app.config.mode == Mode::Production {
        // The simulated issuer's "SMS": a real ACS sends the code to the card holder's phone.
        let code = three_ds::one_time_code(&app.keys, &session.id);
        tracing::info!(acs_id = %session.id, payment_id = %payment.id, code = %code, "3-D Secure one-time code");
    }
    page(
        StatusCode::OK,
        views::challenge(&views::ChallengeView {
            merchant: &merchant,
            amount: &amount,
            currency: &payment.currency,
            card_mask: &payment.card_mask,
            acs_id: &session.id,
            md: &md,
            term_url: &term_url,
            sandbox: app.config.mode == Mode::Sandbox,
        }),
    )
}

async fn answer(State(app): State<AppState>, body: Bytes) -> Response {
    let f = form(&body);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (acs_id, md, term_url) = (get("acs_id"), get("MD"), get("TermUrl"));
    if let Err(e) = crate::delivery::check_target_url(&term_url, app.config.mode) {
        return refused(&format!("TermUrl: {e}"));
    }
    let session = match app.store.three_ds_session(&acs_id).await {
        Ok(Some(s)) if three_ds::server_trans_id(&md).as_deref() == Some(s.server_trans_id.as_str()) => s,
        _ => return refused("unknown challenge"),
    };
    let expected = three_ds::expected_code(&app, &session.id);
    let (state, reason) = three_ds::verdict(&expected, &get("code"), get("action") == "cancel");
    match app.store.answer_three_ds(&session.id, state, reason.code, app.clock.now_ms()).await {
        Ok(true) => {}
        Ok(false) => return refused("this challenge was already answered"),
        Err(e) => {
            tracing::error!(error = %e, "recording the 3-D Secure answer failed");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                views::message(Lang::En, false, "3-D Secure", "internal error"),
            );
        }
    }
    tracing::info!(acs_id = %session.id, state = %state, "3-D Secure challenge answered");
    let pa_res = three_ds::pa_res(&session, state == ThreeDsState::Passed);
    page(
        StatusCode::OK,
        views::auto_post(Lang::En, &term_url, &[("PaRes", &pa_res), ("MD", &md)], "Returning to the shop…"),
    )
}
