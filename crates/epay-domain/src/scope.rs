//! Token scopes (facts §2.3): the words a client names in `scope` when it asks for a token.

use crate::text_enum::text_enum;

text_enum! {
    /// One word of a token's `scope`. A scope is any space-separated set of these words; the
    /// token keeps and answers the scope text exactly as it was asked.
    pub enum Scope as "token scope" {
        /// Payments: with an invoiceID the page's token, without one a service token.
        Payment = "payment",
        /// Card-to-card transfers.
        Transfer = "transfer",
        /// Service calls (status, operations, saved cards, callback log).
        Webapi = "webapi",
        /// ePay's user management; accepted, grants nothing here.
        UserManagement = "usermanagement",
        /// ePay's e-mail sending; accepted, grants nothing here.
        EmailSend = "email_send",
        /// ePay's verification; accepted, grants nothing here.
        Verification = "verification",
        /// ePay's statements; accepted, grants nothing here.
        Statement = "statement",
        /// ePay's statistics; accepted, grants nothing here.
        Statistics = "statistics",
        /// ePay's generic `api` scope; accepted, grants nothing here.
        Api = "api",
    }
}

impl Scope {
    /// Whether a scope text (`"webapi payment"`) names this word.
    pub fn is_in(self, scope: &str) -> bool {
        scope.split_whitespace().any(|word| word == self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_others_are_refused() {
        crate::text_enum::assert_round_trip(Scope::ALL, &["", "Payment", "PAYMENT", "payments", "web api"]);
    }

    #[test]
    fn a_scope_text_names_its_words_only() {
        assert!(Scope::Payment.is_in("webapi payment"));
        assert!(Scope::Webapi.is_in(" webapi\tpayment "));
        assert!(!Scope::Transfer.is_in("webapi payment"));
        assert!(!Scope::Payment.is_in("payments"));
        assert!(!Scope::Payment.is_in(""));
    }
}
