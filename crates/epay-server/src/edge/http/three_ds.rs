//! The 3-D Secure confirm endpoints (facts §7): the merchant's TermUrl presents `MD` and `PaRes`
//! with the payment's own token. Here they are read into the service's command and caller; the
//! hosted page's own TermUrl (`edge::page`) confirms through [`confirm`] too.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::caller::{authorization, bearer_token};
use crate::app::{App, AppState};
use crate::services::auth::{self, BearerError, Caller};
use crate::services::payments::PaymentError;
use crate::services::three_ds_confirm::{self, ConfirmChallenge, Confirmed};
use crate::wire::lenient;
use crate::wire::three_ds::{AcsTransId, ServerTransId};
use crate::wire::FieldError;

/// Confirms the challenge that the texts of `MD` and `PaRes` name, for the holder of the token
/// `access_token`. An MD that names no challenge is refused first; a token that is not known
/// goes on as no caller, refused by the service once it has checked the MD. A known token
/// confirms even once expired ([`auth::known_token`]).
pub(crate) async fn confirm(app: &App, access_token: &str, md: &str, pa_res: &str) -> Result<Confirmed, PaymentError> {
    let md = ServerTransId::from_md(md).ok_or_else(three_ds_confirm::unknown_md)?;
    let caller = match auth::known_token(app, access_token).await {
        Ok(token) => Some(Caller::Token(token)),
        Err(BearerError::Storage) => return Err(PaymentError::Internal),
        Err(BearerError::Missing | BearerError::Unknown | BearerError::Expired) => None,
    };
    let command = ConfirmChallenge { md, pa_res: AcsTransId::named_by(pa_res) };
    three_ds_confirm::confirm(app, caller.as_ref(), command).await
}

/// The 3-D Secure confirm's fields (facts §7): a JSON object (`Content-Type: …json`), else a
/// form, else the query string. Each is read where it is first given: a field the body lacks, or
/// gives as neither text nor a number, is taken from the query string, and else it is empty (the
/// service then refuses the MD).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ConfirmRequest {
    /// What the ACS posted to the merchant's TermUrl.
    #[serde(rename(deserialize = "PaRes"), default, deserialize_with = "lenient::or_none")]
    #[schema(rename = "PaRes", value_type = String, required = true)]
    pub pa_res: Option<String>,
    /// The `md` of the `3D` answer (the ACS posts it back too).
    #[serde(rename(deserialize = "MD"), default, deserialize_with = "lenient::or_none")]
    #[schema(rename = "MD", value_type = String, required = true)]
    pub md: Option<String>,
}

impl ConfirmRequest {
    /// The fields of `sent` (a body), each completed from the query string; a body that is not
    /// an object gives none.
    pub(crate) fn read(sent: Result<ConfirmRequest, FieldError>, query: &HashMap<String, String>) -> ConfirmRequest {
        let sent = sent.unwrap_or_default();
        let asked: ConfirmRequest = lenient::from_pairs(query.clone()).unwrap_or_default();
        ConfirmRequest { pa_res: sent.pa_res.or(asked.pa_res), md: sent.md.or(asked.md) }
    }

    /// `PaRes` and `MD`, empty when not given.
    pub(crate) fn texts(self) -> (String, String) {
        (self.pa_res.unwrap_or_default(), self.md.unwrap_or_default())
    }
}

/// Reads `PaRes` and `MD` from a form or JSON body, or from the query string.
fn pa_res_and_md(query: &HashMap<String, String>, headers: &HeaderMap, body: &[u8]) -> (String, String) {
    let is_json = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.contains("json"));
    let sent = if is_json {
        lenient::from_json(body)
    } else {
        lenient::from_pairs(url::form_urlencoded::parse(body).into_owned())
    };
    ConfirmRequest::read(sent, query).texts()
}

