//! Terminal settings (`templates/cabinet/terminals.html`), credentials (`credentials.html`) and
//! saved cards (`cards.html`).

use askama::Template;

use super::{money, when, Chrome, Frame, When};
use crate::edge::cabinet::i18n::{words, Words};
use crate::services::cards::CardListEntry;

#[derive(Template)]
#[template(path = "cabinet/terminals.html")]
pub struct TerminalsPage {
    frame: Frame,
    w: &'static Words,
    flash: Option<String>,
    terminals: Vec<TerminalForm>,
}

/// One terminal's settings form, filled with what it has now (amounts in major units).
struct TerminalForm {
    id: String,
    name: String,
    pos_id: String,
    two_step: bool,
    hold_hours: i64,
    three_ds: bool,
    transfers: bool,
    operation_callbacks: bool,
    /// Basis points as a percentage with two decimals: `1.50`.
    fee_percent: String,
    fee_fixed: String,
    fee_min: String,
    daily_limit: String,
    max_attempts: i32,
}

pub fn terminals(c: &Chrome<'_>, terminals: &[epay_store::Terminal], flash: Option<&str>) -> TerminalsPage {
    let w = words(c.lang);
    TerminalsPage {
        frame: Frame::signed(c, w.terminals),
        w,
        flash: flash.map(str::to_string),
        terminals: terminals
            .iter()
            .map(|t| TerminalForm {
                id: t.id.clone(),
                name: t.name.clone(),
                pos_id: t.pos_id.clone(),
                two_step: t.two_step,
                hold_hours: t.hold_period_secs / 3600,
                three_ds: t.three_ds,
                transfers: t.transfers_allowed,
                operation_callbacks: t.operation_callbacks,
                fee_percent: format!("{}.{:02}", t.fee_percent_bp / 100, t.fee_percent_bp % 100),
                fee_fixed: money(t.fee_fixed_minor),
                fee_min: money(t.fee_min_minor),
                daily_limit: money(t.transfer_daily_limit_minor),
                max_attempts: t.max_attempts.get(),
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "cabinet/credentials.html")]
pub struct CredentialsPage {
    frame: Frame,
    w: &'static Words,
    client_id: String,
    webhook_secret: String,
    /// The signing secret's last four characters, shown while it is folded.
    webhook_tail: String,
    /// A secret just issued: (its name, the secret), shown in this response only.
    fresh: Option<(String, String)>,
    /// The two rotate forms: (kind sent as `kind`, button label).
    rotate_client: (&'static str, &'static str),
    rotate_webhook: (&'static str, &'static str),
}

pub fn credentials(
    c: &Chrome<'_>,
    client_id: &str,
    webhook_secret: &str,
    fresh: Option<(&str, &str)>,
) -> CredentialsPage {
    let w = words(c.lang);
    let count = webhook_secret.chars().count();
    CredentialsPage {
        frame: Frame::signed(c, w.credentials),
        w,
        client_id: client_id.to_string(),
        webhook_secret: webhook_secret.to_string(),
        webhook_tail: webhook_secret.chars().skip(count.saturating_sub(4)).collect(),
        fresh: fresh.map(|(label, secret)| (label.to_string(), secret.to_string())),
        rotate_client: ("client", w.rotate_client),
        rotate_webhook: ("webhook", w.rotate_webhook),
    }
}

#[derive(Template)]
#[template(path = "cabinet/cards.html")]
pub struct CardsPage {
    frame: Frame,
    w: &'static Words,
    flash: Option<String>,
    /// The accountId searched for (also sent back with a deactivation, to return to this list).
    account: String,
    cards: Vec<CardRow>,
}

struct CardRow {
    id: String,
    account_id: String,
    mask: String,
    payer_name: String,
    created: String,
    usable: &'static str,
    /// Whether its holder agreed to merchant-initiated repeats (`yes` / `no` in words).
    recurrent: &'static str,
}

/// `cards` is each card with whether it has the recurrent agreement.
pub fn cards(c: &Chrome<'_>, account: &str, cards: &[(CardListEntry, bool)], flash: Option<&str>) -> CardsPage {
    let w = words(c.lang);
    CardsPage {
        frame: Frame::signed(c, w.cards),
        w,
        flash: flash.map(str::to_string),
        account: account.to_string(),
        cards: cards
            .iter()
            .map(|(card, recurrent)| CardRow {
                id: card.id.clone(),
                account_id: card.account_id.clone(),
                mask: card.card_mask.clone(),
                payer_name: card.payer_name.clone(),
                created: card.created_date.clone(),
                usable: if card.payment_available { w.yes } else { w.no },
                recurrent: if *recurrent { w.yes } else { w.no },
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "cabinet/card.html")]
pub struct CardPage {
    frame: Frame,
    w: &'static Words,
    mask: String,
    account_id: String,
    payer_name: String,
    recurrent: &'static str,
    history: Vec<CardEventRow>,
}

/// One entry of a card's history, oldest first: what happened, when (unknown for a
/// deactivation: the store keeps only that the card is no longer active), and its payment.
struct CardEventRow {
    /// `saved`, `recurrent_agreed`, `deactivated`: the row's id suffix and the hint.
    kind: &'static str,
    text: &'static str,
    at: Option<When>,
    payment_id: String,
}

pub fn card(c: &Chrome<'_>, card: &epay_store::SavedCard, events: &[epay_store::CardEvent]) -> CardPage {
    let w = words(c.lang);
    let mut history = vec![CardEventRow {
        kind: "saved",
        text: w.card_saved,
        at: Some(when(c.lang, card.created_at)),
        payment_id: card.transaction_id.clone(),
    }];
    let mut recurrent = false;
    for e in events {
        // Only kinds we know how to say; a later kind is left out rather than shown raw.
        if e.kind == epay_store::RECURRENT_AGREED {
            recurrent = true;
            history.push(CardEventRow {
                kind: epay_store::RECURRENT_AGREED,
                text: w.card_recurrent_agreed,
                at: Some(when(c.lang, e.created_at)),
                payment_id: e.payment_id.clone(),
            });
        }
    }
    if !card.active {
        history.push(CardEventRow {
            kind: "deactivated",
            text: w.card_deactivated,
            at: None,
            payment_id: String::new(),
        });
    }
    CardPage {
        frame: Frame::signed(c, &format!("{} {}", w.card, card.card_mask)),
        w,
        mask: card.card_mask.clone(),
        account_id: card.account_id.clone(),
        payer_name: card.payer_name.clone(),
        recurrent: if recurrent { w.yes } else { w.no },
        history,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_escaped, chrome, ESCAPED, XSS};
    use super::*;
    use crate::edge::cabinet::i18n::Lang;

    #[test]
    fn saved_cards_show_the_payer_name_as_text() {
        let card = CardListEntry {
            id: "c1".into(),
            account_id: XSS.into(),
            card_mask: "4405...5096".into(),
            payer_name: XSS.into(),
            payment_available: true,
            transaction_id: String::new(),
            merchant_id: String::new(),
            card_hash: String::new(),
            reference: String::new(),
            int_reference: String::new(),
            token: String::new(),
            terminal: String::new(),
            created_date: "2026-11-22".into(),
        };
        let html = cards(&chrome(Lang::En), XSS, &[(card, true)], None).render().unwrap();
        assert_escaped(&html);
        assert!(
            html.contains(&format!(r#"<tr data-card="c1"><td>{ESCAPED}</td><td>4405...5096</td><td>{ESCAPED}</td>"#)),
            "{html}"
        );
        assert!(html.contains(&format!(r#"<input type="hidden" name="account" value="{ESCAPED}">"#)));
    }

    #[test]
    fn terminal_forms_are_filled_and_names_are_text() {
        let t = epay_store::Terminal {
            id: "t1".into(),
            name: XSS.into(),
            two_step: true,
            three_ds: true,
            hold_period_secs: 72 * 3600,
            fee_percent_bp: 150,
            max_attempts: epay_domain::MaxAttempts::parse(3).unwrap(),
            ..Default::default()
        };
        let html = terminals(&chrome(Lang::En), &[t], Some(XSS)).render().unwrap();
        assert_escaped(&html);
        assert!(html.contains(r#"<option value="two" selected>"#) && html.contains(r#"<option value="one">"#));
        assert!(html.contains(r#"id="three-ds-t1" name="three_ds" type="checkbox" value="on" checked>"#), "{html}");
        assert!(html.contains(r#"id="transfers-t1" name="transfers" type="checkbox" value="on">"#));
        assert!(html.contains(r#"id="hold-t1" name="hold_hours" inputmode="numeric" value="72""#));
        assert!(html.contains(r#"value="1.50""#));
        assert!(html.contains(r#"id="attempts-t1" name="max_attempts" inputmode="numeric" value="3""#));
    }

    #[test]
    fn a_new_secret_is_shown_once_with_the_rotate_forms() {
        let html = credentials(&chrome(Lang::En), "client-1", "whsec_abcdWXYZ", Some(("Client secret", XSS)))
            .render()
            .unwrap();
        assert_escaped(&html);
        assert!(html.contains("whsec_…WXYZ"));
        assert!(html.contains(r#"<input type="hidden" name="kind" value="webhook"><button id="rotate-webhook""#));
        assert!(html.contains(r#"<code id="client-id">client-1</code>"#));
    }
}
