//! Rows as the services see them. Plain data; validation happens before anything gets here.
//! Every credential, and every value that would let one be found or forged, is a [`Secret`]:
//! the rows derive `Debug` and may be logged whole. Statuses, kinds and states are the domain's
//! enums: the store reads and writes their words.

pub use epay_domain::AccountKind;
use epay_domain::{
    CallbackKind, DeliveryStatus, LedgerTransferKind, PaymentKind, PaymentStep, Secret, ThreeDsState, TransferKind,
    TxStatus,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub client_id: String,
    /// SHA-256 digest of the client secret (never the secret itself). A secret too: it would
    /// let a guess of a weak client secret (the sandbox's is public) be checked offline.
    #[sqlx(try_from = "String")]
    pub secret_digest: Secret,
    /// Standard Webhooks signing secret (`whsec_…`) for this merchant's callbacks, sealed by the
    /// server under a card-vault data key (`v2.<key id>.…`, see `epay_server::keys`). A row
    /// written before secrets were sealed holds it in clear until the gateway's next start seals
    /// it, so it is a [`Secret`] either way. The store never seals or opens it.
    #[sqlx(try_from = "String")]
    pub webhook_secret: Secret,
    /// The generation of the merchant's access tokens: a token carries the generation it was
    /// issued in and is refused once this moved past it. A client-secret rotation and a purge of
    /// the merchant's data bump it (they revoke every token issued before).
    pub token_generation: i64,
}

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Terminal {
    pub id: String,
    pub merchant_id: String,
    /// ePay's 8-digit POS number (`terminal` in status responses).
    pub pos_id: String,
    pub name: String,
    /// Two-step (DMS): a successful payment ends in AUTH; one-step (SMS) ends in CHARGE.
    pub two_step: bool,
    pub three_ds: bool,
    pub transfers_allowed: bool,
    pub hold_period_secs: i64,
    /// Transfer fee: percent in basis points (100 = 1%) plus a fixed part, at least the minimum.
    pub fee_percent_bp: i64,
    pub fee_fixed_minor: i64,
    pub fee_min_minor: i64,
    /// Most the terminal may transfer per day (0: no limit; reason 529 above it).
    pub transfer_daily_limit_minor: i64,
    /// Origins (`scheme://host[:port]`) whose callback links a request or the payment page may
    /// name when the token names none (DESIGN §5a).
    #[sqlx(try_from = "crate::sql::rows::SpaceSeparated")]
    pub callback_origins: Vec<String>,
    /// Send callbacks for charge, cancel, refund and expiry of this terminal's payments, in their
    /// own shape (docs/callbacks.md). Off unless the merchant turns it on.
    pub operation_callbacks: bool,
    /// Attempts one invoice may have (declines count; docs/compatibility.md §48).
    #[sqlx(try_from = "crate::sql::rows::AttemptLimit")]
    pub max_attempts: epay_domain::MaxAttempts,
}

/// An access token as the gateway reads it: the binding it was issued with (DESIGN §5a). The
/// token itself is this binding sealed by the gateway (`epay_server::services::tokens`), so
/// issuing one writes nothing; only its spending is stored (`spent_tokens`).
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// The token's id, 32 hex digits sealed inside it: an issued access token's starts with its
    /// issue time (12 digits) and ends with 80 random bits (`issued_token_id`). It names the token where the
    /// store must (spent tokens, 3-D Secure sessions, abuse counters). Not a secret: it is only
    /// ever read out of a token the gateway opened, and knowing it forges no token.
    pub token_digest: String,
    pub merchant_id: String,
    pub terminal_id: Option<String>,
    pub scope: String,
    pub invoice_id: Option<String>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub post_link: String,
    pub failure_post_link: String,
    /// The merchant's `secret_hash`, echoed in the callbacks so the merchant knows they are ours.
    pub secret_hash: Option<Secret>,
    /// The one kind of transfer this token may make; `None`: P2P only.
    pub transfer_kind: Option<TransferKind>,
    /// The customer whose saved cards this token may list and use; `None`: no saved cards.
    pub account_id: Option<String>,
    /// The merchant's token generation when the token was issued ([`Merchant::token_generation`]).
    pub generation: i64,
    pub expires_at: i64,
    /// When the token was spent (`spent_tokens`), as read when it was authenticated.
    pub used_at: Option<i64>,
    pub created_at: i64,
}

