//! Charge, cancel, refund, expiry, saved cards and Idempotency-Key — including concurrent
//! requests on one payment — over HTTP on SQLite and PostgreSQL.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn full_and_partial_charge_post_the_hold_and_release_the_rest() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        let store = gw.store().await;

        let full = gw.authorized_payment(major("100")).await;
        let (status, body) = gw.operation(&token, &full, "charge", "", None).await;
        assert_eq!((status, &body), (200, &json!({"code": 0, "message": ""})), "{backend:?}");
        let tx = gw.transaction_of(&full).await;
        assert_eq!((tx["statusName"].as_str(), tx["amount"].clone()), (Some("CHARGE"), json!(100)));
        assert_eq!(tx["payoutAmount"], json!(100));

        // Partial charge by ?amount=, the body agreeing.
        let partial = gw.authorized_payment(major("100")).await;
        let (status, body) = gw.operation(&token, &partial, "charge", "?amount=60", Some(r#"{"amount":60}"#)).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        let tx = gw.transaction_of(&partial).await;
        assert_eq!(tx["statusName"], "CHARGE");
        assert_eq!(
            (tx["amount"].clone(), tx["orgAmount"].clone(), tx["payoutAmount"].clone()),
            (json!(60), json!(100), json!(60))
        );
        let transfers = store.ledger_transfers_of(&partial).await.unwrap();
        let kinds: Vec<_> = transfers.iter().map(|t| (t.kind.as_str(), t.amount_minor)).collect();
        assert_eq!(kinds, vec![("pending", 10_000), ("post_pending", 6_000)]);
        let card = store.ledger_account(&transfers[0].debit_account).await.unwrap().unwrap();
        assert_eq!(card.debits_pending, 0, "{backend:?}: the unused 40 must be released");

        // Partial charge by JSON body only.
        let by_body = gw.authorized_payment(major("100")).await;
        let (status, _) = gw.operation(&token, &by_body, "charge", "", Some(r#"{"amount":25.5}"#)).await;
        assert_eq!(status, 200);
        assert_eq!(gw.transaction_of(&by_body).await["amount"], json!(25.5));

        // Refusals: disagreeing amounts, over the authorization, zero, garbage, double charge.
        let p = gw.authorized_payment(major("100")).await;
        for (query, body, mention) in [
            ("?amount=50", Some(r#"{"amount":60}"#), "differ"),
            ("?amount=100.01", None, "exceeds"),
            ("?amount=0", None, "greater than 0"),
            ("?amount=-5", None, "negative"),
            ("?amount=1.001", None, "decimal"),
            ("?amount=abc", None, "number"),
            ("", Some("{broken"), "JSON"),
        ] {
            let (status, answer) = gw.operation(&token, &p, "charge", query, body).await;
            assert_eq!(status, 400, "{backend:?} {query}: {answer}");
            assert_eq!(answer["code"], 100);
            assert!(answer["message"].as_str().unwrap().contains(mention), "{answer} should mention {mention}");
        }
        assert_eq!(gw.transaction_of(&p).await["statusName"], "AUTH", "refused charges changed the payment");
        assert_eq!(gw.operation(&token, &p, "charge", "", None).await.0, 200);
        let (status, answer) = gw.operation(&token, &p, "charge", "", None).await;
        assert_eq!(status, 400);
        assert!(answer["message"].as_str().unwrap().contains("AUTH status"), "{answer}");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn cancel_releases_the_hold_and_only_auth_can_be_cancelled() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        let store = gw.store().await;
        let p = gw.authorized_payment(major("100")).await;
        assert_eq!(gw.operation(&token, &p, "cancel", "", None).await.0, 200);
        assert_eq!(gw.transaction_of(&p).await["statusName"], "CANCEL");
        let transfers = store.ledger_transfers_of(&p).await.unwrap();
        let card = store.ledger_account(&transfers[0].debit_account).await.unwrap().unwrap();
        assert_eq!(card.debits_pending, 0);
        // Charge after cancel, cancel twice, cancel after charge, refund of an AUTH.
        let (status, answer) = gw.operation(&token, &p, "charge", "", None).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("it is CANCEL"), "{answer}");
        assert_eq!(gw.operation(&token, &p, "cancel", "", None).await.0, 400);
        let charged = gw.authorized_payment(major("100")).await;
        gw.operation(&token, &charged, "charge", "", None).await;
        assert_eq!(gw.operation(&token, &charged, "cancel", "", None).await.0, 400);
        let auth = gw.authorized_payment(major("100")).await;
        let (status, answer) = gw.operation(&token, &auth, "refund", "", None).await;
        assert_eq!(status, 400);
        assert!(answer["message"].as_str().unwrap().contains("CHARGE status"), "{answer}");
        assert_eq!(gw.operation(&token, &auth, "cancel", "?amount=10", None).await.0, 400);
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn refunds_partial_and_full_with_external_id_idempotency() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        let p = gw.authorized_payment(major("100")).await;
        gw.operation(&token, &p, "charge", "", None).await;

        assert_eq!(gw.operation(&token, &p, "refund", "?amount=30&externalID=r-1", None).await.0, 200);
        // The same externalID again: nothing new happens, the answer is the same.
        let (status, _) = gw.operation(&token, &p, "refund", "?amount=30&externalID=r-1", None).await;
        assert_eq!(status, 200, "{backend:?}");
        let (status, answer) = gw.operation(&token, &p, "refund", "?amount=20&externalID=r-1", None).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("externalID"), "{answer}");
        let tx = gw.transaction_of(&p).await;
        // After a partial refund the payment stays CHARGE; amount shows what is left.
        assert_eq!(tx["statusName"], "CHARGE");
        assert_eq!(
            (tx["amount"].clone(), tx["orgAmount"].clone(), tx["payoutAmount"].clone()),
            (json!(70), json!(100), json!(70))
        );

        // Below the 10-tenge minimum, above what is left, zero.
        for (query, mention) in
            [("?amount=5", "at least 10"), ("?amount=70.01", "exceeds"), ("?amount=0", "greater than 0")]
        {
            let (status, answer) = gw.operation(&token, &p, "refund", query, None).await;
            assert_eq!(status, 400, "{query}: {answer}");
            assert!(answer["message"].as_str().unwrap().contains(mention), "{answer}");
        }
        assert_eq!(gw.operation(&token, &p, "refund", "", Some(r#"{"amount":65}"#)).await.0, 200);
        // 5 is left: a refund under the minimum is allowed when it returns all that is left.
        assert_eq!(gw.operation(&token, &p, "refund", "?amount=5", None).await.0, 200);
        let tx = gw.transaction_of(&p).await;
        assert_eq!((tx["statusName"].as_str(), tx["amount"].clone()), (Some("REFUND"), json!(0)));
        let (status, answer) = gw.operation(&token, &p, "refund", "", None).await;
        assert_eq!(status, 400, "{answer}");
        let store = gw.store().await;
        let refunds = store.refunds_of(&p).await.unwrap();
        assert_eq!(refunds.iter().map(|r| r.2).collect::<Vec<_>>(), vec![3_000, 6_500, 500]);

        // Full refund without an amount.
        let q = gw.authorized_payment(major("42")).await;
        gw.operation(&token, &q, "charge", "", None).await;
        assert_eq!(gw.operation(&token, &q, "refund", "", None).await.0, 200);
        assert_eq!(gw.transaction_of(&q).await["statusName"], "REFUND");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn operations_on_unknown_or_foreign_payments_are_not_found() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // Another merchant with its own terminal and a charged payment.
        let store = gw.store().await;
        let other_terminal = "99999999-8888-4777-8666-555555555555";
        store
            .upsert_merchant(
                &epay_store::Merchant {
                    id: "other-merchant".into(),
                    name: "Other".into(),
                    client_id: "other".into(),
                    secret_digest: epay_server::platform::keys::secret_digest("other-secret"),
                    webhook_secret: "whsec_c2VjcmV0".into(),
                    token_generation: 0,
                },
                &[epay_store::Terminal {
                    id: other_terminal.into(),
                    merchant_id: "other-merchant".into(),
                    pos_id: "90000002".into(),
                    name: "other".into(),
                    two_step: false,
                    three_ds: false,
                    transfers_allowed: false,
                    hold_period_secs: 3600,
                    ..Default::default()
                }],
            )
            .await
            .unwrap();
        let invoice = invoice();
        let other_token = gw
            .client
            .token(&epay_client::TokenRequest::payment(
                "other",
                "other-secret",
                &invoice,
                major("100"),
                "KZT",
                other_terminal,
            ))
            .await
            .unwrap()
            .access_token;
        let request =
            epay_client::PaymentRequest::new(&invoice, major("100"), gw.cryptogram(MASTERCARD, other_terminal).await);
        let foreign = gw.client.cryptopay(&other_token, &request).await.unwrap();
        assert_eq!(foreign.status, "CHARGE");

        let token = gw.service_token(TERMINAL).await;
        for id in [foreign.id.as_str(), "00000000-0000-0000-0000-000000000000", "not-a-uuid"] {
            for op in ["charge", "cancel", "refund"] {
                let (status, answer) = gw.operation(&token, id, op, "", None).await;
                assert_eq!(status, 400, "{backend:?} {op} {id}: {answer}");
                assert!(answer["message"].as_str().unwrap().contains("not found"), "{answer}");
            }
        }
        // Without a token, or with a bad one.
        let response = gw.http.post(format!("{}/operation/{}/refund", gw.url, foreign.id)).send().await.unwrap();
        assert_eq!(response.status(), 401);
        // The foreign payment is untouched.
        let p = store.payment("other-merchant", &foreign.id).await.unwrap().unwrap();
        assert_eq!((p.status.as_str(), p.refunded_minor), ("CHARGE", 0));
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn fifty_concurrent_refunds_never_exceed_the_charge() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        let p = gw.authorized_payment(major("100")).await;
        gw.operation(&token, &p, "charge", "", None).await;
        let results =
            futures::future::join_all((0..50).map(|_| gw.operation(&token, &p, "refund", "?amount=30", None))).await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(ok, 3, "{backend:?}: 3 × 30 fit into 100, a 4th does not: {results:?}");
        for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
            assert_eq!(*status, 400);
            assert!(body["message"].as_str().unwrap().contains("exceeds what is left"), "{body}");
        }
        let store = gw.store().await;
        let payment = store.payment(&epay_server::runtime::seed::test_merchant().0.id, &p).await.unwrap().unwrap();
        assert_eq!(payment.refunded_minor, 9_000);
        gw.assert_ledger_sound();
    }
}

/// Twenty refunds with one externalID at once are one refund: the first refunds, the others
/// replay it (on PostgreSQL the losers meet the refund's unique externalID and replay; on
/// SQLite those decided ahead on the same read find the payment moved and replay the locked
/// way), every answer the same success, and the card gets the money back once.
#[tokio::test]
async fn concurrent_refunds_with_one_external_id_refund_once() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        let p = gw.authorized_payment(major("100")).await;
        gw.operation(&token, &p, "charge", "", None).await;
        let results = futures::future::join_all(
            (0..20).map(|_| gw.operation(&token, &p, "refund", "?amount=30&externalID=same", None)),
        )
        .await;
        for (status, body) in &results {
            assert_eq!((*status, body), (200, &json!({"code": 0, "message": ""})), "{backend:?}: {results:?}");
        }
        let store = gw.store().await;
        let payment = store.payment(&epay_server::runtime::seed::test_merchant().0.id, &p).await.unwrap().unwrap();
        assert_eq!(payment.refunded_minor, 3_000, "{backend:?}: refunded once");
        let refunds = store.refunds_of(&p).await.unwrap();
        assert_eq!(refunds.len(), 1, "{backend:?}: one refund row: {refunds:?}");
        gw.assert_ledger_sound();
    }
}

/// ePay's minimum refund (10, unless it is all that is left) is judged on the payment as the
/// refund's own transaction sees it. Deterministic on PostgreSQL: a test transaction holds the
/// payment's row; a refund of 95 waits for it, then a refund of the last 5 is asked and waits
/// behind the first. Once the row is free the first leaves 5, so the second is all that is left.
/// A check made before the refund's transaction saw 100 left and refused the 5.
#[tokio::test]
async fn the_minimum_refund_is_judged_in_the_refunds_own_transaction() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    use sqlx::Connection;
    let gw = Gateway::start(Backend::Postgres).await;
    let token = gw.service_token(TERMINAL).await;
    let p = gw.authorized_payment(major("100")).await;
    assert_eq!(gw.operation(&token, &p, "charge", "", None).await.0, 200);
    let mut watch = sqlx::PgConnection::connect(&gw.database_url).await.unwrap();
    let mut holder = sqlx::PgConnection::connect(&gw.database_url).await.unwrap();
    let mut held = holder.begin().await.unwrap();
    sqlx::query("SELECT id FROM payments WHERE id = $1 FOR UPDATE").bind(&p).execute(&mut *held).await.unwrap();

    let first = gw.operation(&token, &p, "refund", "?amount=95", None);
    let rest = async {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while lock_waiters(&mut watch).await < 1 {
            assert!(tokio::time::Instant::now() < deadline, "the first refund never waited for the row");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let second = gw.operation(&token, &p, "refund", "?amount=5", None);
        tokio::pin!(second);
        // The row is let go once the second refund waits for it too (or has answered already).
        let mut answered = None;
        loop {
            tokio::select! {
                answer = &mut second => { answered = Some(answer); break; }
                _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {
                    if lock_waiters(&mut watch).await >= 2 {
                        break;
                    }
                    assert!(tokio::time::Instant::now() < deadline, "the second refund neither waited nor answered");
                }
            }
        }
        held.commit().await.unwrap();
        match answered {
            Some(answer) => answer,
            None => second.await,
        }
    };
    let (first, second) = tokio::join!(first, rest);
    assert_eq!(first.0, 200, "{first:?}");
    assert_eq!(second.0, 200, "the last 5 is all that is left when its refund runs: {second:?}");
    let payment = gw.store().await.payment_by_id(&p).await.unwrap().unwrap();
    assert_eq!((payment.status.as_str(), payment.refunded_minor), ("REFUND", 10_000));
    gw.assert_ledger_sound();
}

/// How many sessions of the connection's PostgreSQL database wait for a lock.
async fn lock_waiters(conn: &mut sqlx::PgConnection) -> i64 {
    use sqlx::Row;
    let query = "SELECT COUNT(*) AS n FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'";
    sqlx::query(query).fetch_one(conn).await.unwrap().get("n")
}

/// A refund under the minimum of a payment the token cannot see answers "not found", as any
/// other refund of it does: the minimum is judged only on a payment the caller may refund.
#[tokio::test]
async fn a_refund_under_the_minimum_of_a_payment_the_token_cannot_see_is_not_found() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // A payment of the same merchant on another terminal (one-step: charged at once).
        let invoice = invoice();
        let token = gw.token_on(&invoice, major("100"), epay_server::runtime::seed::ONE_STEP_TERMINAL).await;
        let request = epay_client::PaymentRequest::new(
            &invoice,
            major("100"),
            gw.cryptogram(VISA, epay_server::runtime::seed::ONE_STEP_TERMINAL).await,
        );
        let other = gw.client.cryptopay(&token, &request).await.unwrap();
        assert_eq!(other.status, "CHARGE");
        let terminal_token = gw.service_token(TERMINAL).await;
        for id in [other.id.as_str(), "00000000-0000-0000-0000-000000000000"] {
            let (status, answer) = gw.operation(&terminal_token, id, "refund", "?amount=5", None).await;
            assert_eq!(status, 400, "{backend:?} {id}: {answer}");
            assert!(answer["message"].as_str().unwrap().contains("not found"), "{backend:?} {id}: {answer}");
        }
        // Its own terminal's token meets the minimum.
        let own_token = gw.service_token(epay_server::runtime::seed::ONE_STEP_TERMINAL).await;
        let (status, answer) = gw.operation(&own_token, &other.id, "refund", "?amount=5", None).await;
        assert_eq!(status, 400, "{backend:?}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("at least 10"), "{backend:?}: {answer}");
        let payment = gw.store().await.payment_by_id(&other.id).await.unwrap().unwrap();
        assert_eq!((payment.status.as_str(), payment.refunded_minor), ("CHARGE", 0), "{backend:?}");
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn concurrent_charge_and_cancel_and_double_charge_have_one_winner() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        for round in 0..5 {
            let p = gw.authorized_payment(major("100")).await;
            let (a, b) = tokio::join!(
                gw.operation(&token, &p, "charge", "", None),
                gw.operation(&token, &p, if round % 2 == 0 { "cancel" } else { "charge" }, "", None)
            );
            let winners = [a.0, b.0].iter().filter(|s| **s == 200).count();
            assert_eq!(winners, 1, "{backend:?} round {round}: {a:?} {b:?}");
            let status = gw.transaction_of(&p).await["statusName"].as_str().unwrap().to_string();
            assert!(status == "CHARGE" || status == "CANCEL", "{status}");
        }
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn authorizations_expire_to_cancel_old_when_the_sandbox_clock_moves() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let p = gw.authorized_payment(major("100")).await;
        let fresh = gw.sandbox_clock().await;
        let start_offset = fresh["offsetSeconds"].as_i64().unwrap();
        // Six days: still within the 7-day hold period.
        let (_, body) = gw.advance_clock(6 * 86_400).await;
        assert_eq!(body["expired"], 0, "{body}");
        assert_eq!(gw.transaction_of(&p).await["statusName"], "AUTH");
        let token = gw.service_token(TERMINAL).await;
        let (_, body) =
            gw.post_json("/sandbox/clock/advance", Some(&token), &json!({"seconds": 2 * 86_400}).to_string()).await;
        assert_eq!(body["expired"], 1, "{backend:?}: {body}");
        assert_eq!(body["offsetSeconds"].as_i64().unwrap() - start_offset, 8 * 86_400);
        assert_eq!(gw.transaction_of(&p).await["statusName"], "CANCEL_OLD");
        let store = gw.store().await;
        let transfers = store.ledger_transfers_of(&p).await.unwrap();
        assert_eq!(transfers.last().unwrap().kind.as_str(), "void_pending");
        let token = gw.service_token(TERMINAL).await;
        assert_eq!(gw.operation(&token, &p, "charge", "", None).await.0, 400);
        // Bad input to the clock.
        for query in ["", "?seconds=0", "?seconds=-5", "?seconds=abc", "?seconds=999999999"] {
            let (status, body) = gw.post_json(&format!("/sandbox/clock/advance{query}"), Some(&token), "").await;
            assert_eq!(status, 400, "{query}: {body}");
        }
        gw.assert_ledger_sound();
    }
}

/// The sandbox clock is one for every merchant: only a merchant's service token may read or move
/// it, never an anonymous request (a browser, a callback) or a shopper's payment token.
#[tokio::test]
async fn only_a_service_token_reads_or_moves_the_sandbox_clock() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let start = gw.sandbox_clock().await["offsetSeconds"].as_i64().unwrap();
        let advance = "/sandbox/clock/advance?seconds=86400";
        let payment_token = gw.payment_token(&invoice(), major("100")).await;
        let refused = [(None, 401), (Some("not-a-token"), 401), (Some(payment_token.as_str()), 403)];
        for (token, expected) in refused {
            let (status, body) = gw.post_json(advance, token, "").await;
            assert_eq!((status, body["code"].as_i64()), (expected, Some(-1)), "{backend:?} POST {token:?}: {body}");
            let mut read = gw.http.get(format!("{}/sandbox/clock", gw.url));
            if let Some(token) = token {
                read = read.bearer_auth(token);
            }
            let response = read.send().await.unwrap();
            assert_eq!(response.status().as_u16(), expected, "{backend:?} GET {token:?}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert!(body.get("now").is_none(), "{body}");
        }
        assert_eq!(gw.sandbox_clock().await["offsetSeconds"].as_i64().unwrap(), start, "{backend:?}: not moved");
        let (status, body) = gw.advance_clock(86_400).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert_eq!(body["offsetSeconds"].as_i64().unwrap() - start, 86_400, "{body}");
        assert_eq!(gw.sandbox_clock().await["offsetSeconds"].as_i64().unwrap() - start, 86_400);
    }
}

