//! Admin commands against a running gateway's database: merchants, terminals, secrets, sandbox
//! test cards and the configuration check. Each is run as the real `epay` binary.

mod common;

use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use epay_client::{PaymentRequest, TokenRequest};
use epay_server::runtime::seed::TEST_WEBHOOK_SECRET;

/// Runs `epay <args>` on the gateway's data directory and database; (exit code, stdout, stderr).
fn epay(gw: &Gateway, args: &[&str]) -> (i32, String, String) {
    let (rsa, vault) = key_paths();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
        .env("EPAY_RSA_KEY_PATH", rsa)
        .env("EPAY_VAULT_KEY_PATH", vault)
        .args(args)
        .arg("--data-dir")
        .arg(&gw.dir)
        .env("DATABASE_URL", &gw.database_url)
        .env_remove("EPAY_CONFIG")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The value printed after `label` in a command's output.
fn field(out: &str, label: &str) -> String {
    out.lines().find_map(|l| l.strip_prefix(label)).unwrap_or_else(|| panic!("no {label} in {out}")).trim().to_string()
}

/// Asserts that the database keeps the webhook `secret` only sealed: neither it nor its key
/// part (the base64 after `whsec_`) appears anywhere in the database.
async fn assert_sealed_at_rest(gw: &Gateway, secret: &str) {
    let contents = gw.database_contents().await;
    let key = secret.trim_start_matches("whsec_");
    assert!(!contents.contains(key), "{:?}: the webhook secret {secret} is in the database in clear", gw.backend);
}

/// Pays 10 on `terminal` as `client`, with a postLink to `receiver`'s `path`; returns the
/// callback, once it has arrived.
async fn callback_of_a_payment(
    gw: &Gateway,
    (client, secret, terminal): (&str, &str, &str),
    receiver: &Receiver,
    path: &str,
) -> common::receiver::Hit {
    let invoice = invoice();
    let token = gw
        .client
        .token(&TokenRequest {
            post_link: Some(format!("{}/{path}", receiver.url)),
            ..TokenRequest::payment(client, secret, &invoice, major("10"), "KZT", terminal)
        })
        .await
        .unwrap()
        .access_token;
    let request = PaymentRequest::new(&invoice, major("10"), gw.cryptogram(VISA, terminal).await);
    gw.client.cryptopay(&token, &request).await.unwrap();
    let hits = receiver.wait_for(path, 1, Duration::from_secs(20)).await;
    assert_eq!(hits.len(), 1, "{:?}: one callback to /{path}", gw.backend);
    hits[0].clone()
}

#[tokio::test]
async fn a_new_merchant_with_its_own_terminal_takes_payments() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let client_id = format!("shop-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let (code, out, err) = epay(&gw, &["merchant", "create", "--name", "Coffee shop", "--client-id", &client_id]);
        assert_eq!(code, 0, "{backend:?}: {out}{err}");
        let secret = field(&out, "client secret:");
        assert_eq!(secret.len(), 36);
        let webhook = field(&out, "webhook secret:");
        assert!(webhook.starts_with("whsec_"));
        assert!(!gw.database_contents().await.contains(&secret), "only the secret's digest is stored");
        assert_sealed_at_rest(&gw, &webhook).await;
        // The same client id again is refused, with a reason, and a non-zero exit.
        let (code, _, err) = epay(&gw, &["merchant", "create", "--name", "Again", "--client-id", &client_id]);
        assert_ne!(code, 0);
        assert!(err.contains("already exists"), "{err}");

        let (code, out, err) = epay(
            &gw,
            &["terminal", "create", "--client-id", &client_id, "--pos-id", "77700001", "--two-step", "false"],
        );
        assert_eq!(code, 0, "{out}{err}");
        let terminal = field(&out, "terminal id:");
        assert_eq!(field(&out, "operation callbacks:"), "off", "a new terminal sends no operation callbacks");
        let invoice = invoice();
        let token = gw
            .client
            .token(&TokenRequest::payment(&client_id, &secret, &invoice, major("100"), "KZT", &terminal))
            .await
            .unwrap()
            .access_token;
        let request = PaymentRequest::new(&invoice, major("100"), gw.cryptogram(VISA, &terminal).await);
        assert_eq!(gw.client.cryptopay(&token, &request).await.unwrap().status, "CHARGE", "one-step terminal");
        // Its callbacks are signed with the webhook secret the operator was shown.
        let receiver = Receiver::start().await;
        let hit = callback_of_a_payment(&gw, (&client_id, &secret, &terminal), &receiver, "ok").await;
        assert!(hit.signed_with(&webhook), "{backend:?}: signed with the printed secret");
        // The fee is printed in the units its flags take: tenge, not minor units.
        let (code, out, err) = epay(
            &gw,
            &["terminal", "update", &terminal, "--fee-percent-bp", "150", "--fee-fixed", "100.5", "--fee-min", "50"],
        );
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(field(&out, "transfer fee:"), "150 bp + 100.5 KZT, at least 50 KZT; daily limit none");
        let (code, out, err) = epay(&gw, &["terminal", "update", &terminal, "--daily-limit", "250000"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(field(&out, "transfer fee:").ends_with("daily limit 250000 KZT"), "{out}");
        // Bad settings are refused and change nothing.
        for bad in [
            vec!["terminal", "create", "--client-id", &client_id, "--pos-id", "12"],
            vec!["terminal", "create", "--client-id", "nobody", "--pos-id", "77700002"],
            vec!["terminal", "update", &terminal, "--fee-percent-bp", "20000"],
            vec!["terminal", "update", &terminal, "--fee-min", "-5"],
            vec!["terminal", "update", "00000000-0000-4000-8000-000000000000", "--three-ds", "true"],
            vec!["terminal", "update", &terminal, "--operation-callbacks", "maybe"],
        ] {
            let (code, out, err) = epay(&gw, &bad);
            assert_ne!(code, 0, "{bad:?}: {out}");
            assert!(!err.trim().is_empty(), "{bad:?} says why");
        }
        gw.assert_ledger_sound();
    }
}

#[tokio::test]
async fn terminal_update_switches_3ds_on_for_a_running_gateway() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (code, out, err) = epay(&gw, &["terminal", "update", TERMINAL, "--three-ds", "true"]);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(field(&out, "3-D Secure:"), "true");
        assert_eq!(field(&out, "two-step:"), "true", "what is not given stays");
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("100")).await;
        let request = gw.payment_request(&invoice, major("100"), ("4000000000003220", "1230", "123")).await;
        let (status, body) =
            gw.post_json("/payment/cryptopay", Some(&token), &serde_json::to_string(&request).unwrap()).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("3D")), "{backend:?}: {body}");
    }
}

