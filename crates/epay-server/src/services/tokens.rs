//! OAuth2 client-credentials tokens (facts §2).

use epay_domain::{Amount, Currency, InvoiceId, Secret, TransferKind};
use epay_store::TokenRecord;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::platform::keys::{secret_digest, Keys};
use crate::wire::TokenResponse;

/// RFC 6749 §5.2 errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    /// RFC 6749 §5.2 `invalid_grant`: a wrong user password, or a refresh token that is unknown,
    /// expired, used or revoked.
    #[error("{0}")]
    InvalidGrant(String),
    #[error("too many failed attempts; retry after {0} seconds")]
    TooManyAttempts(u64),
    #[error("internal error")]
    Internal,
}

/// A client that proved its secret: the merchant a token is issued to, and the scope it asked.
#[derive(Debug)]
pub struct Client {
    merchant_id: String,
    scope: String,
    /// The merchant's token generation when its secret was checked.
    token_generation: i64,
}

impl Client {
    /// The scope as requested (every word a known scope word); what the token may be bound to
    /// depends on it.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    pub fn merchant_id(&self) -> &str {
        &self.merchant_id
    }

    /// The merchant's token generation when its secret was checked: a token or refresh token
    /// of an older generation is revoked.
    pub fn token_generation(&self) -> i64 {
        self.token_generation
    }
}

/// Authenticates a token request's client, asking from `from` (the peer address). Wrong secrets
/// count against the client id from that address and against the address, in the store so that
/// every node shares the counts (crate::services::guard). The request's binding is read only after this,
/// so a wrong secret is answered as such whatever else the request holds.
pub async fn client(app: &App, credentials: Credentials, from: Option<std::net::IpAddr>) -> Result<Client, TokenError> {
    let Credentials { client_id, secret, scope } = credentials;
    let guard_keys =
        crate::services::guard::token_keys(&client_id, from, &crate::services::guard::Limits::from_config(&app.config));
    let guard = crate::services::guard::SharedGuard { store: app.store.as_ref() };
    let now = app.clock.now_ms();
    guard
        .check_all(&guard_keys, now)
        .await
        .map_err(internal)?
        .map_err(|t| TokenError::TooManyAttempts(t.retry_after_secs))?;
    let merchant = app.store.merchant_by_client_id(&client_id).await.map_err(internal)?;
    // Digest the presented secret even for an unknown client, so timing does not tell which
    // client ids exist.
    let presented = secret_digest(secret.expose());
    match merchant {
        // Secrets compare in constant time.
        // The generation is the one of the row whose secret was checked: read again later, it
        // could be a rotation's new generation while the old secret passed here, and the
        // token would outlive the rotation.
        Some(m) if m.secret_digest == presented => {
            Ok(Client { merchant_id: m.id, scope, token_generation: m.token_generation })
        }
        _ => {
            guard.fail_all(&guard_keys, now).await.map_err(internal)?;
            Err(TokenError::InvalidClient)
        }
    }
}

/// `POST /oauth2/token`: a new token for an authenticated client, bound as the request asks.
pub async fn issue(app: &App, client: &Client, binding: Binding) -> Result<TokenResponse, TokenError> {
    let Client { merchant_id, scope, token_generation: generation } = client;
    if let Some(id) = &binding.terminal_id {
        match app.store.terminal(id).await.map_err(internal)? {
            Some(t) if t.merchant_id == *merchant_id => {}
            // Another merchant's terminal is "not found", exactly like a missing one.
            _ => return Err(TokenError::InvalidRequest(format!("terminal {id:?} not found"))),
        }
    }

    // The binding travels in the token (URL queries, page forms): bounded, so every token
    // stays a few kilobytes at most.
    for (name, value, max) in [
        ("postLink", binding.post_link.as_str(), MAX_LINK_CHARS),
        ("failurePostLink", binding.failure_post_link.as_str(), MAX_LINK_CHARS),
        ("secret_hash", binding.secret_hash.as_ref().map_or("", Secret::expose), MAX_FIELD_CHARS),
        ("accountId", binding.account_id.as_deref().unwrap_or(""), MAX_FIELD_CHARS),
    ] {
        if value.chars().count() > max {
            return Err(TokenError::InvalidRequest(format!("{name} is longer than {max} characters")));
        }
    }
    let now = app.clock.now_ms();
    let record = TokenRecord {
        token_digest: issued_token_id(now),
        merchant_id: merchant_id.clone(),
        terminal_id: binding.terminal_id,
        scope: scope.clone(),
        invoice_id: binding.invoice.as_ref().map(|i| i.as_str().to_string()),
        amount_minor: binding.amount.map(Amount::minor),
        currency: binding.invoice.as_ref().map(|_| binding.currency.unwrap_or(Currency::Kzt).code().to_string()),
        post_link: binding.post_link,
        failure_post_link: binding.failure_post_link,
        secret_hash: binding.secret_hash,
        transfer_kind: binding.transfer_kind,
        account_id: binding.account_id,
        generation: *generation,
        expires_at: now + app.config.token_ttl_secs * 1000,
        used_at: None,
        created_at: now,
    };
    // Nothing is written: the token is its binding, sealed.
    let token = seal(&app.keys, &record);
    Ok(TokenResponse {
        access_token: token.into(),
        expires_in: app.config.token_ttl_secs,
        refresh_token: String::new(),
        scope: scope.clone(),
        token_type: "Bearer".into(),
    })
}

