//! Production mode and the public test credentials (issue 15, item 13): no built-in card, no
//! start on a database holding the public sandbox merchant or cabinet user until
//! `epay sandbox purge`, and no fixed 3-D Secure code. On SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::*;
use epay_client::PaymentRequest;
use serde_json::Value;

const PROD_TERMINAL: &str = "aaaaaaaa-bbbb-4ccc-8ddd-000000000001";
const PROD_SECURE_TERMINAL: &str = "aaaaaaaa-bbbb-4ccc-8ddd-000000000002";

/// A production gateway with one merchant (client `prod`), a plain and a 3-D Secure terminal,
/// and the cards in `cards_file` only.
async fn production_gateway(backend: Backend, cards_file: &std::path::Path) -> Gateway {
    let gw =
        Gateway::start_with(backend, &[("EPAY_MODE", "production"), ("EPAY_CARDS_FILE", cards_file.to_str().unwrap())])
            .await;
    let terminal = |id: &str, pos: &str, three_ds: bool| epay_store::Terminal {
        id: id.into(),
        merchant_id: "prod-merchant".into(),
        pos_id: pos.into(),
        name: "prod".into(),
        three_ds,
        hold_period_secs: 3600,
        ..Default::default()
    };
    gw.store()
        .await
        .upsert_merchant(
            &epay_store::Merchant {
                id: "prod-merchant".into(),
                name: "Prod".into(),
                client_id: "prod".into(),
                secret_digest: epay_server::platform::keys::secret_digest("prod-secret"),
                webhook_secret: "whsec_c2VjcmV0".into(),
                token_generation: 0,
            },
            &[terminal(PROD_TERMINAL, "90000011", false), terminal(PROD_SECURE_TERMINAL, "90000012", true)],
        )
        .await
        .unwrap();
    gw
}

async fn pay(gw: &Gateway, terminal: &str, card: (&str, &str, &str)) -> (u16, Value) {
    let invoice = invoice();
    let token = gw.token_on_as("prod", "prod-secret", &invoice, major("100"), terminal).await;
    let request = PaymentRequest::new(&invoice, major("100"), gw.cryptogram(card, terminal).await);
    gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await
}

