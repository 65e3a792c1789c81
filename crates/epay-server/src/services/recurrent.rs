//! The scheduler: charges every subscription's due period with its saved card, once, however
//! many gateway nodes run it at the same time and however often they restart.
//!
//! Exactly once: the charge's payment is recorded with a [`SubscriptionCharge`], and the store
//! writes the `(subscription, period, try)` row, the payment, its ledger entries, its callback
//! and the subscription's move in ONE transaction; the move is a compare-and-set on the
//! period and try the scheduler read. A node that read a subscription another node has just
//! charged writes nothing (the row exists, the compare-and-set finds another state), and the
//! card network's answer it got is dropped: the simulator keeps no state of its own (balances
//! live in the ledger, taken in the payment's transaction), so an unrecorded authorization moves
//! no money.
//!
//! A declined period is retried on `epay_domain::subscription::RETRY_DELAYS_SECS` (1 and 3
//! days); declined on its last retry, the subscription is paused, and the merchant has the
//! failure callback of that payment (failurePostLink, else postLink, of the original payment).

use std::collections::HashSet;

use epay_domain::subscription::after_decline;
use epay_domain::{ids, Amount, Currency, PaymentKind, SubscriptionStatus, TxStatus};
use epay_network::AuthRequest;
use epay_store::{Payment, PaymentWrite, StoreError, Subscription, SubscriptionCharge, SubscriptionNext, TokenSpend};

use crate::app::App;
use crate::platform::clock::year_month;
use crate::services::payments::with_conversion;
use crate::services::subscriptions::due_at;

/// Subscriptions read per round of a pass.
const BATCH: i64 = 100;
/// Rounds per pass: a clock moved months ahead makes several periods of one subscription due,
/// charged one per round (each round re-reads what is still due).
const MAX_ROUNDS: usize = 64;

/// How long the one-use key a charge spends is remembered (longer than any retry).
const CHARGE_KEY_TTL_MS: i64 = 30 * 86_400_000;

/// One pass: charges every period due now; returns how many payments it recorded (approved or
/// declined).
pub async fn run_due(app: &App) -> usize {
    let mut recorded = 0;
    // Each (subscription, period, try) is tried once per pass: one that failed for a reason of
    // ours (its card cannot be opened, the database is down) waits for the next pass.
    let mut tried: HashSet<(String, i64, i64)> = HashSet::new();
    for _ in 0..MAX_ROUNDS {
        let now = app.clock.now_ms();
        let due = match app.store.due_subscriptions(now, BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "reading due subscriptions failed; next pass retries");
                return recorded;
            }
        };
        let fresh: Vec<Subscription> =
            due.into_iter().filter(|s| tried.insert((s.id.clone(), s.period_no, s.tries))).collect();
        if fresh.is_empty() {
            break;
        }
        for s in fresh {
            if charge(app, &s, now).await {
                recorded += 1;
            }
        }
    }
    recorded
}