/// Longest `postLink`/`failurePostLink` a token may carry (longer URLs break in browsers and
/// proxies anyway), and longest `secret_hash` or `accountId`.
pub const MAX_LINK_CHARS: usize = 1024;
pub const MAX_FIELD_CHARS: usize = 256;

/// A new token id: 128 random bits, hex.
pub fn new_token_id() -> String {
    let mut id = [0u8; 16];
    aws_lc_rs::rand::fill(&mut id).expect("the system RNG works");
    hex::encode(id)
}

/// The id an issued access token is spent under (`spent_tokens`, inside the payment's own
/// transaction): the issue time in its first 48 bits (12 hex digits), then 80 random bits, 32
/// hex digits in all like [`new_token_id`]. Tokens are spent about as soon as they are issued,
/// so their spends land in the same few leaf pages of `spent_tokens`' key where random ids
/// put each on a page of its own (docs/performance.md). The id is not a secret: it travels
/// only inside the sealed token, whose seal is what a bearer must present; 80 random bits
/// keep two tokens of one millisecond apart.
fn issued_token_id(now_ms: i64) -> String {
    let mut random = [0u8; 10];
    aws_lc_rs::rand::fill(&mut random).expect("the system RNG works");
    let millis = u64::try_from(now_ms).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    format!("{millis:012x}{}", hex::encode(random))
}

/// What a token's text holds, sealed: its whole binding (short names keep the token short).
#[derive(Serialize, Deserialize)]
struct Sealed {
    i: String,
    m: String,
    g: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
    s: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    p: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    f: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    h: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<String>,
    e: i64,
    o: i64,
}

/// A token's text: `record` sealed under the gateway's current token key
/// ([`Keys::seal_token`]). `used_at` is not sealed: spending is the store's.
pub fn seal(keys: &Keys, record: &TokenRecord) -> String {
    let sealed = Sealed {
        i: record.token_digest.clone(),
        m: record.merchant_id.clone(),
        g: record.generation,
        t: record.terminal_id.clone(),
        s: record.scope.clone(),
        n: record.invoice_id.clone(),
        a: record.amount_minor,
        c: record.currency.clone(),
        p: record.post_link.clone(),
        f: record.failure_post_link.clone(),
        h: record.secret_hash.as_ref().map(|h| h.expose().to_string()),
        k: record.transfer_kind.map(|k| k.as_str().to_string()),
        u: record.account_id.clone(),
        e: record.expires_at,
        o: record.created_at,
    };
    keys.seal_token(&serde_json::to_vec(&sealed).expect("a token's binding serializes"))
}

/// The binding sealed in a token's text, if the gateway sealed it under a key it still accepts;
/// `None` for anything else. Expiry, generation and spending are the caller's to check.
pub fn open(keys: &Keys, text: &str) -> Option<TokenRecord> {
    let plain = keys.open_token(text)?;
    let s: Sealed = serde_json::from_slice(&plain).ok()?;
    let transfer_kind = match s.k {
        Some(word) => Some(word.parse::<TransferKind>().ok()?),
        None => None,
    };
    Some(TokenRecord {
        token_digest: s.i,
        merchant_id: s.m,
        terminal_id: s.t,
        scope: s.s,
        invoice_id: s.n,
        amount_minor: s.a,
        currency: s.c,
        post_link: s.p,
        failure_post_link: s.f,
        secret_hash: s.h.map(Secret::new),
        transfer_kind,
        account_id: s.u,
        generation: s.g,
        expires_at: s.e,
        used_at: None,
        created_at: s.o,
    })
}

