//! `LedgerPort`: opening accounts, reading accounts and transfers, and the ledger's invariants,
//! checked over every account and transfer (`epay ledger check`). The checks are pure functions
//! over rows already read, so they are tested without a database.

use std::collections::HashMap;

use async_trait::async_trait;
use epay_domain::LedgerTransferKind;
use sqlx::{FromRow, Row};

use super::{Backend, SqlStore};
use crate::model::*;
use crate::ports::*;
use crate::StoreResult;

/// Recomputes every account's four sums from the transfers and compares.
fn check_accounts(accounts: &[LedgerAccount], transfers: &[LedgerTransfer]) -> Vec<InvariantViolation> {
    let mut violations = Vec::new();
    #[derive(Default)]
    struct Sums {
        debits_pending: i64,
        debits_posted: i64,
        credits_pending: i64,
        credits_posted: i64,
    }
    let mut sums: HashMap<&str, Sums> = HashMap::new();
    let pending_amounts: HashMap<&str, &LedgerTransfer> =
        transfers.iter().filter(|t| t.kind == LedgerTransferKind::Pending).map(|t| (t.id.as_str(), t)).collect();
    for t in transfers {
        if t.amount_minor <= 0 && t.kind != LedgerTransferKind::VoidPending {
            violations.push(InvariantViolation {
                subject: format!("transfer {}", t.id),
                problem: format!("non-positive amount {}", t.amount_minor),
            });
        }
        if t.debit_account == t.credit_account {
            violations.push(InvariantViolation {
                subject: format!("transfer {}", t.id),
                problem: "debits and credits the same account".into(),
            });
        }
        match t.kind {
            LedgerTransferKind::Posted => {
                sums.entry(&t.debit_account).or_default().debits_posted += t.amount_minor;
                sums.entry(&t.credit_account).or_default().credits_posted += t.amount_minor;
            }
            LedgerTransferKind::Pending => {
                sums.entry(&t.debit_account).or_default().debits_pending += t.amount_minor;
                sums.entry(&t.credit_account).or_default().credits_pending += t.amount_minor;
            }
            LedgerTransferKind::PostPending | LedgerTransferKind::VoidPending => {
                let Some(pending) = t.pending_id.as_deref().and_then(|id| pending_amounts.get(id)) else {
                    violations.push(InvariantViolation {
                        subject: format!("transfer {}", t.id),
                        problem: "resolves a pending transfer that does not exist".into(),
                    });
                    continue;
                };
                if t.amount_minor > pending.amount_minor {
                    violations.push(InvariantViolation {
                        subject: format!("transfer {}", t.id),
                        problem: "posts more than its pending transfer held".into(),
                    });
                }
                let d = sums.entry(&t.debit_account).or_default();
                d.debits_pending -= pending.amount_minor;
                d.debits_posted += t.amount_minor;
                let c = sums.entry(&t.credit_account).or_default();
                c.credits_pending -= pending.amount_minor;
                c.credits_posted += t.amount_minor;
            }
        }
    }
    for a in accounts {
        let s = sums.remove(a.id.as_str()).unwrap_or_default();
        if (s.debits_pending, s.debits_posted, s.credits_pending, s.credits_posted)
            != (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
        {
            violations.push(InvariantViolation {
                subject: format!("account {}", a.id),
                problem: format!(
                    "balances (dp {}, dP {}, cp {}, cP {}) differ from its transfers (dp {}, dP {}, cp {}, cP {})",
                    a.debits_pending,
                    a.debits_posted,
                    a.credits_pending,
                    a.credits_posted,
                    s.debits_pending,
                    s.debits_posted,
                    s.credits_pending,
                    s.credits_posted
                ),
            });
        }
        if a.kind == AccountKind::Card && a.available() < 0 {
            violations.push(InvariantViolation {
                subject: format!("account {}", a.id),
                problem: format!("card below zero: available {}", a.available()),
            });
        }
    }
    for (id, _) in sums {
        violations.push(InvariantViolation {
            subject: format!("account {id}"),
            problem: "transfers name an account that does not exist".into(),
        });
    }
    violations.extend(check_currencies(accounts, transfers));
    violations
}

/// Every transfer stays within one currency, and each currency balances on its own: over all
/// accounts of a currency, credits equal debits (posted and pending alike).
fn check_currencies(accounts: &[LedgerAccount], transfers: &[LedgerTransfer]) -> Vec<InvariantViolation> {
    let mut violations = Vec::new();
    let currency_of: HashMap<&str, &str> = accounts.iter().map(|a| (a.id.as_str(), a.currency.as_str())).collect();
    for t in transfers {
        let (Some(debit), Some(credit)) =
            (currency_of.get(t.debit_account.as_str()), currency_of.get(t.credit_account.as_str()))
        else {
            continue;
        };
        if debit != credit {
            violations.push(InvariantViolation {
                subject: format!("transfer {}", t.id),
                problem: format!(
                    "mixes currencies: debits {} ({debit}) and credits {} ({credit})",
                    t.debit_account, t.credit_account
                ),
            });
        }
    }
    let mut totals: Vec<(&str, i64, i64)> = Vec::new();
    for a in accounts {
        let (posted, pending) = (a.credits_posted - a.debits_posted, a.credits_pending - a.debits_pending);
        match totals.iter_mut().find(|(c, _, _)| *c == a.currency) {
            Some((_, p, q)) => {
                *p += posted;
                *q += pending;
            }
            None => totals.push((a.currency.as_str(), posted, pending)),
        }
    }
    for (currency, posted, pending) in totals {
        if posted != 0 || pending != 0 {
            violations.push(InvariantViolation {
                subject: format!("currency {currency}"),
                problem: format!(
                    "does not balance: credits minus debits over its accounts are {posted} posted, {pending} pending"
                ),
            });
        }
    }
    violations
}

impl<DB: Backend> SqlStore<DB> {
    /// Reads ledger rows for `ledger check`: a row whose kind this code does not know is
    /// reported as a violation and left out, rather than failing the whole check.
    fn known_rows<T>(
        rows: &[DB::Row],
        what: &str,
        read: fn(&DB::Row) -> Result<T, sqlx::Error>,
        violations: &mut Vec<InvariantViolation>,
    ) -> Result<Vec<T>, sqlx::Error> {
        let mut known = Vec::new();
        for row in rows {
            match read(row) {
                Ok(item) => known.push(item),
                Err(sqlx::Error::ColumnDecode { index, .. }) if index == "kind" => {
                    let (id, kind): (String, String) = (row.try_get("id")?, row.try_get("kind")?);
                    violations.push(InvariantViolation {
                        subject: format!("{what} {id}"),
                        problem: format!("unknown kind {kind:?}"),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(known)
    }
}

#[async_trait]
impl<DB: Backend> LedgerPort for SqlStore<DB> {
    async fn ensure_accounts(
        &self,
        accounts: &[(String, AccountKind, epay_domain::Currency, i64)],
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_unit().await?;
        for (id, kind, currency, opening_minor) in accounts {
            let currency = currency.code();
            let exists = Self::account_currency(&mut tx, id).await?.is_some();
            Self::open_account(&mut tx, id, *kind, currency, now_ms).await?;
            if !exists && *opening_minor > 0 {
                // The opening balance is a real transfer, so `ledger check` can account
                // for every tiyn on the card.
                let funding = funding_account(currency);
                Self::open_account(&mut tx, &funding, AccountKind::Funding, currency, now_ms).await?;
                Self::insert_leg(
                    &mut tx,
                    &format!("open:{id}"),
                    None,
                    &funding,
                    id,
                    *opening_minor,
                    LedgerTransferKind::Posted,
                    None,
                    now_ms,
                )
                .await?;
                Self::add_to_sums(&mut tx, &funding, [0, *opening_minor, 0, 0]).await?;
                Self::add_to_sums(&mut tx, id, [0, 0, 0, *opening_minor]).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ledger_account(&self, id: &str) -> StoreResult<Option<LedgerAccount>> {
        Ok(sqlx::query_as("SELECT * FROM ledger_accounts WHERE id = $1").bind(id).fetch_optional(&self.reads).await?)
    }

    async fn ledger_transfers_of(&self, payment_id: &str) -> StoreResult<Vec<LedgerTransfer>> {
        Ok(sqlx::query_as("SELECT * FROM ledger_transfers WHERE payment_id = $1 ORDER BY created_at, id")
            .bind(payment_id)
            .fetch_all(&self.reads)
            .await?)
    }

    async fn check_ledger(&self) -> StoreResult<Vec<InvariantViolation>> {
        // One read transaction, so the accounts and transfers are a consistent snapshot.
        let mut tx = self.begin_unit().await?;
        let mut unknown = Vec::new();
        let accounts = sqlx::query("SELECT * FROM ledger_accounts").fetch_all(&mut *tx).await?;
        let accounts = Self::known_rows(&accounts, "account", |r| LedgerAccount::from_row(r), &mut unknown)?;
        let transfers = sqlx::query("SELECT * FROM ledger_transfers").fetch_all(&mut *tx).await?;
        let transfers = Self::known_rows(&transfers, "transfer", |r| LedgerTransfer::from_row(r), &mut unknown)?;
        let over = sqlx::query(
            "SELECT id, amount_minor, charged_minor, refunded_minor FROM payments
             WHERE charged_minor > amount_minor OR refunded_minor > charged_minor
                OR charged_minor < 0 OR refunded_minor < 0",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut violations = unknown;
        violations.extend(check_accounts(&accounts, &transfers));
        for row in over {
            let id: String = row.try_get("id")?;
            let amount: i64 = row.try_get("amount_minor")?;
            let charged: i64 = row.try_get("charged_minor")?;
            let refunded: i64 = row.try_get("refunded_minor")?;
            violations.push(InvariantViolation {
                subject: format!("payment {id}"),
                problem: format!("authorized {amount}, charged {charged}, refunded {refunded}"),
            });
        }
        Ok(violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LedgerTransferKind::{Pending, PostPending, Posted};

    fn account(id: &str, kind: AccountKind, dp: i64, dpo: i64, cp: i64, cpo: i64) -> LedgerAccount {
        LedgerAccount {
            id: id.into(),
            kind,
            currency: "KZT".into(),
            debits_pending: dp,
            debits_posted: dpo,
            credits_pending: cp,
            credits_posted: cpo,
        }
    }

    fn transfer(
        id: &str,
        d: &str,
        c: &str,
        amount: i64,
        kind: LedgerTransferKind,
        pending: Option<&str>,
    ) -> LedgerTransfer {
        LedgerTransfer {
            id: id.into(),
            payment_id: None,
            debit_account: d.into(),
            credit_account: c.into(),
            amount_minor: amount,
            kind,
            pending_id: pending.map(Into::into),
            created_at: 0,
        }
    }

    #[test]
    fn sound_ledger_has_no_violations() {
        let accounts = [
            account("f", AccountKind::Funding, 0, 1000, 0, 0),
            account("c", AccountKind::Card, 0, 600, 0, 1000),
            account("m", AccountKind::Merchant, 0, 0, 0, 600),
        ];
        let transfers = [
            transfer("o", "f", "c", 1000, Posted, None),
            transfer("h", "c", "m", 800, Pending, None),
            transfer("p", "c", "m", 600, PostPending, Some("h")),
        ];
        assert_eq!(check_accounts(&accounts, &transfers), vec![]);
    }

    #[test]
    fn finds_drift_and_overdraft() {
        let accounts =
            [account("f", AccountKind::Funding, 0, 100, 0, 0), account("c", AccountKind::Card, 0, 200, 0, 100)];
        let transfers = [transfer("o", "f", "c", 100, Posted, None)];
        let v = check_accounts(&accounts, &transfers);
        assert!(v.iter().any(|v| v.problem.contains("differ")), "{v:?}");
        assert!(v.iter().any(|v| v.problem.contains("below zero")), "{v:?}");
    }

    #[test]
    fn finds_postings_between_currencies_and_unbalanced_currencies() {
        let usd = LedgerAccount { currency: "USD".into(), ..account("m", AccountKind::Merchant, 0, 0, 0, 100) };
        let accounts =
            [account("f", AccountKind::Funding, 0, 100, 0, 0), account("c", AccountKind::Card, 0, 100, 0, 100), usd];
        let transfers = [transfer("o", "f", "c", 100, Posted, None), transfer("x", "c", "m", 100, Posted, None)];
        let v = check_accounts(&accounts, &transfers);
        assert!(v.iter().any(|v| v.subject == "transfer x" && v.problem.contains("mixes currencies")), "{v:?}");
        assert!(v.iter().any(|v| v.subject == "currency KZT" && v.problem.contains("does not balance")), "{v:?}");
        assert!(v.iter().any(|v| v.subject == "currency USD"), "{v:?}");
    }
}