impl TokenRecord {
    /// Whether an invoice link minted this token (its digest starts with [`crate::LINK_TOKEN_PREFIX`]).
    pub fn minted_by_link(&self) -> bool {
        self.token_digest.starts_with(crate::LINK_TOKEN_PREFIX)
    }
}

/// A payment (or card verification) transaction.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Payment {
    pub id: String,
    pub merchant_id: String,
    pub terminal_id: String,
    pub invoice_id: String,
    pub invoice_id_alt: String,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub kind: PaymentKind,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub status: TxStatus,
    pub amount_minor: i64,
    pub charged_minor: i64,
    pub refunded_minor: i64,
    pub fee_minor: i64,
    pub currency: String,
    pub description: String,
    pub account_id: String,
    pub email: String,
    pub phone: String,
    pub payer_name: String,
    pub language: String,
    pub post_link: String,
    pub failure_post_link: String,
    pub back_link: String,
    pub failure_back_link: String,
    /// The token's `secret_hash` (see [`TokenRecord::secret_hash`]).
    #[sqlx(try_from = "crate::sql::rows::MaybeSecret")]
    pub secret_hash: Option<Secret>,
    pub data: String,
    pub card_id: Option<String>,
    pub card_mask: String,
    pub card_brand: String,
    /// Ledger account of the paying card (the simulator's issuer account).
    pub card_account: Option<String>,
    pub issuer: String,
    pub reference: String,
    pub int_reference: String,
    pub approval_code: String,
    pub reason_code: i32,
    pub reason: String,
    pub secure: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Transfers only: how each side was given (TYPEPAN, TYPECARDID, TYPEPHONE) and the
    /// receiving card. For payments these are empty.
    pub sender_transfer_type: String,
    pub receiver_transfer_type: String,
    pub receiver_card_id: Option<String>,
    pub receiver_card_mask: String,
    pub receiver_card_brand: String,
    pub receiver_account: Option<String>,
    /// The paying (or, for a payout, receiving) card account's currency; empty when no card
    /// account takes part. Set once when the payment is made.
    pub card_currency: String,
    /// The issuer's rate from `currency` into `card_currency`, in millionths, recorded when the
    /// payment is made; every later charge, cancel and refund converts at this rate.
    pub fx_rate_micros: i64,
    /// `amount_minor` in the card's currency (what the card is debited for the full amount).
    pub card_amount_minor: i64,
    /// Which attempt at its invoice this is, from 1; the store numbers it when it records the
    /// attempt (docs/compatibility.md §48).
    pub attempt: i32,
}

impl Payment {
    /// The recorded conversion rate (a payment made before rates were recorded converts 1:1).
    pub fn fx_rate(&self) -> epay_domain::FxRate {
        if self.fx_rate_micros > 0 {
            epay_domain::FxRate::from_micros(self.fx_rate_micros)
        } else {
            epay_domain::FxRate::ONE
        }
    }

