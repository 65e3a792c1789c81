//! `POST /p2p/transfer`, `/chdebit/transfer` (AFT), `/chpayment/transfer` (OCT): the bearer
//! token and the JSON body read into a [`Transfer`] command (ePay's lenient fields), the
//! transfer service called, its answer or error written in seed 001's shape (`super::errors`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use epay_domain::TransferKind;
use epay_store::TokenSpend;
use serde::Deserialize;
use utoipa::ToSchema;

use super::caller::Bearer;
use crate::app::AppState;
use crate::services::auth::{BearerError, Caller};
use crate::services::transfers::{self, CardRequest, OrderRequest, Refusal, Transfer, TransferError};
use crate::wire::lenient::{self, Body, Checked, Nested};
use crate::wire::FieldError;

/// A transfer another path received, with its caller as authenticated there (seed 001's P2P
/// sent to the saved-card payment path, which `super::payments` hands over); a refused token is
/// answered in the transfer shape.
pub async fn handle(
    app: &AppState,
    caller: Result<Caller, BearerError>,
    headers: &HeaderMap,
    body: &[u8],
    kind: TransferKind,
) -> Response {
    match caller {
        Ok(caller) => answer(app, caller, headers, body, kind).await,
        Err(e) => TransferError::from(e).into_response(),
    }
}

/// Reads the body into the command, makes the transfer, answers it.
async fn answer(app: &AppState, caller: Caller, headers: &HeaderMap, body: &[u8], kind: TransferKind) -> Response {
    let acs_url = format!("{}/acs/challenge", super::public_base(app, headers));
    let answer = async {
        let body = Body::json(body).map_err(|e| TransferError::from(Refusal::BadRequest(e.0)))?;
        // The token's scope, use and kind are refused before the body's fields, as they always
        // have been (the service checks them again: it trusts no surface).
        if let Some(token) = caller.token() {
            transfers::check_token(token, kind)?;
        }
        let command = read_transfer(&body, kind, TokenSpend::Always, acs_url)?;
        transfers::transfer(app, caller, command).await
    };
    match answer.await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The bearer token of a transfer request, refused in seed 001's shape.
type TransferCaller = Bearer<TransferError>;

pub async fn p2p(
    State(app): State<AppState>,
    Bearer(caller, _): TransferCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&app, caller, &headers, &body, TransferKind::P2p).await
}

pub async fn aft(
    State(app): State<AppState>,
    Bearer(caller, _): TransferCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&app, caller, &headers, &body, TransferKind::Aft).await
}

pub async fn oct(
    State(app): State<AppState>,
    Bearer(caller, _): TransferCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&app, caller, &headers, &body, TransferKind::Oct).await
}

/// `POST /p2p/transfer`, `/chdebit/transfer`, `/chpayment/transfer` (seed 001).
// Each part keeps its own fault, so they are reported in ePay's order (`read_transfer`).
#[derive(Deserialize, ToSchema)]
pub struct TransferRequest {
    #[schema(value_type = OrderRequest)]
    order: Nested<OrderRequest>,
    #[schema(value_type = TransferCards)]
    card: Nested<TransferCards>,
}

/// The cards of a transfer: P2P needs both sides, AFT the sender, OCT the receiver (the other
/// side is ignored). Sender and receiver must be different cards.
#[derive(Deserialize, ToSchema)]
pub struct TransferCards {
    #[schema(value_type = Option<CardRequest>)]
    sender: Option<Nested<CardRequest>>,
    #[schema(value_type = Option<CardRequest>)]
    receiver: Option<Nested<CardRequest>>,
}

/// A transfer request body read into its command: the order and card objects must be there,
/// then the order's fields, then each side's, each refusal in seed 001's shape.
pub(crate) fn read_transfer(
    body: &Body,
    kind: TransferKind,
    token_spend: TokenSpend,
    acs_url: String,
) -> Result<Transfer, TransferError> {
    let bad = |e: FieldError| TransferError::from(Refusal::BadRequest(e.0));
    let request: TransferRequest = body.read().map_err(bad)?;
    let order = request.order.object().map_err(bad)?;
    let card = request.card.object().map_err(bad)?;
    let order = order.map_err(|e| refused_order(body, e))?;
    // A `TransferCards` holds only its sides, each with its own fault: it reads whatever they are.
    let card = card.map_err(bad)?;
    // Past the order, a refusal repeats the order id and account id (seed 001's shape).
    let about_order = |e: FieldError| match order.id.as_deref().filter(|id| !id.trim().is_empty()) {
        Some(id) => bad(e).with_order(id, &order.account_id),
        None => bad(e),
    };
    let side = |side: Option<Nested<CardRequest>>| -> Result<Option<CardRequest>, TransferError> {
        match side {
            Some(side) => Ok(Some(side.object().map_err(bad)?.map_err(about_order)?)),
            None => Ok(None),
        }
    };
    let (sender, receiver) = (side(card.sender)?, side(card.receiver)?);
    Ok(Transfer { kind, sender, receiver, order, token_spend, acs_url })
}

/// The order's id and customer, as a refusal of the order's other fields repeats them.
#[derive(Default, Deserialize)]
struct OrderNames {
    #[serde(default, deserialize_with = "lenient::or_none")]
    order: Option<OrderName>,
}

