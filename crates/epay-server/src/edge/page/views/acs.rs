//! The simulated issuer's 3-D Secure challenge page (`templates/acs/challenge.html`).

use askama::Template;

use super::{Frame, Rendered};
use crate::edge::page::i18n::Lang;

pub struct ChallengeView<'a> {
    pub merchant: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub card_mask: &'a str,
    pub acs_id: &'a str,
    pub md: &'a str,
    pub term_url: &'a str,
    /// Sandbox: the page tells the fixed code. Production: the code is per challenge.
    pub sandbox: bool,
}

#[derive(Template)]
#[template(path = "acs/challenge.html")]
struct ChallengePage<'a> {
    frame: Frame<'a>,
    v: &'a ChallengeView<'a>,
}

/// The challenge, in English: it is the bank's page, not the shop's.
pub fn challenge(v: &ChallengeView<'_>) -> Rendered {
    ChallengePage { frame: Frame::new(Lang::En, "3-D Secure", false), v }.render()
}