    /// Whether the card pays in another currency than the payment's, so its ledger legs go
    /// through the pair's conversion accounts (a payment recorded without a card currency
    /// converts nothing).
    pub fn converts(&self) -> bool {
        !self.card_currency.is_empty() && self.card_currency != self.currency
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SavedCard {
    pub id: String,
    pub merchant_id: String,
    pub account_id: String,
    pub pan_fingerprint: String,
    /// AES-256-GCM ciphertext of the PAN (nonce ‖ ciphertext, base64).
    pub pan_ciphertext: String,
    pub card_mask: String,
    pub card_brand: String,
    pub expiry_mmyy: String,
    pub payer_name: String,
    pub transaction_id: String,
    pub terminal_pos_id: String,
    pub reference: String,
    pub int_reference: String,
    pub card_token: String,
    pub active: bool,
    /// Proven by a payment or verification with its expiry and CVC: it may pay. A card saved as
    /// a transfer's receiver is not, and may only receive.
    pub payable: bool,
    pub created_at: i64,
}

/// A terminal's merchant account in one currency: `merchant:<terminal>:<currency>`.
pub fn merchant_account(terminal_id: &str, currency: &str) -> String {
    format!("merchant:{terminal_id}:{currency}")
}

/// A terminal's transfer-fee account in one currency: `fee:<terminal>:<currency>`.
pub fn fee_account(terminal_id: &str, currency: &str) -> String {
    format!("fee:{terminal_id}:{currency}")
}

/// The simulator's funding account in one currency (source of cards' opening balances).
pub fn funding_account(currency: &str) -> String {
    format!("funding:simulator:{currency}")
}

/// The `currency` side of the conversion between a payment's and a card's currency.
pub fn fx_account(payment_currency: &str, card_currency: &str, currency: &str) -> String {
    format!("fx:{payment_currency}-{card_currency}:{currency}")
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LedgerAccount {
    pub id: String,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub kind: AccountKind,
    /// Fixed when the account is created; every transfer it takes part in is in this currency.
    pub currency: String,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
}

impl LedgerAccount {
    /// What a card can still spend: posted credits minus posted and pending debits.
    pub fn available(&self) -> i64 {
        self.credits_posted - self.debits_posted - self.debits_pending
    }
}

/// How an approved payment debits the card: held (two-step: AUTH, charged or released later)
/// or moved at once (one-step: CHARGE). Not to be confused with a transfer's [`TransferKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebitKind {
    /// Moves money at once.
    Posted,
    /// Reserves money (a hold); later posted (in whole or part) or voided.
    Pending,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LedgerTransfer {
    pub id: String,
    pub payment_id: Option<String>,
    pub debit_account: String,
    pub credit_account: String,
    pub amount_minor: i64,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub kind: LedgerTransferKind,
    pub pending_id: Option<String>,
    pub created_at: i64,
    /// The balance shard of a sharded account (merchant, fee, conversion) this transfer's
    /// sums were added to; meaningless on any other account (migration 0019).
    pub shard: i32,
}

/// What the card network decided about a payment, as the store must apply it atomically.
#[derive(Debug, Clone)]
pub enum PaymentEffect {
    /// Move money from the card's account to the merchant's: a hold (two-step) or at once.
    Debit { card_account: String, merchant_account: String, kind: DebitKind },
    /// No money moves (declines, card verification).
    None,
}

/// A card to save together with a successful payment.
#[derive(Debug, Clone)]
pub struct CardToSave {
    pub card: SavedCard,
    /// The payment carried `recurrent: true`: record the holder's agreement to
    /// merchant-initiated repeats in the card's history.
    pub recurrent: bool,
}

/// What a recorded attempt does to its token (docs/compatibility.md §48).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenSpend {
    /// Spent whatever the outcome: the API, where a new attempt takes a new token.
    #[default]
    Always,
    /// Spent unless the attempt is declined: the hosted page, where the shopper tries the same
    /// invoice again with the page's token, within the terminal's attempts.
    UnlessDeclined,
}

/// Everything one payment attempt writes, in one database transaction.
#[derive(Debug, Clone)]
pub struct PaymentWrite {
    /// Id of the token this attempt spends, as `token_spend` says, and its expiry (until when
    /// its spending must be remembered).
    pub token_digest: String,
    pub token_expires_at: i64,
    pub token_spend: TokenSpend,
    pub payment: Payment,
    pub effect: PaymentEffect,
    pub save_card: Option<CardToSave>,
    /// A 3-D Secure challenge to open with the payment (status `3D`).
    pub three_ds: Option<ThreeDsSession>,
    /// The Idempotency-Key answer to commit with this payment, when the request carried a key.
    pub idempotency: Option<IdempotencyRecord>,
    /// A subscription period this payment charges (the scheduler's payments only).
    pub subscription: Option<crate::SubscriptionCharge>,
}

/// A 3-D Secure challenge in progress (the payment waits in status `3D`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThreeDsSession {
    /// The ACS transaction id (`acsTransID`), also the challenge page's key.
    pub id: String,
    pub payment_id: String,
    /// `threeDSServerTransID`; `MD` is its base64.
    pub server_trans_id: String,
    /// The token that started the payment; the confirm step must present it.
    pub token_digest: String,
    pub pan_ciphertext: String,
    pub expiry_mmyy: String,
    pub save_card: bool,
    /// A P2P transfer's receiving card, sealed until the challenge ends.
    pub receiver_pan_ciphertext: Option<String>,
    pub receiver_expiry_mmyy: String,
    pub save_receiver: bool,
    /// What the attempt's end does to its token (spent at the start; given back by a decline
    /// when `UnlessDeclined`).
    #[sqlx(rename = "keep_token_on_decline", try_from = "crate::sql::rows::KeepTokenOnDecline")]
    pub token_spend: TokenSpend,
    /// Shown (`pending`), answered (`passed`, `failed`, `cancelled`), then `confirmed`.
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub state: ThreeDsState,
    pub reason_code: i32,
    pub created_at: i64,
    pub updated_at: i64,
    /// Wrong one-time codes answered so far (migration 0024); the challenge fails at the ACS's
    /// limit.
    pub code_failures: i32,
}

/// How a 3-D Secure payment ends, applied by [`crate::ThreeDsPort::finish_three_ds`].
#[derive(Debug, Clone)]
pub struct ThreeDsFinish {
    pub session_id: String,
    pub payment: Payment,
    /// The money to move when the challenge passed and the network approved.
    pub effect: PaymentEffect,
    pub save_card: Option<SavedCard>,
    pub now_ms: i64,
}

/// The outcome of [`crate::PaymentsPort::record_payment`].
#[derive(Debug, Clone)]
pub struct RecordedPayment {
    pub payment: Payment,
    /// Id of the card saved (or already saved) for this payment.
    pub saved_card_id: Option<String>,
}

/// One violated ledger invariant, found by `epay ledger check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvariantViolation {
    pub subject: String,
    pub problem: String,
}

