//! Transactions: the filtered list, its CSV export, the detail page, and the operations on a
//! payment (charge, cancel, refund, callback re-send), each confirmed before it runs.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use epay_domain::transition::{self, Refusal};
use epay_domain::{Amount, Operation, PaymentState};

use super::error::CabinetError;
use super::filter::{self, EXPORT_LIMIT, PAGE_SIZE};
use super::i18n::{words, Lang, Words};
use super::views::{self, amount as shown, Section};
use super::{form, html, redirect, Signed};
use crate::services::callback_log;
use crate::services::operations::{self, Kind, OperationCommand};

async fn terminal_labels(signed: &Signed) -> Result<Vec<(String, String)>, CabinetError> {
    Ok(signed
        .app
        .store
        .terminals_of(signed.merchant_id())
        .await?
        .into_iter()
        .map(|t| (t.id, format!("{} ({})", t.name, t.pos_id)))
        .collect())
}

pub async fn list(signed: Signed, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let q = filter::parse(&query)?;
        let page = signed
            .app
            .store
            .search_payments(signed.merchant_id(), &q.filter, (q.page - 1) * PAGE_SIZE, PAGE_SIZE)
            .await?;
        let terminals = terminal_labels(&signed).await?;
        let view = views::ListView { query: &q, payments: &page.payments, total: page.total, terminals: &terminals };
        Ok(html(StatusCode::OK, views::transactions(&signed.chrome(Section::Transactions), &view)))
    }
    .await;
    signed.reply(result)
}

pub async fn export(signed: Signed, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let q = filter::parse(&query)?;
        let page = signed.app.store.search_payments(signed.merchant_id(), &q.filter, 0, EXPORT_LIMIT).await?;
        let mut response = super::csv::export(&page.payments).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        headers.insert(CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"epay-transactions.csv\""));
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("x-total-count", HeaderValue::from(page.total));
        Ok(response)
    }
    .await;
    signed.reply(result)
}

async fn payment(signed: &Signed, id: &str) -> Result<epay_store::Payment, CabinetError> {
    signed
        .app
        .store
        .payment(signed.merchant_id(), id.trim())
        .await?
        .ok_or_else(|| CabinetError::NotFound(format!("transaction {id}")))
}

pub async fn detail(signed: Signed, Path(id): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let p = payment(&signed, &id).await?;
        let store = &signed.app.store;
        let events = store.payment_events(signed.merchant_id(), &p.id).await?;
        let transfers = store.ledger_transfers_of(&p.id).await?;
        let refunds = store.refunds_of(&p.id).await?;
        let three_ds = store.three_ds_session_of(signed.merchant_id(), &p.id).await?;
        let callbacks = callback_log::list(&signed.app, &signed.caller(), &p.id).await?;
        let attempts = store.invoice_attempts(signed.merchant_id(), &p.terminal_id, &p.invoice_id).await?;
        let terminal =
            store.terminal(&p.terminal_id).await?.map(|t| format!("{} ({})", t.name, t.pos_id)).unwrap_or_default();
        let w = words(signed.lang);
        let flash = query.get("done").and_then(|d| done_label(w, d)).map(str::to_string);
        let view = views::DetailView {
            payment: &p,
            terminal: &terminal,
            events: &events,
            transfers: &transfers,
            refunds: &refunds,
            three_ds: three_ds.as_ref(),
            callbacks: &callbacks,
            attempts: &attempts,
            flash: flash.as_deref(),
        };
        Ok(html(StatusCode::OK, views::detail(&signed.chrome(Section::Transactions), &view)))
    }
    .await;
    signed.reply(result)
}

/// What the merchant asked for on the detail page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Operation(Kind),
    Resend,
}

/// An operation's action is its word (`charge`, …), as the detail page's forms post it.
fn parse_action(text: &str) -> Option<Action> {
    if text == "resend" {
        return Some(Action::Resend);
    }
    Some(Action::Operation(match text.parse::<Operation>().ok()? {
        Operation::Charge => Kind::Charge,
        Operation::Cancel => Kind::Cancel,
        Operation::Refund => Kind::Refund,
        // A hold's expiry is the gateway's, never a merchant's action.
        Operation::Expire => return None,
    }))
}