#[tokio::test]
async fn rotated_secrets_replace_the_old_ones() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let (code, out, err) = epay(&gw, &["secret", "rotate", "--client-id", CLIENT]);
        assert_eq!(code, 0, "{out}{err}");
        let new_secret = field(&out, "new client secret:");
        let old = gw.client.token(&TokenRequest::service(CLIENT, SECRET, TERMINAL)).await;
        assert!(old.is_err(), "{backend:?}: the old secret stops working");
        assert!(gw.client.token(&TokenRequest::service(CLIENT, &new_secret, TERMINAL)).await.is_ok());
        let (code, out, _) = epay(&gw, &["secret", "rotate", "--client-id", CLIENT, "--webhook"]);
        assert_eq!(code, 0);
        let webhook = field(&out, "new webhook secret:");
        assert!(webhook.starts_with("whsec_") && webhook != "whsec_ZXBheS10ZXN0LW1lcmNoYW50LXdlYmhvb2stc2VjcmV0");
        // Stored sealed; callbacks from now on are signed with the new secret, not the old one.
        assert_sealed_at_rest(&gw, &webhook).await;
        let receiver = Receiver::start().await;
        let hit = callback_of_a_payment(&gw, (CLIENT, &new_secret, TERMINAL), &receiver, "ok").await;
        assert!(hit.signed_with(&webhook) && !hit.signed_with(TEST_WEBHOOK_SECRET), "{backend:?}");
        let (code, _, err) = epay(&gw, &["secret", "rotate", "--client-id", "nobody"]);
        assert_ne!(code, 0);
        assert!(err.contains("not found"), "{err}");
    }
}

#[tokio::test]
async fn issued_test_cards_pay_after_a_restart() {
    let mut gw = Gateway::start(Backend::Sqlite).await;
    let (code, out, err) = epay(&gw, &["card", "issue", "--brand", "mastercard", "--balance", "300"]);
    assert_eq!(code, 0, "{out}{err}");
    let pan = field(&out, "card number:");
    let cvc = field(&out, "cvc:");
    assert!(pan.starts_with('5') && pan.len() == 16);
    assert!(epay_domain::Pan::parse(&pan).is_ok(), "Luhn-valid");
    let (code, _, err) = epay(&gw, &["card", "issue", "--decline", "12345"]);
    assert_ne!(code, 0, "an unknown decline code is refused");
    assert!(err.contains("decline"), "{err}");
    gw.restart().await;
    let invoice = invoice();
    let token = gw.payment_token(&invoice, major("200")).await;
    let request = gw.payment_request(&invoice, major("200"), (&pan, "1230", &cvc)).await;
    assert_eq!(gw.client.cryptopay(&token, &request).await.unwrap().status, "AUTH");
    // Its balance was 300: another 200 does not fit.
    let invoice = common::invoice();
    let token = gw.payment_token(&invoice, major("200")).await;
    let request = gw.payment_request(&invoice, major("200"), (&pan, "1230", &cvc)).await;
    assert_eq!(gw.client.cryptopay(&token, &request).await.unwrap_err().code(), Some(484));
}

