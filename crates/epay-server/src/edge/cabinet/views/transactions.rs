//! The transaction list (`templates/cabinet/transactions.html`) and a transaction's detail page
//! (`templates/cabinet/detail.html`).

use askama::Template;
use epay_domain::{Operation, TxStatus};

use super::{amount, badge, when, Badge, Chrome, Frame, When};
use crate::edge::cabinet::filter::{ListQuery, PAGE_SIZE};
use crate::edge::cabinet::i18n::{words, Lang, Words};

/// What the list handler read.
pub struct ListView<'a> {
    pub query: &'a ListQuery,
    pub payments: &'a [epay_store::Payment],
    pub total: i64,
    /// (id, label) of the merchant's terminals.
    pub terminals: &'a [(String, String)],
}

#[derive(Template)]
#[template(path = "cabinet/transactions.html")]
pub struct ListPage {
    frame: Frame,
    w: &'static Words,
    /// The filter form's text fields, in the form's order around the two selects.
    dates: Vec<FilterInput>,
    statuses: Vec<Choice>,
    terminals: Vec<Choice>,
    texts: Vec<FilterInput>,
    /// The filters as a query string, for the export and page links.
    query_string: String,
    total: i64,
    rows: Vec<ListRow>,
    page: i64,
    pages: i64,
    previous: Option<String>,
    next: Option<String>,
}

/// One text-like field of the filter form (`f-<name>`), filled with what was typed.
struct FilterInput {
    name: &'static str,
    label: &'static str,
    /// The input's `type`: `date`, `text`, `search`.
    kind: &'static str,
    value: String,
}

/// An `<option>` of a select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices(selected: &str, items: impl IntoIterator<Item = (String, String)>) -> Vec<Choice> {
    items.into_iter().map(|(value, label)| Choice { selected: value == selected, value, label }).collect()
}

struct ListRow {
    id: String,
    created: When,
    invoice: String,
    status: Badge,
    amount: String,
    currency: String,
    card: String,
    terminal: String,
    description: String,
}

pub fn transactions(c: &Chrome<'_>, v: &ListView<'_>) -> ListPage {
    let w = words(c.lang);
    let q = v.query;
    let input = |name: &'static str, label: &'static str, kind: &'static str| FilterInput {
        name,
        label,
        kind,
        value: q.raw(name).to_string(),
    };
    let terminal_label =
        |id: &str| v.terminals.iter().find(|(t, _)| t == id).map(|(_, l)| l.clone()).unwrap_or_default();
    let rows = v
        .payments
        .iter()
        .map(|p| ListRow {
            id: p.id.clone(),
            created: when(c.lang, p.created_at),
            invoice: p.invoice_id.clone(),
            status: badge(w, p.status),
            amount: amount(c.lang, p.amount_minor),
            currency: p.currency.clone(),
            // A transfer has no paying card of a shopper: its receiving card is what identifies it.
            card: if p.card_mask.is_empty() { p.receiver_card_mask.clone() } else { p.card_mask.clone() },
            terminal: terminal_label(&p.terminal_id),
            description: p.description.clone(),
        })
        .collect();
    let pages = ((v.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let query_string = q.query_string();
    let link = |page: i64| {
        let sep = if query_string.is_empty() { "" } else { "&" };
        format!("/cabinet/transactions?{query_string}{sep}page={page}")
    };
    ListPage {
        frame: Frame::signed(c, w.transactions),
        w,
        dates: vec![input("from", w.date_from, "date"), input("to", w.date_to, "date")],
        statuses: choices(
            q.raw("status"),
            TxStatus::ALL.iter().map(|s| (s.to_string(), format!("{} ({s})", w.status(*s)))),
        ),
        terminals: choices(q.raw("terminal"), v.terminals.iter().cloned()),
        texts: vec![
            input("invoice", w.invoice_id, "text"),
            input("card", w.card_mask, "text"),
            input("min", w.amount_min, "text"),
            input("max", w.amount_max, "text"),
            input("q", w.search, "search"),
        ],
        total: v.total,
        rows,
        page: q.page,
        pages,
        previous: (q.page > 1).then(|| link(q.page - 1)),
        next: (q.page < pages).then(|| link(q.page + 1)),
        query_string,
    }
}

/// What the detail handler read.
pub struct DetailView<'a> {
    pub payment: &'a epay_store::Payment,
    pub terminal: &'a str,
    pub events: &'a [epay_store::PaymentEvent],
    pub transfers: &'a [epay_store::LedgerTransfer],
    /// (refund id, externalID, amount).
    pub refunds: &'a [(String, Option<String>, i64)],
    pub three_ds: Option<&'a epay_store::ThreeDsSession>,
    pub callbacks: &'a [crate::services::callback_log::CallbackView],
    /// Every attempt at the payment's invoice, this one included, first attempt first.
    pub attempts: &'a [epay_store::Payment],
    /// What just happened (after a confirmed action).
    pub flash: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "cabinet/detail.html")]
