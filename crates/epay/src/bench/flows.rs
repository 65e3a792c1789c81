//! The merchant flows the bench drives, as a merchant's backend would run them through the
//! typed client (`epay-client`), and the setup they need (a saved card, service tokens, an
//! invoice to ask the status of).

use std::sync::Arc;
use std::time::Duration;

use epay_domain::{Operation, TxStatus};

use epay_client::{
    encrypt_cryptogram, Amount, CardData, Client, ClientError, PaymentRequest, PaymentResponse,
    SavedCardPaymentRequest, TokenRequest, TransferCard, TransferKind, TransferRequest, TransferResponse,
};

use super::load::{Failure, Job};

/// The sandbox's public test cards that pay (facts §16): the workers take turns with them, so
/// the load is not one card's balance row taking every payment.
const TEST_CARDS: [(&str, &str, &str); 3] =
    [("4405639704015096", "0127", "321"), ("5522042705066736", "0127", "775"), ("377514500004820", "0128", "0198")];

/// Amounts in tenge. Payments are small so a long run never empties a test card; the two-step
/// flow charges 20 and refunds 10 (the smallest partial refund ePay allows).
const PAY_AMOUNT: &str = "1";
const AUTH_AMOUNT: &str = "20";
const REFUND_AMOUNT: &str = "10";
/// A transfer's amount. The P2P terminal's fee (1%, at least 95 tenge) is paid on top by the
/// sender, so a P2P flow costs its sender card 96 tenge: the cards pass the amount round in a
/// ring, and a 10-second run at a few thousand flows/s stays inside their opening balances.
const TRANSFER_AMOUNT: &str = "1";

/// The two public test cards the transfer flows move money between (the third, an Amex, is not
/// one the P2P terminal's sender checks treat differently, but two keep the ring simple).
const TRANSFER_CARDS: [(&str, &str, &str); 2] = [TEST_CARDS[0], TEST_CARDS[1]];

/// One of the amounts above, exact.
fn tenge(text: &str) -> Amount {
    text.parse().expect("the bench's amounts are valid")
}

/// An answer slower than this is counted as an error (`timeout`), not waited for.
const FLOW_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Flow {
    /// Token + payment with a saved card on the one-step terminal.
    SavedCard,
    /// Token + payment with an RSA cryptogram.
    Cryptogram,
    /// Token + two-step payment + charge + partial refund.
    ChargeRefund,
    /// Status of an invoice, with a service token.
    Status,
    /// Transfer token + P2P transfer card to card, with the P2P terminal's fee (seeds 000/001).
    P2p,
    /// Transfer token + AFT (a card pays the merchant), then transfer token + OCT (the merchant
    /// pays the card back): the payout terminal's balance stays where it was.
    AftOct,
}

/// What one flow asks of each ceiling the bench measures.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    pub http_requests: u32,
    pub rsa_decryptions: u32,
    pub commits: u32,
}

impl Flow {
    pub fn name(self) -> &'static str {
        match self {
            Flow::SavedCard => "saved-card",
            Flow::Cryptogram => "cryptogram",
            Flow::ChargeRefund => "charge-refund",
            Flow::Status => "status",
            Flow::P2p => "p2p",
            Flow::AftOct => "aft-oct",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Flow::SavedCard => "token + saved-card payment (one-step)",
            Flow::Cryptogram => "token + cryptogram payment",
            Flow::ChargeRefund => "token + payment (two-step) + charge + partial refund",
            Flow::Status => "status check",
            Flow::P2p => "transfer token + P2P card to card with a fee",
            Flow::AftOct => "transfer token + AFT, transfer token + OCT",
        }
    }

    /// Requests, RSA decryptions and database commits of one flow: each token and each state
    /// change is one transaction; a status check only reads.
    pub fn cost(self) -> Cost {
        match self {
            Flow::SavedCard => Cost { http_requests: 2, rsa_decryptions: 0, commits: 2 },
            Flow::Cryptogram => Cost { http_requests: 2, rsa_decryptions: 1, commits: 2 },
            Flow::ChargeRefund => Cost { http_requests: 4, rsa_decryptions: 1, commits: 4 },
            Flow::Status => Cost { http_requests: 1, rsa_decryptions: 0, commits: 0 },
            Flow::P2p => Cost { http_requests: 2, rsa_decryptions: 0, commits: 2 },
            Flow::AftOct => Cost { http_requests: 4, rsa_decryptions: 0, commits: 4 },
        }
    }
}

