//! The simulated issuer's 3-D Secure challenge page (`templates/acs/challenge.html`).

use askama::Template;
use epay_domain::Amount;

use super::{Frame, Rendered};
use crate::edge::page::i18n::{acs_words, AcsWords, Lang};
use crate::edge::page::money::money_coded;

/// What happened to the shopper's last action on the challenge, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    None,
    /// A wrong code, with tries left.
    WrongCode,
    /// The code was sent again.
    Resent,
}

pub struct ChallengeView<'a> {
    /// The payment's language: a real issuer's page follows the shopper's.
    pub lang: Lang,
    pub merchant: &'a str,
    pub amount: Amount,
    /// The payment's currency code, as the store keeps it.
    pub currency: &'a str,
    pub card_mask: &'a str,
    pub acs_id: &'a str,
    pub md: &'a str,
    pub term_url: &'a str,
    /// Sandbox: the page tells the fixed code. Production: the code is per challenge.
    pub sandbox: bool,
    pub notice: Notice,
    pub attempts_left: i32,
}

#[derive(Template)]
#[template(path = "acs/challenge.html")]
struct ChallengePage<'a> {
    frame: Frame<'a>,
    w: &'static AcsWords,
    v: &'a ChallengeView<'a>,
    wrong_code: bool,
    resent: bool,
    /// The amount as the payment's language writes it (`2 500 ₸`).
    money: String,
}

/// The challenge, in the payment's language.
pub fn challenge(v: &ChallengeView<'_>) -> Rendered {
    let w = acs_words(v.lang);
    ChallengePage {
        frame: Frame::new(v.lang, w.heading, false),
        w,
        v,
        wrong_code: v.notice == Notice::WrongCode,
        resent: v.notice == Notice::Resent,
        money: money_coded(v.lang, v.amount.minor(), v.currency),
    }
    .render()
}
