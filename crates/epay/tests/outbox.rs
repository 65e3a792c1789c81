//! The message outbox (issue 20: delivery of invoice links), on SQLite and PostgreSQL, against
//! a real SMTP receiver written here (a tokio listener speaking enough SMTP: EHLO, MAIL, RCPT,
//! DATA, QUIT): production delivers over SMTP with the message's content; a receiver that
//! refuses (5xx) or is not there makes the message retry and then fail visibly; the sandbox keeps
//! e-mail and SMS in the outbox that the cabinet shows; several nodes claim a message once.
//!
//! Messages are composed by the outbox service (`services::outbox`, the templates) and enqueued
//! through the store port on the gateway's own database, then delivered by the running gateway's
//! worker.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::browser::Browser;
use common::*;
use epay_domain::{Amount as Minor, MessageChannel, MessageLanguage, MessageState};
use epay_server::runtime::seed::{CABINET_EMAIL, CABINET_PASSWORD, TEST_MERCHANT_ID};
use epay_server::services::outbox::{invoice_link_email, invoice_link_sms, Email, InvoiceLink, Phone};
use epay_store::{MessageFilter, NewMessage, OutboxMessage};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What the SMTP receiver does with a message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Accept,
    /// `550` to `MAIL FROM`: a permanent refusal.
    Refuse,
}

/// One message the receiver took: the envelope and the DATA as received (dot-unstuffed).
#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
}

impl Received {
    /// A header's value (unfolded).
    fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
        })
    }

    /// The body decoded (the gateway sends text/plain UTF-8 in base64).
    fn text(&self) -> String {
        assert_eq!(self.header("Content-Transfer-Encoding").as_deref(), Some("base64"), "{}", self.data);
        let body: String = self.data.split_once("\r\n\r\n").unwrap().1.split_whitespace().collect();
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(body).unwrap()).unwrap()
    }
}

/// A small SMTP server on 127.0.0.1: enough of RFC 5321 for one client at a time.
struct SmtpReceiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    /// Connections made (each is one delivery attempt).
    sessions: Arc<Mutex<u32>>,
}

impl SmtpReceiver {
    async fn start(answer: Answer) -> SmtpReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sessions = Arc::new(Mutex::new(0));
        let (store, count) = (received.clone(), sessions.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                *count.lock().unwrap() += 1;
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = session(socket, answer, store).await;
                });
            }
        });
        SmtpReceiver { port, received, sessions }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn sessions(&self) -> u32 {
        *self.sessions.lock().unwrap()
    }
}

async fn session(
    socket: tokio::net::TcpStream,
    answer: Answer,
    store: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 receiver.test ESMTP ready\r\n").await?;
    let mut current = Received { from: String::new(), to: Vec::new(), data: String::new() };
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command.split([' ', ':']).next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250-receiver.test\r\n250 8BITMIME\r\n",
            "MAIL" if answer == Answer::Refuse => b"550 5.7.1 relaying refused by policy\r\n",
            "MAIL" => {
                current = Received { from: address(&command), to: Vec::new(), data: String::new() };
                b"250 2.1.0 ok\r\n"
            }
            "RCPT" => {
                current.to.push(address(&command));
                b"250 2.1.5 ok\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
                }
                current.data = data;
                store.lock().unwrap().push(current.clone());
                b"250 2.0.0 queued\r\n"
            }
            "RSET" | "NOOP" => b"250 ok\r\n",
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// `MAIL FROM:<a@b>` → `a@b`.
fn address(command: &str) -> String {
    command.split('<').nth(1).and_then(|r| r.split('>').next()).unwrap_or("").to_string()
}

const LINK: &str = "https://pay.example.kz/invoice/link-abc";

