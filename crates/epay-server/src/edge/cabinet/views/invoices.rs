//! Invoice links (`templates/cabinet/invoices.html`).

use askama::Template;
use epay_domain::InvoiceLinkState;

use super::{date, Badge, Chrome, Frame};
use crate::edge::cabinet::i18n::{words, Words};
use crate::services::invoices::InvoiceView;

#[derive(Template)]
#[template(path = "cabinet/invoices.html")]
pub struct InvoicesPage {
    frame: Frame,
    w: &'static Words,
    /// The state filter's choices: (value, label, selected).
    states: Vec<(&'static str, &'static str, bool)>,
    /// The shop (terminal) choices: (id, name).
    shops: Vec<(String, String)>,
    rows: Vec<InvoiceRow>,
    /// The link just created, shown to copy.
    created: Option<String>,
}

struct InvoiceRow {
    id: String,
    invoice_id: String,
    amount: String,
    currency: String,
    description: String,
    state: Badge,
    link: String,
    expires: String,
    cancellable: bool,
}

fn state_label(w: &Words, s: InvoiceLinkState) -> &'static str {
    match s {
        InvoiceLinkState::Active => w.invoice_active,
        InvoiceLinkState::Paid => w.invoice_paid,
        InvoiceLinkState::Expired => w.invoice_expired,
        InvoiceLinkState::Cancelled => w.invoice_cancelled,
    }
}

pub fn invoices(
    c: &Chrome<'_>,
    links: &[InvoiceView],
    terminals: &[epay_store::Terminal],
    state: Option<InvoiceLinkState>,
    created: Option<&String>,
    base: &str,
) -> InvoicesPage {
    let w = words(c.lang);
    let link = |v: &InvoiceView| format!("{base}/invoice-link/{}", v.link_id);
    InvoicesPage {
        frame: Frame::signed(c, w.invoices),
        w,
        states: InvoiceLinkState::ALL.iter().map(|s| (s.as_str(), state_label(w, *s), state == Some(*s))).collect(),
        shops: terminals.iter().map(|t| (t.id.clone(), t.name.clone())).collect(),
        created: created.and_then(|id| links.iter().find(|v| v.id == *id)).map(link),
        rows: links
            .iter()
            .map(|v| InvoiceRow {
                id: v.id.clone(),
                invoice_id: v.invoice_id.clone(),
                amount: v.amount.to_string(),
                currency: v.currency.clone(),
                description: v.description.clone(),
                state: Badge {
                    class: v.state.as_str().to_string(),
                    text: state_label(w, v.state),
                    code: v.state.as_str(),
                },
                link: link(v),
                expires: date(c.lang, v.expires_at),
                cancellable: v.state == InvoiceLinkState::Active,
            })
            .collect(),
    }
}
