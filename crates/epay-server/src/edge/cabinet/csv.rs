//! CSV export of the transaction list (RFC 4180). Card numbers appear only as the stored masks.

use epay_domain::Amount;
use epay_store::Payment;

use crate::platform::clock::epay_datetime;

const HEADER: [&str; 16] = [
    "id",
    "createdDate",
    "invoiceId",
    "terminalId",
    "kind",
    "status",
    "amount",
    "chargedAmount",
    "refundedAmount",
    "currency",
    "cardMask",
    "reasonCode",
    "reason",
    "accountId",
    "description",
    "reference",
];

/// One field: quoted when it holds a comma, quote or line break (quotes doubled). A field that
/// a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading
/// apostrophe, so an exported description cannot execute in the merchant's spreadsheet.
pub fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn money(minor: i64) -> String {
    Amount::from_minor(minor).map(|a| a.to_string()).unwrap_or_else(|_| minor.to_string())
}

pub fn export(payments: &[Payment]) -> String {
    let mut out = HEADER.join(",");
    out.push_str("\r\n");
    for p in payments {
        let row = [
            p.id.clone(),
            epay_datetime(p.created_at),
            p.invoice_id.clone(),
            p.terminal_id.clone(),
            p.kind.to_string(),
            p.status.to_string(),
            money(p.amount_minor),
            money(p.charged_minor),
            money(p.refunded_minor),
            p.currency.clone(),
            p.card_mask.clone(),
            p.reason_code.to_string(),
            p.reason.clone(),
            p.account_id.clone(),
            p.description.clone(),
            p.reference.clone(),
        ];
        let fields: Vec<String> = row.iter().map(|f| field(f)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_needs_quoting() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-5"), "'-5");
    }

    #[test]
    fn exports_masked_cards_and_major_amounts() {
        let p = Payment {
            id: "t1".into(),
            amount_minor: 10050,
            card_mask: "440563...5096".into(),
            description: "mug, blue".into(),
            ..Payment::default()
        };
        let csv = export(&[p]);
        let mut lines = csv.split("\r\n");
        assert!(lines.next().unwrap().starts_with("id,createdDate,invoiceId"));
        let row = lines.next().unwrap();
        assert!(row.contains(",100.5,") && row.contains("440563...5096") && row.contains("\"mug, blue\""), "{row}");
    }
}
