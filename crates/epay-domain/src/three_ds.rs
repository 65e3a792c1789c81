//! A 3-D Secure challenge's life (facts §7): shown to the shopper, answered at the simulated
//! ACS, then confirmed by the merchant's TermUrl, which ends the transaction waiting in `3D`.

use crate::text_enum::text_enum;

text_enum! {
    /// Where a 3-D Secure challenge stands.
    pub enum ThreeDsState as "3-D Secure state" {
        /// Shown to the shopper, not answered yet.
        Pending = "pending",
        /// The shopper gave the right one-time code.
        Passed = "passed",
        /// The shopper gave a wrong code.
        Failed = "failed",
        /// The shopper cancelled the challenge.
        Cancelled = "cancelled",
        /// The transaction it held was ended (confirmed, or failed when abandoned): final.
        Confirmed = "confirmed",
    }
}

impl ThreeDsState {
    /// Only a challenge still shown may be answered, and only once.
    pub fn can_be_answered(self) -> bool {
        self == ThreeDsState::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_enum::assert_round_trip;

    #[test]
    fn states_read_back_from_their_words_and_nothing_else() {
        let words: Vec<&str> = ThreeDsState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(words, ["pending", "passed", "failed", "cancelled", "confirmed"]);
        assert_round_trip(ThreeDsState::ALL, &["", "Pending", "canceled", "done", "answered"]);
    }

    #[test]
    fn only_an_open_challenge_is_answered() {
        let answerable: Vec<ThreeDsState> = ThreeDsState::ALL.iter().copied().filter(|s| s.can_be_answered()).collect();
        assert_eq!(answerable, [ThreeDsState::Pending]);
    }
}
