//! The merchant cabinet: users, sessions, the transaction search, statistics, history.

use async_trait::async_trait;
use sqlx::{FromRow, Row};

use super::{Backend, RowsAffected, SqlStore};
use epay_domain::TxStatus;

use crate::model::*;
use crate::ports::CabinetPort;
use crate::StoreResult;

/// A value bound to a placeholder of a query built at run time.
enum Bind {
    Text(String),
    Int(i64),
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The WHERE conditions (after `merchant_id = $1`) of a cabinet filter and their values, numbered
/// from `$2`. Only placeholders carry user text, never the SQL itself.
fn payment_conditions(f: &PaymentFilter) -> (String, Vec<Bind>) {
    let mut sql = String::new();
    let mut binds = Vec::new();
    let mut add = |condition: &str, values: Vec<Bind>| {
        let mut condition = condition.to_string();
        for (i, value) in values.into_iter().enumerate() {
            binds.push(value);
            condition = condition.replace(&format!("?{i}"), &format!("${}", binds.len() + 1));
        }
        sql.push_str(" AND ");
        sql.push_str(&condition);
    };
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(String::from);
    if let Some(from) = f.from_ms {
        add("created_at >= ?0", vec![Bind::Int(from)]);
    }
    if let Some(to) = f.to_ms {
        add("created_at < ?0", vec![Bind::Int(to)]);
    }
    if let Some(status) = f.status {
        add("status = ?0", vec![Bind::Text(status.as_str().to_string())]);
    }
    if let Some(terminal) = text(&f.terminal_id) {
        add("terminal_id = ?0", vec![Bind::Text(terminal)]);
    }
    if let Some(invoice) = text(&f.invoice_id) {
        add("(invoice_id = ?0 OR invoice_id_alt = ?0)", vec![Bind::Text(invoice)]);
    }
    if let Some(mask) = text(&f.card_mask) {
        add(
            "(LOWER(card_mask) LIKE ?0 ESCAPE '\\' OR LOWER(receiver_card_mask) LIKE ?0 ESCAPE '\\')",
            vec![Bind::Text(like_pattern(&mask))],
        );
    }
    if let Some(min) = f.min_amount_minor {
        add("amount_minor >= ?0", vec![Bind::Int(min)]);
    }
    if let Some(max) = f.max_amount_minor {
        add("amount_minor <= ?0", vec![Bind::Int(max)]);
    }
    if let Some(search) = text(&f.search) {
        let columns = ["invoice_id", "id", "description", "account_id", "payer_name", "email", "reference"];
        let any: Vec<String> = columns.iter().map(|c| format!("LOWER({c}) LIKE ?0 ESCAPE '\\'")).collect();
        add(&format!("({})", any.join(" OR ")), vec![Bind::Text(like_pattern(&search))]);
    }
    (sql, binds)
}

/// Binds a cabinet filter's values, in the order `payment_conditions` numbered them.
fn bind_filter<'q, DB: Backend>(
    mut q: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

#[async_trait]
impl<DB: Backend> CabinetPort for SqlStore<DB> {
    async fn insert_cabinet_user(&self, u: &CabinetUser) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO cabinet_users (id, merchant_id, email, password_hash, failed_attempts, locked_until,
                 created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&u.id)
        .bind(&u.merchant_id)
        .bind(&u.email)
        .bind(u.password_hash.expose())
        .bind(u.failed_attempts)
        .bind(u.locked_until)
        .bind(u.created_at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn cabinet_user_by_email(&self, email: &str) -> StoreResult<Option<CabinetUser>> {
        Ok(sqlx::query_as("SELECT * FROM cabinet_users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.reads)
            .await?)
    }

    async fn purge_merchant(&self, purge: &MerchantPurge) -> StoreResult<PurgeOutcome> {
        let merchant = purge.merchant_id.as_str();
        let _changed = self.config.changing();
        let mut tx = self.begin_unit().await?;
        // Cabinet users first: the public e-mail may belong to any merchant.
        let users = "SELECT id FROM cabinet_users WHERE email = $1 OR merchant_id = $2";
        sqlx::query(&format!("DELETE FROM cabinet_sessions WHERE user_id IN ({users}) OR merchant_id = $2"))
            .bind(&purge.cabinet_email)
            .bind(merchant)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("DELETE FROM refresh_tokens WHERE user_id IN ({users}) OR merchant_id = $2"))
            .bind(&purge.cabinet_email)
            .bind(merchant)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM cabinet_users WHERE email = $1 OR merchant_id = $2")
            .bind(&purge.cabinet_email)
            .bind(merchant)
            .execute(&mut *tx)
            .await?;
        let exists = sqlx::query("SELECT id FROM merchants WHERE id = $1")
            .bind(merchant)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            tx.commit().await?;
            return Ok(PurgeOutcome::NoMerchant);
        }
        // Its tokens are revoked: their generation is left behind (a retired merchant's row
        // stays; a deleted one's tokens name no merchant any more).
        sqlx::query("UPDATE merchants SET token_generation = token_generation + 1 WHERE id = $1")
            .bind(merchant)
            .execute(&mut *tx)
            .await?;
        // Its invoice links are bills, not money: they go with the merchant (a retired one too).
        sqlx::query("DELETE FROM invoice_links WHERE merchant_id = $1").bind(merchant).execute(&mut *tx).await?;
        let transactions: i64 = sqlx::query("SELECT COUNT(*) AS n FROM payments WHERE merchant_id = $1")
            .bind(merchant)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if transactions > 0 {
            let Some(retire) = &purge.retire_as else {
                tx.rollback().await?;
                return Ok(PurgeOutcome::HasTransactions(transactions));
            };
            sqlx::query("UPDATE merchants SET client_id = $2, secret_digest = $3, webhook_secret = $4 WHERE id = $1")
                .bind(merchant)
                .bind(&retire.client_id)
                .bind(retire.secret_digest.expose())
                .bind(retire.webhook_secret.expose())
                .execute(&mut *tx)
                .await?;
            // A retired merchant charges nobody any more: its subscriptions stop with it (the
            // scheduler does not look at the merchant, only at the subscription).
            sqlx::query(
                "UPDATE subscriptions SET status = $2, status_reason = 'merchant retired'
                 WHERE merchant_id = $1 AND status IN ($3, $4)",
            )
            .bind(merchant)
            .bind(epay_domain::SubscriptionStatus::Stopped.as_str())
            .bind(epay_domain::SubscriptionStatus::Active.as_str())
            .bind(epay_domain::SubscriptionStatus::Paused.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(PurgeOutcome::Retired { transactions });
        }
        // No transaction: the only ledger entries of its terminals' accounts are the
        // seeded opening balances. Each goes back to the account that funded it.
        let terminals: Vec<String> = sqlx::query("SELECT id FROM terminals WHERE merchant_id = $1")
            .bind(merchant)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?;
        // Its terminals' merchant and fee accounts, one per currency.
        let mut accounts: Vec<String> = Vec::new();
        for terminal in &terminals {
            for prefix in ["merchant", "fee"] {
                let rows = sqlx::query("SELECT id FROM ledger_accounts WHERE id LIKE $1")
                    .bind(format!("{prefix}:{terminal}:%"))
                    .fetch_all(&mut *tx)
                    .await?;
                for row in rows {
                    accounts.push(row.try_get("id")?);
                }
            }
        }
        for account in &accounts {
            let opening = sqlx::query("SELECT debit_account, amount_minor FROM ledger_transfers WHERE id = $1")
                .bind(format!("open:{account}"))
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(opening) = opening {
                let funding: String = opening.try_get("debit_account")?;
                let amount: i64 = opening.try_get("amount_minor")?;
                sqlx::query("DELETE FROM ledger_transfers WHERE id = $1")
                    .bind(format!("open:{account}"))
                    .execute(&mut *tx)
                    .await?;
                Self::add_to_sums(&mut tx, &funding, [0, -amount, 0, 0]).await?;
            }
            sqlx::query("DELETE FROM ledger_accounts WHERE id = $1").bind(account).execute(&mut *tx).await?;
        }
        for table in ["saved_cards", "terminals"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE merchant_id = $1"))
                .bind(merchant)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM merchants WHERE id = $1").bind(merchant).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(PurgeOutcome::Deleted)
    }

    async fn insert_cabinet_session(&self, s: &CabinetSession, now_ms: i64) -> StoreResult<()> {
        let mut tx = self.begin_unit().await?;
        sqlx::query("DELETE FROM cabinet_sessions WHERE expires_at < $1").bind(now_ms).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO cabinet_sessions (id_digest, user_id, merchant_id, csrf_token, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id_digest)
        .bind(&s.user_id)
        .bind(&s.merchant_id)
        .bind(s.csrf_token.expose())
        .bind(s.expires_at)
        .bind(s.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cabinet_session(&self, id_digest: &str, now_ms: i64) -> StoreResult<Option<CabinetSession>> {
        Ok(sqlx::query_as(
            "SELECT s.*, u.email FROM cabinet_sessions s JOIN cabinet_users u ON u.id = s.user_id
             WHERE s.id_digest = $1 AND s.expires_at > $2",
        )
        .bind(id_digest)
        .bind(now_ms)
        .fetch_optional(&self.reads)
        .await?)
    }

    async fn delete_cabinet_session(&self, id_digest: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM cabinet_sessions WHERE id_digest = $1").bind(id_digest).execute(&self.pool).await?;
        Ok(())
    }

    async fn search_payments(
        &self,
        merchant_id: &str,
        filter: &PaymentFilter,
        offset: i64,
        limit: i64,
    ) -> StoreResult<PaymentPage> {
        let (conditions, binds) = payment_conditions(filter);
        let total_sql = format!("SELECT COUNT(*) AS n FROM payments WHERE merchant_id = $1{conditions}");
        let total: i64 = bind_filter(sqlx::query(&total_sql).bind(merchant_id), &binds)
            .fetch_one(&self.reads)
            .await?
            .try_get("n")?;
        let n = binds.len();
        let page_sql = format!(
            "SELECT * FROM payments WHERE merchant_id = $1{conditions}
             ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 2,
            n + 3
        );
        let rows = bind_filter(sqlx::query(&page_sql).bind(merchant_id), &binds)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.reads)
            .await?;
        let payments = rows.iter().map(Payment::from_row).collect::<Result<_, _>>()?;
        Ok(PaymentPage { payments, total })
    }

    async fn daily_stats(&self, merchant_id: &str, since_ms: i64, utc_offset_ms: i64) -> StoreResult<Vec<DailyStat>> {
        // Approved: a final answer without a decline reason (3D and NEW are not answers yet).
        // One row per currency: amounts in different currencies are never added.
        Ok(sqlx::query_as(
            "SELECT terminal_id, day, currency, COUNT(*) AS attempts,
                 CAST(SUM(approved) AS BIGINT) AS approved,
                 CAST(SUM(approved * amount_minor) AS BIGINT) AS volume
             FROM (SELECT terminal_id, currency, amount_minor, (created_at + $3) / 86400000 AS day,
                       CASE WHEN reason_code = 0 AND status NOT IN ($4, $5) THEN 1 ELSE 0 END
                           AS approved
                   FROM payments WHERE merchant_id = $1 AND created_at >= $2) d
             GROUP BY terminal_id, day, currency ORDER BY terminal_id, day, currency",
        )
        .bind(merchant_id)
        .bind(since_ms)
        .bind(utc_offset_ms)
        .bind(TxStatus::ThreeD.as_str())
        .bind(TxStatus::New.as_str())
        .fetch_all(&self.reads)
        .await?)
    }

    async fn payment_events(&self, merchant_id: &str, payment_id: &str) -> StoreResult<Vec<PaymentEvent>> {
        Ok(sqlx::query_as(
            "SELECT e.* FROM payment_events e JOIN payments p ON p.id = e.payment_id
             WHERE p.merchant_id = $1 AND e.payment_id = $2 ORDER BY e.id",
        )
        .bind(merchant_id)
        .bind(payment_id)
        .fetch_all(&self.reads)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cabinet_filters_number_their_placeholders_and_match_text_literally() {
        assert_eq!(like_pattern("5_0%\\"), "%5\\_0\\%\\\\%");
        let filter = PaymentFilter {
            status: Some(TxStatus::Charge),
            invoice_id: Some(" 000001 ".into()),
            search: Some("Mug".into()),
            min_amount_minor: Some(100),
            card_mask: Some("  ".into()),
            ..PaymentFilter::default()
        };
        let (sql, binds) = payment_conditions(&filter);
        assert!(
            sql.starts_with(" AND status = $2 AND (invoice_id = $3 OR invoice_id_alt = $3) AND amount_minor >= $4"),
            "{sql}"
        );
        assert!(sql.contains("LOWER(description) LIKE $5") && !sql.contains("$6"), "{sql}");
        assert!(!sql.contains("card_mask"), "blank filters are left out");
        assert!(matches!(&binds[1], Bind::Text(t) if t == "000001"));
        assert!(matches!(&binds[3], Bind::Text(t) if t == "%mug%"));
        assert_eq!(payment_conditions(&PaymentFilter::default()).0, "");
    }
}