/// Why the store refused an operation on a payment (its compare-and-set found another state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such payment for this merchant (another merchant's id is "not found" too).
    NotFound,
    /// The payment is not in the status the operation needs.
    WrongStatus { status: TxStatus },
    /// A concurrent refund with the same externalID kept winning the race; try again.
    Busy,
    /// The amount is more than what is left to charge or refund.
    OverAmount { left_minor: i64 },
    /// A refund of `amount_minor` is below ePay's minimum and is not all that is left
    /// ([`epay_domain::refund_meets_minimum`]).
    BelowMinimumRefund { amount_minor: i64 },
    /// This externalID was already used for a refund of another amount.
    ExternalIdReused { amount_minor: i64 },
    /// Charge, cancel and refund apply to card payments, not to transfers.
    NotAPayment { kind: PaymentKind },
    /// The caller's token is bound to an invoice and may not move this payment's money: it names
    /// another invoice, or it was issued before the payment was decided (see [`InvoiceBound`]).
    NotThisToken,
}

/// An operation asked with a token bound to one invoice (docs/compatibility.md 45). Such a token
/// may travel through the shopper's browser (the payment page's `auth`), so it moves the money of
/// that invoice's payment only if it was issued after the payment reached AUTH or CHARGE: then it
/// cannot have been on the page the shopper paid from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceBound {
    pub invoice_id: String,
    /// When the token was issued (unix ms).
    pub issued_at: i64,
}

/// One operation on an existing payment, applied atomically by [`crate::PaymentsPort::operate`].
#[derive(Debug, Clone)]
pub enum Operation {
    /// AUTH → CHARGE: post `amount_minor` of the hold (None: all of it), release the rest.
    Charge { amount_minor: Option<i64> },
    /// AUTH → CANCEL: void the hold.
    Cancel,
    /// CHARGE → CHARGE (partial) or REFUND (the rest): move money back to the card. An amount
    /// must meet ePay's minimum refund, checked against what is left in the same transaction.
    Refund { amount_minor: Option<i64>, external_id: Option<String> },
}

impl Operation {
    /// Which operation of the payment state machine this is.
    pub fn kind(&self) -> epay_domain::Operation {
        match self {
            Operation::Charge { .. } => epay_domain::Operation::Charge,
            Operation::Cancel => epay_domain::Operation::Cancel,
            Operation::Refund { .. } => epay_domain::Operation::Refund,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OperationRequest {
    pub merchant_id: String,
    /// When the caller's token is bound to a terminal, only that terminal's payments are visible.
    pub terminal_id: Option<String>,
    /// Set when the caller's token is bound to an invoice: checked in the operation's transaction.
    pub invoice_bound: Option<InvoiceBound>,
    pub payment_id: String,
    pub operation: Operation,
    pub now_ms: i64,
    /// The Idempotency-Key answer to commit with this operation, when the request carried a key.
    pub idempotency: Option<IdempotencyRecord>,
}

#[derive(Debug, Clone)]
pub struct OperationOutcome {
    pub payment: Payment,
    /// True when an earlier refund with the same externalID was found and nothing new happened.
    pub replayed: bool,
}

/// What the Idempotency-Key table says about a request about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyState {
    /// First time (or the key's earlier use never committed): the key is now leased to this
    /// request until the lease ends; its answer is stored only by the write it guards.
    Reserved,
    /// Done before with the same request: replay this response.
    Completed { status: u16, body: String },
    /// The key was used for a different request.
    Mismatch,
    /// The same request is running right now (its lease has not ended).
    InProgress,
}

/// A request's claim on an Idempotency-Key (see [`crate::TokensPort::idempotency_begin`]).
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    /// The key, prefixed with the scope of the credentials that sent it.
    pub scope_key: String,
    /// Digest of the request (method, path, query, body).
    pub request_digest: String,
    /// Random id of this request: only the lease's owner may commit an answer under the key.
    pub owner: String,
    /// The gateway clock (the sandbox's may be moved): the key's first use, for its expiry.
    pub now_ms: i64,
    /// Real time, for the lease: it measures whether a request can still be running.
    pub lease_now_ms: i64,
    /// Until when the lease holds (real time); after it a crashed request's key is free again.
    pub lease_until_ms: i64,
    /// Keys first used at or before this instant have expired and are free again.
    pub expired_before_ms: i64,
}

/// An answer stored under an Idempotency-Key and replayed for the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub body: String,
}