#[tokio::test]
async fn config_check_reports_the_effective_settings_and_fails_on_bad_ones() {
    let gw = Gateway::start(Backend::Postgres).await;
    let (code, out, err) = epay(&gw, &["config", "check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("configuration OK"), "{out}");
    assert!(out.contains("migrations applied"), "{out}");
    let unreachable = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
        .args(["config", "check", "--database-url", "postgres://nobody:hunter2@127.0.0.1:1/none"])
        .env_remove("EPAY_CONFIG")
        .output()
        .unwrap();
    assert!(!unreachable.status.success());
    let text =
        format!("{}{}", String::from_utf8_lossy(&unreachable.stdout), String::from_utf8_lossy(&unreachable.stderr));
    assert!(!text.contains("hunter2"), "a database password is never printed: {text}");
    let bad_mode = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
        .args(["config", "check"])
        .env("EPAY_MODE", "staging")
        .env_remove("EPAY_CONFIG")
        .output()
        .unwrap();
    assert_eq!(bad_mode.status.code(), Some(2));
    // Every admin command explains itself.
    for command in ["merchant", "terminal", "secret", "card", "config", "ledger"] {
        let help = std::process::Command::new(env!("CARGO_BIN_EXE_epay")).args([command, "--help"]).output().unwrap();
        assert!(help.status.success(), "{command} --help");
    }
}

#[tokio::test]
async fn vault_key_rotation_reseals_saved_cards_while_the_gateway_runs() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        // Saved cards under the first data key.
        let mut card_ids = Vec::new();
        for card in [VISA, MASTERCARD] {
            let invoice = invoice();
            let token = gw.payment_token(&invoice, major("10")).await;
            let mut request = gw.payment_request(&invoice, major("10"), card).await;
            request.card_save = true;
            request.account_id = Some("vault-user".into());
            card_ids.push(gw.client.cryptopay(&token, &request).await.unwrap().card_id);
        }
        let contents = gw.database_contents().await;
        assert!(contents.contains("v2."), "{backend:?}: card numbers are sealed under a data key");
        let (code, out, err) = epay(&gw, &["keys", "rotate"]);
        assert_eq!(code, 0, "{out}{err}");
        let new_key = field(&out, "new data key:");
        assert!(field(&out, "resealed:").starts_with('2'), "{out}");
        assert!(field(&out, "resealed:").ends_with("1 webhook secrets"), "the test merchant's: {out}");
        let store = gw.store().await;
        let keys = store.vault_keys().await.unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.iter().filter(|k| k.active).map(|k| k.id.as_str()).collect::<Vec<_>>(), vec![new_key.as_str()]);
        let (merchant, _) = epay_server::runtime::seed::test_merchant();
        for card in store.saved_cards(&merchant.id, "vault-user").await.unwrap() {
            assert!(card.pan_ciphertext.starts_with(&format!("v2.{new_key}.")), "{}", card.pan_ciphertext);
        }
        let webhook = store.merchant(&merchant.id).await.unwrap().unwrap().webhook_secret;
        assert!(webhook.expose().starts_with(&format!("v2.{new_key}.")), "the webhook secret too");
        assert_sealed_at_rest(&gw, TEST_WEBHOOK_SECRET).await;
        // The running gateway signs with the resealed secret, as before (it learns the key).
        let receiver = Receiver::start().await;
        let hit = callback_of_a_payment(&gw, (CLIENT, SECRET, TERMINAL), &receiver, "ok").await;
        assert!(hit.signed_with(TEST_WEBHOOK_SECRET), "{backend:?}");
        // The running gateway has not seen the new key yet; paying with a resealed card works.
        let invoice = invoice();
        let token = gw.payment_token(&invoice, major("10")).await;
        let (status, body) = gw
            .post_json(
                "/payments/cards/auth",
                Some(&token),
                &serde_json::json!({"amount": 10, "currency": "KZT", "invoiceID": invoice, "terminalId": TERMINAL,
                                    "accountId": "vault-user", "cardId": {"id": card_ids[0]}})
                .to_string(),
            )
            .await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        // No test card number in clear anywhere: database files, log.
        let contents = gw.database_contents().await;
        let log = gw.log();
        for pan in ALL_TEST_PANS {
            assert!(!contents.contains(pan) && !log.contains(pan), "{backend:?}: {pan} in clear");
        }
        // A wrapped data key does not reveal the key: the database holds no raw key bytes.
        assert!(keys.iter().all(|k| k.wrapped_key.len() > 60));
    }
}

#[tokio::test]
async fn production_refuses_a_master_key_beside_the_data() {
    let dir = std::env::temp_dir().join(format!("epay-vault-{}", uuid::Uuid::new_v4()));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_epay"))
        .args(["config", "check", "--mode", "production", "--data-dir"])
        .arg(&dir)
        .env_remove("EPAY_CONFIG")
        .env_remove("EPAY_VAULT_KEY_PATH")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("beside the data"));
}
