//! `POST /p2p/transfer`, `/chdebit/transfer` (AFT), `/chpayment/transfer` (OCT): the bearer
//! token and the JSON body read into a [`Transfer`] command (ePay's lenient fields), the
//! transfer service called, its answer or error written in seed 001's shape (`super::errors`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use epay_domain::{Currency, TransferKind};
use epay_store::TokenSpend;

use super::caller::Bearer;
use crate::app::AppState;
use crate::services::auth::{BearerError, Caller};
use crate::services::transfers::{self, CardRequest, OrderRequest, Refusal, Transfer, TransferError};
use crate::wire::Fields;

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
        let fields = Fields::from_json(body).map_err(|e| TransferError::from(Refusal::BadRequest(e.0)))?;
        // The token's scope, use and kind are refused before the body's fields, as they always
        // have been (the service checks them again: it trusts no surface).
        if let Some(token) = caller.token() {
            transfers::check_token(token, kind)?;
        }
        let command = read_transfer(&fields, kind, TokenSpend::Always, acs_url)?;
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

/// A transfer request body (`order{…}`, `card{sender, receiver}`) read into its command.
pub(crate) fn read_transfer(
    fields: &Fields,
    kind: TransferKind,
    token_spend: TokenSpend,
    acs_url: String,
) -> Result<Transfer, TransferError> {
    let bad = |e: crate::wire::FieldError| TransferError::from(Refusal::BadRequest(e.0));
    let order =
        fields.opt_object(&["order"]).map_err(bad)?.ok_or_else(|| bad(field_error("field order is required")))?;
    let card = fields.opt_object(&["card"]).map_err(bad)?.ok_or_else(|| bad(field_error("field card is required")))?;
    // Past the order id, a refusal repeats the order id and account id (seed 001's shape).
    let id = order.opt_str(&["id", "invoiceId"]).ok().flatten().filter(|id| !id.trim().is_empty());
    let account = order.str_or_empty(&["accountID", "accountId"]).map_err(bad)?;
    let about_order = |e: crate::wire::FieldError| match &id {
        Some(id) => bad(e).with_order(id, &account),
        None => bad(e),
    };
    let order = read_order(&order).map_err(about_order)?;
    let side = |name: &str| -> Result<Option<CardRequest>, TransferError> {
        match card.opt_object(&[name]).map_err(bad)? {
            Some(side) => Ok(Some(read_card(&side).map_err(about_order)?)),
            None => Ok(None),
        }
    };
    Ok(Transfer { kind, sender: side("sender")?, receiver: side("receiver")?, order, token_spend, acs_url })
}

fn field_error(message: &str) -> crate::wire::FieldError {
    crate::wire::FieldError(message.to_string())
}

/// `order{…}` of the API's body.
fn read_order(f: &Fields) -> Result<OrderRequest, crate::wire::FieldError> {
    Ok(OrderRequest {
        // A wrongly typed id reads as none: the service answers `order.id is required`.
        id: f.opt_str(&["id", "invoiceId"]).ok().flatten(),
        account_id: f.str_or_empty(&["accountID", "accountId"])?,
        terminal_id: f.opt_str(&["terminalId", "terminal"])?,
        amount: f.req_amount(&["amount"]).map_err(|e| e.0.trim_start_matches("field ").to_string()),
        currency: f.opt_currency(&["currency"]).map(|c| c.unwrap_or(Currency::Kzt)).map_err(|e| e.0),
        description: f.str_or_empty(&["description"])?,
        email: f.str_or_empty(&["senderEmail", "email"])?,
        post_link: f.str_or_empty(&["postLink"])?,
        failure_post_link: f.str_or_empty(&["failurePostLink"])?,
        back_link: f.str_or_empty(&["backLink"])?,
        failure_back_link: f.str_or_empty(&["failureBackLink"])?,
    })
}

/// `card.sender` / `card.receiver` of the API's body.
fn read_card(f: &Fields) -> Result<CardRequest, crate::wire::FieldError> {
    let expire = match f.opt_object(&["expire"])? {
        Some(e) => Some((e.str_or_empty(&["month"])?, e.str_or_empty(&["year"])?)),
        None => None,
    };
    Ok(CardRequest {
        transfer_type: f.str_or_empty(&["transferType"])?,
        // Wrongly typed, these read as none: the service answers `… is required`.
        card_cred: f.opt_str(&["cardCred"]).ok().flatten(),
        phone: f.opt_str(&["phone"]).ok().flatten(),
        iin: f.opt_str(&["iin"]).ok().flatten(),
        expire,
        cvc: f.opt_str(&["cvc"])?,
        name: f.str_or_empty(&["name"])?,
        save: f.opt_bool(&["save"])?.unwrap_or(false),
    })
}
