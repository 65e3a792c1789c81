//! HTML of the payment page, its result page and the demo shop. Every value from outside is
//! escaped; scripts and styles are our own files only, pinned by Subresource Integrity.

use epay_domain::TransferKind;

use super::assets::assets;
use super::i18n::{words, Lang};

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn layout(lang: Lang, title: &str, short: bool, body: &str) -> String {
    let a = assets();
    format!(
        r#"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/payform/assets/form.css" integrity="{css}">
</head>
<body class="{class}">
<main>
{body}
</main>
<script src="/payform/assets/form.js" integrity="{js}"></script>
</body>
</html>
"#,
        lang = lang.html_code(),
        title = escape(title),
        css = a.form_css.integrity,
        js = a.form_js.integrity,
        class = if short { "short" } else { "full" },
    )
}

pub struct FormView<'a> {
    pub lang: Lang,
    pub short: bool,
    pub raw_params: &'a str,
    pub merchant: &'a str,
    pub description: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub card_save: bool,
    pub verification: bool,
    pub holder: &'a str,
    /// A problem to show above the form (a decline, a refused card).
    pub alert: Option<&'a str>,
    pub action: &'a str,
    /// Whether the page refuses an expiry month that is past by the shopper's own clock.
    /// Production only: in the sandbox the gateway decides by its sandbox clock, and a published
    /// test card is never expired (docs/test-cards.md), so the page checks the format only.
    pub check_expiry_date: bool,
    /// After a declined attempt: how many more the invoice allows (docs/compatibility.md §48).
    pub attempts_left: Option<i32>,
    /// Where a shopper who gives up after a decline goes (failureBackLink); empty: no link.
    pub give_up: &'a str,
}