/// Forgets the spent tokens that have expired (an expired token authorises nothing, spent or
/// not), in bounded batches; how many.
pub async fn purge_spent(app: &App) -> u64 {
    const BATCH: i64 = 1000;
    // Forgetting a spent token's row makes the token unspent, so a row goes only when the token
    // has expired on every node, not just on this one: nodes' clocks differ (drift; a sandbox
    // clock advanced on one node, or started from a fixed day at another moment). The earlier of
    // this node's clock and the real time, a day back, is a time every node has passed.
    const GRACE_MS: i64 = 24 * 60 * 60 * 1000;
    let now = app.clock.now_ms().min(app.clock.real_now_ms()) - GRACE_MS;
    let mut total = 0;
    for _ in 0..50 {
        match app.store.purge_spent_tokens(now, BATCH).await {
            Ok(purged) => {
                total += purged;
                if (purged as i64) < BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "forgetting expired spent tokens failed; will retry");
                break;
            }
        }
    }
    total
}

/// Who asks for a token, as the request names them (checked by [`client`]).
#[derive(Debug)]
pub struct Credentials {
    pub client_id: String,
    pub secret: Secret,
    /// Verbatim as requested; every word is a known scope word.
    pub scope: String,
}

/// What a new token is bound to, as the request asks; the terminal is checked by [`issue`].
#[derive(Debug)]
pub struct Binding {
    /// Trimmed; `None` when absent or blank.
    pub terminal_id: Option<String>,
    pub invoice: Option<InvoiceId>,
    pub amount: Option<Amount>,
    pub currency: Option<Currency>,
    pub post_link: String,
    pub failure_post_link: String,
    pub secret_hash: Option<Secret>,
    /// Extension (docs/compatibility.md): the one kind of transfer the token may make.
    pub transfer_kind: Option<TransferKind>,
    /// Extension: the customer whose saved cards the token may list and use.
    pub account_id: Option<String>,
}

fn internal(e: epay_store::StoreError) -> TokenError {
    tracing::error!(error = %e, "token storage failed");
    TokenError::Internal
}

#[cfg(test)]
/// Issuing tokens without a server, against the in-memory gateway: the client's secret, what a
/// token is bound to, and its lifetime by the gateway clock.
mod tests {
    use epay_domain::{Amount, InvoiceId, Secret};

    use super::{client, issue, Binding, Credentials, TokenError};
    use crate::app::App;
    use crate::platform::test_merchant::{PAYMENT_TERMINAL, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_MERCHANT_ID};
    use crate::services::auth::{self, BearerError};
    use crate::testing::NOW;

    fn credentials(secret: &str) -> Credentials {
        Credentials { client_id: TEST_CLIENT_ID.into(), secret: Secret::new(secret), scope: "webapi payment".into() }
    }

    fn binding(terminal: Option<&str>) -> Binding {
        Binding {
            terminal_id: terminal.map(String::from),
            invoice: None,
            amount: None,
            currency: None,
            post_link: String::new(),
            failure_post_link: String::new(),
            secret_hash: None,
            transfer_kind: None,
            account_id: None,
        }
    }

