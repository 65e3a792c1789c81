//! The steps of a payment's status history, kept with each change (the cabinet shows them).

use crate::text_enum::text_enum;
use crate::Operation;

text_enum! {
    /// What moved a payment to the status its history row records.
    pub enum PaymentStep as "payment history step" {
        /// The payment was recorded: its authorization, decline or 3-D Secure wait.
        Created = "created",
        /// Its 3-D Secure challenge ended.
        ThreeDs = "3ds",
        Charge = "charge",
        Cancel = "cancel",
        Refund = "refund",
        Expire = "expire",
    }
}

/// An operation's step has the operation's word.
impl From<Operation> for PaymentStep {
    fn from(operation: Operation) -> PaymentStep {
        match operation {
            Operation::Charge => PaymentStep::Charge,
            Operation::Cancel => PaymentStep::Cancel,
            Operation::Refund => PaymentStep::Refund,
            Operation::Expire => PaymentStep::Expire,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_others_are_refused() {
        crate::text_enum::assert_round_trip(PaymentStep::ALL, &["", "3DS", "Created", "charged", "auth"]);
    }

    /// The history was written with the operation's own word before steps were an enum.
    #[test]
    fn an_operation_step_is_named_as_the_operation() {
        for operation in Operation::ALL {
            assert_eq!(PaymentStep::from(*operation).as_str(), operation.as_str());
        }
    }
}
