//! Two gateway nodes on one database (PostgreSQL, or one SQLite file), as behind a load
//! balancer. Each node serves merchants and terminals from memory; a change made elsewhere
//! (here `epay terminal …` / `epay secret rotate` on the database, as an operator would) must
//! reach the other node within `CONFIG_STALENESS` (one second), whether it adds a terminal the
//! node had just been told does not exist, changes one it holds, or rotates the secret it
//! checks credentials against.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::*;
use epay_client::{Client, TokenRequest};
use epay_store::CONFIG_STALENESS;

/// Asks `node_sees_it` until it answers true. Every try that starts later than
/// `CONFIG_STALENESS` after `changed` must see the change: the node may be that far behind, and
/// no further. Returns how long it took.
async fn seen_in_time<F, Fut>(what: &str, changed: Instant, mut node_sees_it: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    loop {
        let started = Instant::now();
        if node_sees_it().await {
            return started - changed;
        }
        assert!(
            started < changed + CONFIG_STALENESS,
            "{what}: the node still answered from the old configuration {:?} after the change",
            started - changed
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A counter of the node's `/metrics` (sandbox: served on the API's address).
async fn metric(http: &reqwest::Client, url: &str, series: &str) -> u64 {
    let text = http.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("no {series} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn token_request(client_id: &str, secret: &str, terminal: &str) -> TokenRequest {
    TokenRequest::payment(client_id, secret, &invoice(), major("100"), "KZT", terminal)
}

/// Whether a token request was refused for its credentials (`401 invalid_client`), not for
/// any other reason (a 500, a refused connection).
fn refused_as_unknown_client<T>(answer: Result<T, epay_client::ClientError>) -> bool {
    matches!(answer, Err(epay_client::ClientError::Api { status: 401, ref body }) if body["error"] == "invalid_client")
}

/// `epay <args>` on the shared database, as an operator on another machine would; the moment it
/// finished (its change is committed by then).
fn operator(gw: &Gateway, args: &[&str]) -> (Instant, String) {
    let output = gw.run_epay(args);
    assert!(output.status.success(), "epay {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    (Instant::now(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn a_change_made_anywhere_reaches_every_node_within_a_second() {
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let second = gw.second_node().await;
        let node = Client::new(&second.url);
        let http = reqwest::Client::new();
        let b = format!("{backend:?}");

        // The second node answers token requests from memory: the merchant and terminal are
        // read once, then served without the database. Its cache serves only once its watcher
        // has read the configuration's version (and starting to listen on PostgreSQL empties
        // it), which a node just started under load may not have done yet: a few seconds at most.
        let serving_from = Instant::now();
        let hits = loop {
            for _ in 0..3 {
                node.token(&token_request(CLIENT, SECRET, TERMINAL)).await.unwrap();
            }
            let hits = metric(&http, &second.url, "epay_config_cache_reads_total{result=\"hit\"}").await;
            if hits >= 2 || serving_from.elapsed() > Duration::from_secs(5) {
                break hits;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(hits >= 2, "{b}: the second node served no merchant or terminal from memory ({hits} hits)");

        // 1. A terminal the node was just told does not exist becomes usable there once created.
        let new_terminal = uuid::Uuid::new_v4().to_string();
        for _ in 0..2 {
            let refused = node.token(&token_request(CLIENT, SECRET, &new_terminal)).await;
            assert!(refused.is_err(), "{b}: a token for a terminal that does not exist yet");
        }
        let (created, _) = operator(
            &gw,
            &["terminal", "create", "--client-id", CLIENT, "--id", &new_terminal, "--pos-id", "12345670"],
        );
        let took = seen_in_time(&format!("{b}: new terminal"), created, || async {
            node.token(&token_request(CLIENT, SECRET, &new_terminal)).await.is_ok()
        })
        .await;
        eprintln!("{b}: a new terminal was usable on the second node after {took:?}");

        // 2. A changed terminal: its POS number, shown by the status endpoint.
        let paid = gw.authorized_payment(major("100")).await;
        let invoice = gw.transaction_of(&paid).await["invoiceID"].as_str().unwrap().to_string();
        let pos_on_node = || async {
            let status = gw.status_answer_on(&second.url, TERMINAL, &invoice).await;
            status["transaction"]["terminal"].as_str().unwrap_or_default().to_string()
        };
        let before = pos_on_node().await;
        assert!(!before.is_empty() && before != "87654321", "{b}: {before}");
        let (changed, _) = operator(&gw, &["terminal", "update", TERMINAL, "--pos-id", "87654321"]);
        let took =
            seen_in_time(&format!("{b}: changed terminal"), changed, || async { pos_on_node().await == "87654321" })
                .await;
        eprintln!("{b}: a changed terminal was seen on the second node after {took:?}");

        // 3. A rotated client secret: the old one stops working there, the new one works.
        node.token(&token_request(CLIENT, SECRET, TERMINAL)).await.unwrap();
        let (rotated, out) = operator(&gw, &["secret", "rotate", "--client-id", CLIENT]);
        let new_secret = out
            .lines()
            .find_map(|l| l.strip_prefix("new client secret: "))
            .unwrap_or_else(|| panic!("{b}: no new secret in {out}"))
            .trim()
            .to_string();
        let took = seen_in_time(&format!("{b}: rotated secret"), rotated, || async {
            refused_as_unknown_client(node.token(&token_request(CLIENT, SECRET, TERMINAL)).await)
        })
        .await;
        eprintln!("{b}: the old secret stopped working on the second node after {took:?}");
        node.token(&token_request(CLIENT, &new_secret, TERMINAL)).await.unwrap();
        // And on the first node, which did not make the change through its own store either: it
        // is held to the same bound, from the same moment (not from when the second node saw it).
        seen_in_time(&format!("{b}: rotated secret on the first node"), rotated, || async {
            refused_as_unknown_client(gw.client.token(&token_request(CLIENT, SECRET, TERMINAL)).await)
        })
        .await;
        gw.client.token(&token_request(CLIENT, &new_secret, TERMINAL)).await.unwrap();
    }
}

/// A hand edit of the database (no write path of ours involved) is caught by the database's
/// triggers, so no code path, present or future, can forget to announce a change.
#[tokio::test]
async fn a_hand_edit_of_the_database_is_seen_too() {
    use epay_server::runtime::seed::THREE_DS_TERMINAL;
    for backend in backends() {
        let gw = Gateway::start(backend).await;
        let b = format!("{backend:?}");
        for _ in 0..2 {
            gw.client.token(&token_request(CLIENT, SECRET, THREE_DS_TERMINAL)).await.unwrap();
        }
        gw.execute_sql(&format!("DELETE FROM terminals WHERE id = '{THREE_DS_TERMINAL}'")).await;
        let edited = Instant::now();
        seen_in_time(&format!("{b}: deleted terminal"), edited, || async {
            gw.client.token(&token_request(CLIENT, SECRET, THREE_DS_TERMINAL)).await.is_err()
        })
        .await;
    }
}