pub struct DetailPage {
    frame: Frame,
    w: &'static Words,
    payment_id: String,
    invoice: String,
    flash: Option<String>,
    facts: Vec<Fact>,
    /// The operations the payment's state allows now; none: no actions panel.
    actions: Vec<ActionForm>,
    /// `30 KZT`: what a refund could still return.
    left_to_refund: String,
    /// Shown when the invoice had more than this one attempt.
    attempts: Vec<AttemptRow>,
    history: Vec<HistoryRow>,
    ledger: Vec<LedgerRow>,
    refunds: Vec<RefundRow>,
    three_ds: String,
    callbacks: Vec<CallbackBlock>,
}

/// A line of the facts list: `<dt>label</dt><dd id="id">value</dd>`.
struct Fact {
    label: &'static str,
    value: String,
    id: &'static str,
    /// A secondary hint for support: the code behind the words (`AUTH`, `payment`), or the ISO
    /// time of a date (then in `<time datetime>`).
    code: Option<String>,
    iso: Option<String>,
}

/// A form for one operation: posts to `/cabinet/transactions/<id>/<action>`.
struct ActionForm {
    /// `charge`, `cancel`, `refund`: the path segment and the ids `<action>-amount`, `<action>-submit`.
    action: &'static str,
    label: &'static str,
    /// Charge and refund take an amount (empty: the whole amount); this is its placeholder.
    amount_hint: Option<&'static str>,
    /// Cancel and refund cannot be undone: their buttons look destructive (`danger`).
    danger: bool,
}

struct AttemptRow {
    id: String,
    number: i32,
    current: bool,
    created: When,
    status: Badge,
    card: String,
    reason: String,
}

struct HistoryRow {
    created: When,
    operation: &'static str,
    operation_code: &'static str,
    status: Badge,
    amount: String,
    reason_code: String,
}

struct LedgerRow {
    created: When,
    id: String,
    kind: &'static str,
    kind_code: &'static str,
    debit: String,
    amount: String,
    credit: String,
}

struct RefundRow {
    id: String,
    amount: String,
    external_id: String,
}

/// One callback with its delivery attempts and the re-send form.
struct CallbackBlock {
    id: String,
    kind: String,
    url: String,
    status: &'static str,
    status_code: &'static str,
    attempts: i32,
    next_attempt: Option<String>,
    log: Vec<CallbackAttempt>,
}

struct CallbackAttempt {
    attempt: i32,
    started_at: String,
    /// The receiver's HTTP status, `—` when there was no answer.
    http_status: String,
    latency_ms: i64,
    error: String,
    response: String,
}

/// `1000 (466)`-style reason text; empty for reason code 0 (no reason).
fn reason(text: &str, code: i32) -> String {
    if code == 0 {
        String::new()
    } else {
        format!("{text} ({code})")
    }
}