/// Where to send the load and as whom.
#[derive(Debug, Clone)]
pub struct Target {
    /// The gateway nodes (base URLs, no trailing slash), all on one database: client `i` talks
    /// to node `i mod n`, as a round-robin load balancer would spread merchants.
    pub urls: Vec<String>,
    pub client_id: String,
    pub client_secret: String,
    /// Two-step payments terminal: cryptogram, charge-refund and status flows.
    pub terminal: String,
    /// One-step payments terminal: saved-card flow.
    pub one_step_terminal: String,
    /// P2P terminal (with a fee): p2p flow.
    pub p2p_terminal: String,
    /// Terminal whose merchant account takes AFTs and pays OCTs: aft-oct flow.
    pub payout_terminal: String,
}

/// Setup shared by every worker.
struct Shared {
    target: Target,
    public_pem: String,
    /// (accountId, cardID) of one saved card per test card.
    saved_cards: Vec<(String, String)>,
    /// Makes this run's invoice ids differ from earlier runs' on the same database.
    run_id: u64,
}

/// One simulated merchant backend: its own HTTP connection, its service token, its invoices.
pub struct Worker {
    index: usize,
    shared: Arc<Shared>,
    /// The node this client talks to (`Target::urls[index mod n]`).
    url: String,
    api: Client,
    http: reqwest::Client,
    service_token: String,
    status_invoice: String,
    seq: u64,
    /// The flow `once` runs; set before each run.
    pub flow: Flow,
}

fn api_failure(e: ClientError) -> Failure {
    match e {
        ClientError::Api { status, body } => {
            let code = body.get("code").or_else(|| body.get("resultCode")).map(|c| c.to_string());
            let kind = match code {
                Some(code) => format!("HTTP {status} code {}", code.trim_matches('"')),
                None => format!("HTTP {status}"),
            };
            let mut detail = body.to_string();
            detail.truncate(300);
            Failure::new(kind, detail)
        }
        ClientError::Http(e) => transport_failure(e),
        ClientError::Cryptogram(e) => Failure::new("cryptogram", e),
    }
}

fn transport_failure(e: reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        "transport: timeout"
    } else if e.is_connect() {
        "transport: connect"
    } else {
        "transport"
    };
    Failure::new(kind, e.to_string())
}

fn expect_status(paid: &PaymentResponse, wanted: &[TxStatus]) -> Result<(), Failure> {
    status_is(&paid.status, &paid.id, wanted)
}

fn status_is(status: &str, id: &str, wanted: &[TxStatus]) -> Result<(), Failure> {
    if wanted.iter().any(|s| s.as_str() == status) {
        return Ok(());
    }
    let wanted: Vec<&str> = wanted.iter().map(|s| s.as_str()).collect();
    Err(Failure::new(format!("status {status} (wanted {})", wanted.join(" or ")), format!("payment {id}")))
}

/// A transfer of [`TRANSFER_AMOUNT`] of `kind` for order `id` on `terminal`, with a token for it;
/// it must end in CHARGE (the test cards are not enrolled in 3-D Secure).
async fn transfer(
    api: &Client,
    target: &Target,
    terminal: &str,
    id: &str,
    kind: TransferKind,
    sender: Option<TransferCard>,
    receiver: Option<TransferCard>,
) -> Result<TransferResponse, Failure> {
    let amount = tenge(TRANSFER_AMOUNT);
    let request = TokenRequest::transfer(&target.client_id, &target.client_secret, id, amount, terminal, kind);
    let token = api.token(&request).await.map_err(api_failure)?.access_token;
    let body = TransferRequest::new(id, amount, terminal, sender, receiver);
    let done = api.transfer(&token, kind, &body).await.map_err(api_failure)?;
    status_is(&done.status, &done.id, &[TxStatus::Charge])?;
    Ok(done)
}

/// Pays `amount` by cryptogram with `card`; returns the payment.
async fn pay_by_cryptogram(
    api: &Client,
    shared: &Shared,
    terminal: &str,
    invoice: &str,
    amount: Amount,
    card: (&str, &str, &str),
    save_for: Option<&str>,
) -> Result<PaymentResponse, Failure> {
    let token = payment_token(api, &shared.target, terminal, invoice, amount).await?;
    let cryptogram = encrypt_cryptogram(&shared.public_pem, &CardData::new(card.0, card.1, card.2, terminal))
        .map_err(|e| Failure::new("cryptogram", e.to_string()))?;
    let mut request = PaymentRequest::new(invoice, amount, cryptogram);
    if let Some(account) = save_for {
        request.card_save = true;
        request.account_id = Some(account.to_string());
    }
    api.cryptopay(&token, &request).await.map_err(api_failure)
}

async fn payment_token(
    api: &Client,
    target: &Target,
    terminal: &str,
    invoice: &str,
    amount: Amount,
) -> Result<String, Failure> {
    let request = TokenRequest::payment(&target.client_id, &target.client_secret, invoice, amount, "KZT", terminal);
    Ok(api.token(&request).await.map_err(api_failure)?.access_token)
}