impl StoredAnswer {
    /// The largest body kept; a larger one is replaced by a short note, so a key's row stays small.
    pub const MAX_BODY_BYTES: usize = 8 * 1024;

    pub fn new(status: u16, body: String) -> StoredAnswer {
        if body.len() <= Self::MAX_BODY_BYTES {
            return StoredAnswer { status, body };
        }
        StoredAnswer::too_large(status)
    }

    /// What is kept instead of an answer larger than [`Self::MAX_BODY_BYTES`].
    pub fn too_large(status: u16) -> StoredAnswer {
        let note = r#"{"code":-1,"message":"the answer was too large to keep; read the transaction's status"}"#;
        StoredAnswer { status, body: note.to_string() }
    }
}

/// The answer of a keyed request, committed in the same transaction as the write it guards:
/// either both are there or neither is, so a key never outlives or misses its operation.
#[derive(Clone)]
pub struct IdempotencyRecord {
    pub scope_key: String,
    /// The lease owner ([`IdempotencyClaim::owner`]); the write fails if the lease was lost.
    pub owner: String,
    /// Renders the answer from the payment as it commits (like [`CallbackBuilder`]).
    pub answer: std::sync::Arc<dyn Fn(&Payment) -> StoredAnswer + Send + Sync>,
}

impl std::fmt::Debug for IdempotencyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyRecord").field("scope_key", &self.scope_key).field("owner", &self.owner).finish()
    }
}

/// A callback to deliver, written in the same transaction as the state change it reports.
#[derive(Debug, Clone)]
pub struct NewCallback {
    pub id: String,
    pub merchant_id: String,
    pub payment_id: String,
    pub kind: CallbackKind,
    pub url: String,
    /// The JSON body. It carries the token's `secret_hash`, so it is never printed.
    pub payload: Secret,
}

/// Builds the callback for a payment as it will be committed (the store decides the final
/// status, e.g. a debit that finds too little money turns an approval into a decline).
pub type CallbackBuilder<'a> = &'a (dyn Fn(&Payment) -> Option<NewCallback> + Send + Sync);

/// Builds an operation's callback from the payment as it will be committed and the amount the
/// operation moved (charged, released or refunded), which the payment row alone does not tell
/// (a full refund refunds what was left when its transaction read the row).
pub type OperationCallbackBuilder<'a> = &'a (dyn Fn(&Payment, i64) -> Option<NewCallback> + Send + Sync);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallbackEvent {
    pub id: String,
    pub merchant_id: String,
    pub payment_id: String,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub kind: CallbackKind,
    pub url: String,
    /// The JSON body (see [`NewCallback::payload`]).
    #[sqlx(try_from = "String")]
    pub payload: Secret,
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    /// The merchant's signing secret, sealed (joined in when a worker claims the event).
    #[sqlx(default, try_from = "String")]
    pub webhook_secret: Secret,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallbackAttempt {
    pub event_id: String,
    pub attempt_no: i32,
    pub started_at: i64,
    pub http_status: Option<i32>,
    pub latency_ms: i64,
    pub error: String,
    pub response_excerpt: String,
    pub node: String,
}

/// What happens to an event after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackNext {
    Delivered,
    RetryAt(i64),
    /// The last try failed: the event stays visible as failed.
    GiveUp,
}

/// The money of one transfer: `amount` from → to and `fee` from → fee account, all or nothing.
#[derive(Debug, Clone)]
pub struct TransferMoney {
    /// A card account (P2P, AFT) or the merchant's account (OCT).
    pub from_account: String,
    /// A card account (P2P, OCT) or the merchant's account (AFT).
    pub to_account: String,
    pub fee_account: String,
    pub fee_minor: i64,
    /// The receiving card's daily incoming limit (528), when the receiver is a card.
    pub receiver_daily_limit_minor: Option<i64>,
    /// The terminal's daily transfer limit (529).
    pub terminal_daily_limit_minor: Option<i64>,
    /// Start of "today" for the daily limits, in unix milliseconds.
    pub day_start_ms: i64,
}