/// Charges `s`'s due period once; true when a payment was recorded.
async fn charge(app: &App, s: &Subscription, now: i64) -> bool {
    let card = match app.store.saved_card(&s.merchant_id, &s.card_id).await {
        Ok(card) => card,
        Err(e) => {
            tracing::warn!(error = %e, subscription_id = %s.id, "reading a subscription's card failed");
            return false;
        }
    };
    let Some(card) = card.filter(|c| c.active && c.payable) else {
        // A deactivated card ends its subscriptions (deactivation stops them too; this covers a
        // card deactivated by a node that stopped before it could).
        match app.store.stop_card_subscriptions(&s.merchant_id, &s.card_id, now).await {
            Ok(n) => tracing::info!(subscription_id = %s.id, stopped = n, "card deactivated: subscription stopped"),
            Err(e) => tracing::warn!(error = %e, subscription_id = %s.id, "stopping a subscription failed"),
        }
        return false;
    };
    // What cannot change by waiting pauses the subscription (with its reason): left due, it
    // would stay at the head of every pass's batch, and enough of them would starve the rest.
    let (original, terminal) =
        match (app.store.payment(&s.merchant_id, &s.transaction_id).await, app.store.terminal(&s.terminal_id).await) {
            (Ok(Some(p)), Ok(Some(t))) => (p, t),
            (Ok(None), _) | (_, Ok(None)) => {
                pause(app, s, now, "the original payment or its terminal no longer exists").await;
                return false;
            }
            (p, t) => {
                tracing::warn!(subscription_id = %s.id, payment = ?p.err(), terminal = ?t.err(),
                    "reading a subscription's original payment or terminal failed");
                return false;
            }
        };
    let (Ok(amount), Ok(currency)) = (Amount::from_minor(s.amount_minor), s.currency.parse::<Currency>()) else {
        pause(app, s, now, "the subscription's amount or currency cannot be read").await;
        return false;
    };
    let Some(pan) = app.open_pan(&card.pan_ciphertext).await else {
        tracing::error!(card_id = %card.id, "saved card cannot be decrypted with the vault key");
        return false;
    };
    // Merchant-initiated: no card data typed, no cardholder to challenge (the agreement given
    // with `recurrent: true` stands for it).
    let authorization = app.network.authorize(&AuthRequest {
        pan: &pan,
        expiry: None,
        cvc: None,
        amount,
        currency,
        today: year_month(now),
    });
    let merchant_account = epay_store::merchant_account(&terminal.id, currency.code());
    let outcome = crate::services::payments::decide_charge(&authorization, &terminal, merchant_account);
    let approved = outcome.reason.is_success();
    let payment = Payment {
        id: ids::time_ordered_uuid(now),
        invoice_id: s.period_invoice(s.period_no),
        invoice_id_alt: String::new(),
        kind: PaymentKind::Payment,
        status: outcome.status,
        amount_minor: s.amount_minor,
        charged_minor: if outcome.status == TxStatus::Charge { s.amount_minor } else { 0 },
        refunded_minor: 0,
        fee_minor: 0,
        currency: currency.code().to_string(),
        description: format!("{} (subscription {}, period {})", original.description, s.id, s.period_no)
            .chars()
            .take(125)
            .collect(),
        card_id: Some(card.id.clone()),
        card_mask: pan.masked(),
        card_brand: epay_domain::CardBrand::of(pan.expose()).as_str().to_string(),
        card_account: outcome.card_account,
        issuer: outcome.issuer,
        reference: if approved { ids::reference() } else { String::new() },
        int_reference: ids::int_reference(),
        approval_code: outcome.approval_code,
        reason_code: outcome.reason.code,
        reason: outcome.reason.message.to_string(),
        secure: false,
        created_at: now,
        updated_at: now,
        attempt: 0,
        card_currency: String::new(),
        fx_rate_micros: 0,
        card_amount_minor: 0,
        // The order's customer, links, language, data and secret_hash: the original payment's.
        ..original
    };
    let payment = with_conversion(payment, &authorization);
    let write = PaymentWrite {
        // A one-use key per (period, try): spent in the charge's transaction, like a token.
        token_digest: format!("subscription:{}:{}:{}", s.id, s.period_no, s.tries),
        token_expires_at: now + CHARGE_KEY_TTL_MS,
        token_spend: TokenSpend::Always,
        payment,
        effect: outcome.effect,
        save_card: None,
        three_ds: None,
        idempotency: None,
        subscription: Some(next_states(s, now)),
    };
    match app.store.record_payment(write, &crate::services::callbacks::for_payment).await {
        Ok(recorded) => {
            let p = recorded.payment;
            app.metrics.observe_outcome(&p);
            tracing::info!(
                subscription_id = %s.id, period = s.period_no, try_no = s.tries, payment_id = %p.id,
                invoice_id = %p.invoice_id, status = %p.status, reason_code = p.reason_code, "subscription charged"
            );
            true
        }
        // Another node (or an earlier pass) charged this period's try first: nothing written.
        Err(StoreError::ConcurrentAttempt | StoreError::TokenSpent) => {
            tracing::info!(subscription_id = %s.id, period = s.period_no, "period already charged elsewhere");
            false
        }
        // The period's invoice id is taken. By another node's charge of this period, which has
        // committed (the unique index waited for it) and moved the subscription on; or by a
        // payment the merchant made with that invoice id, which no waiting will free.
        Err(StoreError::DuplicateInvoice) => {
            let unmoved = matches!(app.store.subscription(&s.merchant_id, &s.id).await,
                Ok(Some(now_s)) if now_s.status == SubscriptionStatus::Active
                    && now_s.period_no == s.period_no && now_s.tries == s.tries);
            if unmoved {
                let reason = format!(
                    "invoice {} of period {} is already used by another payment",
                    s.period_invoice(s.period_no),
                    s.period_no
                );
                pause(app, s, now, &reason).await;
            } else {
                tracing::info!(subscription_id = %s.id, period = s.period_no, "period already charged elsewhere");
            }
            false
        }
        // The terminal allows fewer attempts per invoice than the retry schedule has: the period
        // cannot be charged again, so the subscription pauses, as after its last retry.
        Err(StoreError::AttemptsExhausted { attempts }) => {
            let reason = format!("period {} declined {attempts} times (the terminal's attempts)", s.period_no);
            pause(app, s, now, &reason).await;
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, subscription_id = %s.id, period = s.period_no, "charging a period failed");
            false
        }
    }
}

/// The subscription after this charge: approved, the next period; declined, a retry on the
/// schedule, or paused after the last one.
fn next_states(s: &Subscription, now: i64) -> SubscriptionCharge {
    let next_period = s.period_no + 1;
    let if_approved = SubscriptionNext {
        status: SubscriptionStatus::Active,
        status_reason: String::new(),
        period_no: next_period,
        tries: 0,
        next_charge_at: due_at(s.anchor_at, s.frequency, next_period),
    };
    let tries = s.tries + 1;
    let if_declined = match after_decline(tries) {
        Some(wait_secs) => SubscriptionNext {
            status: SubscriptionStatus::Active,
            status_reason: format!("period {} declined {tries} time(s); retried on schedule", s.period_no),
            period_no: s.period_no,
            tries,
            next_charge_at: now + wait_secs * 1000,
        },
        None => SubscriptionNext {
            status: SubscriptionStatus::Paused,
            status_reason: format!("period {} declined {tries} times (the last retry too)", s.period_no),
            period_no: s.period_no,
            tries,
            next_charge_at: s.next_charge_at,
        },
    };
    SubscriptionCharge {
        subscription_id: s.id.clone(),
        period_no: s.period_no,
        tries: s.tries,
        if_approved,
        if_declined,
    }
}

/// Pauses `s` (still `ACTIVE`) with `reason`, which the API and the cabinet show.
async fn pause(app: &App, s: &Subscription, now: i64, reason: &str) {
    let paused = app
        .store
        .move_subscription(&epay_store::SubscriptionMove {
            merchant_id: &s.merchant_id,
            id: &s.id,
            from: SubscriptionStatus::Active,
            to: SubscriptionStatus::Paused,
            reason,
            resume_at: None,
            now_ms: now,
        })
        .await;
    tracing::info!(subscription_id = %s.id, paused = ?paused, "subscription paused: {reason}");
}