#[tokio::test]
async fn production_has_no_public_test_card_and_no_fixed_three_ds_code() {
    let cards = std::env::temp_dir().join(format!("epay-prod-cards-{}", uuid::Uuid::new_v4()));
    let plain = issue_card(&cards, false);
    let secure = issue_card(&cards, true);
    let cards_file = cards.join("issued-cards.toml");
    for backend in backends() {
        let gw = production_gateway(backend, &cards_file).await;
        // The published test cards do not exist at this issuer, in any of their published forms,
        // and the sandbox's 3-D Secure terminal is not seeded.
        for public in [VISA, MASTERCARD, SEED_VISA, ("377514500000794", "0923", "1687")] {
            let (status, body) = pay(&gw, PROD_TERMINAL, public).await;
            assert_ne!(status, 200, "{backend:?}: {body}");
            assert_eq!(body["code"], 471, "{backend:?}: a public test card must be unknown: {body}");
        }
        assert!(gw.store().await.terminal(epay_server::runtime::seed::THREE_DS_TERMINAL).await.unwrap().is_none());
        // An issued card pays.
        let (status, body) = pay(&gw, PROD_TERMINAL, (&plain.0, &plain.1, &plain.2)).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        // The payment page checks the expiry date in the browser (the sandbox leaves it to the
        // gateway's clock).
        let order = invoice();
        let token = gw.token_on_as("prod", "prod-secret", &order, major("100"), PROD_TERMINAL).await;
        let params = epay_server::edge::page::params::encode(
            &[
                ("invoiceId", order.clone()),
                ("backLink", "https://shop.example/ok".into()),
                ("description", "Test order".into()),
                ("terminal", PROD_TERMINAL.into()),
                ("amount", "100".into()),
                ("currency", "KZT".into()),
            ],
            &[("access_token", token), ("scope", "payment".into()), ("token_type", "Bearer".into())],
        );
        let page = gw.http.get(format!("{}/payform/?params={params}", gw.url)).send().await.unwrap();
        let page = page.text().await.unwrap();
        assert!(page.contains(r#"data-check-date="true""#), "{backend:?}: {page}");

        // 3-D Secure: the sandbox code 123456 fails; the challenge's own code passes.
        let secure = (secure.0.as_str(), secure.1.as_str(), secure.2.as_str());
        for answer_with_real_code in [false, true] {
            let invoice = invoice();
            let token = gw.token_on_as("prod", "prod-secret", &invoice, major("100"), PROD_SECURE_TERMINAL).await;
            let request =
                PaymentRequest::new(&invoice, major("100"), gw.cryptogram(secure, PROD_SECURE_TERMINAL).await);
            let (status, three_d) =
                gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
            assert_eq!(status, 200, "{backend:?}: {three_d}");
            let s = &three_d["secure3D"];
            let form = [
                ("PaReq", s["paReq"].as_str().unwrap()),
                ("MD", s["md"].as_str().unwrap()),
                ("TermUrl", "https://merchantsite.com/3dRes"),
            ];
            let challenge = gw.http.post(s["action"].as_str().unwrap()).form(&form).send().await.unwrap();
            let challenge = challenge.text().await.unwrap();
            assert!(!challenge.contains("123456"), "{backend:?}: production shows no fixed code: {challenge}");
            let acs_id = hidden_input(&challenge, "acs_id");
            let output = gw.run_epay(&["acs", "code", &acs_id, "--mode", "production"]);
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            let real_code = String::from_utf8_lossy(&output.stdout).trim().to_string();
            assert_eq!(real_code.len(), 6, "{real_code}");
            assert!(gw.log().contains(&real_code), "{backend:?}: the operator log carries the code");
            if !answer_with_real_code && real_code == "123456" {
                continue; // one chance in a million: this challenge's code happens to be it
            }
            let code = if answer_with_real_code { real_code.as_str() } else { "123456" };
            let answer = [
                ("acs_id", acs_id.clone()),
                ("MD", hidden_input(&challenge, "MD")),
                ("TermUrl", hidden_input(&challenge, "TermUrl")),
                ("code", code.to_string()),
                ("action", "submit".to_string()),
            ];
            let pa_res = hidden_input(&answer_acs(&gw, &answer).await, "PaRes");
            let confirm = serde_json::json!({"PaRes": pa_res, "MD": s["md"]}).to_string();
            let (status, body) = gw.post_json("/payment/cryptopay/confirm", Some(&token), &confirm).await;
            if answer_with_real_code {
                assert_eq!(status, 200, "{backend:?}: {body}");
            } else {
                assert_ne!(status, 200, "{backend:?}: 123456 must not pass in production: {body}");
                assert_eq!(body["code"], 473, "{backend:?}: {body}");
            }
        }
        gw.assert_ledger_sound();
    }
    std::fs::remove_dir_all(cards).ok();
}

#[tokio::test]
async fn production_refuses_a_public_test_card_in_a_card_file() {
    let dir = std::env::temp_dir().join(format!("epay-prod-public-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cards.toml");
    let cases = [
        (
            "[[card]]\npan = \"4405639704015096\"\nexpiry = \"01/27\"\ncvc = \"321\"\nbalance = 100\n",
            "public test card",
        ),
        // The payouts page's card, added with seed 001's data.
        ("[[card]]\npan = \"377514500000794\"\nexpiry = \"09/23\"\ncvc = \"1687\"\n", "public test card"),
        // A card of the operator's own whose combination would never expire.
        (
            "[[card]]\npan = \"4111111111111111\"\nexpiry = \"01/20\"\ncvc = \"123\"\npublished = \"my wiki\"\n",
            "`published` combination, which is for the sandbox only",
        ),
    ];
    for (text, problem) in cases {
        std::fs::write(&file, text).unwrap();
        let keys = key_paths();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
            .args(["serve", "--mode", "production", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .env("EPAY_CARDS_FILE", &file)
            .env("EPAY_RSA_KEY_PATH", &keys.0)
            .env("EPAY_VAULT_KEY_PATH", &keys.1)
            .env_remove("EPAY_CONFIG")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains(problem), "{stderr}");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Starts `epay serve` in production on the gateway's data and database; it must exit (not
/// listen) within 60 s. Returns its stderr.
async fn production_start_refused(gw: &Gateway) -> String {
    let keys = key_paths();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_epay"))
        .args(["serve", "--mode", "production", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&gw.dir)
        .env("DATABASE_URL", &gw.database_url)
        .env("EPAY_RSA_KEY_PATH", &keys.0)
        .env("EPAY_VAULT_KEY_PATH", &keys.1)
        .env_remove("EPAY_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("production must refuse to start, not serve")
        .unwrap();
    assert!(!output.status.success(), "{:?}", output.status);
    assert!(!String::from_utf8_lossy(&output.stdout).contains("listening"));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_sandbox_database_starts_in_production_only_after_the_purge() {
    for backend in backends() {
        // A sandbox that never took a payment: the purge deletes the merchant outright.
        let mut gw = Gateway::start(backend).await;
        gw.kill().await;
        let stderr = production_start_refused(&gw).await;
        assert!(stderr.contains("client id \"test\"") && stderr.contains("epay@halykbank.kz"), "{stderr}");
        assert!(stderr.contains("epay sandbox purge"), "{backend:?}: the message names the command: {stderr}");
        let output = gw.run_epay(&["sandbox", "purge"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        gw.restart_with(&[("EPAY_MODE", "production")]).await;
        let store = gw.store().await;
        assert!(store.merchant(epay_server::runtime::seed::TEST_MERCHANT_ID).await.unwrap().is_none(), "{backend:?}");
        assert!(store.terminal(TERMINAL).await.unwrap().is_none(), "{backend:?}");
        assert!(store.cabinet_user_by_email(epay_server::runtime::seed::CABINET_EMAIL).await.unwrap().is_none());
        let err = gw.client.token(&epay_client::TokenRequest::service(CLIENT, SECRET, TERMINAL)).await.unwrap_err();
        assert_eq!(err.status(), Some(401), "{backend:?}");
        // The seeded payout balance went back to where it came from: the ledger balances.
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn the_purge_refuses_a_merchant_with_transactions_unless_forced() {
    for backend in backends() {
        let mut gw = Gateway::start(backend).await;
        let payment = gw.authorized_payment(major("100")).await;
        gw.kill().await;
        assert!(production_start_refused(&gw).await.contains("epay sandbox purge"));
        let output = gw.run_epay(&["sandbox", "purge"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains("--force"), "{backend:?}: {stderr}");
        // Refused means unchanged: production still refuses.
        assert!(production_start_refused(&gw).await.contains("client id \"test\""));
        let signing_secret = || async {
            let merchant = gw.store().await.merchant(epay_server::runtime::seed::TEST_MERCHANT_ID).await.unwrap();
            merchant.unwrap().webhook_secret
        };
        let published = signing_secret().await;
        let output = gw.run_epay(&["sandbox", "purge", "--force"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        // A new signing secret nobody knows, sealed like any other.
        let retired = signing_secret().await;
        assert!(retired != published && epay_server::platform::keys::Keys::is_sealed(retired.expose()), "{backend:?}");
        gw.restart_with(&[("EPAY_MODE", "production")]).await;
        let store = gw.store().await;
        // Retired: the transaction and its ledger stay, the public credentials are gone.
        assert!(store.payment_by_id(&payment).await.unwrap().is_some(), "{backend:?}");
        assert!(store.merchant_by_client_id(CLIENT).await.unwrap().is_none(), "{backend:?}");
        assert!(store.cabinet_user_by_email(epay_server::runtime::seed::CABINET_EMAIL).await.unwrap().is_none());
        let err = gw.client.token(&epay_client::TokenRequest::service(CLIENT, SECRET, TERMINAL)).await.unwrap_err();
        assert_eq!(err.status(), Some(401), "{backend:?}");
        gw.assert_ledger_sound();
    }
}
