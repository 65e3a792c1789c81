//! The ledger keeps currencies apart (issue 15, item 10), on SQLite and PostgreSQL: a KZT card
//! paying USD or EUR is converted at the sandbox rate (1 USD = 500 KZT, 1 EUR = 550 KZT) and the
//! conversion is recorded; merchant, fee and conversion accounts are per currency; charges and
//! refunds use the recorded rate; fees and daily limits are per currency; `epay ledger check`
//! finds a posting between currencies.

mod common;

use common::*;
use epay_client::{PaymentRequest, TokenRequest};
use epay_server::runtime::seed::{ONE_STEP_TERMINAL, P2P_TERMINAL};
use serde_json::{json, Value};

/// A card payment of `amount` in `currency` with the (tenge) Visa test card on `terminal`.
async fn pay(gw: &Gateway, amount: Amount, currency: &str, terminal: &str) -> epay_store::Payment {
    let invoice = invoice();
    let request = TokenRequest::payment(CLIENT, SECRET, &invoice, amount, currency, terminal);
    let token = gw.client.token(&request).await.unwrap().access_token;
    let payment = PaymentRequest {
        currency: currency.into(),
        ..PaymentRequest::new(&invoice, amount, gw.cryptogram(VISA, terminal).await)
    };
    let paid = gw.client.cryptopay(&token, &payment).await.unwrap();
    payment_row(gw, &paid.id).await
}

async fn payment_row(gw: &Gateway, id: &str) -> epay_store::Payment {
    let (merchant, _) = epay_server::runtime::seed::test_merchant();
    gw.store().await.payment(&merchant.id, id).await.unwrap().expect("the payment is stored")
}

async fn account(gw: &Gateway, id: &str) -> epay_store::LedgerAccount {
    gw.store().await.ledger_account(id).await.unwrap().unwrap_or_else(|| panic!("account {id} exists"))
}

/// What a card can spend, in minor units of its currency.
async fn available(gw: &Gateway, card_account: &str) -> i64 {
    account(gw, card_account).await.available()
}