#[derive(Default, Deserialize)]
struct OrderName {
    #[serde(rename(deserialize = "id|invoiceId"), default, deserialize_with = "lenient::or_none")]
    id: Option<String>,
    #[serde(rename(deserialize = "accountID|accountId"))]
    account_id: Option<Checked<String>>,
}

/// A fault of the order's fields. A wrongly typed `accountID` (the first field read) is refused
/// alone; any other fault repeats the order id and account id, when the order has an id.
fn refused_order(body: &Body, fault: FieldError) -> TransferError {
    let bad = TransferError::from(Refusal::BadRequest(fault.0));
    let name = body.read::<OrderNames>().unwrap_or_default().order.unwrap_or_default();
    let account = match lenient::given(name.account_id) {
        Ok(account) => account.unwrap_or_default(),
        Err(_) => return bad,
    };
    match name.id.filter(|id| !id.trim().is_empty()) {
        Some(id) => bad.with_order(&id, &account),
        None => bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusal of a body: its message, and the order id and account it repeats.
    fn refusal(json: &str) -> (String, String, String) {
        let body = Body::json(json.as_bytes()).unwrap();
        let e = match read_transfer(&body, TransferKind::P2p, TokenSpend::Always, String::new()) {
            Ok(_) => panic!("{json} was read"),
            Err(e) => e,
        };
        let Refusal::BadRequest(message) = e.refusal else { panic!("{json}: not a bad request") };
        (message, e.invoice_id, e.account_id)
    }

    fn bad(message: &str) -> (String, String, String) {
        (message.to_string(), String::new(), String::new())
    }

    fn about_order(message: &str) -> (String, String, String) {
        (message.to_string(), "123456".to_string(), "u1".to_string())
    }

    #[test]
    fn the_order_and_card_objects_come_first_then_the_account_then_the_rest() {
        assert_eq!(refusal(r#"{"card":{}}"#), bad("field order is required"));
        assert_eq!(refusal(r#"{"order":{"description":1.5,"cvc":[]},"card":null}"#), bad("field card is required"));
        assert_eq!(refusal(r#"{"order":[],"card":{}}"#), bad("field order must be a JSON object"));
        // A wrongly typed account is refused alone, before the order's other faults.
        let account = r#"{"order":{"id":"123456","accountID":{},"terminalId":[]},"card":{}}"#;
        assert_eq!(refusal(account), bad("field accountID must be a string"));
        let terminal = r#"{"order":{"invoiceId":123456,"AccountId":"u1","terminal":[],"email":[]},"card":{}}"#;
        assert_eq!(refusal(terminal), about_order("field terminalId must be a string"));
        // Without an id (or with a wrongly typed one) there is no order to name.
        assert_eq!(
            refusal(r#"{"order":{"id":[],"accountID":"u1","email":[]},"card":{}}"#),
            bad("field senderEmail must be a string")
        );
    }

    #[test]
    fn a_side_refuses_its_own_shape_alone_and_its_fields_with_the_order() {
        let order = r#""order":{"id":"123456","accountID":"u1","amount":"x"}"#;
        let with = |card: &str| refusal(&format!(r#"{{{order},"card":{card}}}"#));
        assert_eq!(with(r#"{"sender":"4405"}"#), bad("field sender must be a JSON object"));
        assert_eq!(with(r#"{"sender":{"cvc":321},"receiver":7}"#), bad("field receiver must be a JSON object"));
        assert_eq!(with(r#"{"sender":{"cvc":[],"expire":"0127"}}"#), about_order("field expire must be a JSON object"));
        assert_eq!(
            with(r#"{"sender":{"expire":{"month":1}},"receiver":{"save":"no"}}"#),
            about_order("field save must be a Boolean")
        );
    }

    #[test]
    fn the_amount_and_currency_faults_wait_for_the_service() {
        let body = r#"{"order":{"id":"123456","invoiceId":"654321","amount":"12.345","currency":"XXX"},"card":{"sender":{"CardCred":4405639704015096,"cvc":321}}}"#;
        let body = Body::json(body.as_bytes()).unwrap();
        let transfer = read_transfer(&body, TransferKind::Aft, TokenSpend::Always, String::new()).unwrap();
        assert_eq!(transfer.order.id.as_deref(), Some("123456"));
        assert_eq!(transfer.order.amount(), Err("order.amount: amount must have at most 2 decimal places".into()));
        assert!(transfer.order.currency().unwrap_err().starts_with("field currency: "));
        let sender = transfer.sender.unwrap();
        assert_eq!((sender.card_cred.as_deref(), sender.cvc.as_deref()), (Some("4405639704015096"), Some("321")));
        assert!(transfer.receiver.is_none());
        let body = Body::json(br#"{"order":{},"card":{}}"#).unwrap();
        let transfer = read_transfer(&body, TransferKind::P2p, TokenSpend::Always, String::new()).unwrap();
        assert_eq!(transfer.order.amount(), Err("order.amount is required".into()));
        assert_eq!(transfer.order.currency(), Ok(epay_domain::Currency::Kzt));
    }
}
