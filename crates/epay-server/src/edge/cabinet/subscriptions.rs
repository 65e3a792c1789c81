//! Subscriptions in the cabinet (issue 20): the list with a status filter, one subscription with
//! its charges, and pause / resume / cancel through the same service as the API
//! (`services::subscriptions::change`). Cancel is asked for again first: it cannot be undone.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use epay_domain::SubscriptionStatus;

use super::error::CabinetError;
use super::i18n::words;
use super::views::{self, Section};
use super::{form, html, redirect, Signed};
use crate::services::payments::PaymentError;
use crate::services::subscriptions::{self, Change};

/// The subscription, if it is the signed-in merchant's; another merchant's is "not found".
async fn own(signed: &Signed, id: &str) -> Result<epay_store::Subscription, CabinetError> {
    signed
        .app
        .store
        .subscription(signed.merchant_id(), id.trim())
        .await?
        .ok_or_else(|| CabinetError::NotFound(format!("subscription {id}")))
}

pub async fn list(signed: Signed, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let status = query.get("status").and_then(|s| s.parse::<SubscriptionStatus>().ok());
        let all = signed.app.store.subscriptions(signed.merchant_id(), "", subscriptions::LIST_LIMIT).await?;
        Ok(html(StatusCode::OK, views::subscriptions(&signed.chrome(Section::Subscriptions), &all, status)))
    }
    .await;
    signed.reply(result)
}

pub async fn detail(signed: Signed, Path(id): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let s = own(&signed, &id).await?;
        let periods = signed.app.store.subscription_periods(&s.id).await?;
        let w = words(signed.lang);
        let flash = query.get("done").and_then(|d| match d.as_str() {
            "pause" => Some(w.done_pause),
            "resume" => Some(w.done_resume),
            "cancel" => Some(w.done_sub_cancel),
            _ => None,
        });
        Ok(html(StatusCode::OK, views::subscription(&signed.chrome(Section::Subscriptions), &s, &periods, flash)))
    }
    .await;
    signed.reply(result)
}

pub async fn act(signed: Signed, Path((id, action)): Path<(String, String)>, body: Bytes) -> Response {
    let result = async {
        let form = form(&body);
        signed.check_csrf(&form)?;
        let change = match action.as_str() {
            "pause" => Change::Pause,
            "resume" => Change::Resume,
            "cancel" => Change::Cancel,
            _ => return Err(CabinetError::NotFound(format!("action {action}"))),
        };
        let s = own(&signed, &id).await?;
        let back = format!("/cabinet/subscriptions/{}", s.id);
        if change == Change::Cancel && form.get("confirmed").map(String::as_str) != Some("yes") {
            let w = words(signed.lang);
            let question = format!(
                "{}: {} {} {} (accountId {})",
                w.sub_cancel,
                s.invoice_id,
                views::amount(signed.lang, s.amount_minor),
                s.currency,
                s.account_id
            );
            let page = views::confirm(
                &signed.chrome(Section::Subscriptions),
                &question,
                &format!("{back}/cancel"),
                &[],
                &back,
                true,
            );
            return Ok(html(StatusCode::OK, page));
        }
        let changed = subscriptions::change(&signed.app, &signed.caller(), &s.id, change).await.map_err(|e| match e {
            // Changed by someone else between the read and the write: not our fault, not a bug.
            PaymentError::Conflict(m) => CabinetError::Refused(m),
            other => other.into(),
        })?;
        tracing::info!(user_id = %signed.session.user_id, subscription_id = %changed.id, status = %changed.status, "cabinet subscription changed");
        Ok(redirect(&format!("{back}?done={action}")))
    }
    .await;
    signed.reply(result)
}