#[tokio::test]
async fn usd_and_eur_payments_take_the_converted_amount_from_a_tenge_card_and_credit_per_currency_accounts() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let usd = pay(&gw, major("12.34"), "USD", ONE_STEP_TERMINAL).await;
        assert_eq!(usd.status.as_str(), "CHARGE", "{backend:?}");
        let card = usd.card_account.clone().expect("a card account");
        // The conversion is recorded on the payment: 12.34 USD × 500 = 6170 KZT.
        assert_eq!(
            (usd.card_currency.as_str(), usd.fx_rate_micros, usd.card_amount_minor),
            ("KZT", 500_000_000, 617_000),
            "{backend:?}"
        );
        let after_usd = available(&gw, &card).await;

        let eur = pay(&gw, major("10.5"), "EUR", ONE_STEP_TERMINAL).await;
        assert_eq!((eur.card_currency.as_str(), eur.card_amount_minor), ("KZT", 577_500), "{backend:?}");
        assert_eq!(after_usd - available(&gw, &card).await, 577_500, "{backend:?}: 10.50 EUR × 550 tenge");

        // The merchant gets the payment's own currency, in an account of that currency.
        let usd_merchant = account(&gw, &format!("merchant:{ONE_STEP_TERMINAL}:USD")).await;
        assert_eq!((usd_merchant.currency.as_str(), usd_merchant.credits_posted), ("USD", 1_234), "{backend:?}");
        let eur_merchant = account(&gw, &format!("merchant:{ONE_STEP_TERMINAL}:EUR")).await;
        assert_eq!((eur_merchant.currency.as_str(), eur_merchant.credits_posted), ("EUR", 1_050), "{backend:?}");
        let store = gw.store().await;
        assert!(
            store.ledger_account(&format!("merchant:{ONE_STEP_TERMINAL}:KZT")).await.unwrap().is_none(),
            "{backend:?}: nothing was paid in tenge"
        );

        // Each currency balances on its own, through the pair's conversion accounts.
        let legs = store.ledger_transfers_of(&usd.id).await.unwrap();
        let leg = |id: String| legs.iter().find(|t| t.id == id).cloned().unwrap_or_else(|| panic!("{id}: {legs:?}"));
        let card_leg = leg(format!("{}:auth", usd.id));
        assert_eq!(
            (card_leg.debit_account.as_str(), card_leg.credit_account.as_str(), card_leg.amount_minor),
            (card.as_str(), "fx:USD-KZT:KZT", 617_000)
        );
        let merchant_leg = leg(format!("{}:auth:fx", usd.id));
        assert_eq!(
            (merchant_leg.debit_account.as_str(), merchant_leg.amount_minor),
            ("fx:USD-KZT:USD", 1_234),
            "{backend:?}"
        );
        assert_eq!(merchant_leg.credit_account, format!("merchant:{ONE_STEP_TERMINAL}:USD"));
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn charge_and_refunds_of_a_usd_payment_use_the_recorded_rate() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let paid = pay(&gw, major("100"), "USD", TERMINAL).await;
        assert_eq!(paid.status.as_str(), "AUTH", "{backend:?}");
        let card = paid.card_account.clone().unwrap();
        let held = available(&gw, &card).await;
        let service = gw.service_token(TERMINAL).await;

        // A partial charge of 60 USD posts 30 000 KZT and releases the rest of the 50 000 KZT hold.
        let (status, body) = gw.operation(&service, &paid.id, "charge", "", Some(r#"{"amount":60}"#)).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert_eq!(available(&gw, &card).await - held, 2_000_000, "{backend:?}: 40 USD of the hold came back");

        // Refunds give the card back tenge at the same rate: 25.5 USD = 12 750 KZT, then the rest.
        let before = available(&gw, &card).await;
        let (status, body) = gw.operation(&service, &paid.id, "refund", "", Some(r#"{"amount":25.5}"#)).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert_eq!(available(&gw, &card).await - before, 1_275_000, "{backend:?}");
        let (status, body) = gw.operation(&service, &paid.id, "refund", "", None).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert_eq!(available(&gw, &card).await - before, 3_000_000, "{backend:?}: all 60 USD back as 30 000 KZT");
        let merchant = account(&gw, &format!("merchant:{TERMINAL}:USD")).await;
        assert_eq!(merchant.credits_posted - merchant.debits_posted, 0, "{backend:?}");
        gw.assert_ledger_sound();
    }
}

async fn transfer_token(gw: &Gateway, order: &str, amount: Amount, currency: &str, terminal: &str) -> String {
    let request = TokenRequest {
        scope: "transfer".into(),
        ..TokenRequest::payment(CLIENT, SECRET, order, amount, currency, terminal)
    };
    gw.client.token(&request).await.unwrap().access_token
}

/// A P2P transfer Visa → Mastercard (both tenge cards) of `amount` in `currency` on `terminal`.
async fn p2p(gw: &Gateway, amount: Amount, currency: &str, terminal: &str) -> (u16, Value) {
    let id = invoice();
    let token = transfer_token(gw, &id, amount, currency, terminal).await;
    let body = json!({
        "order": {"amount": amount, "currency": currency, "description": "p2p", "id": id, "terminalId": terminal},
        "card": {"sender": {"transferType": "TYPEPAN", "cvc": VISA.2, "cardCred": VISA.0, "name": "Arman Ali",
                            "expire": {"month": &VISA.1[..2], "year": &VISA.1[2..]}},
                 "receiver": {"cardCred": MASTERCARD.0, "transferType": "TYPEPAN"}}
    });
    gw.post_json("/p2p/transfer", Some(&token), &body.to_string()).await
}

#[tokio::test]
async fn a_usd_transfer_pays_its_fee_in_usd_by_the_converted_tenge_minimum() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // The P2P terminal's fee is 1%, at least 95 tenge; in USD the minimum is 95 / 500 = 0.19.
        let (status, answer) = p2p(&gw, major("10"), "USD", P2P_TERMINAL).await;
        assert_eq!(status, 200, "{backend:?}: {answer}");
        assert_eq!((answer["currency"].as_str(), answer["fee"].as_f64()), (Some("USD"), Some(0.19)), "{backend:?}");
        let row = payment_row(&gw, answer["id"].as_str().unwrap()).await;
        assert_eq!(row.fee_minor, 19, "{backend:?}");
        let fees = account(&gw, &format!("fee:{P2P_TERMINAL}:USD")).await;
        assert_eq!((fees.currency.as_str(), fees.credits_posted), ("USD", 19), "{backend:?}");
        // The sender pays 10.19 USD = 5095 KZT; the tenge receiver gets 10 USD = 5000 KZT.
        let store = gw.store().await;
        let legs = store.ledger_transfers_of(&row.id).await.unwrap();
        let amount_of = |id: String| legs.iter().find(|t| t.id == id).map(|t| t.amount_minor);
        assert_eq!(amount_of(format!("{}:transfer", row.id)), Some(500_000), "{backend:?}: {legs:?}");
        assert_eq!(amount_of(format!("{}:fee", row.id)), Some(9_500), "{backend:?}: {legs:?}");
        assert_eq!(amount_of(format!("{}:fee:fx", row.id)), Some(19), "{backend:?}: {legs:?}");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn daily_transfer_limits_count_each_currency_alone() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let store = gw.store().await;
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        let small = "bbbbbbbb-0000-4000-8000-00000000f529";
        let terminal = epay_store::Terminal {
            id: small.into(),
            merchant_id: merchant.id.clone(),
            pos_id: "98120530".into(),
            name: "small".into(),
            transfers_allowed: true,
            hold_period_secs: 3600,
            // 1000 tenge a day; in USD that is 2 USD a day.
            transfer_daily_limit_minor: 100_000,
            ..Default::default()
        };
        store.upsert_merchant(&merchant, &[terminal]).await.unwrap();
        let (status, body) = p2p(&gw, major("999"), "KZT", small).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        // 999 tenge and 1.50 USD are not added together.
        let (status, body) = p2p(&gw, major("1.5"), "USD", small).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("CHARGE")), "{backend:?}: {body}");
        let (status, body) = p2p(&gw, major("1"), "KZT", small).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("CHARGE")), "{backend:?}: {body}");
        // But each currency has its limit: 1.50 + 1.00 USD is over 2 USD.
        let (_, body) = p2p(&gw, major("1"), "USD", small).await;
        assert_eq!(body["code"], 529, "{backend:?}: {body}");
        gw.assert_ledger_sound();
    }
}