fn action_label(w: &super::i18n::Words, text: &str) -> Option<&'static str> {
    Some(match parse_action(text)? {
        Action::Operation(Kind::Charge) => w.charge,
        Action::Operation(Kind::Cancel) => w.cancel,
        Action::Operation(Kind::Refund) => w.refund,
        Action::Resend => w.resend,
    })
}

/// The flash after an action: what was done, as a past action ("Refund completed").
fn done_label(w: &Words, text: &str) -> Option<&'static str> {
    Some(match parse_action(text)? {
        Action::Operation(Kind::Charge) => w.done_charge,
        Action::Operation(Kind::Cancel) => w.done_cancel,
        Action::Operation(Kind::Refund) => w.done_refund,
        Action::Resend => w.done_resend,
    })
}

/// The payment state machine's answer to `kind` on the payment as the store has it now. The
/// operation itself checks again inside its transaction; this check is what lets the
/// confirmation page refuse, in the user's words, before anything is asked or written.
fn precheck(p: &epay_store::Payment, kind: Kind, amount: Option<i64>) -> Result<(), Refusal> {
    let state = PaymentState {
        kind: p.kind,
        status: p.status,
        amount_minor: p.amount_minor,
        charged_minor: p.charged_minor,
        refunded_minor: p.refunded_minor,
        fx: p.fx_rate(),
    };
    match kind {
        Kind::Charge => transition::charge(&state, amount).map(drop),
        Kind::Cancel => transition::cancel(&state).map(drop),
        Kind::Refund => transition::refund(&state, amount, None).map(drop),
    }
}

/// A refusal of the state machine in the user's words; `hint` keeps the gateway's own.
fn explain(lang: Lang, p: &epay_store::Payment, kind: Kind, refusal: Refusal, hint: String) -> CabinetError {
    use axum::http::StatusCode as S;
    let w = words(lang);
    let money = |minor: i64| format!("{} {}", shown(lang, minor), p.currency);
    let (status, message) = match refusal {
        Refusal::WrongStatus { status } => (S::CONFLICT, format!("{} {}", w.wrong_status, w.status(status))),
        Refusal::OverAmount { left_minor } => match kind {
            Kind::Refund => (S::CONFLICT, format!("{} {}", w.refund_over_left, money(left_minor))),
            _ => (S::CONFLICT, format!("{} {}", w.charge_over_amount, money(left_minor))),
        },
        Refusal::BelowMinimumRefund { .. } => (S::BAD_REQUEST, w.refund_below_min.to_string()),
        Refusal::ExternalIdReused { .. } => (S::CONFLICT, w.external_reused.to_string()),
        Refusal::NotAPayment { .. } => (S::CONFLICT, w.not_a_payment.to_string()),
    };
    CabinetError::Explained { status, message, hint }
}