/// How a transfer settles: its row, its money, the cards it saves. Applied in one database
/// transaction by [`crate::TransfersPort::record_transfer`] or, after a 3-D Secure challenge, by
/// [`crate::TransfersPort::finish_three_ds_transfer`].
#[derive(Debug, Clone)]
pub struct TransferSettlement {
    pub payment: Payment,
    /// None for a declined attempt or one waiting for 3-D Secure (nothing moves).
    pub money: Option<TransferMoney>,
    pub save_sender: Option<SavedCard>,
    pub save_receiver: Option<SavedCard>,
    /// The reason recorded when the paying account has too little money.
    pub insufficient_funds: (i32, String),
    pub receiver_limit: (i32, String),
    pub terminal_limit: (i32, String),
}

/// Everything one transfer attempt writes, in one database transaction.
#[derive(Debug, Clone)]
pub struct TransferWrite {
    /// The token this transfer spends, and its expiry (see [`PaymentWrite::token_digest`]).
    pub token_digest: String,
    pub token_expires_at: i64,
    pub token_spend: TokenSpend,
    pub settlement: TransferSettlement,
    /// A 3-D Secure challenge of the sender card to open with the transfer (status `3D`).
    pub three_ds: Option<ThreeDsSession>,
    /// The Idempotency-Key answer to commit with this transfer, when the request carried a key.
    pub idempotency: Option<IdempotencyRecord>,
}

/// A card-vault data key, wrapped under the master key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VaultKey {
    pub id: String,
    pub wrapped_key: String,
    pub active: bool,
    pub created_at: i64,
}

/// What a sealed column holds (the server seals each kind bound to what it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealedKind {
    /// A card number.
    Pan,
    /// A merchant's callback signing secret; its row id is the merchant id.
    WebhookSecret,
}

impl SealedKind {
    pub const ALL: &'static [SealedKind] = &[SealedKind::Pan, SealedKind::WebhookSecret];
}

/// A column that holds sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedColumn {
    pub table: &'static str,
    pub id_column: &'static str,
    pub column: &'static str,
    pub kind: SealedKind,
}

/// Every column that holds sealed values. Their names are put into SQL: only from this list.
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn { table: "saved_cards", id_column: "id", column: "pan_ciphertext", kind: SealedKind::Pan },
    SealedColumn { table: "three_ds_sessions", id_column: "id", column: "pan_ciphertext", kind: SealedKind::Pan },
    SealedColumn {
        table: "three_ds_sessions",
        id_column: "id",
        column: "receiver_pan_ciphertext",
        kind: SealedKind::Pan,
    },
    SealedColumn { table: "merchants", id_column: "id", column: "webhook_secret", kind: SealedKind::WebhookSecret },
];

/// One stored value of a sealed column, for sealing anew (under a new data key, or for the
/// first time when it is an old clear webhook secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub column: SealedColumn,
    /// The row's id (for a webhook secret, the merchant id).
    pub id: String,
    pub ciphertext: String,
}

/// What `/readyz` and `/metrics` report about the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreHealth {
    pub migrations_applied: usize,
    /// Migrations this build carries; readiness needs all of them applied.
    pub migrations_known: usize,
    /// Open connections, idle ones among them, and the most the pool opens.
    pub pool_size: u32,
    pub pool_idle: usize,
    pub pool_max: u32,
}

/// What SQLite's group-commit writer did so far (`/metrics`): its COMMITs, and the units of work
/// they carried (units ÷ commits is the batch size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitStats {
    pub commits: u64,
    pub units: u64,
}

/// Use cases decided ahead of their writes (`/metrics`): card payments, transfers from a card and
/// operations on payments (charge, cancel, refund), decided on what was read and written in one
/// round trip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadAheadStats {
    /// Written in one round trip.
    pub written: u64,
    /// Whose read was out of date when they wrote: decided again the locked way.
    pub out_of_date: u64,
}