#[tokio::test]
async fn clock_control_does_not_exist_in_production() {
    for backend in backends() {
        let gw = Gateway::start_with(backend, &[("EPAY_MODE", "production")]).await;
        // No route at all: not even the token check answers (a production gateway has no seeds).
        assert_eq!(gw.post_json("/sandbox/clock/advance?seconds=60", None, "").await.0, 404, "{backend:?}");
    }
}

#[tokio::test]
async fn saved_cards_are_listed_masked_and_a_deactivated_card_cannot_pay() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let mut card_ids = Vec::new();
        for card in [VISA, MASTERCARD] {
            let invoice = invoice();
            let token = gw.payment_token(&invoice, major("100")).await;
            let mut request = gw.payment_request(&invoice, major("100"), card).await;
            request.card_save = true;
            request.account_id = Some("customer-7".into());
            request.name = "ARMAN ALI".into();
            card_ids.push(gw.client.cryptopay(&token, &request).await.unwrap().card_id);
        }
        let token = gw.service_token(TERMINAL).await;
        let list: serde_json::Value = gw
            .http
            .get(format!("{}/cards/customer-7", gw.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cards = list.as_array().expect("an array");
        assert_eq!(cards.len(), 2, "{backend:?}: {list}");
        assert_eq!(
            keys(&cards[0]),
            sorted(&[
                "ID",
                "TransactionId",
                "MerchantID",
                "CardHash",
                "CardMask",
                "PayerName",
                "Reference",
                "IntReference",
                "Token",
                "Terminal",
                "CreatedDate",
                "PaymentAvailable",
                "AccountID"
            ])
        );
        assert_eq!(cards[0]["CardMask"], "4405...5096");
        assert_eq!(cards[1]["CardMask"], "5522...6736");
        assert_eq!(cards[0]["PayerName"], "ARMAN ALI");
        assert_eq!(cards[0]["AccountID"], "customer-7");
        assert_eq!(cards[0]["Terminal"], "98120001");
        assert_eq!(cards[0]["PaymentAvailable"], true);
        assert_eq!(cards[0]["CardHash"].as_str().unwrap().len(), 64);
        assert_eq!(cards[0]["Token"].as_str().unwrap().len(), 32);
        assert_eq!(cards[0]["Reference"].as_str().unwrap().len(), 12);
        let empty: serde_json::Value = gw
            .http
            .get(format!("{}/cards/nobody", gw.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(empty, json!([]));

        let response = gw
            .http
            .post(format!("{}/card/deactivate/{}", gw.url, card_ids[0]))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, json!({"status": "card successfully deactivated"}));
        let again = gw
            .http
            .post(format!("{}/card/deactivate/{}", gw.url, card_ids[0]))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 400);
        let list: serde_json::Value = gw
            .http
            .get(format!("{}/cards/customer-7", gw.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);

        let invoice = invoice();
        let pay_token = gw.payment_token(&invoice, major("100")).await;
        let request =
            epay_client::SavedCardPaymentRequest::new(&invoice, major("100"), TERMINAL, "customer-7", &card_ids[0]);
        let err = gw.client.pay_with_saved_card(&pay_token, &request).await.unwrap_err();
        assert!(err.to_string().contains("deactivated"), "{backend:?}: {err}");
        assert!(gw.database_contents().await.matches("4405639704015096").next().is_none());
    }
}

#[tokio::test]
async fn idempotency_key_replays_the_response_and_refuses_a_different_request() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let token = gw.service_token(TERMINAL).await;
        let p = gw.authorized_payment(major("100")).await;
        gw.operation(&token, &p, "charge", "", None).await;
        let refund = |key: &'static str, amount: &'static str| {
            gw.http
                .post(format!("{}/operation/{p}/refund?amount={amount}", gw.url))
                .bearer_auth(&token)
                .header("Idempotency-Key", key)
                .send()
        };
        let first = refund("key-1", "20").await.unwrap();
        assert_eq!(first.status(), 200);
        let first_body = first.text().await.unwrap();
        let second = refund("key-1", "20").await.unwrap();
        assert_eq!(second.status(), 200, "{backend:?}");
        assert_eq!(second.headers().get("idempotent-replayed").unwrap(), "true");
        assert_eq!(second.text().await.unwrap(), first_body);
        let store = gw.store().await;
        assert_eq!(store.refunds_of(&p).await.unwrap().len(), 1, "{backend:?}: the replay refunded again");
        let different = refund("key-1", "25").await.unwrap();
        assert_eq!(different.status(), 422);
        let body: serde_json::Value = different.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains("different request"), "{body}");
        // A refused request wrote nothing, so nothing is stored: the retry runs again (and is
        // refused again), not replayed.
        let too_much = refund("key-2", "90").await.unwrap();
        assert_eq!(too_much.status(), 400);
        let again = refund("key-2", "90").await.unwrap();
        assert_eq!(again.status(), 400);
        assert!(again.headers().get("idempotent-replayed").is_none(), "{backend:?}");

        // A payment retried with its key returns the same payment, not "token already used".
        let invoice = invoice();
        let pay_token = gw.payment_token(&invoice, major("100")).await;
        let body = serde_json::to_string(&gw.payment_request(&invoice, major("100"), VISA).await).unwrap();
        let pay = || {
            gw.http
                .post(format!("{}/payment/cryptopay", gw.url))
                .bearer_auth(&pay_token)
                .header("Idempotency-Key", "pay-1")
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
        };
        let a: serde_json::Value = pay().await.unwrap().json().await.unwrap();
        let b: serde_json::Value = pay().await.unwrap().json().await.unwrap();
        assert_eq!(a["id"], b["id"], "{backend:?}: {a} {b}");
        let bad_key = gw
            .http
            .post(format!("{}/operation/{p}/refund", gw.url))
            .bearer_auth(&token)
            .header("Idempotency-Key", "x".repeat(300))
            .send()
            .await
            .unwrap();
        assert_eq!(bad_key.status(), 400);
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn one_shot_payment_tokens_cannot_run_operations_or_read_cards() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let p = gw.authorized_payment(major("100")).await;
        // A token bound to an invoice serves its one payment, not refunds of others.
        let payment_token = gw.payment_token(&invoice(), major("100")).await;
        let (status, answer) = gw.operation(&payment_token, &p, "charge", "", None).await;
        assert_eq!(status, 401, "{backend:?}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("service token"), "{answer}");
        let cards = gw.http.get(format!("{}/cards/anyone", gw.url)).bearer_auth(&payment_token).send().await.unwrap();
        assert_eq!(cards.status(), 403);
        let log = gw.http.get(format!("{}/callbacks/{p}", gw.url)).bearer_auth(&payment_token).send().await.unwrap();
        assert_eq!(log.status(), 403);
        assert_eq!(gw.transaction_of(&p).await["statusName"], "AUTH");
        // It reads its own invoice's status, never another invoice's (it travels through browsers).
        let own = invoice();
        let own_token = gw.payment_token(&own, major("100")).await;
        let other = gw.store().await.payment_by_id(&p).await.unwrap().unwrap().invoice_id;
        let status = gw.client.status(&own_token, &other).await.unwrap();
        assert_eq!(status.result_code, "102", "{backend:?}: another invoice is not found");
        assert!(status.transaction.is_none());
        assert_eq!(gw.client.status(&gw.service_token(TERMINAL).await, &other).await.unwrap().result_code, "100");
        // Idempotency keys belong to the merchant and the token's binding: another service token
        // of the same terminal with the same key and request gets the answer replayed, not a
        // "different request" error.
        let token_a = gw.service_token(TERMINAL).await;
        let token_b = gw.service_token(TERMINAL).await;
        for token in [&token_a, &token_b] {
            let response = gw
                .http
                .post(format!("{}/operation/{p}/charge?amount=10", gw.url))
                .bearer_auth(token)
                .header("Idempotency-Key", "shared-key")
                .send()
                .await
                .unwrap();
            assert_ne!(response.status(), 422, "{backend:?}");
        }
    }
}
