//! Subscriptions (`templates/cabinet/subscriptions.html`) and one subscription with its charges
//! (`subscription.html`).

use askama::Template;
use epay_domain::SubscriptionStatus;
use epay_store::{Subscription, SubscriptionPeriod};

use super::{amount, when, Badge, Chrome, Frame, When};
use crate::edge::cabinet::i18n::{words, Words};

fn badge(w: &Words, s: SubscriptionStatus) -> Badge {
    Badge { class: s.as_str().to_lowercase(), text: w.subscription_status(s), code: s.as_str() }
}

/// What one row of the list and the head of the detail page show.
struct SubscriptionRow {
    id: String,
    account_id: String,
    invoice_id: String,
    /// Written as the page's language writes amounts, with its currency.
    amount: String,
    frequency: &'static str,
    frequency_code: &'static str,
    status: Badge,
    /// `None` when it will not be charged (paused, cancelled, stopped).
    next_charge: Option<When>,
}

fn row(w: &Words, c: &Chrome<'_>, s: &Subscription) -> SubscriptionRow {
    SubscriptionRow {
        id: s.id.clone(),
        account_id: s.account_id.clone(),
        invoice_id: s.invoice_id.clone(),
        amount: format!("{} {}", amount(c.lang, s.amount_minor), s.currency),
        frequency: w.frequency(s.frequency),
        frequency_code: s.frequency.as_str(),
        status: badge(w, s.status),
        next_charge: (s.status == SubscriptionStatus::Active).then(|| when(c.lang, s.next_charge_at)),
    }
}

#[derive(Template)]
#[template(path = "cabinet/subscriptions.html")]
pub struct SubscriptionsPage {
    frame: Frame,
    w: &'static Words,
    /// The status filter's choices: (value, label, selected).
    statuses: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<SubscriptionRow>,
}

pub fn subscriptions(c: &Chrome<'_>, list: &[Subscription], status: Option<SubscriptionStatus>) -> SubscriptionsPage {
    let w = words(c.lang);
    SubscriptionsPage {
        frame: Frame::signed(c, w.subscriptions),
        w,
        statuses: SubscriptionStatus::ALL
            .iter()
            .map(|s| (s.as_str(), w.subscription_status(*s), status == Some(*s)))
            .collect(),
        rows: list.iter().filter(|s| status.is_none_or(|f| s.status == f)).map(|s| row(w, c, s)).collect(),
    }
}

#[derive(Template)]
#[template(path = "cabinet/subscription.html")]
pub struct SubscriptionPage {
    frame: Frame,
    w: &'static Words,
    flash: Option<String>,
    sub: SubscriptionRow,
    transaction_id: String,
    card_id: String,
    /// The saved cards of its customer.
    card_href: String,
    reason: String,
    last_payment: When,
    created: When,
    periods: Vec<PeriodRow>,
    /// The actions its status allows (the service checks again): (action, label, danger).
    actions: Vec<(&'static str, &'static str, bool)>,
}

struct PeriodRow {
    period: i64,
    attempt: i64,
    payment_id: String,
    approved: bool,
    at: When,
}

pub fn subscription(
    c: &Chrome<'_>,
    s: &Subscription,
    periods: &[SubscriptionPeriod],
    flash: Option<&str>,
) -> SubscriptionPage {
    let w = words(c.lang);
    let mut actions = Vec::new();
    match s.status {
        SubscriptionStatus::Active => actions.push(("pause", w.sub_pause, false)),
        SubscriptionStatus::Paused => actions.push(("resume", w.sub_resume, false)),
        SubscriptionStatus::Cancelled | SubscriptionStatus::Stopped => {}
    }
    if !s.status.is_final() {
        actions.push(("cancel", w.sub_cancel, true));
    }
    SubscriptionPage {
        frame: Frame::signed(c, &format!("{} {}", w.subscription, s.invoice_id)),
        w,
        flash: flash.map(str::to_string),
        sub: row(w, c, s),
        transaction_id: s.transaction_id.clone(),
        card_id: s.card_id.clone(),
        card_href: format!(
            "/cabinet/cards?account={}",
            url::form_urlencoded::byte_serialize(s.account_id.as_bytes()).collect::<String>()
        ),
        reason: s.status_reason.clone(),
        last_payment: when(c.lang, s.last_payment_at),
        created: when(c.lang, s.created_at),
        periods: periods
            .iter()
            .map(|p| PeriodRow {
                period: p.period_no,
                attempt: p.try_no,
                payment_id: p.payment_id.clone(),
                approved: p.approved,
                at: when(c.lang, p.created_at),
            })
            .collect(),
        actions,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_escaped, chrome};
    use super::*;
    use crate::edge::cabinet::i18n::Lang;
    use epay_domain::Frequency;

    fn sample(status: SubscriptionStatus) -> Subscription {
        Subscription {
            id: "s1".into(),
            merchant_id: "m1".into(),
            terminal_id: "t1".into(),
            transaction_id: "p1".into(),
            card_id: "c1".into(),
            account_id: super::super::tests::XSS.into(),
            invoice_id: "000123".into(),
            invoice_prefix: "000123".into(),
            amount_minor: 150_050,
            currency: "KZT".into(),
            frequency: Frequency::Monthly,
            status,
            status_reason: super::super::tests::XSS.into(),
            period_no: 1,
            tries: 0,
            next_charge_at: 1_668_462_737_289,
            anchor_at: 0,
            last_payment_at: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_list_writes_amounts_frequency_and_status_in_words() {
        let subs = [sample(SubscriptionStatus::Active), sample(SubscriptionStatus::Paused)];
        let html = subscriptions(&chrome(Lang::Ru), &subs, Some(SubscriptionStatus::Active)).render().unwrap();
        assert_escaped(&html);
        assert!(html.contains("1\u{a0}500,50 KZT"), "{html}");
        assert!(html.contains(r#"<span title="MONTHLY">Ежемесячно</span>"#), "{html}");
        assert!(html.contains(r#"<span class="status s-active" title="ACTIVE">Активна</span>"#), "{html}");
        assert_eq!(html.matches(r#"<tr id="sub-s1""#).count(), 1, "the filter keeps the active one only");
        assert!(html.contains(r#"<option value="ACTIVE" selected>"#));
    }

    #[test]
    fn the_detail_offers_what_its_status_allows() {
        let html = subscription(&chrome(Lang::En), &sample(SubscriptionStatus::Paused), &[], None).render().unwrap();
        assert_escaped(&html);
        assert!(html.contains(r#"id="resume""#) && !html.contains(r#"id="pause""#), "{html}");
        assert!(html.contains(r#"<button id="cancel" class="danger" type="submit">"#), "{html}");
        let html = subscription(&chrome(Lang::En), &sample(SubscriptionStatus::Cancelled), &[], None).render().unwrap();
        assert!(!html.contains(r#"id="resume""#) && !html.contains(r#"id="cancel""#));
    }
}