/// Runs SQL on the gateway's database and returns the database's error, if any.
async fn try_sql(gw: &Gateway, sql: &str) -> Result<(), String> {
    use sqlx::Connection;
    let result = match gw.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&gw.database_url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.map(|_| ())
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&gw.database_url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.map(|_| ())
        }
    };
    result.map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_database_refuses_a_posting_between_currencies_and_ledger_check_finds_one() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let kzt = pay(&gw, major("100"), "KZT", ONE_STEP_TERMINAL).await;
        let _usd = pay(&gw, major("1"), "USD", ONE_STEP_TERMINAL).await;
        gw.assert_ledger_sound();
        let usd_merchant = format!("merchant:{ONE_STEP_TERMINAL}:USD");
        let corrupt =
            format!("UPDATE ledger_transfers SET credit_account = '{usd_merchant}' WHERE id = '{}:auth'", kzt.id);

        // The database itself refuses: a transfer between currencies, an account changing currency.
        let refused = try_sql(&gw, &corrupt).await.expect_err("a posting between currencies is refused");
        assert!(refused.contains("mixes currencies"), "{backend:?}: {refused}");
        let card = kzt.card_account.clone().unwrap();
        let refused = try_sql(&gw, &format!("UPDATE ledger_accounts SET currency = 'USD' WHERE id = '{card}'"))
            .await
            .expect_err("an account keeps its currency");
        assert!(refused.contains("keeps the currency"), "{backend:?}: {refused}");

        // With the guard removed (a hand edit, a restore from elsewhere), `ledger check` finds it.
        let drop_guard = match backend {
            Backend::Sqlite => "DROP TRIGGER ledger_transfers_one_currency_update",
            Backend::Postgres => "DROP TRIGGER ledger_transfers_one_currency ON ledger_transfers",
        };
        try_sql(&gw, drop_guard).await.unwrap();
        try_sql(&gw, &corrupt).await.unwrap();
        let (ok, out) = gw.run_cli(&["ledger", "check"]);
        assert!(!ok, "{backend:?}: ledger check must fail: {out}");
        let expected =
            format!("transfer {}:auth: mixes currencies: debits {card} (KZT) and credits {usd_merchant} (USD)", kzt.id);
        assert!(out.contains(&expected), "{backend:?}: {out}");
    }
}
