//! The card network port and its first implementation, a simulated issuer.
//!
//! The simulator decides (card exists, open, expiry and CVC match, limits, forced outcomes); the
//! money itself lives in the gateway's ledger, where the store debits a card's account with a
//! compare-and-set in the same transaction as the payment. A real acquirer connector would
//! implement [`CardNetwork`] and keep its own balances.

mod simulator;

pub use simulator::{sandbox_rate, CardFileError, CardState, Credential, SimCard, Simulator, DEFAULT_CARDS};

use epay_domain::{Amount, Currency, Cvc, Expiry, FxRate, Pan, ReasonCode};

/// What the gateway asks the network about one card payment.
#[derive(Debug)]
pub struct AuthRequest<'a> {
    pub pan: &'a Pan,
    /// Expiry as the payer typed it; `None` for a saved card (the vault's copy is trusted).
    pub expiry: Option<Expiry>,
    /// CVC as the payer typed it; `None` for a saved card or a merchant-initiated payment.
    pub cvc: Option<&'a Cvc>,
    /// The amount in the payment's currency; the issuer converts it into the card's.
    pub amount: Amount,
    pub currency: Currency,
    /// Today's (year, month), from the gateway clock, for the expiry check.
    pub today: (i32, u8),
}

/// The network's answer. Money is not moved here: `Approved` names the ledger account the
/// gateway debits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    Approved {
        card_account: String,
        approval_code: String,
        issuer: String,
        three_ds_enrolled: bool,
        /// The card's currency and the issuer's rate from the payment's currency into it
        /// (`FxRate::ONE` when they are the same).
        conversion: Conversion,
    },
    Declined {
        reason: ReasonCode,
        issuer: String,
    },
}

/// How a payment's amount becomes the card's: the card account's currency and the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    pub card_currency: Currency,
    pub rate: FxRate,
}

impl Conversion {
    /// The card's amount for `amount` of the payment's currency.
    pub fn card_amount(&self, amount: Amount) -> i64 {
        self.rate.convert(amount.minor())
    }
}

/// What the network says about a card that is to receive money (P2P, OCT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    pub card_account: String,
    pub issuer: String,
    /// The card account's currency; money in another currency is converted into it.
    pub currency: Currency,
    /// Most a card may receive per day, in minor units of its currency (reason 528 above it).
    pub daily_incoming_limit_minor: Option<i64>,
}

pub trait CardNetwork: Send + Sync + 'static {
    fn authorize(&self, request: &AuthRequest<'_>) -> Authorization;

    /// Checks that `pan` can receive a transfer (exists, open, not expired at `today`).
    fn receiver(&self, pan: &Pan, today: (i32, u8)) -> Result<Receiver, ReasonCode>;

    /// Whether `pan`, saved with `expiry`, is past its expiry at `today`. The network decides,
    /// not the calendar alone: a published test-card combination never expires in the sandbox.
    fn is_expired(&self, pan: &Pan, expiry: Expiry, today: (i32, u8)) -> bool;

    /// The card registered to a phone number and IIN (OCT by phone).
    fn card_by_phone(&self, phone: &str, iin: &str) -> Result<Pan, ReasonCode>;

    /// Ledger accounts the network's cards need, with their currency and opening balances in
    /// minor units.
    fn card_accounts(&self) -> Vec<(String, Currency, i64)>;

    /// The network's rate from `from` into `to` (how many `to` one `from` costs).
    fn rate(&self, from: Currency, to: Currency) -> FxRate;
}