fn invoice_link(merchant_id: &str, invoice_id: &str) -> InvoiceLink {
    InvoiceLink {
        merchant_id: merchant_id.into(),
        invoice_id: invoice_id.into(),
        shop_name: "Coffee House".into(),
        amount: Minor::from_minor(250_000).unwrap(),
        currency: "KZT".into(),
        description: "Order 42: two cups".into(),
        link: LINK.into(),
        expires_at_ms: 1_795_406_400_000,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A production gateway sending e-mail to `smtp_port` on 127.0.0.1 (plain, as a local relay),
/// with one merchant `prod-merchant`.
async fn production_gateway(backend: Backend, smtp_port: u16, retry_secs: &str) -> Gateway {
    let port = smtp_port.to_string();
    let gw = Gateway::start_with(
        backend,
        &[
            ("EPAY_MODE", "production"),
            ("EPAY_SMTP_HOST", "127.0.0.1"),
            ("EPAY_SMTP_PORT", &port),
            ("EPAY_SMTP_TLS", "none"),
            ("EPAY_MAIL_FROM", "Coffee House <noreply@pay.example.kz>"),
            ("EPAY_MAIL_RETRY_SECS", retry_secs),
            ("EPAY_MAIL_POLL_MS", "50"),
            ("EPAY_MAIL_TIMEOUT_MS", "5000"),
        ],
    )
    .await;
    add_merchant(&gw, "prod-merchant", "prod").await;
    gw
}

async fn add_merchant(gw: &Gateway, id: &str, client_id: &str) {
    let merchant = epay_store::Merchant {
        id: id.into(),
        name: id.into(),
        client_id: client_id.into(),
        secret_digest: epay_server::platform::keys::secret_digest("prod-secret"),
        webhook_secret: "whsec_c2VjcmV0".into(),
        token_generation: 0,
    };
    gw.store().await.upsert_merchant(&merchant, &[]).await.unwrap();
}

/// Enqueues as the gateway would at this moment of its clock (the sandbox clock runs days
/// behind real time in the tests).
async fn enqueue(gw: &Gateway, messages: &[NewMessage]) {
    gw.store().await.enqueue_messages(messages, now_ms()).await.unwrap();
}

async fn enqueue_in_sandbox(gw: &Gateway, messages: &[NewMessage]) {
    gw.store().await.enqueue_messages(messages, sandbox_now_ms(gw).await).await.unwrap();
}

/// The sandbox gateway's clock now.
async fn sandbox_now_ms(gw: &Gateway) -> i64 {
    now_ms() + gw.sandbox_clock().await["offsetSeconds"].as_i64().unwrap() * 1000
}

/// Waits (up to `secs`) until the message leaves `pending`; returns it as stored.
async fn settled(gw: &Gateway, merchant_id: &str, id: &str, secs: u64) -> OutboxMessage {
    let store = gw.store().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let m = store.message_of(merchant_id, id).await.unwrap().expect("the message is stored");
        if m.state != MessageState::Pending || tokio::time::Instant::now() > deadline {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn production_sends_the_invoice_link_over_smtp_with_its_content() {
    for backend in backends() {
        let smtp = SmtpReceiver::start(Answer::Accept).await;
        let gw = production_gateway(backend, smtp.port, "1").await;
        let to = Email::parse("buyer@mail.example.kz").unwrap();
        let en = invoice_link_email(&invoice_link("prod-merchant", "000777"), &to, MessageLanguage::En);
        let ru = invoice_link_email(&invoice_link("prod-merchant", "000778"), &to, MessageLanguage::Ru);
        enqueue(&gw, &[en.clone(), ru.clone()]).await;

        for m in [&en, &ru] {
            let stored = settled(&gw, "prod-merchant", &m.id, 20).await;
            assert_eq!(stored.state, MessageState::Sent, "{backend:?}: {stored:?}\n{}", gw.log());
            assert_eq!((stored.attempts, stored.last_error.as_str()), (1, ""), "{backend:?}");
            assert!(stored.sent_at.is_some());
        }
        let received = smtp.received();
        assert_eq!(received.len(), 2, "{backend:?}: one SMTP delivery per message");
        let by_id = |id: &str| {
            received
                .iter()
                .find(|r| r.header("Message-ID").is_some_and(|h| h.contains(id)))
                .unwrap_or_else(|| panic!("{backend:?}: no mail with Message-ID {id}: {received:?}"))
                .clone()
        };
        let mail = by_id(&en.id);
        assert_eq!(
            (mail.from.as_str(), mail.to.as_slice()),
            ("noreply@pay.example.kz", &["buyer@mail.example.kz".to_string()][..])
        );
        assert_eq!(mail.header("Subject").as_deref(), Some("Invoice from Coffee House: 2500.00 KZT"));
        assert_eq!(mail.header("To").as_deref(), Some("buyer@mail.example.kz"));
        assert!(mail.header("Content-Type").unwrap().starts_with("text/plain; charset=utf-8"), "{}", mail.data);
        let text = mail.text();
        assert_eq!(
            text.replace("\r\n", "\n"),
            en.body,
            "{backend:?}: the body sent is the body stored (CRLF on the wire)"
        );
        assert!(text.contains(&format!("Pay by card: {LINK}")), "{text}");
        assert!(text.contains("Amount: 2500.00 KZT") && text.contains("Order 42: two cups"), "{text}");
        assert!(text.contains("Invoice number: 000777") && text.contains("2026-11-23 09:00"), "{text}");
        // Russian: the subject travels RFC 2047-encoded, the body in UTF-8.
        let mail = by_id(&ru.id);
        assert!(mail.header("Subject").unwrap().starts_with("=?utf-8?"), "{}", mail.data);
        let text = mail.text();
        assert!(text.contains(&format!("Оплатить картой: {LINK}")) && text.contains("Сумма: 2500.00 KZT"), "{text}");
    }
}

#[tokio::test]
async fn a_refusing_or_missing_smtp_server_means_retries_then_a_visible_failure() {
    for backend in backends() {
        let smtp = SmtpReceiver::start(Answer::Refuse).await;
        // One retry after a second: two attempts, then failed.
        let gw = production_gateway(backend, smtp.port, "1").await;
        let to = Email::parse("buyer@mail.example.kz").unwrap();
        let mail = invoice_link_email(&invoice_link("prod-merchant", "000779"), &to, MessageLanguage::En);
        // Production has no SMS provider: the SMS fails the same way, visibly.
        let phone = Phone::parse("+7 701 123 45 67").unwrap();
        let sms = invoice_link_sms(&invoice_link("prod-merchant", "000779"), &phone, MessageLanguage::En);
        enqueue(&gw, &[mail.clone(), sms.clone()]).await;

        let stored = settled(&gw, "prod-merchant", &mail.id, 30).await;
        assert_eq!(stored.state, MessageState::Failed, "{backend:?}: {stored:?}");
        assert_eq!(stored.attempts, 2, "{backend:?}: the first try and one retry");
        assert!(stored.last_error.contains("550") && stored.last_error.contains("relaying refused"), "{stored:?}");
        assert_eq!(smtp.sessions(), 2, "{backend:?}: each attempt talked to the server");
        assert!(smtp.received().is_empty());
        let stored = settled(&gw, "prod-merchant", &sms.id, 30).await;
        assert_eq!((stored.state, stored.attempts), (MessageState::Failed, 2), "{backend:?}: {stored:?}");
        assert!(stored.last_error.contains("no SMS provider"), "{stored:?}");

        // Nobody listening (connection refused): retried, then failed with the reason.
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let gw = production_gateway(backend, closed, "1,1").await;
        let mail = invoice_link_email(&invoice_link("prod-merchant", "000780"), &to, MessageLanguage::Kk);
        enqueue(&gw, std::slice::from_ref(&mail)).await;
        let stored = settled(&gw, "prod-merchant", &mail.id, 30).await;
        assert_eq!((stored.state, stored.attempts), (MessageState::Failed, 3), "{backend:?}: {stored:?}");
        assert!(stored.last_error.to_lowercase().contains("connect"), "{backend:?}: {stored:?}");
    }
}

#[tokio::test]
async fn the_sandbox_outbox_shows_what_was_sent_in_the_cabinet_and_only_to_its_merchant() {
    for backend in backends() {
        let gw = Gateway::start_with(backend, &[("EPAY_MAIL_POLL_MS", "50")]).await;
        let to = Email::parse("shopper@mail.example.kz").unwrap();
        let phone = Phone::parse("87011234567").unwrap();
        let link = invoice_link(TEST_MERCHANT_ID, "000901");
        let mail = invoice_link_email(&link, &to, MessageLanguage::En);
        let sms = invoice_link_sms(&link, &phone, MessageLanguage::En);
        // Another merchant's message: never on this merchant's pages.
        add_merchant(&gw, "other-merchant", "other").await;
        let mut others = invoice_link("other-merchant", "000902");
        others.description = "Someone else's order".into();
        let other = invoice_link_email(&others, &to, MessageLanguage::En);
        enqueue_in_sandbox(&gw, &[mail.clone(), sms.clone(), other.clone()]).await;
        for (merchant, m) in [(TEST_MERCHANT_ID, &mail), (TEST_MERCHANT_ID, &sms), ("other-merchant", &other)] {
            let stored = settled(&gw, merchant, &m.id, 20).await;
            assert_eq!((stored.state, stored.attempts), (MessageState::Sent, 1), "{backend:?}: {stored:?}");
        }
        let listed = gw.store().await.messages_of(TEST_MERCHANT_ID, &MessageFilter::default()).await.unwrap();
        assert_eq!(listed.len(), 2, "{backend:?}");
        assert!(listed.iter().any(|m| m.channel == MessageChannel::Sms && m.recipient == "+77011234567"));

        let browser = Browser::start().await;
        browser.set_window_size(1280, 1000).await;
        browser.goto(&format!("{}/cabinet/lang/en?back=/cabinet/login", gw.url)).await;
        browser.type_into("#email", CABINET_EMAIL).await;
        browser.type_into("#password", CABINET_PASSWORD).await;
        browser.click("#sign-in").await;
        browser.wait_url("/cabinet/overview", 15).await;
        browser.click("#nav-messages").await;
        browser.wait("#messages", 10).await;
        let page = browser.source().await;
        assert!(
            page.contains(&format!(r#"data-message="{}""#, mail.id))
                && page.contains(&format!(r#"data-message="{}""#, sms.id))
        );
        assert!(
            !page.contains(&other.id) && !page.contains("000902"),
            "{backend:?}: another merchant's message listed"
        );
        let row = browser.text(&format!(r#"tr[data-message="{}"]"#, mail.id)).await;
        assert!(row.contains("shopper@mail.example.kz") && row.contains("Sent"), "{row}");
        assert!(row.contains("Invoice from Coffee House: 2500.00 KZT"), "{row}");
        browser.click(&format!(r#"tr[data-message="{}"] a.open"#, mail.id)).await;
        browser.wait("#body", 10).await;
        let body = browser.text("#body").await;
        assert!(body.contains(&format!("Pay by card: {LINK}")) && body.contains("Amount: 2500.00 KZT"), "{body}");
        assert_eq!(browser.text("#recipient").await, "shopper@mail.example.kz");
        assert_eq!(browser.text("#reference").await, "000901");
        assert_eq!(browser.text("#language").await, "en");
        // Filtered by invoice.
        browser.goto(&format!("{}/cabinet/messages?reference=000901", gw.url)).await;
        assert!(browser.source().await.contains(&mail.id));
        browser.goto(&format!("{}/cabinet/messages?reference=nope", gw.url)).await;
        browser.wait("#nothing", 10).await;
        // Another merchant's message by its id: "not found", nothing of it shown.
        browser.goto(&format!("{}/cabinet/messages/{}", gw.url, other.id)).await;
        let page = browser.source().await;
        assert!(page.contains("Not found") && !page.contains("Someone else"), "{backend:?}: {page}");
        // In Kazakh and Russian the page and its words change, the message does not.
        browser.goto(&format!("{}/cabinet/lang/kk?back=/cabinet/messages", gw.url)).await;
        assert!(browser.source().await.contains("Хабарламалар"));
        browser.goto(&format!("{}/cabinet/lang/ru?back=/cabinet/messages/{}", gw.url, sms.id)).await;
        assert!(browser.text("#channel").await.contains("SMS"));
        assert!(browser.text("#body").await.contains(LINK));
    }
}

#[tokio::test]
async fn two_nodes_claim_each_message_exactly_once() {
    for backend in backends() {
        // The gateway's own worker waits a minute between looks, so the claims below are the
        // only ones.
        let gw = Gateway::start_with(backend, &[("EPAY_MAIL_POLL_MS", "60000")]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let to = Email::parse("a@b.kz").unwrap();
        let messages: Vec<NewMessage> = (0..40)
            .map(|i| invoice_link_email(&invoice_link(TEST_MERCHANT_ID, &format!("i{i}")), &to, MessageLanguage::Ru))
            .collect();
        enqueue_in_sandbox(&gw, &messages).await;
        let nodes = [gw.store().await, gw.store().await, gw.store().await];
        let now = sandbox_now_ms(&gw).await + 1000;
        let claims = futures::future::join_all(nodes.iter().map(|store| async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_messages(now, now + 60_000, 3).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|m| m.id));
            }
        }))
        .await;
        let mut all: Vec<String> = claims.concat();
        let claimed = all.len();
        all.sort();
        all.dedup();
        assert_eq!((claimed, all.len()), (40, 40), "{backend:?}: every message claimed once");
        // A leased message is not claimed again before its lease ends, and is after.
        assert!(nodes[0].claim_messages(now + 59_000, now + 120_000, 100).await.unwrap().is_empty());
        assert_eq!(nodes[0].claim_messages(now + 61_000, now + 120_000, 100).await.unwrap().len(), 40, "{backend:?}");
    }
}

#[tokio::test]
async fn production_mails_a_new_invoice_link_over_smtp() {
    for backend in backends() {
        let smtp = SmtpReceiver::start(Answer::Accept).await;
        let gw = production_gateway(backend, smtp.port, "1").await;
        let merchant = epay_store::Merchant {
            id: "prod-merchant".into(),
            name: "Coffee House".into(),
            client_id: "prod".into(),
            secret_digest: epay_server::platform::keys::secret_digest("prod-secret"),
            webhook_secret: "whsec_c2VjcmV0".into(),
            token_generation: 0,
        };
        let terminal = epay_store::Terminal {
            id: "prod-terminal".into(),
            merchant_id: "prod-merchant".into(),
            pos_id: "88000001".into(),
            name: "Coffee House".into(),
            ..Default::default()
        };
        gw.store().await.upsert_merchant(&merchant, &[terminal]).await.unwrap();
        let request = epay_client::TokenRequest::service("prod", "prod-secret", "prod-terminal");
        let token = gw.client.token(&request).await.unwrap().access_token;
        let body = serde_json::json!({"shop_id": "prod-terminal", "invoice_id": "000555", "amount": 2500,
            "currency": "KZT", "language": "kaz", "description": "Two cups",
            "recipient_contact": "buyer@mail.example.kz"});
        let (status, invoice) = gw.post_json("/invoice", Some(&token), &body.to_string()).await;
        assert_eq!(status, 200, "{backend:?}: {invoice}");
        let filter = MessageFilter { reference: "000555".into(), limit: 10 };
        let messages = gw.store().await.messages_of("prod-merchant", &filter).await.unwrap();
        assert_eq!(messages.len(), 1, "{backend:?}: the link's e-mail was enqueued with the invoice");
        let stored = settled(&gw, "prod-merchant", &messages[0].id, 20).await;
        assert_eq!(stored.state, MessageState::Sent, "{backend:?}: {stored:?}\n{}", gw.log());
        let received = smtp.received();
        assert_eq!(received.len(), 1, "{backend:?}");
        assert_eq!(received[0].to, vec!["buyer@mail.example.kz".to_string()]);
        let text = received[0].text();
        let link = invoice["link"].as_str().unwrap();
        assert!(text.contains(link) && text.contains("2500.00 KZT") && text.contains("Two cups"), "{text}");
        assert_eq!(stored.language, MessageLanguage::Kk, "in the invoice's language");
    }
}
