//! The model of recurrent payments: a saved card's agreement, subscriptions, and the charge of
//! one period that a payment carries into its transaction.

use epay_domain::{Frequency, SubscriptionStatus};

/// A subscription: the original payment's card and order, charged again every period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Subscription {
    pub id: String,
    pub merchant_id: String,
    pub terminal_id: String,
    /// The original payment (`transactionId` of `/recurrent/subscribe`).
    pub transaction_id: String,
    pub card_id: String,
    pub account_id: String,
    /// The original payment's invoice.
    pub invoice_id: String,
    /// Each period's invoice is this followed by the period number in 3 digits.
    pub invoice_prefix: String,
    pub amount_minor: i64,
    pub currency: String,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub frequency: Frequency,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub status: SubscriptionStatus,
    /// Why it is paused or ended (`paused by the merchant`, `declined 4 times: 484 …`).
    pub status_reason: String,
    /// The next period to charge (1 = the first repeat after the original payment).
    pub period_no: i64,
    /// How many charges of `period_no` were declined.
    pub tries: i64,
    /// When the scheduler charges next.
    pub next_charge_at: i64,
    /// Period n is due `n` periods after this (the original payment's time).
    pub anchor_at: i64,
    /// The last approved charge (the original payment at first).
    pub last_payment_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Subscription {
    /// The invoice id of period `n`: digits, 6..15 long.
    pub fn period_invoice(&self, n: i64) -> String {
        format!("{}{:03}", self.invoice_prefix, n)
    }
}

/// A subscription's state after one charge of a period: what the scheduler computed for an
/// approval and for a decline. The store applies the one the payment's outcome (decided in its
/// transaction, where the card's balance is checked) calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionNext {
    pub status: SubscriptionStatus,
    pub status_reason: String,
    pub period_no: i64,
    pub tries: i64,
    pub next_charge_at: i64,
}

/// The charge of one period of a subscription, written in its payment's transaction: the
/// `(subscription, period, try)` row (unique; and a period is approved at most once) and the
/// subscription's move from the state the scheduler read (compare-and-set, so a node that read
/// it stale writes nothing).
#[derive(Debug, Clone)]
pub struct SubscriptionCharge {
    pub subscription_id: String,
    /// The period and try the scheduler read as due.
    pub period_no: i64,
    pub tries: i64,
    pub if_approved: SubscriptionNext,
    pub if_declined: SubscriptionNext,
}

/// A subscription's move from one status to another (compare-and-set on `from`).
#[derive(Debug, Clone)]
pub struct SubscriptionMove<'a> {
    pub merchant_id: &'a str,
    pub id: &'a str,
    pub from: SubscriptionStatus,
    pub to: SubscriptionStatus,
    pub reason: &'a str,
    /// When it resumes: its next period and when that is charged (its tries start again).
    pub resume_at: Option<(i64, i64)>,
    pub now_ms: i64,
}

/// One entry of a saved card's history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CardEvent {
    pub id: String,
    pub card_id: String,
    /// `recurrent_agreed`.
    pub kind: String,
    pub payment_id: String,
    pub created_at: i64,
}

/// The kind of card event that records a recurrent agreement.
pub const RECURRENT_AGREED: &str = "recurrent_agreed";

/// One charge the scheduler made.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriptionPeriod {
    pub period_no: i64,
    pub try_no: i64,
    pub payment_id: String,
    pub approved: bool,
    pub created_at: i64,
}
