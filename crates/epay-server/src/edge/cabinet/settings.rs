//! Terminal settings, credentials (client secret and callback signing secret) and saved cards.
//! Changes go through the admin and card services, the same functions the `epay` commands and
//! the API use.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use epay_domain::attempts::MAX_ATTEMPTS_CEILING;
use epay_domain::{Amount, Secret};

use super::error::CabinetError;
use super::i18n::words;
use super::views::{self, Section};
use super::{form, html, redirect, Signed};
use crate::services::admin::{self, SecretKind, TerminalSettings};

pub async fn terminals(signed: Signed, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let terminals = signed.app.store.terminals_of(signed.merchant_id()).await?;
        let w = words(signed.lang);
        let flash = query
            .get("saved")
            .and_then(|id| terminals.iter().find(|t| t.id == *id))
            .map(|t| format!("{}: {}", w.saved, t.name));
        Ok::<_, CabinetError>(html(
            StatusCode::OK,
            views::terminals(&signed.chrome(Section::Terminals), &terminals, flash.as_deref()),
        ))
    }
    .await;
    signed.reply(result)
}

/// The terminal form into settings. Every field is always sent, so an unchecked box is "off".
fn settings_from(form: &HashMap<String, String>) -> Result<TerminalSettings, CabinetError> {
    let text = |k: &str| form.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let bad = |m: String| CabinetError::BadInput(m);
    let two_step = match text("mode").as_str() {
        "one" => false,
        "two" => true,
        other => return Err(bad(format!("mode: {other:?} is neither one-step nor two-step"))),
    };
    let hours: i64 = text("hold_hours")
        .parse()
        .ok()
        .filter(|h| (1..=720).contains(h))
        .ok_or_else(|| bad("hold period: a whole number of hours from 1 to 720".into()))?;
    // A percentage with at most two decimals is a whole number of basis points.
    let fee_percent_bp = match text("fee_percent").as_str() {
        "" => 0,
        p => Amount::parse_major(p).map(Amount::minor).map_err(|e| bad(format!("transfer fee %: {e}")))?,
    };
    let amount = |k: &str| {
        let v = text(k);
        Some(if v.is_empty() { "0".to_string() } else { v })
    };
    // A form from before the field existed keeps the terminal's number; the range is checked
    // where every way of setting it is (admin::apply).
    let max_attempts = match form.get("max_attempts") {
        None => None,
        Some(n) => Some(
            n.trim()
                .parse()
                .map_err(|_| bad(format!("payment attempts: a whole number from 1 to {MAX_ATTEMPTS_CEILING}")))?,
        ),
    };
    Ok(TerminalSettings {
        two_step: Some(two_step),
        max_attempts,
        three_ds: Some(form.contains_key("three_ds")),
        transfers_allowed: Some(form.contains_key("transfers")),
        operation_callbacks: Some(form.contains_key("operation_callbacks")),
        hold_period_secs: Some(hours * 3600),
        fee_percent_bp: Some(fee_percent_bp),
        fee_fixed: amount("fee_fixed"),
        fee_min: amount("fee_min"),
        transfer_daily_limit: amount("daily_limit"),
        ..TerminalSettings::default()
    })
}

pub async fn update_terminal(signed: Signed, Path(id): Path<String>, body: Bytes) -> Response {
    let result = async {
        let form = form(&body);
        signed.check_csrf(&form)?;
        // Another merchant's terminal is "not found", exactly like one that does not exist.
        let terminal = signed
            .app
            .store
            .terminal(id.trim())
            .await?
            .filter(|t| t.merchant_id == signed.merchant_id())
            .ok_or_else(|| CabinetError::NotFound(format!("terminal {id}")))?;
        let settings = settings_from(&form)?;
        let updated = admin::update_terminal(signed.app.store.as_ref(), &terminal.id, &settings).await?;
        tracing::info!(user_id = %signed.session.user_id, terminal_id = %updated.id, two_step = updated.two_step,
            three_ds = updated.three_ds, operation_callbacks = updated.operation_callbacks,
            max_attempts = updated.max_attempts.get(), "cabinet terminal settings changed");
        Ok(redirect(&format!("/cabinet/terminals?saved={}", updated.id)))
    }
    .await;
    signed.reply(result)
}

async fn merchant(signed: &Signed) -> Result<epay_store::Merchant, CabinetError> {
    signed.app.store.merchant(signed.merchant_id()).await?.ok_or_else(|| CabinetError::NotFound("merchant".into()))
}

/// The merchant's callback signing secret, opened (it is stored sealed).
async fn webhook_secret(signed: &Signed, m: &epay_store::Merchant) -> Result<Secret, CabinetError> {
    signed.app.open_webhook_secret(&m.id, &m.webhook_secret).await.ok_or_else(|| {
        tracing::error!(merchant_id = %m.id, "the merchant's webhook secret does not open with any data key");
        CabinetError::Internal
    })
}

