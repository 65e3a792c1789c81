//! The cabinet's HTML. Server-rendered, no scripts; every value from outside is escaped; forms
//! that change something carry the session's CSRF token.

use epay_domain::{Amount, Operation, TxStatus};

use super::i18n::{words, Lang, Words};
use crate::clock::epay_datetime;
pub(crate) use crate::page::escape;

/// Which menu entry is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Transactions,
    Terminals,
    Credentials,
    Cards,
}

/// What every signed-in page shows around its content.
pub struct Chrome<'a> {
    pub lang: Lang,
    pub email: &'a str,
    pub csrf: &'a str,
    pub section: Section,
    /// This page's path, for the language links to come back to.
    pub path: &'a str,
}

pub fn money(minor: i64) -> String {
    Amount::from_minor(minor).map(|a| a.to_string()).unwrap_or_else(|_| minor.to_string())
}

pub fn date(ms: i64) -> String {
    // ePay's format without the microseconds and offset noise: 2026-11-22 14:00:05.
    let full = epay_datetime(ms);
    full.get(..19).map(|s| s.replace('T', " ")).unwrap_or(full)
}

fn css_link() -> String {
    format!(
        r#"<link rel="stylesheet" href="/cabinet/assets/cabinet.css" integrity="{}">"#,
        super::assets::css().integrity
    )
}