pub fn form(v: &FormView<'_>) -> String {
    let w = words(v.lang);
    let alert = v.alert.map(|a| format!(r#"<p class="alert" role="alert">{}</p>"#, escape(a))).unwrap_or_default();
    let save_note = if v.verification {
        format!(r#"<p class="note">{}</p>"#, w.verification)
    } else if v.card_save {
        format!(r#"<p class="note">{}</p>"#, w.card_saved)
    } else {
        String::new()
    };
    let button = if v.verification { w.verify.to_string() } else { format!("{} {} {}", w.pay, v.amount, v.currency) };
    let attempts = v
        .attempts_left
        .map(|left| format!(r#"<p class="note" id="attempts-left">{}: <strong>{left}</strong></p>"#, w.attempts_left))
        .unwrap_or_default();
    let give_up = match safe_link(v.give_up) {
        "" => String::new(),
        link => format!(r#"<p class="note"><a id="give-up" href="{}">{}</a></p>"#, escape(link), w.back_to_shop),
    };
    let body = format!(
        r#"<div class="card">
<h1>{title}</h1>
<dl class="order">
<dt>{l_merchant}</dt><dd>{merchant}</dd>
<dt>{l_description}</dt><dd>{description}</dd>
<dt>{l_amount}</dt><dd class="amount"><span id="amount">{amount}</span> <span id="currency">{currency}</span></dd>
</dl>
{alert}
{attempts}
<form id="pay-form" method="post" action="{action}" novalidate>
<input type="hidden" name="params" value="{params}">
<input type="hidden" name="isShortForm" value="{short}">
<label for="pan">{l_pan} <span id="brand" class="brand" aria-live="polite"></span></label>
<input id="pan" name="pan" inputmode="numeric" autocomplete="cc-number" required aria-describedby="pan-error" maxlength="23">
<p id="pan-error" class="error" role="alert" data-msg="{e_pan}"></p>
<div class="row">
<div>
<label for="expiry">{l_expiry}</label>
<input id="expiry" name="expiry" inputmode="numeric" autocomplete="cc-exp" placeholder="MM/YY" required aria-describedby="expiry-error" maxlength="5" data-check-date="{check_date}">
<p id="expiry-error" class="error" role="alert" data-msg="{e_expiry}"></p>
</div>
<div>
<label for="cvc">{l_cvc}</label>
<input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" type="password" required aria-describedby="cvc-error" maxlength="4">
<p id="cvc-error" class="error" role="alert" data-msg="{e_cvc}"></p>
</div>
</div>
<label for="holder">{l_holder}</label>
<input id="holder" name="name" autocomplete="cc-name" required aria-describedby="holder-error" maxlength="64" value="{holder}">
<p id="holder-error" class="error" role="alert" data-msg="{e_holder}"></p>
{save_note}
<button id="submit" type="submit" data-processing="{processing}">{button}</button>
</form>
{give_up}
<p class="note">{secure}</p>
</div>"#,
        title = w.title,
        l_merchant = w.merchant,
        merchant = escape(v.merchant),
        l_description = w.description,
        description = escape(v.description),
        l_amount = w.amount,
        amount = escape(v.amount),
        currency = escape(v.currency),
        action = escape(v.action),
        params = escape(v.raw_params),
        short = v.short,
        l_pan = w.card_number,
        e_pan = w.bad_number,
        l_expiry = w.expiry,
        e_expiry = w.bad_expiry,
        check_date = v.check_expiry_date,
        l_cvc = w.cvc,
        e_cvc = w.bad_cvc,
        l_holder = w.holder,
        holder = escape(v.holder),
        e_holder = w.bad_holder,
        processing = w.processing,
        button = escape(&button),
        secure = w.secure_note,
    );
    layout(v.lang, w.title, v.short, &body)
}

pub struct ResultView<'a> {
    pub lang: Lang,
    /// Overrides the success heading (transfers say "Transfer complete").
    pub heading: Option<&'a str>,
    pub short: bool,
    pub success: bool,
    pub reason: Option<&'a str>,
    /// Where the browser goes next (backLink or failureBackLink); empty: stay here.
    pub redirect: &'a str,
    /// A link back to the shop when there is no automatic redirect.
    pub shop_link: &'a str,
}

/// `url` if the browser may be sent there (http or https), else nothing: every link a page
/// redirects to or offers passes here, whatever checked it before.
fn safe_link(url: &str) -> &str {
    if crate::services::links::is_http_url(url) {
        url.trim()
    } else {
        ""
    }
}

pub fn result(v: &ResultView<'_>) -> String {
    let v = &ResultView { redirect: safe_link(v.redirect), shop_link: safe_link(v.shop_link), ..*v };
    let w = words(v.lang);
    let heading = match (v.success, v.heading) {
        (true, Some(h)) => h,
        (true, None) => w.success,
        (false, _) => w.declined,
    };
    let reason = v.reason.map(|r| format!(r#"<p class="alert" role="alert">{}</p>"#, escape(r))).unwrap_or_default();
    let next = if !v.redirect.is_empty() {
        format!(
            r#"<p class="note">{}</p><a class="button" id="continue" href="{}">{}</a>"#,
            w.returning,
            escape(v.redirect),
            w.back_to_shop
        )
    } else if !v.shop_link.is_empty() {
        format!(r#"<a class="button" id="continue" href="{}">{}</a>"#, escape(v.shop_link), w.back_to_shop)
    } else {
        String::new()
    };
    let body = format!(
        r#"<div class="card" id="result" data-success="{success}" data-widget="{widget}" data-redirect="{redirect}">
<h1 class="{class}">{heading}</h1>
{reason}
{next}
</div>"#,
        success = v.success,
        widget = v.short,
        redirect = escape(v.redirect),
        class = if v.success { "ok" } else { "failed" },
    );
    layout(v.lang, heading, v.short, &body)
}

/// A page that only says something is wrong (bad link, transfers unavailable).
pub fn message(lang: Lang, short: bool, heading: &str, detail: &str) -> String {
    let body = format!(
        r#"<div class="card" id="message"><h1>{}</h1><p class="alert" role="alert">{}</p></div>"#,
        escape(heading),
        escape(detail)
    );
    layout(lang, heading, short, &body)
}

/// The demo shop: a product and two ways to pay.
pub fn shop(production: bool) -> String {
    let body = if production {
        r#"<div class="card"><h1>epay</h1><p>The demo shop runs in sandbox mode only.</p><p><a href="/docs">API documentation</a></p></div>"#.to_string()
    } else {
        r#"<div class="card">
<h1>epay demo shop</h1>
<p>A mug with the ePay logo, paid through the hosted payment page exactly as a shop integrates ePay: its server gets a token, its page calls <code>halyk.pay</code>.</p>
<dl class="order"><dt>Product</dt><dd>ePay mug</dd><dt>Price</dt><dd class="amount">2500 KZT</dd></dl>
<form method="post" action="/demo/checkout"><button id="buy" type="submit">Pay 2500 KZT</button></form>
<form method="post" action="/demo/checkout?widget=true"><button id="buy-widget" type="submit">Pay in a widget</button></form>
<p class="note">Test card: 4405 6397 0401 5096, 01/27, CVC 321. A declined one: 4000 0000 0000 0002, 12/30, CVC 123.</p>
<p class="note"><a href="https://epayment.kz">ePay</a> · <a href="/docs">API documentation</a></p>
</div>"#
            .to_string()
    };
    layout(Lang::En, "epay demo shop", false, &body)
}

/// The checkout page of the demo shop: the payment object, then payment-api.js does the rest.
pub fn checkout(payment_object: &str, widget: bool) -> String {
    let a = assets();
    // `</` inside a script element would end it: escape it in the JSON.
    let json = payment_object.replace("</", "<\\/");
    let action = if widget {
        r#"<button id="open-widget" type="button">Open the payment widget</button><p>Widget result: <strong id="widget-status" aria-live="polite">pending</strong></p>"#
    } else {
        "<p>Redirecting to the payment page…</p>"
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout — epay demo shop</title>
<link rel="stylesheet" href="/payform/assets/form.css" integrity="{css}"></head>
<body><main><div class="card"><h1>Checkout</h1>{action}</div></main>
<script type="application/json" id="payment-object" data-widget="{widget}">{json}</script>
<script src="/payform/payment-api.js" integrity="{api}"></script>
<script src="/demo/demo.js" integrity="{demo}"></script>
</body></html>
"#,
        css = a.form_css.integrity,
        api = a.payment_api_js.integrity,
        demo = a.demo_js.integrity,
    )
}

/// The demo shop's success and failure pages.
pub fn shop_result(success: bool, invoice: &str, status: &str, reason: &str) -> String {
    let body = format!(
        r#"<div class="card" id="shop-result" data-status="{status}"><h1>{heading}</h1>
<dl class="order"><dt>Invoice</dt><dd id="invoice">{invoice}</dd><dt>Status</dt><dd id="status">{status}</dd>{reason}</dl>
<a class="button" href="/">Back to the shop</a></div>"#,
        heading = if success { "Thank you! Payment received." } else { "Payment failed" },
        invoice = escape(invoice),
        status = escape(status),
        reason = if reason.is_empty() {
            String::new()
        } else {
            format!(r#"<dt>Reason</dt><dd id="reason">{}</dd>"#, escape(reason))
        },
    );
    layout(Lang::En, if success { "Payment received" } else { "Payment failed" }, false, &body)
}

pub struct TransferFormView<'a> {
    pub lang: Lang,
    pub short: bool,
    pub raw_params: &'a str,
    pub kind: TransferKind,
    pub merchant: &'a str,
    pub description: &'a str,
    pub amount: &'a str,
    pub fee: &'a str,
    pub total: &'a str,
    pub currency: &'a str,
    /// The customer's saved cards that may pay (offered as the sender).
    pub paying_cards: &'a [(String, String)],
    /// The customer's saved cards (offered as the receiver).
    pub saved_cards: &'a [(String, String)],
    /// The cards the page's `senderCardId` / `receiverCardId` pre-select (one of the above).
    pub preselected: &'a crate::services::transfers::Preselected,
    pub alert: Option<&'a str>,
}

fn saved_select(id: &str, w: &super::i18n::Words, cards: &[(String, String)], selected: Option<&str>) -> String {
    if cards.is_empty() {
        return String::new();
    }
    let options: String = cards
        .iter()
        .map(|(card_id, mask)| {
            let chosen = if selected == Some(card_id.as_str()) { " selected" } else { "" };
            format!(r#"<option value="{}"{chosen}>{}</option>"#, escape(card_id), escape(mask))
        })
        .collect();
    format!(
        r#"<label for="{id}">{saved}</label><select id="{id}" name="{id}"><option value="">{new}</option>{options}</select>"#,
        saved = w.saved_card,
        new = w.new_card,
    )
}

/// The transfer form: sender card (P2P, AFT), receiver card (P2P, OCT), fee shown up front.
pub fn transfer_form(v: &TransferFormView<'_>) -> String {
    let w = words(v.lang);
    let title = match v.kind {
        TransferKind::Aft => w.aft_title,
        TransferKind::Oct => w.payout_title,
        TransferKind::P2p => w.transfer_title,
    };
    let alert = v.alert.map(|a| format!(r#"<p class="alert" role="alert">{}</p>"#, escape(a))).unwrap_or_default();
    let sender = if v.kind == TransferKind::Oct {
        String::new()
    } else {
        format!(
            r#"<fieldset><legend>{legend}</legend>{select}
<label for="pan">{l_pan}</label><input id="pan" name="pan" inputmode="numeric" autocomplete="cc-number" maxlength="23">
<div class="row"><div><label for="expiry">{l_exp}</label><input id="expiry" name="expiry" inputmode="numeric" autocomplete="cc-exp" placeholder="MM/YY" maxlength="5"></div>
<div><label for="cvc">{l_cvc}</label><input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" type="password" maxlength="4"></div></div>
<label for="holder">{l_holder}</label><input id="holder" name="name" autocomplete="cc-name" maxlength="64">
</fieldset>"#,
            legend = w.sender,
            select = saved_select("sender_card_id", w, v.paying_cards, v.preselected.sender.as_deref()),
            l_pan = w.card_number,
            l_exp = w.expiry,
            l_cvc = w.cvc,
            l_holder = w.holder,
        )
    };
    let receiver = if v.kind == TransferKind::Aft {
        String::new()
    } else {
        format!(
            r#"<fieldset><legend>{legend}</legend>{select}
<label for="receiver_pan">{l_pan}</label><input id="receiver_pan" name="receiver_pan" inputmode="numeric" maxlength="23">
</fieldset>"#,
            legend = w.receiver,
            select = saved_select("receiver_card_id", w, v.saved_cards, v.preselected.receiver.as_deref()),
            l_pan = w.receiver_number,
        )
    };
    let body = format!(
        r#"<div class="card">
<h1>{title}</h1>
<dl class="order">
<dt>{l_merchant}</dt><dd>{merchant}</dd>
<dt>{l_description}</dt><dd>{description}</dd>
<dt>{l_amount}</dt><dd class="amount"><span id="amount">{amount}</span> {currency}</dd>
<dt>{l_fee}</dt><dd><span id="fee">{fee}</span> {currency}</dd>
<dt>{l_total}</dt><dd><span id="total">{total}</span> {currency}</dd>
</dl>
{alert}
<form id="transfer-form" method="post" action="/payform/transfer">
<input type="hidden" name="params" value="{params}">
<input type="hidden" name="kind" value="{kind}">
<input type="hidden" name="isShortForm" value="{short}">
{sender}
{receiver}
<button id="transfer-submit" type="submit">{button} {total} {currency}</button>
</form>
<p class="note">{secure}</p>
</div>"#,
        l_merchant = w.merchant,
        merchant = escape(v.merchant),
        l_description = w.description,
        description = escape(v.description),
        l_amount = w.amount,
        amount = escape(v.amount),
        currency = escape(v.currency),
        l_fee = w.fee,
        fee = escape(v.fee),
        l_total = w.total,
        total = escape(v.total),
        params = escape(v.raw_params),
        kind = v.kind.as_str(),
        short = v.short,
        button = w.transfer,
        secure = w.secure_note,
    );
    layout(v.lang, title, v.short, &body)
}

/// A form that posts itself (3-D Secure hops); a button remains for browsers without scripts.
pub fn auto_post(lang: Lang, action: &str, fields: &[(&str, &str)], note: &str) -> String {
    if safe_link(action).is_empty() {
        return message(lang, false, note, "the return address is not an http(s) URL");
    }
    let inputs: String = fields
        .iter()
        .map(|(name, value)| format!(r#"<input type="hidden" name="{}" value="{}">"#, escape(name), escape(value)))
        .collect();
    let body = format!(
        r#"<div class="card"><h1>{note}</h1>
<form id="auto-post" method="post" action="{action}" data-autosubmit="true">{inputs}<noscript><button type="submit">OK</button></noscript></form>
</div>"#,
        note = escape(note),
        action = escape(action),
    );
    layout(lang, note, false, &body)
}

pub struct ChallengeView<'a> {
    pub merchant: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub card_mask: &'a str,
    pub acs_id: &'a str,
    pub md: &'a str,
    pub term_url: &'a str,
    /// Sandbox: the page tells the fixed code. Production: the code is per challenge.
    pub sandbox: bool,
}

/// The simulated issuer's 3-D Secure challenge page (in English: it is the bank's page).
pub fn challenge(v: &ChallengeView<'_>) -> String {
    let body = format!(
        r#"<div class="card" id="acs">
<h1>SIMULATED BANK — 3-D Secure</h1>
<p>Confirm the payment of <strong id="acs-amount">{amount} {currency}</strong> to <strong>{merchant}</strong> with card <strong>{mask}</strong>.</p>
<p class="note">{note}</p>
<form method="post" action="/acs/challenge/answer">
<input type="hidden" name="acs_id" value="{acs_id}">
<input type="hidden" name="MD" value="{md}">
<input type="hidden" name="TermUrl" value="{term_url}">
<label for="otp">One-time code</label>
<input id="otp" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="8">
<button id="acs-submit" type="submit" name="action" value="submit">Confirm</button>
<button id="acs-cancel" type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>
</div>"#,
        amount = escape(v.amount),
        currency = escape(v.currency),
        merchant = escape(v.merchant),
        mask = escape(v.card_mask),
        acs_id = escape(v.acs_id),
        md = escape(v.md),
        term_url = escape(v.term_url),
        note = if v.sandbox {
            "Sandbox: the one-time code is <strong>123456</strong>; any other code fails, Cancel aborts."
        } else {
            "Enter the one-time code sent to the card holder (this simulated bank writes it to the \
             gateway's log; operators read it with <code>epay acs code</code>). Cancel aborts."
        },
    );
    layout(Lang::En, "3-D Secure", false, &body)
}
