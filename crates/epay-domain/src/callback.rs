//! What a callback (the merchant's postLink notice) tells: its kind, kept with the event in the
//! outbox and shown in the callback log.

use crate::text_enum::text_enum;
use crate::Operation;

text_enum! {
    /// A callback event's `kind`: which outcome or operation of a payment or transfer it reports.
    pub enum CallbackKind as "callback kind" {
        /// A payment was approved (facts §11.1), to `postLink`.
        PaymentSuccess = "payment.success",
        /// A payment or a transfer was declined (facts §11.2), to `failurePostLink` or `postLink`.
        PaymentFailure = "payment.failure",
        /// A hold was charged; operation callbacks are sent only when the terminal turns them on.
        PaymentCharge = "payment.charge",
        /// A hold was cancelled.
        PaymentCancel = "payment.cancel",
        /// Charged money was refunded, all or part.
        PaymentRefund = "payment.refund",
        /// A hold outlived its terminal's hold period.
        PaymentExpire = "payment.expire",
        /// A transfer moved its money (facts §11.3).
        TransferSuccess = "transfer.success",
    }
}

impl CallbackKind {
    /// The callback that reports `operation` on a payment.
    pub fn of_operation(operation: Operation) -> CallbackKind {
        match operation {
            Operation::Charge => CallbackKind::PaymentCharge,
            Operation::Cancel => CallbackKind::PaymentCancel,
            Operation::Refund => CallbackKind::PaymentRefund,
            Operation::Expire => CallbackKind::PaymentExpire,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_others_are_refused() {
        crate::text_enum::assert_round_trip(
            CallbackKind::ALL,
            &["", "payment", "PAYMENT.SUCCESS", "payment.succes", "transfer.failure", "payment.success "],
        );
    }

    /// An operation's callback was named `payment.` + the operation's word before the kinds were
    /// an enum; stored events keep those words.
    #[test]
    fn an_operation_callback_is_named_after_its_operation() {
        for operation in Operation::ALL {
            assert_eq!(CallbackKind::of_operation(*operation).as_str(), format!("payment.{operation}"));
        }
    }
}