fn language_links(lang: Lang, path: &str) -> String {
    let back: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    [(Lang::Ru, "RU"), (Lang::Kk, "KZ"), (Lang::En, "EN")]
        .iter()
        .map(|(l, label)| {
            let current = if *l == lang { r#" aria-current="true""# } else { "" };
            format!(
                r#"<a class="lang" id="lang-{code}" href="/cabinet/lang/{code}?back={back}"{current}>{label}</a>"#,
                code = l.html_code()
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn document(lang: Lang, title: &str, header: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{title} — epay</title>
{css}
</head>
<body class="cabinet">
<header class="top">{header}</header>
<main>
{body}
</main>
</body>
</html>
"#,
        code = lang.html_code(),
        title = escape(title),
        css = css_link(),
    )
}

/// A page of the signed-in cabinet.
fn page(c: &Chrome<'_>, title: &str, body: &str) -> String {
    let w = words(c.lang);
    let item = |s: Section, href: &str, label: &str, id: &str| {
        let current = if s == c.section { r#" aria-current="page""# } else { "" };
        format!(r#"<a id="nav-{id}" href="{href}"{current}>{label}</a>"#)
    };
    let header = format!(
        r#"<a class="brand" href="/cabinet">epay · {title}</a>
<nav>{o}{t}{te}{cr}{ca}</nav>
<div class="who"><span id="who">{email}</span> {langs}
<form method="post" action="/cabinet/logout" class="inline"><input type="hidden" name="csrf" value="{csrf}"><button id="sign-out" type="submit" class="link">{sign_out}</button></form></div>"#,
        title = w.title,
        o = item(Section::Overview, "/cabinet/overview", w.overview, "overview"),
        t = item(Section::Transactions, "/cabinet/transactions", w.transactions, "transactions"),
        te = item(Section::Terminals, "/cabinet/terminals", w.terminals, "terminals"),
        cr = item(Section::Credentials, "/cabinet/credentials", w.credentials, "credentials"),
        ca = item(Section::Cards, "/cabinet/cards", w.cards, "cards"),
        email = escape(c.email),
        langs = language_links(c.lang, c.path),
        csrf = escape(c.csrf),
        sign_out = w.sign_out,
    );
    document(c.lang, title, &header, body)
}

fn plain_header(lang: Lang, path: &str) -> String {
    format!(
        r#"<a class="brand" href="/cabinet">epay · {}</a><div class="who">{}</div>"#,
        words(lang).title,
        language_links(lang, path)
    )
}

fn alert(text: Option<&str>, class: &str) -> String {
    text.map(|t| format!(r#"<p class="{class}" role="alert" id="{class}">{}</p>"#, escape(t))).unwrap_or_default()
}

pub fn login(lang: Lang, csrf: &str, email: &str, problem: Option<&str>) -> String {
    let w = words(lang);
    let body = format!(
        r#"<section class="panel narrow">
<h1>{sign_in}</h1>
{problem}
<form id="login-form" method="post" action="/cabinet/login">
<input type="hidden" name="csrf" value="{csrf}">
<label for="email">{l_email}</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="254" value="{email}">
<label for="password">{l_password}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button id="sign-in" type="submit">{sign_in}</button>
</form>
</section>"#,
        sign_in = w.sign_in,
        problem = alert(problem, "alert"),
        csrf = escape(csrf),
        l_email = w.email,
        email = escape(email),
        l_password = w.password,
    );
    document(lang, w.sign_in, &plain_header(lang, "/cabinet/login"), &body)
}

/// An error page; signed-in users get a way back into the cabinet.
pub fn error_page(lang: Lang, heading: &str, detail: &str) -> String {
    let w = words(lang);
    let body = format!(
        r#"<section class="panel narrow" id="error"><h1>{heading}</h1>{detail}<p><a id="back" href="/cabinet">{back}</a></p></section>"#,
        heading = escape(heading),
        detail = alert((!detail.is_empty()).then_some(detail), "alert"),
        back = w.back,
    );
    document(lang, heading, &plain_header(lang, "/cabinet"), &body)
}

/// One terminal's numbers on the overview.
pub struct TerminalStats {
    pub name: String,
    pub pos_id: String,
    pub today_count: i64,
    /// Approved volume per currency (currency, minor units); currencies are never added up.
    pub today_volume: Vec<(String, i64)>,
    pub today_rate: Option<f64>,
    pub month_count: i64,
    pub month_volume: Vec<(String, i64)>,
    pub month_rate: Option<f64>,
}

/// Volumes per currency, one per line: `1000.00 KZT`, `10.00 USD`; `0` when there are none.
fn volumes(v: &[(String, i64)]) -> String {
    if v.is_empty() {
        return "0".into();
    }
    v.iter().map(|(currency, minor)| format!("{} {}", money(*minor), escape(currency))).collect::<Vec<_>>().join("<br>")
}

pub fn rate(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.1}%")).unwrap_or_else(|| "—".into())
}

pub fn overview(c: &Chrome<'_>, stats: &[TerminalStats], charts: &str) -> String {
    let w = words(c.lang);
    let rows: String = stats
        .iter()
        .map(|s| {
            format!(
                "<tr><td>{name} <span class=\"muted\">{pos}</span></td><td class=\"num\">{tc}</td><td class=\"num\">{tv}</td><td class=\"num\">{tr}</td><td class=\"num\">{mc}</td><td class=\"num\">{mv}</td><td class=\"num\">{mr}</td></tr>",
                name = escape(&s.name),
                pos = escape(&s.pos_id),
                tc = s.today_count,
                tv = volumes(&s.today_volume),
                tr = rate(s.today_rate),
                mc = s.month_count,
                mv = volumes(&s.month_volume),
                mr = rate(s.month_rate),
            )
        })
        .collect();
    let body = format!(
        r#"<h1>{overview}</h1>
<section class="panel"><table id="overview-table"><thead>
<tr><th rowspan="2">{terminal}</th><th colspan="3">{today}</th><th colspan="3">{month}</th></tr>
<tr><th>{count}</th><th>{volume}</th><th>{rate}</th><th>{count}</th><th>{volume}</th><th>{rate}</th></tr>
</thead><tbody>{rows}</tbody></table></section>
<section class="charts">{charts}</section>"#,
        overview = w.overview,
        terminal = w.terminal,
        today = w.today,
        month = w.last_30_days,
        count = w.count,
        volume = w.volume,
        rate = w.approval_rate,
    );
    page(c, w.overview, &body)
}

pub struct ListView<'a> {
    pub query: &'a super::filter::ListQuery,
    pub payments: &'a [epay_store::Payment],
    pub total: i64,
    /// (id, label) of the merchant's terminals.
    pub terminals: &'a [(String, String)],
}

fn options(selected: &str, any: &str, items: &[(String, String)]) -> String {
    let mut out = format!(r#"<option value="">{}</option>"#, escape(any));
    for (value, label) in items {
        let sel = if value == selected { " selected" } else { "" };
        out.push_str(&format!(r#"<option value="{}"{sel}>{}</option>"#, escape(value), escape(label)));
    }
    out
}

pub fn transactions(c: &Chrome<'_>, v: &ListView<'_>) -> String {
    let w = words(c.lang);
    let q = v.query;
    let statuses: Vec<(String, String)> = TxStatus::ALL.iter().map(|s| (s.to_string(), s.to_string())).collect();
    let input = |name: &str, label: &str, kind: &str| {
        format!(
            r#"<div><label for="f-{name}">{label}</label><input id="f-{name}" name="{name}" type="{kind}" value="{value}" maxlength="100"></div>"#,
            value = escape(q.raw(name))
        )
    };
    let rows: String = v
        .payments
        .iter()
        .map(|p| {
            format!(
                r#"<tr data-id="{id}"><td>{created}</td><td><a class="invoice" href="/cabinet/transactions/{id}">{invoice}</a></td><td><span class="status s-{sclass}">{status}</span></td><td class="num">{amount} {currency}</td><td>{card}</td><td>{terminal}</td><td>{description}</td></tr>"#,
                id = escape(&p.id),
                created = date(p.created_at),
                invoice = escape(&p.invoice_id),
                sclass = escape(&p.status.as_str().to_lowercase()),
                status = escape(p.status.as_str()),
                amount = money(p.amount_minor),
                currency = escape(&p.currency),
                card = escape(if p.card_mask.is_empty() { &p.receiver_card_mask } else { &p.card_mask }),
                terminal = escape(
                    &v.terminals.iter().find(|(id, _)| *id == p.terminal_id).map(|(_, l)| l.clone()).unwrap_or_default()
                ),
                description = escape(&p.description),
            )
        })
        .collect();
    let pages = ((v.total + super::filter::PAGE_SIZE - 1) / super::filter::PAGE_SIZE).max(1);
    let qs = q.query_string();
    let link = |page: i64, label: &str, id: &str| {
        let sep = if qs.is_empty() { "" } else { "&" };
        format!(r#"<a id="{id}" href="/cabinet/transactions?{qs}{sep}page={page}">{label}</a>"#)
    };
    let mut pager = format!(r#"<span id="page">{} {} / {pages}</span>"#, w.page, q.page);
    if q.page > 1 {
        pager = format!("{} {pager}", link(q.page - 1, w.previous, "prev"));
    }
    if q.page < pages {
        pager = format!("{pager} {}", link(q.page + 1, w.next, "next"));
    }
    let table = if v.payments.is_empty() {
        format!(r#"<p id="nothing">{}</p>"#, w.nothing_found)
    } else {
        format!(
            r#"<table id="transactions"><thead><tr><th>{created}</th><th>invoiceId</th><th>{status}</th><th>{amount}</th><th>{card}</th><th>{terminal}</th><th>{description}</th></tr></thead><tbody>{rows}</tbody></table>"#,
            created = w.created,
            status = w.status,
            amount = w.amount,
            card = w.card,
            terminal = w.terminal,
            description = w.description,
        )
    };
    let body = format!(
        r#"<h1>{title}</h1>
<form id="filters" class="panel filters" method="get" action="/cabinet/transactions">
{from}{to}
<div><label for="f-status">{l_status}</label><select id="f-status" name="status">{statuses}</select></div>
<div><label for="f-terminal">{l_terminal}</label><select id="f-terminal" name="terminal">{terminals}</select></div>
{invoice}{card}{min}{max}{search}
<div class="buttons"><button id="apply" type="submit">{apply}</button> <a href="/cabinet/transactions">{reset}</a> <a id="export" href="/cabinet/transactions.csv?{qs}">{export}</a></div>
</form>
<p class="muted">{found}: <strong id="total">{total}</strong></p>
<section class="panel">{table}<p class="pager">{pager}</p></section>"#,
        title = w.transactions,
        from = input("from", w.date_from, "date"),
        to = input("to", w.date_to, "date"),
        l_status = w.status,
        statuses = options(q.raw("status"), w.any, &statuses),
        l_terminal = w.terminal,
        terminals = options(q.raw("terminal"), w.any, v.terminals),
        invoice = input("invoice", w.invoice_id, "text"),
        card = input("card", w.card_mask, "text"),
        min = input("min", w.amount_min, "text"),
        max = input("max", w.amount_max, "text"),
        search = input("q", w.search, "search"),
        apply = w.apply,
        reset = w.reset,
        export = w.export_csv,
        qs = escape(&qs),
        found = w.found,
        total = v.total,
    );
    page(c, w.transactions, &body)
}

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

fn op_form(c: &Chrome<'_>, id: &str, action: &str, label: &str, with_amount: Option<&str>) -> String {
    let w = words(c.lang);
    let amount = with_amount
        .map(|placeholder| {
            format!(
                r#"<label for="{action}-amount">{amount}</label><input id="{action}-amount" name="amount" inputmode="decimal" maxlength="20" placeholder="{placeholder}">"#,
                amount = w.amount,
                placeholder = escape(placeholder),
            )
        })
        .unwrap_or_default();
    format!(
        r#"<form class="op" method="post" action="/cabinet/transactions/{id}/{action}"><input type="hidden" name="csrf" value="{csrf}">{amount}<button id="{action}-submit" type="submit">{label}</button></form>"#,
        id = escape(id),
        csrf = escape(c.csrf),
    )
}

pub fn detail(c: &Chrome<'_>, v: &DetailView<'_>) -> String {
    let w = words(c.lang);
    let p = v.payment;
    let left = p.charged_minor - p.refunded_minor;
    let dl = |rows: &[(&str, String, &str)]| -> String {
        rows.iter().map(|(k, val, id)| format!(r#"<dt>{k}</dt><dd id="{id}">{}</dd>"#, escape(val))).collect()
    };
    let mut rows = vec![
        ("id", p.id.clone(), "d-id"),
        ("invoiceId", p.invoice_id.clone(), "d-invoice"),
        (w.attempt, p.attempt.to_string(), "d-attempt"),
        (w.status, p.status.to_string(), "status"),
        (w.kind, p.kind.to_string(), "d-kind"),
        (w.amount, format!("{} {}", money(p.amount_minor), p.currency), "d-amount"),
        (w.charged, money(p.charged_minor), "d-charged"),
        (w.refunded, money(p.refunded_minor), "d-refunded"),
        (w.card, format!("{} {}", p.card_mask, p.card_brand).trim().to_string(), "d-card"),
        (w.terminal, v.terminal.to_string(), "d-terminal"),
        (w.created, date(p.created_at), "d-created"),
        ("accountId", p.account_id.clone(), "d-account"),
        (w.description, p.description.clone(), "d-description"),
        (
            w.reason,
            if p.reason_code == 0 { String::new() } else { format!("{} ({})", p.reason, p.reason_code) },
            "d-reason",
        ),
        ("reference / approvalCode", format!("{} / {}", p.reference, p.approval_code), "d-reference"),
    ];
    // Transfers: the receiving side and the fee the sender paid on top.
    if !p.receiver_card_mask.is_empty() {
        let receiver = format!("{} {}", p.receiver_card_mask, p.receiver_card_brand).trim().to_string();
        rows.insert(8, (w.receiver_card, receiver, "d-receiver"));
    }
    if p.fee_minor > 0 {
        rows.insert(6, (w.fee, format!("{} {}", money(p.fee_minor), p.currency), "d-fee"));
    }
    let facts = dl(&rows);
    let mut actions = String::new();
    // The actions the payment state machine allows now (the store checks them again).
    if Operation::Charge.allowed(p.kind, p.status) {
        actions.push_str(&op_form(c, &p.id, "charge", w.charge, Some(w.amount_hint)));
    }
    if Operation::Cancel.allowed(p.kind, p.status) {
        actions.push_str(&op_form(c, &p.id, "cancel", w.cancel, None));
    }
    if Operation::Refund.allowed(p.kind, p.status) && left > 0 {
        actions.push_str(&op_form(c, &p.id, "refund", w.refund, Some(w.amount_hint)));
    }
    let actions = if actions.is_empty() {
        String::new()
    } else {
        format!(
            r#"<section class="panel"><h2>{}</h2><div class="ops">{actions}</div><p class="muted">{}: {} {}</p></section>"#,
            w.actions,
            w.left_to_refund,
            money(left.max(0)),
            escape(&p.currency)
        )
    };
    let history: String = if v.events.is_empty() {
        // Payments from before the history existed: their creation is all we know for sure.
        format!(
            "<tr><td>{}</td><td>created</td><td>{}</td><td class=\"num\">{}</td><td></td></tr>",
            date(p.created_at),
            escape(p.status.as_str()),
            money(p.amount_minor)
        )
    } else {
        v.events
            .iter()
            .map(|e| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td><span class=\"status s-{}\">{}</span></td><td class=\"num\">{}</td><td>{}</td></tr>",
                    date(e.created_at),
                    escape(&e.operation),
                    escape(&e.status.as_str().to_lowercase()),
                    escape(e.status.as_str()),
                    money(e.amount_minor),
                    if e.reason_code == 0 { String::new() } else { e.reason_code.to_string() },
                )
            })
            .collect()
    };
    let ledger: String = v
        .transfers
        .iter()
        .map(|t| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                date(t.created_at),
                escape(&t.id),
                escape(t.kind.as_str()),
                escape(&t.debit_account),
                money(t.amount_minor),
                escape(&t.credit_account),
            )
        })
        .collect();
    let refunds: String = v
        .refunds
        .iter()
        .map(|(id, external, amount)| {
            format!("<li>{} — {} {}</li>", escape(id), money(*amount), escape(external.as_deref().unwrap_or("")))
        })
        .collect();
    let three_ds = match v.three_ds {
        None if p.secure => "secure: Y".to_string(),
        None => w.not_challenged.to_string(),
        Some(s) => format!(
            "{}: {} {}{}",
            w.challenge,
            s.state,
            if s.reason_code == 0 { String::new() } else { format!("({}) ", s.reason_code) },
            if p.secure { "· secure: Y" } else { "" }
        ),
    };
    let attempts = attempts_panel(w, p, v.attempts);
    let callbacks: String = if v.callbacks.is_empty() {
        format!("<p>{}</p>", w.no_callbacks)
    } else {
        v.callbacks.iter().map(|cb| callback_block(c, w, &p.id, cb)).collect()
    };
    let body = format!(
        r#"<p><a href="/cabinet/transactions">← {transactions}</a></p>
<h1>{transaction} {invoice}</h1>
{flash}
<section class="panel"><dl class="facts">{facts}</dl></section>
{actions}
{attempts}
<section class="panel"><h2>{history}</h2><table id="history"><thead><tr><th>{created}</th><th>{operation}</th><th>{status}</th><th>{amount}</th><th>{reason}</th></tr></thead><tbody>{history_rows}</tbody></table></section>
<section class="panel"><h2>{ledger_title}</h2><table id="ledger"><thead><tr><th>{created}</th><th>id</th><th>{kind}</th><th>{debit}</th><th>{amount}</th><th>{credit}</th></tr></thead><tbody>{ledger}</tbody></table>{refunds}</section>
<section class="panel"><h2>{three_ds_title}</h2><p id="three-ds">{three_ds}</p></section>
<section class="panel" id="callbacks"><h2>{callbacks_title}</h2>{callbacks}</section>"#,
        transactions = w.transactions,
        transaction = w.transaction,
        invoice = escape(&p.invoice_id),
        flash = alert(v.flash, "flash"),
        history = w.history,
        created = w.created,
        operation = w.operation,
        status = w.status,
        amount = w.amount,
        reason = w.reason,
        history_rows = history,
        ledger_title = w.ledger,
        kind = w.kind,
        debit = w.debit,
        credit = w.credit,
        refunds = if refunds.is_empty() { String::new() } else { format!("<ul id=\"refunds\">{refunds}</ul>") },
        three_ds_title = w.three_ds,
        three_ds = escape(&three_ds),
        callbacks_title = w.callbacks,
    );
    page(c, &format!("{} {}", w.transaction, p.invoice_id), &body)
}

/// The invoice's attempts (docs/compatibility.md §48), when it had more than this one: each
/// links to its own detail page, where its callbacks are.
fn attempts_panel(w: &Words, p: &epay_store::Payment, attempts: &[epay_store::Payment]) -> String {
    if attempts.len() < 2 {
        return String::new();
    }
    let rows: String = attempts
        .iter()
        .map(|a| {
            let this = if a.id == p.id { r#" class="current""# } else { "" };
            format!(
                r#"<tr data-id="{id}"{this}><td>{n}</td><td><a href="/cabinet/transactions/{id}">{created}</a></td><td><span class="status s-{sclass}">{status}</span></td><td>{card}</td><td>{reason}</td></tr>"#,
                id = escape(&a.id),
                n = a.attempt,
                created = date(a.created_at),
                sclass = escape(&a.status.as_str().to_lowercase()),
                status = escape(a.status.as_str()),
                card = escape(&a.card_mask),
                reason = if a.reason_code == 0 { String::new() } else { escape(&format!("{} ({})", a.reason, a.reason_code)) },
            )
        })
        .collect();
    format!(
        r#"<section class="panel"><h2>{title}</h2><table id="attempts"><thead><tr><th>#</th><th>{created}</th><th>{status}</th><th>{card}</th><th>{reason}</th></tr></thead><tbody>{rows}</tbody></table></section>"#,
        title = w.invoice_attempts,
        created = w.created,
        status = w.status,
        card = w.card,
        reason = w.reason,
    )
}

fn callback_block(
    c: &Chrome<'_>,
    w: &Words,
    payment_id: &str,
    cb: &crate::services::callback_log::CallbackView,
) -> String {
    let attempts: String = cb
        .attempt_log
        .iter()
        .map(|a| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{} ms</td><td>{}</td><td><code>{}</code></td></tr>",
                a.attempt,
                escape(&a.started_at),
                a.http_status.map(|s| s.to_string()).unwrap_or_else(|| "—".into()),
                a.latency_ms,
                escape(&a.error),
                escape(&a.response),
            )
        })
        .collect();
    format!(
        r#"<div class="callback" data-event="{id}"><p><strong>{kind}</strong> → <code>{url}</code> · <span class="cb-status">{status}</span> · {attempts_label}: <span class="cb-attempts">{n}</span>{next}</p>
<table class="attempts"><thead><tr><th>#</th><th>{created}</th><th>HTTP</th><th></th><th>error</th><th>{reply}</th></tr></thead><tbody>{attempts}</tbody></table>
<form class="op" method="post" action="/cabinet/transactions/{pid}/resend"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="event" value="{id}"><button class="resend" type="submit">{resend}</button></form></div>"#,
        id = escape(&cb.id),
        kind = escape(&cb.kind),
        url = escape(&cb.url),
        status = escape(&cb.status),
        attempts_label = w.attempts,
        n = cb.attempts,
        next = cb.next_attempt_at.as_ref().map(|t| format!(" · {}: {}", w.next_attempt, escape(t))).unwrap_or_default(),
        created = w.created,
        reply = w.reply,
        pid = escape(payment_id),
        csrf = escape(c.csrf),
        resend = w.resend,
    )
}

/// "Are you sure?": what will happen, and a form that repeats the request with `confirmed`.
pub fn confirm(c: &Chrome<'_>, question: &str, action: &str, fields: &[(&str, &str)], back: &str) -> String {
    let w = words(c.lang);
    let hidden: String = fields
        .iter()
        .map(|(k, v)| format!(r#"<input type="hidden" name="{}" value="{}">"#, escape(k), escape(v)))
        .collect();
    let body = format!(
        r#"<section class="panel narrow" id="confirm-panel"><h1>{title}</h1><p id="question">{question}</p>
<form method="post" action="{action}"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="confirmed" value="yes">{hidden}<button id="confirm" type="submit">{confirm}</button></form>
<p><a id="back" href="{back}">{back_label}</a></p></section>"#,
        title = w.confirm_title,
        question = escape(question),
        action = escape(action),
        csrf = escape(c.csrf),
        confirm = w.confirm,
        back = escape(back),
        back_label = w.back,
    );
    page(c, w.confirm_title, &body)
}

pub fn terminals(c: &Chrome<'_>, terminals: &[epay_store::Terminal], flash: Option<&str>) -> String {
    let w = words(c.lang);
    let blocks: String = terminals
        .iter()
        .map(|t| {
            let checked = |b: bool| if b { " checked" } else { "" };
            let percent = format!("{}.{:02}", t.fee_percent_bp / 100, t.fee_percent_bp % 100);
            format!(
                r#"<section class="panel terminal" id="terminal-{id}"><h2>{name} <span class="muted">{pos} · {id}</span></h2>
<form method="post" action="/cabinet/terminals/{id}"><input type="hidden" name="csrf" value="{csrf}">
<div class="grid">
<div><label for="mode-{id}">{l_mode}</label><select id="mode-{id}" name="mode"><option value="one"{one}>{one_step}</option><option value="two"{two}>{two_step}</option></select></div>
<div><label for="hold-{id}">{l_hold}</label><input id="hold-{id}" name="hold_hours" inputmode="numeric" value="{hold}" maxlength="4"></div>
<div class="check"><input id="three-ds-{id}" name="three_ds" type="checkbox" value="on"{three_ds}><label for="three-ds-{id}">3-D Secure</label></div>
<div class="check"><input id="transfers-{id}" name="transfers" type="checkbox" value="on"{transfers}><label for="transfers-{id}">{l_transfers}</label></div>
<div class="check"><input id="operation-callbacks-{id}" name="operation_callbacks" type="checkbox" value="on"{operation_callbacks}><label for="operation-callbacks-{id}">{l_operation_callbacks}</label></div>
<div><label for="fee-percent-{id}">{l_fee_percent}</label><input id="fee-percent-{id}" name="fee_percent" inputmode="decimal" value="{percent}" maxlength="6"></div>
<div><label for="fee-fixed-{id}">{l_fee_fixed}</label><input id="fee-fixed-{id}" name="fee_fixed" inputmode="decimal" value="{fixed}" maxlength="20"></div>
<div><label for="fee-min-{id}">{l_fee_min}</label><input id="fee-min-{id}" name="fee_min" inputmode="decimal" value="{min}" maxlength="20"></div>
<div><label for="limit-{id}">{l_limit}</label><input id="limit-{id}" name="daily_limit" inputmode="decimal" value="{limit}" maxlength="20"></div>
<div><label for="attempts-{id}">{l_attempts}</label><input id="attempts-{id}" name="max_attempts" inputmode="numeric" value="{attempts}" maxlength="2"></div>
</div>
<button id="save-{id}" type="submit">{save}</button>
</form></section>"#,
                id = escape(&t.id),
                name = escape(&t.name),
                pos = escape(&t.pos_id),
                csrf = escape(c.csrf),
                l_mode = w.mode,
                one = if t.two_step { "" } else { " selected" },
                two = if t.two_step { " selected" } else { "" },
                one_step = w.one_step,
                two_step = w.two_step,
                l_hold = w.hold_hours,
                hold = t.hold_period_secs / 3600,
                three_ds = checked(t.three_ds),
                transfers = checked(t.transfers_allowed),
                l_transfers = w.transfers,
                operation_callbacks = checked(t.operation_callbacks),
                l_operation_callbacks = w.operation_callbacks,
                l_fee_percent = w.fee_percent,
                l_fee_fixed = w.fee_fixed,
                fixed = money(t.fee_fixed_minor),
                l_fee_min = w.fee_min,
                min = money(t.fee_min_minor),
                l_limit = w.daily_limit,
                limit = money(t.transfer_daily_limit_minor),
                l_attempts = w.max_attempts,
                attempts = t.max_attempts,
                save = w.save,
            )
        })
        .collect();
    let body = format!(r#"<h1>{}</h1>{}{blocks}"#, w.terminals, alert(flash, "flash"));
    page(c, w.terminals, &body)
}

pub fn credentials(c: &Chrome<'_>, client_id: &str, webhook_secret: &str, new_secret: Option<(&str, &str)>) -> String {
    let w = words(c.lang);
    let fresh = new_secret
        .map(|(label, secret)| {
            format!(
                r#"<section class="panel fresh" role="alert"><h2>{new}: {label}</h2><p><code id="new-secret">{secret}</code></p><p>{once}</p></section>"#,
                new = w.new_secret,
                label = escape(label),
                secret = escape(secret),
                once = w.shown_once,
            )
        })
        .unwrap_or_default();
    let rotate = |kind: &str, label: &str| {
        format!(
            r#"<form method="post" action="/cabinet/credentials/rotate"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="kind" value="{kind}"><button id="rotate-{kind}" type="submit">{label}</button></form>"#,
            csrf = escape(c.csrf),
        )
    };
    let tail: String = webhook_secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let body = format!(
        r#"<h1>{title}</h1>{fresh}
<section class="panel"><dl class="facts"><dt>{l_client_id}</dt><dd><code id="client-id">{client_id}</code></dd><dt>{l_secret}</dt><dd>••••••••</dd></dl><p class="muted">{secret_note}</p>{rotate_client}</section>
<section class="panel"><h2>{l_webhook}</h2><details><summary>whsec_…{tail} · {show}</summary><code id="webhook-secret">{webhook}</code></details><p class="muted">{webhook_note}</p>{rotate_webhook}</section>"#,
        title = w.credentials,
        l_client_id = w.client_id,
        client_id = escape(client_id),
        l_secret = w.client_secret,
        secret_note = w.client_secret_note,
        rotate_client = rotate("client", w.rotate_client),
        l_webhook = w.webhook_secret,
        tail = escape(&tail),
        show = w.show_secret,
        webhook = escape(webhook_secret),
        webhook_note = w.webhook_note,
        rotate_webhook = rotate("webhook", w.rotate_webhook),
    );
    page(c, w.credentials, &body)
}

pub fn cards(
    c: &Chrome<'_>,
    account: &str,
    cards: &[crate::services::cards::CardListEntry],
    flash: Option<&str>,
) -> String {
    let w = words(c.lang);
    let rows: String = cards
        .iter()
        .map(|card| {
            format!(
                r#"<tr data-card="{id}"><td>{account}</td><td>{mask}</td><td>{name}</td><td>{created}</td><td>{usable}</td><td><form class="op" method="post" action="/cabinet/cards/{id}/deactivate"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="account" value="{account_q}"><button class="deactivate" type="submit">{deactivate}</button></form></td></tr>"#,
                id = escape(&card.id),
                account = escape(&card.account_id),
                mask = escape(&card.card_mask),
                name = escape(&card.payer_name),
                created = escape(&card.created_date),
                usable = if card.payment_available { w.yes } else { w.no },
                csrf = escape(c.csrf),
                account_q = escape(account),
                deactivate = w.deactivate,
            )
        })
        .collect();
    let table = if cards.is_empty() {
        format!(r#"<p id="nothing">{}</p>"#, w.no_cards)
    } else {
        format!(
            r#"<table id="cards"><thead><tr><th>accountId</th><th>{card}</th><th></th><th>{created}</th><th>{usable}</th><th></th></tr></thead><tbody>{rows}</tbody></table>"#,
            card = w.card,
            created = w.created,
            usable = w.usable,
        )
    };
    let body = format!(
        r#"<h1>{title}</h1>{flash}
<form class="panel filters" method="get" action="/cabinet/cards"><div><label for="account">{l_account}</label><input id="account" name="account" value="{account}" maxlength="100"></div><div class="buttons"><button id="show" type="submit">{show}</button></div></form>
<section class="panel">{table}</section>"#,
        title = w.cards,
        flash = alert(flash, "flash"),
        l_account = w.account_id,
        account = escape(account),
        show = w.show,
    );
    page(c, w.cards, &body)
}