    #[tokio::test]
    async fn a_token_lives_token_ttl_secs_by_the_gateway_clock() {
        let app = App::for_tests(NOW).await;
        let ttl_ms = app.config.token_ttl_secs * 1000;
        let client = client(&app, credentials(TEST_CLIENT_SECRET), None).await.expect("the test client");
        let invoice = Binding {
            invoice: Some(InvoiceId::parse("000501").unwrap()),
            amount: Some(Amount::from_minor(10_000).unwrap()),
            ..binding(Some(PAYMENT_TERMINAL))
        };
        let answer = issue(&app, &client, invoice).await.expect("issued");
        assert_eq!((answer.expires_in, answer.token_type.as_str()), (app.config.token_ttl_secs, "Bearer"));
        let text = answer.access_token.expose().to_string();
        let record = auth::token(&app, &text).await.expect("opens");
        assert_eq!(record.token_digest.len(), 32, "the issue time and 80 random bits, hex");
        assert_eq!((record.created_at, record.expires_at), (NOW, NOW + ttl_ms));
        assert_eq!(record.merchant_id, TEST_MERCHANT_ID);
        assert_eq!(record.invoice_id.as_deref(), Some("000501"));
        assert_eq!((record.amount_minor, record.currency.as_deref()), (Some(10_000), Some("KZT")), "KZT by default");
        // It authenticates until its expiry by the same clock, not after.
        let app = app.at(NOW + ttl_ms - 1);
        assert!(auth::token(&app, &text).await.is_ok());
        let app = app.at(NOW + ttl_ms);
        assert_eq!(auth::token(&app, &text).await.unwrap_err(), BearerError::Expired);
        assert_eq!(auth::token(&app, "not-a-token").await.unwrap_err(), BearerError::Unknown);
        // Issuing wrote nothing: no token row, no spent token.
        let app = app.at(NOW);
        assert!(app.store.token_spent_at(&record.token_digest).await.unwrap().is_none());
        // Tampered with: one character changed is an unknown token.
        let mut tampered = text.clone().into_bytes();
        tampered[text.len() / 2] = if tampered[text.len() / 2] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(auth::token(&app, &tampered).await.unwrap_err(), BearerError::Unknown);
        assert!(text.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{text}");
    }

    #[tokio::test]
    async fn a_secret_rotation_revokes_the_tokens_issued_before() {
        let app = App::for_tests(NOW).await;
        let old_client = client(&app, credentials(TEST_CLIENT_SECRET), None).await.unwrap();
        let old = issue(&app, &old_client, binding(Some(PAYMENT_TERMINAL))).await.unwrap();
        let old = old.access_token.expose().to_string();
        assert!(auth::token(&app, &old).await.is_ok());
        let digest = crate::platform::keys::secret_digest("a-new-client-secret-0123456789");
        assert!(app.store.set_merchant_secret(TEST_MERCHANT_ID, &digest).await.unwrap());
        assert_eq!(auth::token(&app, &old).await.unwrap_err(), BearerError::Unknown);
        let new_client = client(&app, credentials("a-new-client-secret-0123456789"), None).await.unwrap();
        let new = issue(&app, &new_client, binding(Some(PAYMENT_TERMINAL))).await.unwrap();
        assert!(auth::token(&app, new.access_token.expose()).await.is_ok());
    }

    #[tokio::test]
    async fn a_token_round_trips_its_whole_binding_and_is_bounded() {
        use epay_domain::TransferKind;
        let app = App::for_tests(NOW).await;
        let record = epay_store::TokenRecord {
            token_digest: super::new_token_id(),
            merchant_id: TEST_MERCHANT_ID.into(),
            terminal_id: Some(PAYMENT_TERMINAL.into()),
            scope: "webapi payment transfer".into(),
            invoice_id: Some("0000000000000001".into()),
            amount_minor: Some(123_456),
            currency: Some("USD".into()),
            post_link: format!("https://shop.example/{}", "p".repeat(super::MAX_LINK_CHARS - 21)),
            failure_post_link: format!("https://shop.example/{}", "f".repeat(super::MAX_LINK_CHARS - 21)),
            secret_hash: Some(Secret::new("h".repeat(super::MAX_FIELD_CHARS))),
            transfer_kind: Some(TransferKind::Aft),
            account_id: Some("a".repeat(super::MAX_FIELD_CHARS)),
            generation: 7,
            expires_at: NOW + 7_200_000,
            used_at: None,
            created_at: NOW,
        };
        let text = super::seal(&app.keys, &record);
        // Worst case (the longest binding the token endpoint accepts): under 5 KB.
        assert!(text.len() < 5_000, "{}", text.len());
        let opened = super::open(&app.keys, &text).expect("opens");
        assert_eq!(format!("{opened:?}"), format!("{record:?}"));
        assert_eq!(opened.secret_hash.as_ref().map(Secret::expose), record.secret_hash.as_ref().map(Secret::expose));
        assert!(!format!("{opened:?}").contains(&"h".repeat(super::MAX_FIELD_CHARS)), "secret_hash never printed");
        // Too long a link is refused at issue.
        let client = client(&app, credentials(TEST_CLIENT_SECRET), None).await.unwrap();
        let long = Binding { post_link: "x".repeat(super::MAX_LINK_CHARS + 1), ..binding(None) };
        assert!(matches!(issue(&app, &client, long).await, Err(TokenError::InvalidRequest(_))));
    }

    /// A token that can pay (bound to an invoice) or transfer (`transfer` scope) is read back
    /// with its spending; a service token, which nothing spends, is not looked up at all, so a
    /// row for it (which no use case writes) is not seen.
    #[tokio::test]
    async fn only_a_token_that_can_pay_or_transfer_is_read_back_with_its_spending() {
        let app = App::for_tests(NOW).await;
        let token = |scope: &str, invoice: Option<&str>| epay_store::TokenRecord {
            token_digest: super::new_token_id(),
            merchant_id: TEST_MERCHANT_ID.into(),
            terminal_id: Some(PAYMENT_TERMINAL.into()),
            scope: scope.into(),
            invoice_id: invoice.map(String::from),
            amount_minor: invoice.map(|_| 1_000),
            currency: invoice.map(|_| "KZT".into()),
            post_link: String::new(),
            failure_post_link: String::new(),
            secret_hash: None,
            transfer_kind: None,
            account_id: None,
            generation: 0,
            expires_at: NOW + 60_000,
            used_at: None,
            created_at: NOW,
        };
        let generation = app.store.merchant(TEST_MERCHANT_ID).await.unwrap().unwrap().token_generation;
        for (record, spendable) in [
            (token("payment", Some("000777")), true),
            (token("transfer", None), true),
            (token("webapi payment", None), false),
        ] {
            let record = epay_store::TokenRecord { generation, ..record };
            let text = super::seal(&app.keys, &record);
            assert_eq!(auth::token(&app, &text).await.unwrap().used_at, None, "{}", record.scope);
            assert!(app.store.spend_token(&record.token_digest, record.expires_at, NOW).await.unwrap());
            let read = auth::token(&app, &text).await.unwrap().used_at;
            assert_eq!(read.is_some(), spendable, "{} {:?}", record.scope, record.invoice_id);
        }
    }

    #[tokio::test]
    async fn a_wrong_secret_or_another_merchants_terminal_gets_no_token() {
        let app = App::for_tests(NOW).await;
        assert_eq!(client(&app, credentials("wrong"), None).await.unwrap_err(), TokenError::InvalidClient);
        let unknown = Credentials { client_id: "nobody".into(), ..credentials(TEST_CLIENT_SECRET) };
        assert_eq!(client(&app, unknown, None).await.unwrap_err(), TokenError::InvalidClient);
        let client = client(&app, credentials(TEST_CLIENT_SECRET), None).await.unwrap();
        let missing = "00000000-0000-4000-8000-000000000000";
        assert_eq!(
            issue(&app, &client, binding(Some(missing))).await.unwrap_err(),
            TokenError::InvalidRequest(format!("terminal {missing:?} not found"))
        );
        // A token without a terminal is issued (the status endpoint then answers 104).
        assert!(issue(&app, &client, binding(None)).await.is_ok());
    }

    #[tokio::test]
    async fn wrong_secrets_lock_the_client_out_for_its_window() {
        let app = App::for_tests(NOW).await;
        let limit = app.config.token_failures_per_client;
        let from = Some("203.0.113.7".parse().unwrap());
        for _ in 0..limit {
            assert_eq!(client(&app, credentials("wrong"), from).await.unwrap_err(), TokenError::InvalidClient);
        }
        // Even the right secret waits out the window (300 seconds from the first failure).
        let locked = client(&app, credentials(TEST_CLIENT_SECRET), from).await.unwrap_err();
        assert_eq!(locked, TokenError::TooManyAttempts(300));
        let app = app.at(NOW + 300_001);
        assert!(client(&app, credentials(TEST_CLIENT_SECRET), from).await.is_ok(), "the window has passed");
    }

    #[test]
    fn issued_token_ids_sort_by_issue_time_and_stay_unique() {
        let (a, b) = (super::issued_token_id(NOW), super::issued_token_id(NOW));
        assert_ne!(a, b, "80 random bits apart within one millisecond");
        assert_eq!((a.len(), &a[..12]), (32, &format!("{NOW:012x}")[..]));
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(super::issued_token_id(NOW) < super::issued_token_id(NOW + 1));
    }
}
