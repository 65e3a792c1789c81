//! ePay reason codes (facts §15.2) that the gateway and the simulator produce.

/// A reason code with its English message. The numbers are ePay's; the messages condense the
/// public error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReasonCode {
    pub code: i32,
    pub message: &'static str,
}

macro_rules! codes {
    ($($name:ident = $code:expr, $msg:expr;)*) => {
        impl ReasonCode {
            $(pub const $name: ReasonCode = ReasonCode { code: $code, message: $msg };)*

            /// Every code this gateway can emit, for docs and lookups.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$name),*];
        }
    };
}

codes! {
    SUCCESS = 0, "success";
    SYSTEM_ERROR = 100, "system error, check the payment status";
    WRONG_EXPIRY = 457, "Wrong card expiry date";
    DECLINED_CALL_BANK = 462, "Declined by issuer: call your bank";
    CARD_RESTRICTED = 465, "Your card is restricted";
    ISSUER_DECLINE = 466, "Transaction declined by issuer";
    CARD_DISABLED = 467, "Your card is disabled";
    INVALID_AMOUNT = 470, "Invalid amount";
    NO_SUCH_CARD = 471, "No such card";
    INVALID_CARD_NUMBER = 472, "Invalid card number";
    THREE_DS_FAILED = 473, "3DSecure authentication failed";
    FORMAT_ERROR = 477, "Format error, use another card";
    EXPIRED_CARD = 478, "Expired card";
    LOST_CARD = 481, "Card is lost, reissue it";
    STOLEN_CARD = 483, "Card is stolen";
    INSUFFICIENT_FUNDS = 484, "Insufficient funds";
    NOT_PERMITTED = 487, "Not permitted to merchant";
    LIMIT_EXCEEDED = 488, "Amount exceeds the limit";
    CARD_BLOCKED = 489, "Card is blocked";
    FREQUENCY_LIMIT = 491, "Payment frequency limit exceeded";
    ISSUER_UNAVAILABLE = 493, "Issuer unavailable, retry later";
    THREE_DS_CODE_WRONG = 499, "3DSecure code wrong or not entered";
    RECEIVER_DAILY_LIMIT = 528, "Receiver card daily incoming transfer limit exceeded";
    TERMINAL_DAILY_LIMIT = 529, "Terminal daily limit reached";
    THREE_DS_UNAVAILABLE = 877, "Cannot complete the 3DSecure check";
    IIN_PHONE_MISMATCH = 2357, "IIN and phone do not match";
    TOO_MANY_ATTEMPTS = 2740, "Too many failed payment attempts";
    WRONG_CVC = 2872, "Critical decline from bank, use another card";
}

impl ReasonCode {
    pub fn from_code(code: i32) -> Option<ReasonCode> {
        Self::ALL.iter().copied().find(|r| r.code == code)
    }

    pub fn is_success(self) -> bool {
        self.code == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in ReasonCode::ALL {
            assert!(seen.insert(r.code), "duplicate code {}", r.code);
        }
        assert_eq!(ReasonCode::from_code(484), Some(ReasonCode::INSUFFICIENT_FUNDS));
        assert_eq!(ReasonCode::from_code(1), None);
    }
}
