//! The message outbox: writing messages (alone, or inside another port method's unit), claiming
//! due ones under a lease, recording attempts, the merchant's listing.

use async_trait::async_trait;
use epay_domain::MessageState;

use super::{Backend, RowsAffected, SqlStore};
use crate::message::{MessageFilter, MessageOutcome, NewMessage, OutboxMessage};
use crate::ports::MessageOutbox;
use crate::StoreResult;

/// The most messages one listing returns.
const MAX_LISTED: i64 = 500;

/// Writes one message, due at `now_ms`, inside the caller's unit: a port method whose use case
/// sends a message (an invoice with a recipient contact) calls this before it commits, so the
/// message exists exactly when the change it tells of does.
pub(crate) async fn insert_message<DB: Backend>(
    tx: &mut super::Unit<DB>,
    m: &NewMessage,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    insert(tx, m, now_ms, INSERT_MESSAGE).await.map(|_| ())
}

/// The columns and values of one new message, pending and due at `$11`.
macro_rules! insert_message_sql {
    () => {
        "INSERT INTO outbox_messages (id, merchant_id, kind, channel, reference, recipient, language, subject,
             body, state, attempts, next_attempt_at, locked_until, claim_id, last_error, created_at, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, 0, '', '', $11, NULL)"
    };
}

const INSERT_MESSAGE: &str = insert_message_sql!();

/// The same, skipping a message whose id is taken (SQLite and PostgreSQL read it alike).
const INSERT_MESSAGE_ONCE: &str = concat!(insert_message_sql!(), " ON CONFLICT (id) DO NOTHING");

/// Runs one of the two inserts; the rows it wrote (0 or 1).
async fn insert<DB: Backend>(
    tx: &mut super::Unit<DB>,
    m: &NewMessage,
    now_ms: i64,
    sql: &'static str,
) -> Result<u64, sqlx::Error> {
    let written = sqlx::query(sql)
        .bind(&m.id)
        .bind(&m.merchant_id)
        .bind(m.kind.as_str())
        .bind(m.channel.as_str())
        .bind(&m.reference)
        .bind(&m.recipient)
        .bind(m.language.as_str())
        .bind(&m.subject)
        .bind(&m.body)
        .bind(MessageState::Pending.as_str())
        .bind(now_ms)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(written)
}

#[async_trait]
impl<DB: Backend> MessageOutbox for SqlStore<DB> {
    async fn enqueue_messages(&self, messages: &[NewMessage], now_ms: i64) -> StoreResult<()> {
        let mut tx = self.begin_unit().await?;
        for m in messages {
            insert_message(&mut tx, m, now_ms).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn enqueue_message_once(&self, message: &NewMessage, now_ms: i64) -> StoreResult<bool> {
        let mut tx = self.begin_unit().await?;
        let written = insert(&mut tx, message, now_ms, INSERT_MESSAGE_ONCE).await?;
        tx.commit().await?;
        Ok(written == 1)
    }

    async fn claim_messages(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> StoreResult<Vec<OutboxMessage>> {
        let mut tx = self.begin_unit().await?;
        let claim_id = super::callbacks::lease_due(
            &mut tx,
            super::callbacks::Leased::Messages,
            MessageState::Pending.as_str(),
            now_ms,
            lease_until_ms,
            limit,
        )
        .await?;
        let claimed = sqlx::query_as("SELECT * FROM outbox_messages WHERE claim_id = $1 ORDER BY next_attempt_at, id")
            .bind(&claim_id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn record_message_attempt(&self, id: &str, outcome: &MessageOutcome, now_ms: i64) -> StoreResult<()> {
        let (state, next_at, sent_at, error) = match outcome {
            MessageOutcome::Sent => (MessageState::Sent, now_ms, Some(now_ms), ""),
            MessageOutcome::RetryAt { at_ms, error } => (MessageState::Pending, *at_ms, None, error.as_str()),
            MessageOutcome::GiveUp { error } => (MessageState::Failed, now_ms, None, error.as_str()),
        };
        // A sent message keeps the error of the attempt before, if any: the cabinet shows that
        // it was retried.
        sqlx::query(
            "UPDATE outbox_messages SET state = $1, next_attempt_at = $2, sent_at = $3, locked_until = 0,
                 last_error = CASE WHEN $4 = '' THEN last_error ELSE $4 END
             WHERE id = $5",
        )
        .bind(state.as_str())
        .bind(next_at)
        .bind(sent_at)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn messages_of(&self, merchant_id: &str, filter: &MessageFilter) -> StoreResult<Vec<OutboxMessage>> {
        let limit = if filter.limit <= 0 { MAX_LISTED } else { filter.limit.min(MAX_LISTED) };
        let messages = sqlx::query_as(
            "SELECT * FROM outbox_messages WHERE merchant_id = $1 AND ($2 = '' OR reference = $2)
             ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(merchant_id)
        .bind(&filter.reference)
        .bind(limit)
        .fetch_all(&self.reads)
        .await?;
        Ok(messages)
    }

    async fn message_of(&self, merchant_id: &str, id: &str) -> StoreResult<Option<OutboxMessage>> {
        let message = sqlx::query_as("SELECT * FROM outbox_messages WHERE merchant_id = $1 AND id = $2")
            .bind(merchant_id)
            .bind(id)
            .fetch_optional(&self.reads)
            .await?;
        Ok(message)
    }
}