fn answer(confirmed: Result<Confirmed, PaymentError>) -> Response {
    match confirmed {
        Ok(payment) => Json(payment).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `/payments/cards/confirmPayment?Access=<token>`: the TermUrl Halyk's own SDK uses (facts §7).
pub async fn confirm_payment(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = query.get("Access").or_else(|| query.get("access")).cloned().unwrap_or_default();
    let (pa_res, md) = pa_res_and_md(&query, &headers, &body);
    answer(confirm(&app, &token, &md, &pa_res).await)
}

/// `POST /payment/cryptopay/confirm` with `{"PaRes","MD"}` and the payment's Bearer token. A
/// request without a Bearer token is refused before its body is read.
pub async fn cryptopay_confirm(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match bearer_token(authorization(&headers)) {
        Ok(t) => t.to_string(),
        Err(e) => return PaymentError::Unauthorized(e.to_string()).into_response(),
    };
    let (pa_res, md) = pa_res_and_md(&query, &headers, &body);
    answer(confirm(&app, &token, &md, &pa_res).await)
}

#[cfg(test)]
mod tests {
    use super::confirm;
    use crate::app::App;
    use crate::services::payments::PaymentError;
    use crate::services::three_ds::{self, AnswerChallenge, ShopperAnswer};
    use crate::services::three_ds_confirm::Confirmed;
    use crate::testing::{challenged, NOW};
    use crate::wire::three_ds::{md, pa_res, AcsTransId, ServerTransId};

    #[tokio::test]
    async fn the_texts_are_read_and_the_token_checked_in_the_order_clients_see() {
        let app = App::for_tests(NOW).await;
        let c = challenged(&app, "000301").await;
        let (md, pa_res) = (md(&c.session.server_trans_id), pa_res(&c.session.server_trans_id, &c.session.id, true));
        let not_ours = PaymentError::BadRequest("MD is not a 3-D Secure transaction of this gateway".into());
        let not_the_token = PaymentError::Unauthorized("the token is not the one this payment was started with".into());
        // An MD that is not base64 of a UUID, or names no challenge: refused before the token.
        assert_eq!(confirm(&app, "forged", "bm90LWEtdXVpZA==", &pa_res).await.unwrap_err(), not_ours);
        assert_eq!(confirm(&app, "", "eA==", "eA").await.unwrap_err(), not_ours);
        let unknown_md = crate::wire::three_ds::md(&epay_domain::ids::uuid());
        assert_eq!(confirm(&app, "forged", &unknown_md, &pa_res).await.unwrap_err(), not_ours);
        // Then the token: none, or one the gateway never issued.
        assert_eq!(confirm(&app, "", &md, &pa_res).await.unwrap_err(), not_the_token);
        assert_eq!(confirm(&app, "forged", &md, "garbage").await.unwrap_err(), not_the_token);
        // Then the PaRes.
        let garbage = confirm(&app, &c.token.text, &md, "garbage").await.unwrap_err();
        assert_eq!(garbage, PaymentError::BadRequest("PaRes does not belong to this MD".into()));
    }

    #[test]
    fn the_fields_come_from_the_body_each_else_from_the_query() {
        use super::ConfirmRequest;
        use crate::wire::lenient;
        use std::collections::HashMap;
        let query: HashMap<String, String> =
            [("md".to_string(), "q-md".to_string()), ("PaRes".to_string(), "q-pares".to_string())].into();
        let texts = |pa_res: &str, md: &str| (pa_res.to_string(), md.to_string());
        // Any case in the body; an MD that is no text is taken from the query.
        let sent = lenient::from_json(br#"{"PARES":"b-pares","MD":{"x":1}}"#);
        assert_eq!(ConfirmRequest::read(sent, &query).texts(), texts("b-pares", "q-md"));
        // A body that is no JSON object gives nothing: all from the query.
        assert_eq!(ConfirmRequest::read(lenient::from_json(b"{"), &query).texts(), texts("q-pares", "q-md"));
        // A number is its digits; nothing given is empty.
        let number = lenient::from_json(br#"{"MD":12}"#);
        assert_eq!(ConfirmRequest::read(number, &HashMap::new()).texts(), texts("", "12"));
        let form = lenient::from_pairs([("MD".to_string(), "f-md".to_string())]);
        assert_eq!(ConfirmRequest::read(form, &query).texts(), texts("q-pares", "f-md"));
    }

    #[tokio::test]
    async fn the_payments_own_token_confirms_even_after_it_expired() {
        let app = App::for_tests(NOW).await;
        let c = challenged(&app, "000302").await;
        let form = AnswerChallenge {
            challenge: AcsTransId::parse(&c.session.id).unwrap(),
            md: ServerTransId::from_md(&md(&c.session.server_trans_id)),
            answer: ShopperAnswer::Code("123456".into()),
        };
        let Ok(three_ds::Answered::Over { session, .. }) = three_ds::answer(&app, form).await else {
            panic!("the right code ends the challenge")
        };
        // Past the token's hour, within a 3-D Secure timeout long enough for it.
        let mut app = app.at(c.token.record().expires_at + 1);
        app.config.three_ds_timeout_secs = 86_400;
        let pa_res = pa_res(&session.server_trans_id, &session.id, true);
        let confirmed = confirm(&app, &format!(" {} ", c.token.text), &md(&session.server_trans_id), &pa_res).await;
        assert!(matches!(&confirmed, Ok(Confirmed::Payment(p)) if p.status == "AUTH"), "{confirmed:?}");
    }
}
