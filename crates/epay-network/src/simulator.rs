//! The simulated issuer: a card file (TOML) of cards with their rules.

use std::collections::HashMap;

use epay_domain::{ids, Amount, Currency, Cvc, Expiry, FxRate, Pan, ReasonCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{AuthRequest, Authorization, CardNetwork, Conversion};

/// The sandbox's fixed exchange table: tenge per one unit of each currency, in millionths.
/// Documented in docs/test-cards.md; a real issuer would quote its own rate per payment.
const TENGE_PER_UNIT_MICROS: [(Currency, i64); 4] = [
    (Currency::Kzt, 1_000_000),
    (Currency::Usd, 500_000_000),
    (Currency::Eur, 550_000_000),
    (Currency::Rub, 5_000_000),
];

fn tenge_per_unit(c: Currency) -> i64 {
    TENGE_PER_UNIT_MICROS.iter().find(|(k, _)| *k == c).map(|(_, v)| *v).expect("every currency is in the table")
}

/// The sandbox rate from `from` into `to`, crossed through tenge and rounded half up to a
/// millionth: USD → KZT 500, EUR → KZT 550, RUB → KZT 5, KZT → USD 0.002, EUR → USD 1.1.
pub fn sandbox_rate(from: Currency, to: Currency) -> FxRate {
    let (f, t) = (i128::from(tenge_per_unit(from)), i128::from(tenge_per_unit(to)));
    let micros = (f * 1_000_000 + t / 2) / t;
    FxRate::from_micros(i64::try_from(micros).expect("sandbox rates are small"))
}

/// The card file shipped with epay (public ePay test cards and outcome cards).
pub const DEFAULT_CARDS: &str = include_str!("../cards.toml");

#[derive(Debug, thiserror::Error)]
pub enum CardFileError {
    #[error("card file is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("card #{index}: {problem}")]
    Card { index: usize, problem: String },
}

#[derive(Debug, serde::Deserialize)]
struct CardFile {
    #[serde(default)]
    card: Vec<CardEntry>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CardEntry {
    pan: String,
    expiry: String,
    cvc: String,
    #[serde(default)]
    balance: f64,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    decline: Option<i32>,
    #[serde(default)]
    limit: Option<f64>,
    #[serde(default)]
    three_ds: bool,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    iin: Option<String>,
    #[serde(default)]
    incoming_daily_limit: Option<f64>,
    #[serde(default)]
    currency: Option<String>,
    /// Where this expiry and CVC are published (see [`Credential::published`]).
    #[serde(default)]
    published: Option<String>,
    /// More (expiry, CVC) combinations of the same card (`[[card.also]]`).
    #[serde(default)]
    also: Vec<AlsoEntry>,
}

/// Another expiry and CVC the same card is known with, each with its own status: ePay's test
/// cards have been published with several (seed 001's 01/25, the test-card page's 01/27).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AlsoEntry {
    expiry: String,
    cvc: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    published: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardState {
    Active,
    Locked,
    Lost,
    Stolen,
}

impl CardState {
    fn parse(status: Option<&str>) -> Result<Self, String> {
        Ok(match status.unwrap_or("active") {
            "active" | "unlock" => CardState::Active,
            "locked" | "lock" => CardState::Locked,
            "lost" => CardState::Lost,
            "stolen" => CardState::Stolen,
            other => return Err(format!("status {other:?}: use active, locked, lost or stolen")),
        })
    }

    /// The decline a card in this state gets, `None` when it is open.
    fn decline(self) -> Option<ReasonCode> {
        match self {
            CardState::Active => None,
            CardState::Locked => Some(ReasonCode::CARD_BLOCKED),
            CardState::Lost => Some(ReasonCode::LOST_CARD),
            CardState::Stolen => Some(ReasonCode::STOLEN_CARD),
        }
    }
}

/// One (expiry, CVC) combination a card is paid with, and the status it gets.
#[derive(Debug, Clone)]
pub struct Credential {
    pub expiry: Expiry,
    cvc: String,
    pub state: CardState,
    /// Where the combination is published (a seed, ePay's test-card page), `None` for the
    /// simulator's own cards. A published combination's date is part of the published test data,
    /// not a date the card runs out: it is never declined as expired (478), whatever the clock
    /// says. The sandbox only: a production gateway refuses card files that use it.
    pub published: Option<String>,
}

impl Credential {
    fn parse(expiry: &str, cvc: String, status: Option<&str>, published: Option<String>) -> Result<Self, String> {
        let expiry = Expiry::parse(expiry).map_err(|err| format!("expiry: {err}"))?;
        Cvc::parse(&cvc).map_err(|err| format!("cvc: {err}"))?;
        Ok(Credential { expiry, cvc, state: CardState::parse(status)?, published })
    }

    /// Past its expiry month at `today` (year, month); a published combination never is.
    pub fn is_expired_at(&self, today: (i32, u8)) -> bool {
        self.published.is_none() && self.expiry.is_expired_at(today.0, today.1)
    }
}

/// One card at the simulated issuer.
#[derive(Debug, Clone)]
pub struct SimCard {
    pub pan: Pan,
    /// Every (expiry, CVC) the card is known with; the first is the card's own (the top-level
    /// keys of its entry), which decides when nothing is typed (a saved card, a receiver).
    credentials: Vec<Credential>,
    pub opening_balance: Amount,
    pub forced_decline: Option<ReasonCode>,
    pub limit: Option<Amount>,
    pub three_ds: bool,
    pub issuer: String,
    pub account: String,
    /// Phone and IIN the card is registered to (OCT by phone).
    pub phone: Option<String>,
    pub iin: Option<String>,
    pub incoming_daily_limit: Option<Amount>,
    /// The currency of the card's account (balance, limits); default KZT.
    pub currency: Currency,
}

impl SimCard {
    /// The card's own combination (its entry's top-level expiry, CVC and status).
    pub fn own(&self) -> &Credential {
        &self.credentials[0]
    }

    /// Every combination the card is known with, its own first.
    pub fn credentials(&self) -> &[Credential] {
        &self.credentials
    }

    /// The combination a payer means: with no typed expiry (a saved card) the card's own;
    /// else the one with the typed expiry and CVC, or failing that the first with the typed
    /// expiry (whose CVC then does not match); `None` when the typed expiry is none of the card's.
    fn credential_for(&self, expiry: Option<Expiry>, cvc: Option<&Cvc>) -> Option<&Credential> {
        let Some(expiry) = expiry else {
            return Some(self.own());
        };
        let same_expiry = || self.credentials.iter().filter(move |c| c.expiry == expiry);
        same_expiry().find(|c| cvc.is_none_or(|typed| typed.expose() == c.cvc)).or_else(|| same_expiry().next())
    }
}

pub struct Simulator {
    cards: HashMap<String, SimCard>,
}

impl Simulator {
    /// Builds the simulator from card-file texts (later files add to or replace earlier cards).
    /// `account_key` keys the HMAC that names each card's ledger account, so account ids do not
    /// reveal card numbers.
    pub fn from_card_files(texts: &[&str], account_key: &[u8]) -> Result<Self, CardFileError> {
        let mut cards = HashMap::new();
        for text in texts {
            let file: CardFile = toml::from_str(text)?;
            for (index, entry) in file.card.into_iter().enumerate() {
                let card = Self::parse_entry(index + 1, entry, account_key)?;
                cards.insert(card.pan.expose().to_string(), card);
            }
        }
        Ok(Simulator { cards })
    }

    fn parse_entry(index: usize, e: CardEntry, key: &[u8]) -> Result<SimCard, CardFileError> {
        let bad = |problem: String| CardFileError::Card { index, problem };
        let pan = Pan::parse(&e.pan).map_err(|err| bad(format!("pan: {err}")))?;
        let mut credentials = vec![Credential::parse(&e.expiry, e.cvc, e.status.as_deref(), e.published).map_err(bad)?];
        for (n, also) in e.also.into_iter().enumerate() {
            let credential = Credential::parse(&also.expiry, also.cvc, also.status.as_deref(), also.published)
                .map_err(|problem| bad(format!("also #{}: {problem}", n + 1)))?;
            if credentials.iter().any(|c| c.expiry == credential.expiry && c.cvc == credential.cvc) {
                return Err(bad(format!("also #{}: this expiry and CVC are listed twice", n + 1)));
            }
            credentials.push(credential);
        }
        let major =
            |v: f64, what: &str| Amount::parse_major(&format!("{v}")).map_err(|err| bad(format!("{what}: {err}")));
        let opening_balance = major(e.balance, "balance")?;
        let limit = e.limit.map(|l| major(l, "limit")).transpose()?;
        let incoming_daily_limit = e.incoming_daily_limit.map(|l| major(l, "incoming_daily_limit")).transpose()?;
        let currency = match e.currency.as_deref() {
            None => Currency::Kzt,
            Some(code) => code.parse().map_err(|err| bad(format!("currency: {err}")))?,
        };
        let forced_decline = match e.decline {
            None => None,
            Some(code) => Some(
                ReasonCode::from_code(code)
                    .filter(|r| !r.is_success())
                    .ok_or_else(|| bad(format!("decline {code} is not a known ePay decline code")))?,
            ),
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(pan.expose().as_bytes());
        let account = format!("card:{}", &hex::encode(mac.finalize().into_bytes())[..32]);
        Ok(SimCard {
            pan,
            credentials,
            opening_balance,
            forced_decline,
            limit,
            three_ds: e.three_ds,
            issuer: e.issuer.unwrap_or_else(|| "SIMULATED BANK".into()),
            account,
            phone: e.phone,
            iin: e.iin,
            incoming_daily_limit,
            currency,
        })
    }

    pub fn card(&self, pan: &Pan) -> Option<&SimCard> {
        self.cards.get(pan.expose())
    }

    /// Every card, in no particular order.
    pub fn cards(&self) -> impl Iterator<Item = &SimCard> {
        self.cards.values()
    }

    pub fn len(&self) -> usize {
        self.cards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }
}

impl CardNetwork for Simulator {
    fn authorize(&self, req: &AuthRequest<'_>) -> Authorization {
        let Some(card) = self.card(req.pan) else {
            return Authorization::Declined { reason: ReasonCode::NO_SUCH_CARD, issuer: String::new() };
        };
        let decline = |reason| Authorization::Declined { reason, issuer: card.issuer.clone() };
        let typed = card.credential_for(req.expiry, req.cvc);
        // The status comes first, so a blocked card is 489 whatever was typed: the typed
        // combination's status, or the card's own when the typed expiry is none of the card's.
        if let Some(reason) = typed.unwrap_or(card.own()).state.decline() {
            return decline(reason);
        }
        let Some(credential) = typed else {
            return decline(ReasonCode::WRONG_EXPIRY);
        };
        if credential.is_expired_at(req.today) {
            return decline(ReasonCode::EXPIRED_CARD);
        }
        if let Some(cvc) = req.cvc {
            // Constant-time enough for a simulator; the CVC never leaves this process.
            if cvc.expose() != credential.cvc {
                return decline(ReasonCode::WRONG_CVC);
            }
        }
        if let Some(reason) = card.forced_decline {
            return decline(reason);
        }
        let conversion = Conversion { card_currency: card.currency, rate: sandbox_rate(req.currency, card.currency) };
        if let Some(limit) = card.limit {
            // The card's limit is in its own currency.
            if conversion.card_amount(req.amount) > limit.minor() {
                return decline(ReasonCode::LIMIT_EXCEEDED);
            }
        }
        Authorization::Approved {
            card_account: card.account.clone(),
            approval_code: ids::approval_code(),
            issuer: card.issuer.clone(),
            three_ds_enrolled: card.three_ds,
            conversion,
        }
    }

    fn receiver(&self, pan: &Pan, today: (i32, u8)) -> Result<crate::Receiver, ReasonCode> {
        let card = self.card(pan).ok_or(ReasonCode::NO_SUCH_CARD)?;
        // Nothing is typed for a receiver: the card's own combination decides.
        if let Some(reason) = card.own().state.decline() {
            return Err(reason);
        }
        if card.own().is_expired_at(today) {
            return Err(ReasonCode::EXPIRED_CARD);
        }
        Ok(crate::Receiver {
            card_account: card.account.clone(),
            issuer: card.issuer.clone(),
            currency: card.currency,
            daily_incoming_limit_minor: card.incoming_daily_limit.map(Amount::minor),
        })
    }

    fn is_expired(&self, pan: &Pan, expiry: Expiry, today: (i32, u8)) -> bool {
        match self.card(pan).and_then(|card| card.credentials.iter().find(|c| c.expiry == expiry)) {
            Some(credential) => credential.is_expired_at(today),
            None => expiry.is_expired_at(today.0, today.1),
        }
    }

    fn card_by_phone(&self, phone: &str, iin: &str) -> Result<Pan, ReasonCode> {
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        let (phone, iin) = (digits(phone), digits(iin));
        let by_phone: Vec<&SimCard> =
            self.cards.values().filter(|c| c.phone.as_deref().map(digits).as_deref() == Some(phone.as_str())).collect();
        if by_phone.is_empty() {
            return Err(ReasonCode::NO_SUCH_CARD);
        }
        by_phone
            .into_iter()
            .find(|c| c.iin.as_deref().map(digits).as_deref() == Some(iin.as_str()))
            .map(|c| c.pan.clone())
            .ok_or(ReasonCode::IIN_PHONE_MISMATCH)
    }

    fn card_accounts(&self) -> Vec<(String, Currency, i64)> {
        let mut accounts: Vec<_> =
            self.cards.values().map(|c| (c.account.clone(), c.currency, c.opening_balance.minor())).collect();
        accounts.sort_by(|a, b| a.0.cmp(&b.0));
        accounts
    }

    fn rate(&self, from: Currency, to: Currency) -> FxRate {
        sandbox_rate(from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use epay_domain::Cvc;

    fn sim() -> Simulator {
        Simulator::from_card_files(&[DEFAULT_CARDS], b"test-key").unwrap()
    }

    fn auth(sim: &Simulator, pan: &str, exp: &str, cvc: &str, amount: i64) -> Authorization {
        let pan = Pan::parse(pan).unwrap();
        let cvc = Cvc::parse(cvc).unwrap();
        sim.authorize(&AuthRequest {
            pan: &pan,
            expiry: Some(Expiry::parse(exp).unwrap()),
            cvc: Some(&cvc),
            amount: Amount::from_minor(amount).unwrap(),
            currency: Currency::Kzt,
            today: (2026, 11),
        })
    }

    fn reason(a: Authorization) -> i32 {
        match a {
            Authorization::Approved { .. } => 0,
            Authorization::Declined { reason, .. } => reason.code,
        }
    }

    #[test]
    fn default_card_file_loads() {
        assert_eq!(sim().len(), 19);
    }

    #[test]
    fn every_published_combination_gets_its_sources_outcome_at_any_date() {
        let s = sim();
        let at = |pan, exp, cvc, today| {
            let pan = Pan::parse(pan).unwrap();
            let cvc = Cvc::parse(cvc).unwrap();
            reason(s.authorize(&AuthRequest {
                pan: &pan,
                expiry: Some(Expiry::parse(exp).unwrap()),
                cvc: Some(&cvc),
                amount: Amount::from_minor(100).unwrap(),
                currency: Currency::Kzt,
                today,
            }))
        };
        for today in [(2026, 11), (2040, 6)] {
            // The test-card page's and seed 001's combinations of one card, and the payouts page's.
            assert_eq!(at("4405639704015096", "0127", "321", today), 0);
            assert_eq!(at("4405639704015096", "0125", "815", today), 0);
            assert_eq!(at("5522042705066736", "0125", "525", today), 0);
            assert_eq!(at("377514500004820", "0128", "0198", today), 0);
            assert_eq!(at("377514500000794", "0923", "1687", today), 0);
            // Seed 001's "lock" AMEX, and the locked cards whatever is typed.
            assert_eq!(at("377514500004820", "0125", "4169", today), 489);
            assert_eq!(at("4003032704547597", "0920", "170", today), 489);
            assert_eq!(at("5578342710750560", "0921", "254", today), 489);
            // Combinations are not mixed: one's expiry with the other's CVC is a wrong CVC, and
            // an expiry the card was never published with is a wrong expiry.
            assert_eq!(at("4405639704015096", "0125", "321", today), 2872);
            assert_eq!(at("4405639704015096", "0127", "815", today), 2872);
            assert_eq!(at("4405639704015096", "0126", "815", today), 457);
            // The expired outcome card is not published: its date is a date.
            assert_eq!(at("4000000000004780", "0120", "123", today), 478);
        }
        // Unpublished cards still run out: the outcome cards after 12/30.
        assert_eq!(at("5555555555554444", "1230", "123", (2030, 12)), 0);
        assert_eq!(at("5555555555554444", "1230", "123", (2031, 1)), 478);
        // Nothing typed (a saved card, a receiver): the card's own combination decides.
        let visa = Pan::parse("4405639704015096").unwrap();
        assert!(s.receiver(&visa, (2040, 6)).is_ok());
        let amex = Pan::parse("377514500004820").unwrap();
        assert!(s.receiver(&amex, (2040, 6)).is_ok(), "its own combination is open");
        let expired = Pan::parse("4000000000004780").unwrap();
        assert_eq!(s.receiver(&expired, (2026, 11)).err(), Some(ReasonCode::EXPIRED_CARD));
        // A saved card's expiry, as the card list asks about it.
        let seed = Expiry::parse("0125").unwrap();
        assert!(!s.is_expired(&visa, seed, (2040, 6)), "a published combination never expires");
        assert!(s.is_expired(&expired, Expiry::parse("0120").unwrap(), (2026, 11)));
        assert!(s.is_expired(&Pan::parse("4111111111111111").unwrap(), seed, (2026, 11)), "unknown: the date");
    }

    #[test]
    fn rules() {
        let s = sim();
        assert_eq!(reason(auth(&s, "4405639704015096", "0127", "321", 100)), 0);
        assert_eq!(reason(auth(&s, "4405639704015096", "0227", "321", 100)), 457);
        assert_eq!(reason(auth(&s, "4405639704015096", "0127", "322", 100)), 2872);
        assert_eq!(reason(auth(&s, "4003032704547597", "0920", "170", 100)), 489);
        assert_eq!(reason(auth(&s, "4000000000009987", "1230", "123", 100)), 481);
        assert_eq!(reason(auth(&s, "4000000000009979", "1230", "123", 100)), 483);
        assert_eq!(reason(auth(&s, "4000000000000002", "1230", "123", 100)), 466);
        assert_eq!(reason(auth(&s, "4000000000009920", "1230", "123", 100_001)), 488);
        assert_eq!(reason(auth(&s, "4111111111111111", "1230", "123", 100)), 471);
        assert_eq!(reason(auth(&s, "4405639704015096", "0127", "321", 100)), 0);
        // Expired: the card's own date is past at the simulated "today".
        let expired = Simulator::from_card_files(
            &["[[card]]\npan = \"4111111111111111\"\nexpiry = \"01/20\"\ncvc = \"123\"\n"],
            b"k",
        )
        .unwrap();
        assert_eq!(reason(auth(&expired, "4111111111111111", "0120", "123", 100)), 478);
    }

    #[test]
    fn sandbox_rates_cross_through_tenge_and_convert_for_the_card_limit() {
        assert_eq!(sandbox_rate(Currency::Usd, Currency::Kzt).to_string(), "500");
        assert_eq!(sandbox_rate(Currency::Kzt, Currency::Usd).to_string(), "0.002");
        assert_eq!(sandbox_rate(Currency::Eur, Currency::Usd).to_string(), "1.1");
        assert_eq!(sandbox_rate(Currency::Rub, Currency::Rub), FxRate::ONE);
        // Card 4000000000009920 has a 1000-tenge limit: 2 USD (1000 tenge) pass, 2.01 USD do not.
        let s = sim();
        let pan = Pan::parse("4000000000009920").unwrap();
        let cvc = Cvc::parse("123").unwrap();
        let pay = |minor| {
            reason(s.authorize(&AuthRequest {
                pan: &pan,
                expiry: Some(Expiry::parse("1230").unwrap()),
                cvc: Some(&cvc),
                amount: Amount::from_minor(minor).unwrap(),
                currency: Currency::Usd,
                today: (2026, 11),
            }))
        };
        assert_eq!(pay(200), 0);
        assert_eq!(pay(201), 488);
    }

    #[test]
    fn bad_card_files_are_refused_with_the_card_number() {
        let err = Simulator::from_card_files(
            &["[[card]]\npan = \"4111111111111112\"\nexpiry = \"01/30\"\ncvc = \"1\"\n"],
            b"k",
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("card #1"), "{err}");
        assert!(Simulator::from_card_files(&["[[card]]\npan = 1"], b"k").is_err());
        let twice = "[[card]]\npan = \"4111111111111111\"\nexpiry = \"01/30\"\ncvc = \"123\"\n\
                     [[card.also]]\nexpiry = \"01/30\"\ncvc = \"123\"\n";
        let err = Simulator::from_card_files(&[twice], b"k").err().unwrap();
        assert!(err.to_string().contains("also #1: this expiry and CVC are listed twice"), "{err}");
        let bad_also = "[[card]]\npan = \"4111111111111111\"\nexpiry = \"01/30\"\ncvc = \"123\"\n\
                        [[card.also]]\nexpiry = \"13/30\"\ncvc = \"123\"\n";
        let err = Simulator::from_card_files(&[bad_also], b"k").err().unwrap();
        assert!(err.to_string().contains("card #1: also #1: expiry"), "{err}");
    }
}
