//! Where a callback (the merchant's postLink notice) stands in its delivery.

use crate::text_enum::text_enum;

text_enum! {
    /// A callback event's `status`, as the database keeps it and the callback log shows it.
    pub enum DeliveryStatus as "callback delivery status" {
        /// Waiting for its next attempt (queued, retrying, or queued again by the merchant).
        Pending = "pending",
        /// The merchant answered 2xx.
        Delivered = "delivered",
        /// Every attempt failed; only a resend queues it again.
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_others_are_refused() {
        crate::text_enum::assert_round_trip(DeliveryStatus::ALL, &["", "PENDING", "sent", "retry"]);
    }
}
