//! Subscriptions as the merchant manages them: `POST /recurrent/subscribe` (facts §10.4), and
//! list, read, pause, resume and cancel (API and cabinet). The scheduler that charges them is
//! `services::recurrent`.
//!
//! Who may subscribe: a merchant's service token (DESIGN §5a: a payment token reaches the
//! shopper, who must not start charges on their own card at will). The transaction must be the
//! token's merchant's (another merchant's is "not found"), an approved card payment, paid with
//! or saving a card whose holder agreed to recurrent payments (`recurrent: true`), still active.

use epay_domain::{Amount, Frequency, PaymentKind, SubscriptionStatus, TxStatus};
use epay_store::{StoreError, Subscription};
use serde::Serialize;
use time::OffsetDateTime;

use crate::app::App;
use crate::platform::clock::KZ_OFFSET;
use crate::services::auth::{require_service_token, Caller};
use crate::services::payments::PaymentError;

/// The most subscriptions one list answers with.
pub const LIST_LIMIT: i64 = 500;

/// `POST /recurrent/subscribe`'s body, as the client wrote it.
#[derive(Debug, Clone, Default)]
pub struct Subscribe {
    pub transaction_id: String,
    pub payment_frequency: String,
}

/// What the merchant may do to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Pause,
    Resume,
    Cancel,
}

