//! The simulated issuer's 3-D Secure ACS (seed 003): it receives the merchant's auto-submitted
//! form (`PaReq`, `MD`, `TermUrl`), shows the challenge, and posts the result (`PaRes`, `MD`)
//! back to `TermUrl`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use epay_domain::ThreeDsState;
use serde::Deserialize;
use utoipa::ToSchema;

use super::i18n::Lang;
use super::views::{self, Notice};
use crate::app::AppState;
use crate::platform::config::Mode;
use crate::services::three_ds::{self, Answered, ShopperAnswer};
use crate::wire::three_ds::{self as messages, AcsTransId, ServerTransId};

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

/// The merchant page's auto-submitted form to the ACS (seed 003). A field not sent is empty,
/// and refused in its turn.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct AcsChallengeForm {
    /// `secure3D.paReq` of the `3D` answer.
    #[serde(rename(deserialize = "PaReq"))]
    #[schema(rename = "PaReq", required = true)]
    pub pa_req: String,
    /// `secure3D.md` of the `3D` answer.
    #[serde(rename(deserialize = "MD"))]
    #[schema(rename = "MD", required = true)]
    pub md: String,
    /// The merchant's URL that receives `PaRes` and `MD` (any http(s) URL in sandbox mode,
    /// public addresses only in production).
    #[serde(rename(deserialize = "TermUrl"))]
    #[schema(rename = "TermUrl", required = true)]
    pub term_url: String,
}

/// The ACS page's own form (the shopper's answer).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct AcsAnswerForm {
    #[schema(required = true)]
    pub acs_id: String,
    #[serde(rename(deserialize = "MD"))]
    #[schema(rename = "MD", required = true)]
    pub md: String,
    #[serde(rename(deserialize = "TermUrl"))]
    #[schema(rename = "TermUrl", required = true)]
    pub term_url: String,
    /// The one-time code; `123456` passes in sandbox mode (production: the challenge's own
    /// code), anything else fails with 473.
    #[schema(example = "123456", required = true)]
    pub code: String,
    /// `submit`; `cancel` (fails with 499); `resend` (sends the code again, answers nothing).
    /// A wrong code shows the challenge again; the third fails it with 473.
    #[schema(example = "submit", required = true)]
    pub action: String,
}

/// The ACS's words for a refused form.
fn refusal(why: three_ds::AcsRefusal) -> Response {
    use three_ds::AcsRefusal::*;
    let message = match why {
        UnknownRequest => "PaReq is not a challenge request of this ACS",
        MdMismatch => "MD does not belong to this PaReq",
        UnknownChallenge => "unknown challenge",
        AlreadyAnswered => "this challenge was already answered",
        TransactionNotFound => "transaction not found",
        Internal => {
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                views::message(Lang::En, false, "3-D Secure", "internal error"),
            )
        }
    };
    refused(message)
}

async fn challenge(State(app): State<AppState>, body: Bytes) -> Response {
    let AcsChallengeForm { pa_req, md, term_url } = super::forms::read(&body);
    if let Err(e) = crate::services::links::check_target_url(&term_url, app.config.mode) {
        return refused(&format!("TermUrl: {e}"));
    }
    if term_url.is_empty() {
        return refused("TermUrl is required");
    }
    // A PaReq that names no challenge is refused as an unknown one.
    let Some(challenge) = AcsTransId::named_by(&pa_req) else {
        return refusal(three_ds::AcsRefusal::UnknownRequest);
    };
    let form = three_ds::ShowChallenge { challenge, md: ServerTransId::from_md(&md) };
    match three_ds::challenge(&app, form).await {
        Ok(c) => challenge_page(&app, &c, &md, &term_url, Notice::None),
        Err(why) => refusal(why),
    }
}

/// The challenge page, in the payment's language, with what happened to the last answer.
fn challenge_page(app: &AppState, c: &three_ds::Challenge, md: &str, term_url: &str, notice: Notice) -> Response {
    page(
        StatusCode::OK,
        views::challenge(&views::ChallengeView {
            lang: Lang::parse(&c.language),
            merchant: &c.merchant_name,
            amount: c.amount,
            currency: &c.currency,
            card_mask: &c.card_mask,
            acs_id: &c.session.id,
            md,
            term_url,
            sandbox: app.config.mode == Mode::Sandbox,
            notice,
            attempts_left: c.attempts_left,
        }),
    )
}

async fn answer(State(app): State<AppState>, body: Bytes) -> Response {
    let AcsAnswerForm { acs_id, md, term_url, code, action } = super::forms::read(&body);
    if let Err(e) = crate::services::links::check_target_url(&term_url, app.config.mode) {
        return refused(&format!("TermUrl: {e}"));
    }
    let Some(challenge) = AcsTransId::parse(&acs_id) else {
        return refusal(three_ds::AcsRefusal::UnknownChallenge);
    };
    if action == "resend" {
        // The challenge again, its code sent again; the wrong codes answered still count.
        let form = three_ds::ShowChallenge { challenge, md: ServerTransId::from_md(&md) };
        return match three_ds::challenge(&app, form).await {
            Ok(c) => challenge_page(&app, &c, &md, &term_url, Notice::Resent),
            Err(why) => refusal(why),
        };
    }
    let answer = if action == "cancel" { ShopperAnswer::Cancel } else { ShopperAnswer::Code(code) };
    let form = three_ds::AnswerChallenge { challenge, md: ServerTransId::from_md(&md), answer };
    let (session, state) = match three_ds::answer(&app, form).await {
        Ok(Answered::Over { session, state }) => (session, state),
        Ok(Answered::TryAgain(c)) => return challenge_page(&app, &c, &md, &term_url, Notice::WrongCode),
        Err(why) => return refusal(why),
    };
    let lang = match app.store.payment_by_id(&session.payment_id).await {
        Ok(Some(payment)) => Lang::parse(&payment.language),
        _ => Lang::En,
    };
    let pa_res = messages::pa_res(&session.server_trans_id, &session.id, state == ThreeDsState::Passed);
    let returning = super::i18n::words(lang).returning;
    page(StatusCode::OK, views::auto_post(lang, &term_url, &[("PaRes", &pa_res), ("MD", &md)], returning))
}