pub async fn credentials(signed: Signed) -> Response {
    let result = async {
        let m = merchant(&signed).await?;
        let webhook = webhook_secret(&signed, &m).await?;
        Ok(html(
            StatusCode::OK,
            views::credentials(&signed.chrome(Section::Credentials), &m.client_id, webhook.expose(), None),
        ))
    }
    .await;
    signed.reply(result)
}

pub async fn rotate(signed: Signed, body: Bytes) -> Response {
    let result = async {
        let form = form(&body);
        signed.check_csrf(&form)?;
        let w = words(signed.lang);
        let kind_text = form.get("kind").map(String::as_str).unwrap_or("");
        let (kind, label) = match kind_text {
            "client" => (SecretKind::Client, w.rotate_client),
            "webhook" => (SecretKind::Webhook, w.rotate_webhook),
            other => return Err(CabinetError::BadInput(format!("kind: {other:?} is neither client nor webhook"))),
        };
        let chrome = signed.chrome(Section::Credentials);
        if form.get("confirmed").map(String::as_str) != Some("yes") {
            let note = if kind == SecretKind::Client { w.client_secret_note } else { w.webhook_note };
            let page = views::confirm(&chrome, &format!("{label}? {note}"), "/cabinet/credentials/rotate", &[("kind", kind_text)], "/cabinet/credentials", true);
            return Ok(html(StatusCode::OK, page));
        }
        let m = merchant(&signed).await?;
        let store = signed.app.store.as_ref();
        let secret = match kind {
            SecretKind::Client => admin::rotate_client_secret(store, &m.client_id).await?,
            SecretKind::Webhook => admin::rotate_webhook_secret(store, &signed.app.keys, &m.client_id).await?,
        };
        tracing::info!(user_id = %signed.session.user_id, merchant_id = %m.id, kind = kind_text, "cabinet secret rotated");
        let m = merchant(&signed).await?;
        let webhook = webhook_secret(&signed, &m).await?;
        let name = if kind == SecretKind::Client { w.client_secret } else { w.webhook_secret };
        // Shown in this response only (no-store): the client secret is kept as a digest.
        Ok(html(StatusCode::OK, views::credentials(&chrome, &m.client_id, webhook.expose(), Some((name, secret.expose())))))
    }
    .await;
    signed.reply(result)
}

pub async fn cards(signed: Signed, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let account = query.get("account").map(|a| a.trim().to_string()).unwrap_or_default();
        if account.len() > 100 {
            return Err(CabinetError::BadInput("accountId: at most 100 characters".into()));
        }
        let caller = signed.caller();
        let wanted = crate::services::cards::ListCards { account_id: account.clone() };
        let mut cards = Vec::new();
        for card in crate::services::cards::list(&signed.app, &caller, wanted).await? {
            let recurrent = signed.app.store.recurrent_agreed(signed.merchant_id(), &card.id).await?;
            cards.push((card, recurrent));
        }
        let w = words(signed.lang);
        let flash = query.contains_key("done").then(|| w.done_deactivate.to_string());
        Ok(html(StatusCode::OK, views::cards(&signed.chrome(Section::Cards), &account, &cards, flash.as_deref())))
    }
    .await;
    signed.reply(result)
}

/// One saved card of the signed-in merchant (also a deactivated one) and its history; another
/// merchant's is "not found".
pub async fn card(signed: Signed, Path(id): Path<String>) -> Response {
    let result = async {
        let store = &signed.app.store;
        let card = store
            .saved_card(signed.merchant_id(), id.trim())
            .await?
            .ok_or_else(|| CabinetError::NotFound(format!("card {id}")))?;
        let events = store.card_events(signed.merchant_id(), &card.id).await?;
        Ok(html(StatusCode::OK, views::card(&signed.chrome(Section::Cards), &card, &events)))
    }
    .await;
    signed.reply(result)
}

pub async fn deactivate_card(signed: Signed, Path(id): Path<String>, body: Bytes) -> Response {
    let result = async {
        let form = form(&body);
        signed.check_csrf(&form)?;
        let account = form.get("account").map(|a| a.trim().to_string()).unwrap_or_default();
        let card = signed
            .app
            .store
            .saved_card(signed.merchant_id(), id.trim())
            .await?
            .filter(|c| c.active)
            .ok_or_else(|| CabinetError::NotFound(format!("card {id}")))?;
        let back: String = format!(
            "/cabinet/cards?account={}",
            url::form_urlencoded::byte_serialize(account.as_bytes()).collect::<String>()
        );
        if form.get("confirmed").map(String::as_str) != Some("yes") {
            let w = words(signed.lang);
            let question = format!("{}: {} (accountId {})", w.deactivate, card.card_mask, card.account_id);
            let page = views::confirm(
                &signed.chrome(Section::Cards),
                &question,
                &format!("/cabinet/cards/{}/deactivate", card.id),
                &[("account", &account)],
                &back,
                true,
            );
            return Ok(html(StatusCode::OK, page));
        }
        let caller = signed.caller();
        let command = crate::services::cards::DeactivateCard { card_id: card.id.clone() };
        crate::services::cards::deactivate(&signed.app, &caller, command).await?;
        Ok(redirect(&format!("{back}&done=1")))
    }
    .await;
    signed.reply(result)
}
