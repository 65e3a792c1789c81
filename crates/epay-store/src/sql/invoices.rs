//! Invoice links and refresh tokens (migration 0021).

use async_trait::async_trait;

use super::{Backend, RowsAffected, SqlStore};
use crate::message::NewMessage;
use crate::model::*;
use crate::ports::InvoicesPort;
use crate::StoreResult;

/// A link with its state at `$1` (now): PAID once its payment was approved (whatever happened to
/// the link since: the money decides), else CANCELLED, else EXPIRED past its expiry, else ACTIVE.
/// An invoice may have several payment rows (declined attempts, migration 0014; at most one
/// approved): the link joins the one that decides, the approved one if any, else the latest
/// attempt, so a paid link never reads ACTIVE and a link is one row.
const SELECT_LINK: &str = "SELECT l.*, p.id AS payment_id, p.status AS payment_status,
        CASE WHEN p.status IN ('AUTH', 'CHARGE', 'CANCEL', 'CANCEL_OLD', 'REFUND') THEN 'PAID'
             WHEN l.state = 'CANCELLED' THEN 'CANCELLED'
             WHEN l.expires_at <= $1 THEN 'EXPIRED'
             ELSE 'ACTIVE' END AS link_state
     FROM invoice_links l
     LEFT JOIN payments p ON p.id = (
         SELECT q.id FROM payments q WHERE q.terminal_id = l.terminal_id AND q.invoice_id = l.invoice_id
         ORDER BY CASE WHEN q.status IN ('AUTH', 'CHARGE', 'CANCEL', 'CANCEL_OLD', 'REFUND') THEN 0 ELSE 1 END,
                  q.created_at DESC, q.id DESC
         LIMIT 1)";

/// The payment statuses that make a link paid (an approved payment, or what followed one).
const PAID: &str = "('AUTH', 'CHARGE', 'CANCEL', 'CANCEL_OLD', 'REFUND')";