/// A person who signs in to the merchant cabinet; sees one merchant's data only.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CabinetUser {
    pub id: String,
    pub merchant_id: String,
    /// Lower-cased; unique across the gateway.
    pub email: String,
    /// argon2id PHC string (`$argon2id$v=19$…`), never the password; a secret all the same, as
    /// it lets the password be guessed offline.
    #[sqlx(try_from = "String")]
    pub password_hash: Secret,
    /// Unused since migration 0010: sign-in failures are counted in `abuse_counters`, per
    /// e-mail digest, so unknown e-mails are counted alike. Kept so old rows still load.
    pub failed_attempts: i32,
    /// Unused since migration 0010 (see `failed_attempts`).
    pub locked_until: i64,
    pub created_at: i64,
}

/// A signed-in browser. The cookie holds a random id; the store keeps only its digest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CabinetSession {
    /// SHA-256 of the cookie's random id: it finds the session but cannot be turned back into the
    /// cookie, so it is not a secret (like [`TokenRecord::token_digest`]).
    pub id_digest: String,
    pub user_id: String,
    pub merchant_id: String,
    /// Every form of the session carries it; a POST without it is refused.
    #[sqlx(try_from = "String")]
    pub csrf_token: Secret,
    pub expires_at: i64,
    pub created_at: i64,
    /// The user's e-mail (joined in when the session is read; ignored when it is created).
    pub email: String,
}

/// One step of a payment's status history (`payment_events`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentEvent {
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub operation: PaymentStep,
    /// The payment's status right after the step.
    #[sqlx(try_from = "crate::sql::rows::Word")]
    pub status: TxStatus,
    /// What the step was about: the amount paid, charged, released or refunded.
    pub amount_minor: i64,
    pub reason_code: i32,
    pub created_at: i64,
}

/// The cabinet's transaction filters; `None` (or empty) leaves a filter out. Always applied
/// within one merchant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    /// Created at or after (unix ms).
    pub from_ms: Option<i64>,
    /// Created before (unix ms).
    pub to_ms: Option<i64>,
    pub status: Option<TxStatus>,
    pub terminal_id: Option<String>,
    /// Exact invoice id.
    pub invoice_id: Option<String>,
    /// Part of the masked card number (`5096`, `440563...5096`).
    pub card_mask: Option<String>,
    pub min_amount_minor: Option<i64>,
    pub max_amount_minor: Option<i64>,
    /// Free text, matched (case-insensitively) against invoice id, transaction id, description,
    /// accountId, payer name, e-mail and reference.
    pub search: Option<String>,
}

/// One page of a filtered transaction list and how many match in all.
#[derive(Debug, Clone, Default)]
pub struct PaymentPage {
    pub payments: Vec<Payment>,
    pub total: i64,
}

/// One terminal's payments on one day (Kazakhstan time), for the cabinet's overview.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DailyStat {
    pub terminal_id: String,
    /// Days since 1970-01-01 in the requested time zone.
    pub day: i64,
    pub attempts: i64,
    pub approved: i64,
    /// The currency of this row's payments: one row per terminal, day and currency.
    pub currency: String,
    /// Sum of approved amounts, in `currency`.
    #[sqlx(rename = "volume")]
    pub volume_minor: i64,
}

/// One abuse counter's current window (`crate::TokensPort::abuse_count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct AbuseWindow {
    /// Failures counted in the window (including the one just added, when it was counted).
    pub failures: i64,
    /// When the window ends, in ms since the epoch.
    pub expires_ms: i64,
    /// False when a count was asked only below a ceiling and the window was already full.
    #[sqlx(skip)]
    pub counted: bool,
}

/// What `epay sandbox purge` removes: a merchant whose credentials are public, and every cabinet
/// user with the public sign-in e-mail.
#[derive(Debug, Clone)]
pub struct MerchantPurge {
    pub merchant_id: String,
    pub cabinet_email: String,
    /// For a merchant with transactions (whose records must stay): the unusable client id and
    /// fresh secrets it keeps instead of being deleted. `None` refuses such a merchant.
    pub retire_as: Option<MerchantRetirement>,
}