pub async fn act(signed: Signed, Path((id, action_text)): Path<(String, String)>, body: Bytes) -> Response {
    let result = async {
        let form = form(&body);
        signed.check_csrf(&form)?;
        let action =
            parse_action(&action_text).ok_or_else(|| CabinetError::NotFound(format!("action {action_text}")))?;
        let p = payment(&signed, &id).await?;
        let w = words(signed.lang);
        let label = action_label(w, &action_text).unwrap_or_default();
        let typed = form.get("amount").map(|a| a.trim()).unwrap_or("");
        let amount = if typed.is_empty()
            || action != Action::Operation(Kind::Charge) && action != Action::Operation(Kind::Refund)
        {
            None
        } else {
            Some(filter::amount_input(typed).map_err(|e| CabinetError::Explained {
                status: StatusCode::BAD_REQUEST,
                message: w.bad_amount.to_string(),
                hint: format!("amount {typed:?}: {e}"),
            })?)
        };
        // The amount as the confirmed form sends it again: read once, in one spelling.
        let amount_text = amount.map(|a| a.to_string()).unwrap_or_default();
        let amount_text = amount_text.as_str();

        let event = form.get("event").map(|e| e.trim().to_string()).unwrap_or_default();
        let back = format!("/cabinet/transactions/{}", p.id);
        if action == Action::Resend {
            // Only a callback of this payment (and so of this merchant) can be sent again.
            let callbacks = callback_log::list(&signed.app, &signed.caller(), &p.id).await?;
            if !callbacks.iter().any(|c| c.id == event) {
                return Err(CabinetError::NotFound(format!("callback {event}")));
            }
        }
        if form.get("confirmed").map(String::as_str) != Some("yes") {
            if let Action::Operation(kind) = action {
                // Refused here, in the user's words, before anything is asked or written. (The
                // confirmed request is not checked here: a re-posted refund must reach the
                // service, which replays it by its externalID.)
                precheck(&p, kind, amount.map(Amount::minor))
                    .map_err(|r| explain(signed.lang, &p, kind, r, r.to_string()))?;
            }
            let what = match (action, amount) {
                (Action::Resend, _) => format!("{label}: {event}"),
                (_, Some(a)) => format!("{label}: {} {}", shown(signed.lang, a.minor()), p.currency),
                (Action::Operation(Kind::Refund), None) => {
                    let left = shown(signed.lang, p.charged_minor - p.refunded_minor);
                    format!("{label}: {left} {} ({})", p.currency, w.whole_amount)
                }
                (_, None) => {
                    format!("{label}: {} {} ({})", shown(signed.lang, p.amount_minor), p.currency, w.whole_amount)
                }
            };
            let question = format!("{what} — invoiceId {}, {}", p.invoice_id, p.id);
            // A refund carries a one-time externalID from here on: a double-clicked or
            // re-posted confirmation replays the same refund instead of refunding twice.
            let external = format!("cabinet-{}", &super::session::random_token()[..24]);
            let mut fields = vec![("amount", amount_text), ("event", event.as_str())];
            if action == Action::Operation(Kind::Refund) {
                fields.push(("external_id", &external));
            }
            // Charge and re-send are safe; cancel and refund cannot be undone.
            let danger = matches!(action, Action::Operation(Kind::Cancel | Kind::Refund));
            let page = views::confirm(
                &signed.chrome(Section::Transactions),
                &question,
                &format!("{back}/{action_text}"),
                &fields,
                &back,
                danger,
            );
            return Ok(html(StatusCode::OK, page));
        }
        match action {
            Action::Resend => callback_log::resend(&signed.app, &signed.caller(), &event).await?,
            Action::Operation(kind) => {
                let external_id = form
                    .get("external_id")
                    .map(|e| e.trim().to_string())
                    .filter(|e| kind == Kind::Refund && !e.is_empty() && e.len() <= 100);
                let caller = signed.caller();
                let command = OperationCommand { payment_id: p.id.clone(), kind, amount, external_id };
                if let Err(e) = operations::run(&signed.app, &caller, command).await {
                    // Refused inside the transaction (another user or an API call moved the
                    // payment in between): said again in the user's words from its state now.
                    let hint = e.to_string();
                    let error = CabinetError::from(e);
                    if matches!(error, CabinetError::Refused(_) | CabinetError::BadInput(_)) {
                        let now = payment(&signed, &p.id).await?;
                        if let Err(r) = precheck(&now, kind, amount.map(Amount::minor)) {
                            return Err(explain(signed.lang, &now, kind, r, hint));
                        }
                    }
                    return Err(error);
                }
            }
        }
        tracing::info!(user_id = %signed.session.user_id, payment_id = %p.id, action = %action_text, "cabinet action");
        Ok(redirect(&format!("{back}?done={action_text}")))
    }
    .await;
    signed.reply(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words the detail page's forms post (the operations' words) and nothing else.
    #[test]
    fn an_action_is_an_operation_word_or_resend() {
        assert_eq!(parse_action("charge"), Some(Action::Operation(Kind::Charge)));
        assert_eq!(parse_action("cancel"), Some(Action::Operation(Kind::Cancel)));
        assert_eq!(parse_action("refund"), Some(Action::Operation(Kind::Refund)));
        assert_eq!(parse_action("resend"), Some(Action::Resend));
        for refused in ["expire", "CHARGE", "", "charge "] {
            assert_eq!(parse_action(refused), None, "{refused:?}");
        }
    }
}