fn setup_error(what: &str, f: Failure) -> String {
    format!("setup: {what}: {} ({})", f.kind, f.detail)
}

/// Prepares `concurrency` workers for `flows`: saves one card per test card on the one-step
/// terminal, and gives each worker a service token and an invoice of its own to poll, on its own
/// node. The nodes must serve one RSA key: a cryptogram made for one must open on any.
pub async fn setup(target: Target, flows: &[Flow], concurrency: usize) -> Result<Vec<Worker>, String> {
    let first = target.urls.first().ok_or("setup: no gateway URL")?.clone();
    let api = Client::new(&first);
    let public_pem = api.public_key_pem().await.map_err(|e| setup_error("GET /public.rsa", api_failure(e)))?;
    for url in &target.urls[1..] {
        let other = Client::new(url)
            .public_key_pem()
            .await
            .map_err(|e| setup_error(&format!("GET {url}/public.rsa"), api_failure(e)))?;
        if other.trim() != public_pem.trim() {
            return Err(format!(
                "setup: {url} serves another RSA key than {first}: the nodes must share their keys \
                 (rsa_key_path, vault_key_path)"
            ));
        }
    }
    let run_id = u64::from(uuid::Uuid::new_v4().as_u128() as u32) % 100_000;
    let mut shared = Shared { target, public_pem, saved_cards: Vec::new(), run_id };

    if flows.contains(&Flow::SavedCard) {
        let one_step = shared.target.one_step_terminal.clone();
        let mut saved = Vec::with_capacity(TEST_CARDS.len());
        for (i, card) in TEST_CARDS.iter().enumerate() {
            // The same account every run: saving a card twice returns the same cardID.
            let account = format!("bench-{i}");
            let invoice = format!("{:05}999{:07}", shared.run_id, i);
            let paid = pay_by_cryptogram(&api, &shared, &one_step, &invoice, tenge(PAY_AMOUNT), *card, Some(&account))
                .await
                .map_err(|f| {
                    setup_error(
                        &format!(
                            "saving a card on the one-step terminal {one_step} (a gateway seeded before that \
                             terminal existed lacks it: use a fresh data directory or --one-step-terminal)"
                        ),
                        f,
                    )
                })?;
            if paid.status != TxStatus::Charge.as_str() {
                return Err(format!(
                    "setup: terminal {one_step} is not one-step: a payment on it ended in {}",
                    paid.status
                ));
            }
            saved.push((account, paid.card_id));
        }
        shared.saved_cards = saved;
    }

    let shared = Arc::new(shared);
    let mut workers = Vec::with_capacity(concurrency);
    for index in 0..concurrency {
        let url = shared.target.urls[index % shared.target.urls.len()].clone();
        let mut w = Worker {
            index,
            shared: shared.clone(),
            api: Client::new(&url),
            url,
            http: reqwest::Client::new(),
            service_token: String::new(),
            status_invoice: String::new(),
            seq: 0,
            flow: Flow::Status,
        };
        let t = &shared.target;
        if flows.contains(&Flow::ChargeRefund) || flows.contains(&Flow::Status) {
            // A service token is reusable until it expires: a merchant keeps one, as here.
            let request = TokenRequest::service(&t.client_id, &t.client_secret, &t.terminal);
            w.service_token = w
                .api
                .token(&request)
                .await
                .map_err(|e| setup_error(&format!("service token for terminal {}", t.terminal), api_failure(e)))?
                .access_token;
        }
        if flows.contains(&Flow::Status) {
            let invoice = w.next_invoice();
            let card = TEST_CARDS[index % TEST_CARDS.len()];
            pay_by_cryptogram(&w.api, &shared, &t.terminal, &invoice, tenge(PAY_AMOUNT), card, None)
                .await
                .map_err(|f| setup_error("a payment to ask the status of", f))?;
            w.status_invoice = invoice;
        }
        workers.push(w);
    }
    Ok(workers)
}

impl Worker {
    /// A fresh 15-digit invoice id: run, worker, sequence.
    fn next_invoice(&mut self) -> String {
        self.seq += 1;
        format!("{:05}{:03}{:07}", self.shared.run_id, self.index % 1000, self.seq % 10_000_000)
    }

    fn card(&self) -> (&'static str, &'static str, &'static str) {
        TEST_CARDS[self.index % TEST_CARDS.len()]
    }