/// A subscription in the shape of facts §10.4 (`createdDate`, `paymentFrequency`,
/// `lastPaymentDate`, `clientId`, `invoiceId`, `amount`, `currency`, `reference`, dates as
/// `yyyy-MM-dd'T'HH:mm:ss.SSSSSSSZ`), plus what managing it needs (`id`, `status`, ...;
/// docs/compatibility.md).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionAnswer {
    pub id: String,
    pub created_date: String,
    #[schema(value_type = String, example = "MONTHLY")]
    pub payment_frequency: Frequency,
    pub last_payment_date: String,
    /// The merchant's OAuth `client_id`.
    pub client_id: String,
    /// The original payment's invoice.
    pub invoice_id: String,
    #[schema(value_type = f64, example = 100)]
    pub amount: Amount,
    pub currency: String,
    /// The original payment's RRN.
    pub reference: String,
    /// `ACTIVE`, `PAUSED`, `CANCELLED` or `STOPPED`.
    #[schema(value_type = String, example = "ACTIVE")]
    pub status: SubscriptionStatus,
    pub status_reason: String,
    /// When the scheduler charges next (also set while paused: what it was).
    pub next_payment_date: String,
    /// The next period to charge (1 = the first repeat).
    pub next_period: i64,
    pub transaction_id: String,
    pub card_id: String,
    pub account_id: String,
    pub terminal_id: String,
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSSSSSSZ` in Kazakhstan time: `2026-11-30T17:05:01.1230000+0500`.
pub fn subscription_datetime(ms: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(KZ_OFFSET);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7][offset_hour sign:mandatory][offset_minute]"
    );
    dt.format(&format).unwrap_or_default()
}

/// When period `n` of a subscription anchored at `anchor_ms` is due: `n` weeks, or `n` calendar
/// months (3n for quarterly) later in Kazakhstan time, on the same day of the month or the
/// month's last day when it is shorter (a subscription of 31 January is due 28 February).
pub fn due_at(anchor_ms: i64, frequency: Frequency, n: i64) -> i64 {
    let (days, months) = frequency.step();
    if months == 0 {
        return anchor_ms + n * days * 86_400_000;
    }
    let anchor = OffsetDateTime::from_unix_timestamp_nanos(anchor_ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(KZ_OFFSET);
    let total = anchor.year() as i64 * 12 + (anchor.month() as i64 - 1) + n * months as i64;
    let (year, month0) = (total.div_euclid(12) as i32, total.rem_euclid(12) as u8);
    let Ok(month) = time::Month::try_from(month0 + 1) else { return i64::MAX };
    let day = anchor.day().min(month.length(year));
    match time::Date::from_calendar_date(year, month, day) {
        Ok(date) => (anchor.replace_date(date).unix_timestamp_nanos() / 1_000_000) as i64,
        Err(_) => i64::MAX,
    }
}

/// The first period of a subscription anchored at `anchor_ms` that is due after `now_ms`
/// (bounded: 10 000 periods are 190 years of weeks).
pub fn first_period_after(anchor_ms: i64, frequency: Frequency, now_ms: i64) -> i64 {
    (1..10_000).find(|&n| due_at(anchor_ms, frequency, n) > now_ms).unwrap_or(10_000)
}

fn bad(message: impl Into<String>) -> PaymentError {
    PaymentError::BadRequest(message.into())
}

fn internal(e: StoreError) -> PaymentError {
    tracing::error!(error = %e, "subscription storage failed");
    PaymentError::Internal
}

fn merchant_of(caller: &Caller) -> Result<&str, PaymentError> {
    if let Caller::Token(token) = caller {
        require_service_token(token).map_err(PaymentError::Forbidden)?;
    }
    Ok(caller.merchant_id())
}

/// The one terminal a token names, if it names one: such a token sees and changes only that
/// terminal's subscriptions (as it does that terminal's invoices and operations); a token
/// without a terminal, and the cabinet, act for the whole merchant.
fn terminal_of(caller: &Caller) -> Option<&str> {
    match caller {
        Caller::Token(token) => token.terminal_id.as_deref(),
        Caller::Cabinet { .. } => None,
    }
}

fn within_reach(caller: &Caller, terminal_id: &str) -> bool {
    terminal_of(caller).is_none_or(|t| t == terminal_id)
}

/// `POST /recurrent/subscribe`.
pub async fn subscribe(app: &App, caller: &Caller, command: Subscribe) -> Result<SubscriptionAnswer, PaymentError> {
    let merchant_id = merchant_of(caller)?;
    let transaction_id = command.transaction_id.trim();
    if transaction_id.is_empty() {
        return Err(bad("field transactionId is required"));
    }
    let frequency_text = command.payment_frequency.trim();
    if frequency_text.is_empty() {
        return Err(bad("field paymentFrequency is required: WEEKLY, MONTHLY or QUARTERLY"));
    }
    let frequency: Frequency = frequency_text.to_ascii_uppercase().parse().map_err(|_| {
        bad(format!(
            "paymentFrequency {:?} is not one of WEEKLY, MONTHLY, QUARTERLY",
            crate::wire::echoed(frequency_text)
        ))
    })?;
    let not_found = || bad(format!("transaction {} not found", crate::wire::echoed(transaction_id)));
    let payment = app.store.payment(merchant_id, transaction_id).await.map_err(internal)?.ok_or_else(not_found)?;
    if !within_reach(caller, &payment.terminal_id) {
        return Err(not_found());
    }
    let approved = matches!(payment.status, TxStatus::Auth | TxStatus::Charge);
    if payment.kind != PaymentKind::Payment || !approved || payment.amount_minor <= 0 {
        return Err(bad(format!(
            "transaction {transaction_id} is not an approved card payment (status {}); only one can be repeated",
            payment.status
        )));
    }
    let no_agreement = || {
        bad(format!(
            "transaction {transaction_id} was not paid with a saved card that has a recurrent agreement: save the card \
             in a payment with cardSave: true and recurrent: true"
        ))
    };
    let card_id = payment.card_id.clone().ok_or_else(no_agreement)?;
    let card = app.store.saved_card(merchant_id, &card_id).await.map_err(internal)?.ok_or_else(no_agreement)?;
    if !app.store.recurrent_agreed(merchant_id, &card.id).await.map_err(internal)? {
        return Err(no_agreement());
    }
    if !card.active || !card.payable {
        return Err(bad(format!("card {} of transaction {transaction_id} is deactivated", card.id)));
    }
    let now = app.clock.now_ms();
    let anchor = payment.created_at;
    let period_no = first_period_after(anchor, frequency, now);
    let subscription = Subscription {
        id: epay_domain::ids::uuid(),
        merchant_id: merchant_id.to_string(),
        terminal_id: payment.terminal_id.clone(),
        transaction_id: payment.id.clone(),
        card_id: card.id.clone(),
        account_id: payment.account_id.clone(),
        invoice_id: payment.invoice_id.clone(),
        invoice_prefix: epay_domain::ids::subscription_invoice_prefix(),
        amount_minor: payment.amount_minor,
        currency: payment.currency.clone(),
        frequency,
        status: SubscriptionStatus::Active,
        status_reason: String::new(),
        period_no,
        tries: 0,
        next_charge_at: due_at(anchor, frequency, period_no),
        anchor_at: anchor,
        last_payment_at: payment.created_at,
        created_at: now,
        updated_at: now,
    };
    match app.store.create_subscription(&subscription).await {
        Ok(()) => {}
        Err(StoreError::DuplicateInvoice) => {
            return Err(bad(format!("transaction {transaction_id} already has a subscription")));
        }
        Err(e) => return Err(internal(e)),
    }
    tracing::info!(subscription_id = %subscription.id, transaction_id, %frequency, "subscription created");
    answer(app, subscription).await
}

/// The caller's merchant's subscriptions, newest first (one customer's when `account_id` is
/// given), at most [`LIST_LIMIT`].
pub async fn list(app: &App, caller: &Caller, account_id: &str) -> Result<Vec<SubscriptionAnswer>, PaymentError> {
    let merchant_id = merchant_of(caller)?;
    let found = app.store.subscriptions(merchant_id, account_id.trim(), LIST_LIMIT).await.map_err(internal)?;
    let mut out = Vec::with_capacity(found.len());
    for s in found.into_iter().filter(|s| within_reach(caller, &s.terminal_id)) {
        out.push(answer(app, s).await?);
    }
    Ok(out)
}

/// One of the caller's merchant's subscriptions; another merchant's is "not found".
pub async fn read(app: &App, caller: &Caller, id: &str) -> Result<Subscription, PaymentError> {
    let merchant_id = merchant_of(caller)?;
    app.store
        .subscription(merchant_id, id.trim())
        .await
        .map_err(internal)?
        .filter(|s| within_reach(caller, &s.terminal_id))
        .ok_or_else(|| bad(format!("subscription {} not found", crate::wire::echoed(id))))
}

/// Pauses, resumes or cancels a subscription. Resuming never charges back the periods due while
/// it was paused: the next charge is the first period due after now (docs/api.md).
pub async fn change(app: &App, caller: &Caller, id: &str, change: Change) -> Result<Subscription, PaymentError> {
    let current = read(app, caller, id).await?;
    let merchant_id = caller.merchant_id();
    let now = app.clock.now_ms();
    use SubscriptionStatus::*;
    let moves: &[(SubscriptionStatus, SubscriptionStatus, &str)] = match change {
        Change::Pause => &[(Active, Paused, "paused by the merchant")],
        Change::Resume => &[(Paused, Active, "")],
        Change::Cancel => {
            &[(Active, Cancelled, "cancelled by the merchant"), (Paused, Cancelled, "cancelled by the merchant")]
        }
    };
    let Some(&(from, to, reason)) = moves.iter().find(|(from, _, _)| *from == current.status) else {
        return Err(bad(format!(
            "subscription {} is {}: it cannot be {}",
            current.id,
            current.status,
            match change {
                Change::Pause => "paused (only an ACTIVE one can)",
                Change::Resume => "resumed (only a PAUSED one can)",
                Change::Cancel => "cancelled (only an ACTIVE or PAUSED one can)",
            }
        )));
    };
    let resume_at = (change == Change::Resume).then(|| {
        let n = first_period_after(current.anchor_at, current.frequency, now).max(current.period_no);
        (n, due_at(current.anchor_at, current.frequency, n))
    });
    let moved = app
        .store
        .move_subscription(&epay_store::SubscriptionMove {
            merchant_id,
            id: &current.id,
            from,
            to,
            reason,
            resume_at,
            now_ms: now,
        })
        .await
        .map_err(internal)?;
    if !moved {
        return Err(PaymentError::Conflict(format!("subscription {} changed meanwhile; read it again", current.id)));
    }
    tracing::info!(subscription_id = %current.id, from = %from, to = %to, "subscription changed");
    read(app, caller, &current.id).await
}

/// A subscription in its API shape.
pub async fn answer(app: &App, s: Subscription) -> Result<SubscriptionAnswer, PaymentError> {
    let client_id =
        app.store.merchant(&s.merchant_id).await.map_err(internal)?.map(|m| m.client_id).unwrap_or_default();
    let reference = match app.store.payment(&s.merchant_id, &s.transaction_id).await.map_err(internal)? {
        Some(p) => p.reference,
        None => String::new(),
    };
    Ok(SubscriptionAnswer {
        created_date: subscription_datetime(s.created_at),
        payment_frequency: s.frequency,
        last_payment_date: subscription_datetime(s.last_payment_at),
        client_id,
        invoice_id: s.invoice_id,
        amount: Amount::from_minor(s.amount_minor).unwrap_or_default(),
        currency: s.currency,
        reference,
        status: s.status,
        status_reason: s.status_reason,
        next_payment_date: subscription_datetime(s.next_charge_at),
        next_period: s.period_no,
        transaction_id: s.transaction_id,
        card_id: s.card_id,
        account_id: s.account_id,
        terminal_id: s.terminal_id,
        id: s.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-31T10:00:00+05:00
    const JAN_31: i64 = 1_769_835_600_000;

    #[test]
    fn a_monthly_subscription_keeps_its_day_or_the_months_last() {
        assert_eq!(subscription_datetime(due_at(JAN_31, Frequency::Monthly, 1)), "2026-02-28T10:00:00.0000000+0500");
        assert_eq!(subscription_datetime(due_at(JAN_31, Frequency::Monthly, 2)), "2026-03-31T10:00:00.0000000+0500");
        assert_eq!(subscription_datetime(due_at(JAN_31, Frequency::Quarterly, 4)), "2027-01-31T10:00:00.0000000+0500");
        assert_eq!(due_at(JAN_31, Frequency::Weekly, 2), JAN_31 + 14 * 86_400_000);
    }

    #[test]
    fn the_first_period_is_after_now() {
        assert_eq!(first_period_after(JAN_31, Frequency::Weekly, JAN_31), 1);
        assert_eq!(first_period_after(JAN_31, Frequency::Weekly, JAN_31 + 7 * 86_400_000), 2);
    }
}
