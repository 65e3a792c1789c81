//! The message outbox: e-mails and SMS to people, written in the transaction of the use case
//! that causes them (`sql::outbox::insert_message` inside that port method's unit, or
//! `enqueue_messages` when the message is the whole use case), then claimed, sent and recorded by
//! the outbox workers of any node.

use async_trait::async_trait;

use crate::{MessageFilter, MessageOutcome, NewMessage, OutboxMessage, StoreResult};

#[async_trait]
pub trait MessageOutbox: Send + Sync + 'static {
    /// Writes messages, due at `now_ms`, in one transaction: all or none.
    async fn enqueue_messages(&self, messages: &[NewMessage], now_ms: i64) -> StoreResult<()>;

    /// Writes one message, due at `now_ms`, unless a message with its id is already there: the
    /// id is the idempotency key of a message sent at most once (a payment's receipt). `true`
    /// when this call wrote it, `false` when it was there (whatever its state).
    async fn enqueue_message_once(&self, message: &NewMessage, now_ms: i64) -> StoreResult<bool>;

    /// Claims up to `limit` due messages for one attempt each: their attempt counter goes up and
    /// they are leased until `lease_until_ms`, so no other worker or node sends the same attempt
    /// (PostgreSQL skips rows another node is claiming; SQLite has one writer).
    async fn claim_messages(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> StoreResult<Vec<OutboxMessage>>;

    /// Records how the attempt the message's last claim made ended.
    async fn record_message_attempt(&self, id: &str, outcome: &MessageOutcome, now_ms: i64) -> StoreResult<()>;

    /// The merchant's messages, newest first.
    async fn messages_of(&self, merchant_id: &str, filter: &MessageFilter) -> StoreResult<Vec<OutboxMessage>>;

    /// One of the merchant's messages; another merchant's is `None`.
    async fn message_of(&self, merchant_id: &str, id: &str) -> StoreResult<Option<OutboxMessage>>;
}