    async fn saved_card(&mut self) -> Result<(), Failure> {
        let invoice = self.next_invoice();
        let shared = self.shared.clone();
        let t = &shared.target;
        let (account, card_id) = &shared.saved_cards[self.index % shared.saved_cards.len()];
        let token = payment_token(&self.api, t, &t.one_step_terminal, &invoice, tenge(PAY_AMOUNT)).await?;
        let request = SavedCardPaymentRequest::new(&invoice, tenge(PAY_AMOUNT), &t.one_step_terminal, account, card_id);
        let paid = self.api.pay_with_saved_card(&token, &request).await.map_err(api_failure)?;
        expect_status(&paid, &[TxStatus::Charge])
    }

    async fn cryptogram(&mut self) -> Result<(), Failure> {
        let invoice = self.next_invoice();
        let shared = self.shared.clone();
        let t = &shared.target;
        let paid =
            pay_by_cryptogram(&self.api, &shared, &t.terminal, &invoice, tenge(PAY_AMOUNT), self.card(), None).await?;
        expect_status(&paid, &[TxStatus::Auth, TxStatus::Charge])
    }

    /// `POST /operation/:id/<op>` with the worker's service token; ePay answers `{"code":0}`.
    async fn operation(&self, id: &str, op: Operation, query: &str) -> Result<(), Failure> {
        let url = format!("{}/operation/{id}/{op}{query}", self.url);
        let response = self.http.post(url).bearer_auth(&self.service_token).send().await.map_err(transport_failure)?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        if status == 200 && body.get("code").and_then(|c| c.as_i64()) == Some(0) {
            return Ok(());
        }
        Err(api_failure(ClientError::Api { status, body }))
    }

    async fn charge_refund(&mut self) -> Result<(), Failure> {
        let invoice = self.next_invoice();
        let shared = self.shared.clone();
        let t = &shared.target;
        let paid =
            pay_by_cryptogram(&self.api, &shared, &t.terminal, &invoice, tenge(AUTH_AMOUNT), self.card(), None).await?;
        expect_status(&paid, &[TxStatus::Auth])?;
        self.operation(&paid.id, Operation::Charge, "").await?;
        self.operation(&paid.id, Operation::Refund, &format!("?amount={REFUND_AMOUNT}")).await
    }

    /// This worker's sender card and the other one, which receives: across workers the money
    /// goes both ways round.
    fn transfer_pair(&self) -> ((&'static str, &'static str, &'static str), &'static str) {
        let sender = TRANSFER_CARDS[self.index % 2];
        let receiver = TRANSFER_CARDS[(self.index + 1) % 2];
        (sender, receiver.0)
    }

    async fn p2p(&mut self) -> Result<(), Failure> {
        let id = self.next_invoice();
        let t = &self.shared.target;
        let ((pan, expiry, cvc), receiver) = self.transfer_pair();
        let sender = TransferCard::pan(pan, expiry, cvc);
        let receiver = TransferCard::receiver_pan(receiver);
        let done =
            transfer(&self.api, t, &t.p2p_terminal, &id, TransferKind::P2p, Some(sender), Some(receiver)).await?;
        if done.fee.is_zero() {
            return Err(Failure::new("p2p without a fee", format!("transfer {}: the terminal charges none", done.id)));
        }
        Ok(())
    }

    async fn aft_oct(&mut self) -> Result<(), Failure> {
        let shared = self.shared.clone();
        let t = &shared.target;
        let ((pan, expiry, cvc), _) = self.transfer_pair();
        let aft = self.next_invoice();
        let sender = TransferCard::pan(pan, expiry, cvc);
        transfer(&self.api, t, &t.payout_terminal, &aft, TransferKind::Aft, Some(sender), None).await?;
        let oct = self.next_invoice();
        let receiver = TransferCard::receiver_pan(pan);
        transfer(&self.api, t, &t.payout_terminal, &oct, TransferKind::Oct, None, Some(receiver)).await?;
        Ok(())
    }

    async fn status(&mut self) -> Result<(), Failure> {
        let answer = self.api.status(&self.service_token, &self.status_invoice).await.map_err(api_failure)?;
        if answer.result_code != "100" {
            return Err(Failure::new(format!("resultCode {}", answer.result_code), answer.result_message));
        }
        Ok(())
    }
}

impl Job for Worker {
    async fn once(&mut self) -> Result<(), Failure> {
        let flow = self.flow;
        let run = async {
            match flow {
                Flow::SavedCard => self.saved_card().await,
                Flow::Cryptogram => self.cryptogram().await,
                Flow::ChargeRefund => self.charge_refund().await,
                Flow::Status => self.status().await,
                Flow::P2p => self.p2p().await,
                Flow::AftOct => self.aft_oct().await,
            }
        };
        match tokio::time::timeout(FLOW_TIMEOUT, run).await {
            Ok(result) => result,
            Err(_) => Err(Failure::new("timeout", format!("no answer within {FLOW_TIMEOUT:?}"))),
        }
    }
}