#[async_trait]
impl<DB: Backend> InvoicesPort for SqlStore<DB> {
    async fn insert_invoice_link(&self, l: &InvoiceLink, messages: &[NewMessage]) -> StoreResult<LinkInsert> {
        // One statement: the payment check and the unique (terminal, invoice) constraint decide
        // together, so nothing is written for a duplicate. The link's messages (e-mail, SMS)
        // go in the same unit: a link is sent exactly when it was stored.
        let mut tx = self.begin_unit().await?;
        let inserted = sqlx::query(
            "INSERT INTO invoice_links (id, link_id, merchant_id, terminal_id, shop_id, invoice_id, account_id,
                 amount_minor, currency, language, description, recipient_contact, recipient_contact_sms,
                 notifier_contact_sms, post_link, failure_post_link, back_link, failure_back_link, state,
                 expires_at, created_at, cancelled_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
                 NULL
             WHERE NOT EXISTS (SELECT 1 FROM payments WHERE terminal_id = $4 AND invoice_id = $6)
             ON CONFLICT (terminal_id, invoice_id) DO NOTHING",
        )
        .bind(&l.id)
        .bind(&l.link_id)
        .bind(&l.merchant_id)
        .bind(&l.terminal_id)
        .bind(&l.shop_id)
        .bind(&l.invoice_id)
        .bind(&l.account_id)
        .bind(l.amount_minor)
        .bind(&l.currency)
        .bind(&l.language)
        .bind(&l.description)
        .bind(&l.recipient_contact)
        .bind(&l.recipient_contact_sms)
        .bind(&l.notifier_contact_sms)
        .bind(&l.post_link)
        .bind(&l.failure_post_link)
        .bind(&l.back_link)
        .bind(&l.failure_back_link)
        .bind(&l.state)
        .bind(l.expires_at)
        .bind(l.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted != 1 {
            return Ok(LinkInsert::DuplicateInvoice);
        }
        for m in messages {
            super::outbox::insert_message(&mut tx, m, l.created_at).await?;
        }
        tx.commit().await?;
        Ok(LinkInsert::Inserted)
    }

    async fn invoice_link(
        &self,
        merchant_id: &str,
        id_or_invoice: &str,
        now_ms: i64,
    ) -> StoreResult<Option<InvoiceLinkRow>> {
        Ok(sqlx::query_as(&format!(
            "{SELECT_LINK} WHERE l.merchant_id = $2 AND (l.id = $3 OR l.invoice_id = $3)
             ORDER BY CASE WHEN l.id = $3 THEN 0 ELSE 1 END, l.created_at DESC LIMIT 1"
        ))
        .bind(now_ms)
        .bind(merchant_id)
        .bind(id_or_invoice)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn invoice_link_by_link_id(&self, link_id: &str, now_ms: i64) -> StoreResult<Option<InvoiceLinkRow>> {
        Ok(sqlx::query_as(&format!("{SELECT_LINK} WHERE l.link_id = $2"))
            .bind(now_ms)
            .bind(link_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn invoice_link_of(
        &self,
        terminal_id: &str,
        invoice_id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<InvoiceLinkRow>> {
        Ok(sqlx::query_as(&format!("{SELECT_LINK} WHERE l.terminal_id = $2 AND l.invoice_id = $3"))
            .bind(now_ms)
            .bind(terminal_id)
            .bind(invoice_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn invoice_links(
        &self,
        merchant_id: &str,
        state: Option<&str>,
        now_ms: i64,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<InvoiceLinkRow>> {
        // The state filter compares the computed state, so a filter and a row always agree.
        Ok(sqlx::query_as(&format!(
            "SELECT * FROM ({SELECT_LINK} WHERE l.merchant_id = $2) AS links
             WHERE ($3 = '' OR link_state = $3)
             ORDER BY created_at DESC, id LIMIT $4 OFFSET $5"
        ))
        .bind(now_ms)
        .bind(merchant_id)
        .bind(state.unwrap_or(""))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn cancel_invoice_link(&self, merchant_id: &str, id: &str, now_ms: i64) -> StoreResult<LinkCancel> {
        // One unit, the link row locked first: a payment with the link's token holds the same
        // row (`PaymentsPort::record_payment`) until it commits, so this waits for it, and the
        // check for a paid payment below (its own statement, a fresh snapshot) sees it.
        // On SQLite the unit already holds the one write connection.
        let mut tx = self.begin_unit().await?;
        let lock = format!("SELECT id FROM invoice_links WHERE merchant_id = $1 AND id = $2 {}", DB::FOR_UPDATE);
        let locked = sqlx::query(&lock).bind(merchant_id).bind(id).fetch_optional(&mut *tx).await?.is_some();
        let cancelled = if !locked {
            0
        } else {
            sqlx::query(&format!(
                "UPDATE invoice_links SET state = 'CANCELLED', cancelled_at = $1
                 WHERE merchant_id = $2 AND id = $3 AND state = 'ACTIVE' AND expires_at > $1
                   AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.terminal_id = invoice_links.terminal_id
                       AND p.invoice_id = invoice_links.invoice_id AND p.status IN {PAID})"
            ))
            .bind(now_ms)
            .bind(merchant_id)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        tx.commit().await?;
        if cancelled == 1 {
            return Ok(LinkCancel::Cancelled);
        }
        let row: Option<InvoiceLinkRow> =
            sqlx::query_as(&format!("{SELECT_LINK} WHERE l.merchant_id = $2 AND l.id = $3"))
                .bind(now_ms)
                .bind(merchant_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(row) => LinkCancel::NotActive(row.link_state),
            None => LinkCancel::NotFound,
        })
    }

    async fn insert_refresh_token(&self, t: &RefreshToken) -> StoreResult<()> {
        // Expired rows go with each new one: a refresh token that expired authorises nothing.
        sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1").bind(t.created_at).execute(&self.pool).await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (id_digest, user_id, merchant_id, scope, password_stamp, generation,
                 expires_at, used_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
        )
        .bind(&t.id_digest)
        .bind(&t.user_id)
        .bind(&t.merchant_id)
        .bind(&t.scope)
        .bind(&t.password_stamp)
        .bind(t.generation)
        .bind(t.expires_at)
        .bind(t.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_refresh_token(&self, id_digest: &str, now_ms: i64) -> StoreResult<Option<RefreshToken>> {
        Ok(sqlx::query_as(
            "UPDATE refresh_tokens SET used_at = $2
             WHERE id_digest = $1 AND used_at IS NULL AND expires_at > $2
             RETURNING *",
        )
        .bind(id_digest)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn cabinet_user_by_id(&self, id: &str) -> StoreResult<Option<CabinetUser>> {
        Ok(sqlx::query_as("SELECT * FROM cabinet_users WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
    }
}
