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
use crate::edge::http::caller::{authenticate, authorization};
use crate::services::auth::Caller;
use crate::services::transfers::{self, CardRequest, OrderRequest, Refusal, Transfer, TransferError};
use crate::wire::lenient::{self, Body, Checked, Nested};
use crate::wire::FieldError;

/// A transfer whose token is still in the `Authorization` header (seed 001's P2P sent to the
/// saved-card payment path, which `super::payments` hands over).
pub async fn handle(app: &AppState, headers: &HeaderMap, body: &[u8], kind: TransferKind) -> Response {
    match authenticate(app, authorization(headers)).await {
        Ok(token) => answer(app, Caller::Token(token), headers, body, kind).await,
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