#[derive(Debug, Clone)]
pub struct MerchantRetirement {
    pub client_id: String,
    pub secret_digest: Secret,
    pub webhook_secret: Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeOutcome {
    /// The merchant, its terminals, tokens, cabinet users and seeded balances are gone.
    Deleted,
    /// It had transactions: they and its ledger stay, but its client id, secrets, tokens and
    /// cabinet users are gone.
    Retired { transactions: i64 },
    /// It has transactions and no retirement was asked for: nothing changed.
    HasTransactions(i64),
    /// No such merchant (only cabinet users with the e-mail were removed, if any).
    NoMerchant,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows derive `Debug` and may be logged whole: none of their secrets may show.
    #[test]
    fn printed_rows_show_no_secret() {
        let merchant = Merchant {
            id: "m-1".into(),
            name: "Shop".into(),
            client_id: "shop".into(),
            secret_digest: "digest-of-the-client-secret".into(),
            webhook_secret: "whsec_c2lnbmluZy1zZWNyZXQ=".into(),
            token_generation: 0,
        };
        let event = CallbackEvent {
            id: "msg_1".into(),
            merchant_id: "m-1".into(),
            payment_id: "p-1".into(),
            kind: CallbackKind::PaymentSuccess,
            url: "https://shop.kz/epay".into(),
            payload: r#"{"secret_hash":"merchants-callback-check"}"#.into(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: 0,
            created_at: 0,
            delivered_at: None,
            webhook_secret: "whsec_c2lnbmluZy1zZWNyZXQ=".into(),
        };
        let payment = Payment { secret_hash: Some("merchants-callback-check".into()), ..Payment::default() };
        let user = CabinetUser {
            id: "u-1".into(),
            merchant_id: "m-1".into(),
            email: "owner@shop.kz".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$salt$hash".into(),
            failed_attempts: 0,
            locked_until: 0,
            created_at: 0,
        };
        let session = CabinetSession {
            id_digest: "digest-of-the-cookie".into(),
            user_id: "u-1".into(),
            merchant_id: "m-1".into(),
            csrf_token: "csrf-token-of-the-session".into(),
            expires_at: 0,
            created_at: 0,
            email: "owner@shop.kz".into(),
        };
        let printed = format!("{merchant:?} {event:?} {payment:?} {user:?} {session:?}");
        for secret in [
            "digest-of-the-client-secret",
            "c2lnbmluZy1zZWNyZXQ",
            "merchants-callback-check",
            "argon2id",
            "csrf-token-of-the-session",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        // The rest is still there to read.
        assert!(printed.contains("shop.kz/epay") && printed.contains("owner@shop.kz"), "{printed}");
    }
}

/// An invoice link as stored (`POST /invoice`, issue 20). `state` is `ACTIVE` or `CANCELLED`;
/// the state a reader sees ([`InvoiceLinkRow::link_state`]) also knows payments and the clock.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct InvoiceLink {
    /// The invoice's public id (a UUID): what the API and the cabinet name it by.
    pub id: String,
    /// The capability in the link's URL: 128 random bits, hex. Never derived from `id`.
    pub link_id: String,
    pub merchant_id: String,
    pub terminal_id: String,
    /// As the merchant named it (`shop_id`), echoed in answers.
    pub shop_id: String,
    pub invoice_id: String,
    pub account_id: String,
    pub amount_minor: i64,
    pub currency: String,
    /// ePay's page language: `rus`, `kaz` or `eng`.
    pub language: String,
    pub description: String,
    pub recipient_contact: String,
    pub recipient_contact_sms: String,
    pub notifier_contact_sms: String,
    pub post_link: String,
    pub failure_post_link: String,
    pub back_link: String,
    pub failure_back_link: String,
    pub state: String,
    pub expires_at: i64,
    pub created_at: i64,
    pub cancelled_at: Option<i64>,
}

/// An invoice link as read, with what decides its state: its payment, if one was made.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct InvoiceLinkRow {
    #[sqlx(flatten)]
    pub link: InvoiceLink,
    /// `ACTIVE`, `PAID`, `EXPIRED` or `CANCELLED` (computed by the query at its `now`).
    pub link_state: String,
    pub payment_id: Option<String>,
    pub payment_status: Option<String>,
}

/// Whether a new invoice link was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkInsert {
    Inserted,
    /// The terminal already has a link or a payment with this invoice_id: nothing was written.
    DuplicateInvoice,
}

/// What cancelling an invoice link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCancel {
    Cancelled,
    /// No link of this merchant has this id.
    NotFound,
    /// The link is no longer active: paid, expired or already cancelled (its state).
    NotActive(String),
}

/// A refresh token of the password grant, as stored: only its digest (issue 20).
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct RefreshToken {
    pub id_digest: String,
    pub user_id: String,
    pub merchant_id: String,
    pub scope: String,
    /// A digest of the user's password hash at issue: a new password revokes the token.
    pub password_stamp: String,
    /// The merchant's token generation at issue: a secret rotation revokes the token.
    pub generation: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub created_at: i64,
}