fn facts(lang: Lang, w: &Words, p: &epay_store::Payment, terminal: &str) -> Vec<Fact> {
    let fact = |label, value: String, id| Fact { label, value, id, code: None, iso: None };
    let money = |minor| amount(lang, minor);
    let created = when(lang, p.created_at);
    let mut facts = vec![
        fact("id", p.id.clone(), "d-id"),
        fact("invoiceId", p.invoice_id.clone(), "d-invoice"),
        fact(w.attempt, p.attempt.to_string(), "d-attempt"),
        Fact { code: Some(p.status.to_string()), ..fact(w.status, w.status(p.status).to_string(), "status") },
        Fact { code: Some(p.kind.to_string()), ..fact(w.kind, w.payment_kind(p.kind).to_string(), "d-kind") },
        fact(w.amount, format!("{} {}", money(p.amount_minor), p.currency), "d-amount"),
        fact(w.charged, money(p.charged_minor), "d-charged"),
        fact(w.refunded, money(p.refunded_minor), "d-refunded"),
        fact(w.card, format!("{} {}", p.card_mask, p.card_brand).trim().to_string(), "d-card"),
        fact(w.terminal, terminal.to_string(), "d-terminal"),
        Fact { iso: Some(created.iso), ..fact(w.created, created.text, "d-created") },
        fact("accountId", p.account_id.clone(), "d-account"),
        fact(w.description, p.description.clone(), "d-description"),
        fact(w.reason, reason(&p.reason, p.reason_code), "d-reason"),
        fact("reference / approvalCode", format!("{} / {}", p.reference, p.approval_code), "d-reference"),
    ];
    // Transfers: the receiving side and the fee the sender paid on top.
    if !p.receiver_card_mask.is_empty() {
        let receiver = format!("{} {}", p.receiver_card_mask, p.receiver_card_brand).trim().to_string();
        facts.insert(8, fact(w.receiver_card, receiver, "d-receiver"));
    }
    if p.fee_minor > 0 {
        facts.insert(6, fact(w.fee, format!("{} {}", money(p.fee_minor), p.currency), "d-fee"));
    }
    facts
}

/// The actions the payment state machine allows now (the store checks them again).
fn actions(w: &'static Words, p: &epay_store::Payment) -> Vec<ActionForm> {
    let left = p.charged_minor - p.refunded_minor;
    let mut actions = Vec::new();
    if Operation::Charge.allowed(p.kind, p.status) {
        actions.push(ActionForm {
            action: Operation::Charge.as_str(),
            label: w.charge,
            amount_hint: Some(w.amount_hint),
            danger: false,
        });
    }
    if Operation::Cancel.allowed(p.kind, p.status) {
        actions.push(ActionForm {
            action: Operation::Cancel.as_str(),
            label: w.cancel,
            amount_hint: None,
            danger: true,
        });
    }
    if Operation::Refund.allowed(p.kind, p.status) && left > 0 {
        actions.push(ActionForm {
            action: Operation::Refund.as_str(),
            label: w.refund,
            amount_hint: Some(w.amount_hint),
            danger: true,
        });
    }
    actions
}

/// The invoice's attempts (docs/compatibility.md §48), when it had more than this one: each
/// links to its own detail page, where its callbacks are.
fn attempts(lang: Lang, w: &Words, p: &epay_store::Payment, all: &[epay_store::Payment]) -> Vec<AttemptRow> {
    if all.len() < 2 {
        return Vec::new();
    }
    all.iter()
        .map(|a| AttemptRow {
            id: a.id.clone(),
            number: a.attempt,
            current: a.id == p.id,
            created: when(lang, a.created_at),
            status: badge(w, a.status),
            card: a.card_mask.clone(),
            reason: reason(&a.reason, a.reason_code),
        })
        .collect()
}

fn history(lang: Lang, w: &Words, p: &epay_store::Payment, events: &[epay_store::PaymentEvent]) -> Vec<HistoryRow> {
    if events.is_empty() {
        // Payments from before the history existed: their creation is all we know for sure.
        return vec![HistoryRow {
            created: when(lang, p.created_at),
            operation: w.step(epay_domain::PaymentStep::Created),
            operation_code: epay_domain::PaymentStep::Created.as_str(),
            status: badge(w, p.status),
            amount: amount(lang, p.amount_minor),
            reason_code: String::new(),
        }];
    }
    events
        .iter()
        .map(|e| HistoryRow {
            created: when(lang, e.created_at),
            operation: w.step(e.operation),
            operation_code: e.operation.as_str(),
            status: badge(w, e.status),
            amount: amount(lang, e.amount_minor),
            reason_code: if e.reason_code == 0 { String::new() } else { e.reason_code.to_string() },
        })
        .collect()
}

/// The 3-D Secure line: not challenged, or the challenge's state and reason.
fn three_ds(w: &Words, p: &epay_store::Payment, session: Option<&epay_store::ThreeDsSession>) -> String {
    match session {
        None if p.secure => w.secure_passed.to_string(),
        None => w.not_challenged.to_string(),
        Some(s) => format!(
            "{}: {}{}{}",
            w.challenge,
            w.three_ds_state(s.state),
            if s.reason_code == 0 { String::new() } else { format!(" ({})", s.reason_code) },
            if p.secure { format!(" · {}", w.secure_passed) } else { String::new() }
        ),
    }
}

