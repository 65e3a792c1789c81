//! The message outbox pages: what the gateway sent (or is still trying to send) to the signed-in
//! merchant's customers, and one message exactly as sent. Read-only; merchant-scoped queries, so
//! another merchant's message id is "not found".

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use epay_store::MessageFilter;

use super::error::CabinetError;
use super::views::{self, Section};
use super::{html, Signed};

/// Messages one page lists, newest first.
const LISTED: i64 = 200;

pub async fn list(signed: Signed, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let reference = query.get("reference").map(|r| r.trim().to_string()).unwrap_or_default();
        if reference.chars().count() > 100 {
            return Err(CabinetError::BadInput("invoiceId: at most 100 characters".into()));
        }
        let filter = MessageFilter { reference: reference.clone(), limit: LISTED };
        let messages = crate::services::outbox::list(&signed.app, signed.merchant_id(), &filter).await?;
        Ok(html(StatusCode::OK, views::messages(&signed.chrome(Section::Messages), &reference, &messages)))
    }
    .await;
    signed.reply(result)
}

pub async fn show(signed: Signed, Path(id): Path<String>) -> Response {
    let result = async {
        let message = crate::services::outbox::find(&signed.app, signed.merchant_id(), id.trim())
            .await?
            .ok_or_else(|| CabinetError::NotFound(format!("message {id}")))?;
        Ok(html(StatusCode::OK, views::message(&signed.chrome(Section::Messages), &message)))
    }
    .await;
    signed.reply(result)
}