fn callback(w: &Words, cb: &crate::services::callback_log::CallbackView) -> CallbackBlock {
    CallbackBlock {
        id: cb.id.clone(),
        kind: cb.kind.to_string(),
        url: cb.url.clone(),
        status: w.delivery(cb.status),
        status_code: cb.status.as_str(),
        attempts: cb.attempts,
        next_attempt: cb.next_attempt_at.clone(),
        log: cb
            .attempt_log
            .iter()
            .map(|a| CallbackAttempt {
                attempt: a.attempt,
                started_at: a.started_at.clone(),
                http_status: a.http_status.map(|s| s.to_string()).unwrap_or_else(|| "—".into()),
                latency_ms: a.latency_ms,
                error: a.error.clone(),
                response: a.response.clone(),
            })
            .collect(),
    }
}

pub fn detail(c: &Chrome<'_>, v: &DetailView<'_>) -> DetailPage {
    let w = words(c.lang);
    let p = v.payment;
    DetailPage {
        frame: Frame::signed(c, &format!("{} {}", w.transaction, p.invoice_id)),
        w,
        payment_id: p.id.clone(),
        invoice: p.invoice_id.clone(),
        flash: v.flash.map(str::to_string),
        facts: facts(c.lang, w, p, v.terminal),
        actions: actions(w, p),
        left_to_refund: format!("{} {}", amount(c.lang, (p.charged_minor - p.refunded_minor).max(0)), p.currency),
        attempts: attempts(c.lang, w, p, v.attempts),
        history: history(c.lang, w, p, v.events),
        ledger: v
            .transfers
            .iter()
            .map(|t| LedgerRow {
                created: when(c.lang, t.created_at),
                id: t.id.clone(),
                kind: w.ledger_kind(t.kind),
                kind_code: t.kind.as_str(),
                debit: t.debit_account.clone(),
                amount: amount(c.lang, t.amount_minor),
                credit: t.credit_account.clone(),
            })
            .collect(),
        refunds: v
            .refunds
            .iter()
            .map(|(id, external, amount)| RefundRow {
                id: id.clone(),
                amount: format!("{} {}", super::amount(c.lang, *amount), p.currency),
                external_id: external.clone().unwrap_or_default(),
            })
            .collect(),
        three_ds: three_ds(w, p, v.three_ds),
        callbacks: v.callbacks.iter().map(|cb| callback(w, cb)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use epay_domain::{PaymentKind, TxStatus};

    use super::super::tests::{assert_escaped, chrome, ESCAPED, XSS};
    use super::*;
    use crate::edge::cabinet::filter;
    use crate::edge::cabinet::i18n::Lang;

    /// A payment whose every text a shopper or merchant chose is hostile.
    fn hostile_payment() -> epay_store::Payment {
        epay_store::Payment {
            id: "p1".into(),
            terminal_id: "t1".into(),
            invoice_id: "000001".into(),
            kind: PaymentKind::Payment,
            status: TxStatus::Auth,
            amount_minor: 10_000,
            currency: "KZT".into(),
            description: XSS.into(),
            account_id: XSS.into(),
            payer_name: XSS.into(),
            card_mask: "440563...5096".into(),
            reason: XSS.into(),
            reason_code: 466,
            attempt: 1,
            ..Default::default()
        }
    }

    #[test]
    fn the_list_shows_hostile_text_as_text() {
        let query: HashMap<String, String> = [("q".to_string(), XSS.to_string()), ("page".into(), "2".into())].into();
        let q = filter::parse(&query).unwrap();
        let payments = [hostile_payment()];
        // A merchant names its terminals.
        let terminals = [("t1".to_string(), format!("{XSS} (98120004)"))];
        let view = ListView { query: &q, payments: &payments, total: 30, terminals: &terminals };
        let html = transactions(&chrome(Lang::En), &view).render().unwrap();
        assert_escaped(&html);
        assert!(html.contains(&format!("<td>{ESCAPED}</td></tr>")), "the description: {html}");
        assert!(html.contains(&format!("<td>{ESCAPED} (98120004)</td>")), "the terminal");
        assert!(html.contains(&format!(r#"id="f-q" name="q" type="search" value="{ESCAPED}""#)), "the filter typed");
        assert!(html.contains(&format!(r#"<option value="t1">{ESCAPED} (98120004)</option>"#)));
        assert!(html.contains(r#"<strong id="total">30</strong>"#));
        assert!(
            html.contains(r#"<tr data-id="p1"><td>"#)
                && html.contains(r#"<span class="status s-auth" title="AUTH">Held</span>"#)
        );
        // Page 2 of 2: a link back, none forward; the query string escaped into the href.
        assert!(
            html.contains(
                r#"<a id="prev" href="/cabinet/transactions?q=%3Cscript%3Ealert%281%29%3C%2Fscript%3E&#38;page=1">"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"<span id="page">Page 2 / 2</span>"#) && !html.contains(r#"id="next""#));
    }

    #[test]
    fn an_empty_list_says_so() {
        let q = filter::parse(&HashMap::new()).unwrap();
        let html = transactions(&chrome(Lang::Ru), &ListView { query: &q, payments: &[], total: 0, terminals: &[] })
            .render()
            .unwrap();
        assert!(html.contains(r#"<p id="nothing">Ничего не найдено</p>"#) && !html.contains(r#"id="transactions""#));
        assert!(html.contains("<h1>Транзакции</h1>"));
    }

    #[test]
    fn the_detail_page_shows_hostile_text_as_text() {
        let p = hostile_payment();
        let attempts = [epay_store::Payment { id: "p0".into(), attempt: 0, ..hostile_payment() }, p.clone()];
        let callbacks = [crate::services::callback_log::CallbackView {
            id: "msg_1".into(),
            kind: epay_domain::CallbackKind::PaymentFailure,
            url: format!("https://shop.kz/cb?{XSS}"),
            status: epay_domain::DeliveryStatus::Failed,
            attempts: 1,
            next_attempt_at: None,
            created_at: String::new(),
            delivered_at: None,
            payload: crate::services::callback_log::SentBody::new("{}".into()),
            attempt_log: vec![crate::services::callback_log::AttemptView {
                attempt: 1,
                started_at: "2026-11-22 14:00:05".into(),
                http_status: Some(500),
                latency_ms: 12,
                error: XSS.into(),
                response: XSS.into(),
                node: String::new(),
            }],
        }];
        let refunds = [("r1".to_string(), Some(XSS.to_string()), 500)];
        let view = DetailView {
            payment: &p,
            terminal: XSS,
            events: &[],
            transfers: &[],
            refunds: &refunds,
            three_ds: None,
            callbacks: &callbacks,
            attempts: &attempts,
            flash: Some(XSS),
        };
        let html = detail(&chrome(Lang::En), &view).render().unwrap();
        assert_escaped(&html);
        for id in ["d-description", "d-terminal", "d-account"] {
            assert!(html.contains(&format!(r#"<dd id="{id}">{ESCAPED}</dd>"#)), "{id}: {html}");
        }
        assert!(html.contains(&format!(r#"<dd id="d-reason">{ESCAPED} (466)</dd>"#)));
        assert!(html.contains(&format!(r#"<p class="flash" role="alert" id="flash">{ESCAPED}</p>"#)));
        assert!(html.contains(&format!("<code>https://shop.kz/cb?{ESCAPED}</code>")));
        assert!(html.contains(&format!(r#"<td class="num">5 KZT</td><td><code>{ESCAPED}</code></td>"#)), "{html}");
        // An AUTH payment can be charged or cancelled, not refunded.
        assert!(html.contains(r#"<form class="op" method="post" action="/cabinet/transactions/p1/charge"><input type="hidden" name="csrf" value="csrf-token"><label for="charge-amount">"#), "{html}");
        assert!(html.contains(r#"id="cancel-submit""#) && !html.contains("refund-submit"));
        assert!(
            html.contains(r#"<tr data-id="p1" class="current"><td>1</td>"#)
                && html.contains(r#"<tr data-id="p0"><td>0</td>"#)
        );
        // The history's one row (no events) in the shape the black-box test reads.
        assert!(html.contains(r#"<table id="history">"#) && html.contains(r#"</td><td>Created <small class="code">created</small></td><td><span class="status s-auth" title="AUTH">Held</span></td><td class="num">100</td><td></td></tr>"#), "{html}");
        assert!(html.contains(r#"<input type="hidden" name="event" value="msg_1">"#));
        assert!(html.contains(r#"<p id="three-ds">Not challenged</p>"#));
    }
}
