//! `LedgerPort`: opening accounts, reading accounts and transfers, and the ledger's invariants,
//! checked over every account and transfer (`epay ledger check`). The checks are pure functions
//! over rows already read, so they are tested without a database.

use std::collections::HashMap;

use async_trait::async_trait;
use epay_domain::LedgerTransferKind;
use sqlx::{FromRow, Row};

use super::booking::is_sharded;
use super::{Backend, SqlStore};
use crate::model::*;
use crate::ports::*;
use crate::StoreResult;

/// An account with its four sums as everyone reads them: its own row's plus its shards' (a
/// sharded account's own row keeps zeros; an unsharded one has no shards). Followed by a
/// `WHERE` on `a` and `GROUP BY a.id, a.kind, a.currency`.
const ACCOUNT_SUMS: &str = "SELECT a.id, a.kind, a.currency,
        CAST(a.debits_pending + COALESCE(SUM(s.debits_pending), 0) AS BIGINT) AS debits_pending,
        CAST(a.debits_posted + COALESCE(SUM(s.debits_posted), 0) AS BIGINT) AS debits_posted,
        CAST(a.credits_pending + COALESCE(SUM(s.credits_pending), 0) AS BIGINT) AS credits_pending,
        CAST(a.credits_posted + COALESCE(SUM(s.credits_posted), 0) AS BIGINT) AS credits_posted
    FROM ledger_accounts a LEFT JOIN ledger_account_shards s ON s.account_id = a.id";

/// One balance shard of a sharded account (see `booking`), as stored.
#[derive(Debug, Clone, FromRow)]
struct Shard {
    account_id: String,
    shard: i32,
    debits_pending: i64,
    debits_posted: i64,
    credits_pending: i64,
    credits_posted: i64,
}

#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Sums {
    debits_pending: i64,
    debits_posted: i64,
    credits_pending: i64,
    credits_posted: i64,
}

impl Sums {
    fn add(&mut self, other: Sums) {
        self.debits_pending += other.debits_pending;
        self.debits_posted += other.debits_posted;
        self.credits_pending += other.credits_pending;
        self.credits_posted += other.credits_posted;
    }
}

impl std::fmt::Display for Sums {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Sums { debits_pending, debits_posted, credits_pending, credits_posted } = self;
        write!(f, "dp {debits_pending}, dP {debits_posted}, cp {credits_pending}, cP {credits_posted}")
    }
}

/// Where a transfer's sums were added on `account`: its shard on a sharded account, else the
/// account's own row (`None`).
fn place(account: &str, t: &LedgerTransfer) -> Option<i32> {
    is_sharded(account).then_some(t.shard)
}

/// Recomputes every account's four sums from the transfers and compares: each shard of a
/// sharded account with the transfers booked on it, the account's own row with the rest (zero
/// on a sharded account). So an account's sums, the sum of its shards, and the sums of its
/// transfers all agree, and a drifted shard is named even when another drifted the other way.
fn check_accounts(
    accounts: &[LedgerAccount],
    shards: &[Shard],
    transfers: &[LedgerTransfer],
) -> Vec<InvariantViolation> {
    let mut violations = Vec::new();
    let mut sums: HashMap<(&str, Option<i32>), Sums> = HashMap::new();
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
        let debit = (t.debit_account.as_str(), place(&t.debit_account, t));
        let credit = (t.credit_account.as_str(), place(&t.credit_account, t));
        match t.kind {
            LedgerTransferKind::Posted => {
                sums.entry(debit).or_default().debits_posted += t.amount_minor;
                sums.entry(credit).or_default().credits_posted += t.amount_minor;
            }
            LedgerTransferKind::Pending => {
                sums.entry(debit).or_default().debits_pending += t.amount_minor;
                sums.entry(credit).or_default().credits_pending += t.amount_minor;
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
                if t.shard != pending.shard {
                    // Each shard would still match its own transfers, but the hold's shard would
                    // keep its pending sums and the other go below zero by them.
                    violations.push(InvariantViolation {
                        subject: format!("transfer {}", t.id),
                        problem: format!("resolves a pending transfer of shard {} on shard {}", pending.shard, t.shard),
                    });
                }
                let d = sums.entry(debit).or_default();
                d.debits_pending -= pending.amount_minor;
                d.debits_posted += t.amount_minor;
                let c = sums.entry(credit).or_default();
                c.credits_pending -= pending.amount_minor;
                c.credits_posted += t.amount_minor;
            }
        }
    }
    let mut totals: HashMap<&str, Sums> = HashMap::new();
    for shard in shards {
        let stored = Sums {
            debits_pending: shard.debits_pending,
            debits_posted: shard.debits_posted,
            credits_pending: shard.credits_pending,
            credits_posted: shard.credits_posted,
        };
        totals.entry(&shard.account_id).or_default().add(stored);
        let expected = sums.remove(&(shard.account_id.as_str(), Some(shard.shard))).unwrap_or_default();
        let subject = format!("account {} shard {}", shard.account_id, shard.shard);
        if !is_sharded(&shard.account_id) {
            violations.push(InvariantViolation { subject, problem: "a shard of an account that has none".into() });
        } else if stored != expected {
            violations.push(InvariantViolation {
                subject,
                problem: format!("balances ({stored}) differ from its transfers ({expected})"),
            });
        }
    }
    for a in accounts {
        let stored = Sums {
            debits_pending: a.debits_pending,
            debits_posted: a.debits_posted,
            credits_pending: a.credits_pending,
            credits_posted: a.credits_posted,
        };
        // A sharded account's own row holds nothing; a shard its transfers name but that
        // does not exist is missing its sums.
        let expected = sums.remove(&(a.id.as_str(), None)).unwrap_or_default();
        if stored != expected {
            violations.push(InvariantViolation {
                subject: format!("account {}", a.id),
                problem: format!("balances ({stored}) differ from its transfers ({expected})"),
            });
        }
        let mut total = stored;
        total.add(totals.remove(a.id.as_str()).unwrap_or_default());
        let available = total.credits_posted - total.debits_posted - total.debits_pending;
        if a.kind == AccountKind::Card && available < 0 {
            violations.push(InvariantViolation {
                subject: format!("account {}", a.id),
                problem: format!("card below zero: available {available}"),
            });
        }
    }
    for id in totals.keys() {
        violations.push(InvariantViolation {
            subject: format!("account {id}"),
            problem: "has shards but does not exist".into(),
        });
    }
    // What is left in `sums` is a shard no row holds, or an account that does not exist.
    let known: std::collections::HashSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    let mut unknown: Vec<&str> = Vec::new();
    for ((id, shard), expected) in sums {
        if !known.contains(id) {
            unknown.push(id);
        } else if expected != Sums::default() {
            violations.push(InvariantViolation {
                subject: format!("account {id} shard {}", shard.unwrap_or_default()),
                problem: format!("missing, but its transfers sum to ({expected})"),
            });
        }
    }
    unknown.sort_unstable();
    unknown.dedup();
    for id in unknown {
        violations.push(InvariantViolation {
            subject: format!("account {id}"),
            problem: "transfers name an account that does not exist".into(),
        });
    }
    violations.extend(check_currencies(accounts, shards, transfers));
    violations
}

/// Every transfer stays within one currency, and each currency balances on its own: over all
/// accounts of a currency, their own rows and their shards (which have no currency but their
/// account's), credits equal debits (posted and pending alike).
fn check_currencies(
    accounts: &[LedgerAccount],
    shards: &[Shard],
    transfers: &[LedgerTransfer],
) -> Vec<InvariantViolation> {
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
    let own = accounts.iter().map(|a| {
        let sums = (a.credits_posted - a.debits_posted, a.credits_pending - a.debits_pending);
        (a.currency.as_str(), sums)
    });
    let sharded = shards.iter().filter_map(|s| {
        let sums = (s.credits_posted - s.debits_posted, s.credits_pending - s.debits_pending);
        currency_of.get(s.account_id.as_str()).map(|currency| (*currency, sums))
    });
    for (currency, (posted, pending)) in own.chain(sharded) {
        match totals.iter_mut().find(|(c, _, _)| *c == currency) {
            Some((_, p, q)) => {
                *p += posted;
                *q += pending;
            }
            None => totals.push((currency, posted, pending)),
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
                Self::leg_step(
                    &format!("open:{id}"),
                    None,
                    &funding,
                    id,
                    *opening_minor,
                    LedgerTransferKind::Posted,
                    None,
                    0,
                    now_ms,
                )
                .run::<DB>(&mut tx)
                .await?;
                Self::add_to_sums(&mut tx, &funding, [0, *opening_minor, 0, 0]).await?;
                Self::add_to_sums(&mut tx, id, [0, 0, 0, *opening_minor]).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ledger_account(&self, id: &str) -> StoreResult<Option<LedgerAccount>> {
        let account = format!("{ACCOUNT_SUMS} WHERE a.id = $1 GROUP BY a.id, a.kind, a.currency");
        Ok(sqlx::query_as(&account).bind(id).fetch_optional(&self.reads).await?)
    }

    async fn ledger_transfers_of(&self, payment_id: &str) -> StoreResult<Vec<LedgerTransfer>> {
        Ok(sqlx::query_as("SELECT * FROM ledger_transfers WHERE payment_id = $1 ORDER BY created_at, id")
            .bind(payment_id)
            .fetch_all(&self.reads)
            .await?)
    }

    async fn check_ledger(&self) -> StoreResult<Vec<InvariantViolation>> {
        // One read-only snapshot, so accounts, shards and transfers agree however many payments
        // commit meanwhile, and the check holds no write lock while it reads.
        let mut tx = self.reads.begin_with(DB::BEGIN_SNAPSHOT).await?;
        let mut unknown = Vec::new();
        let accounts = sqlx::query("SELECT * FROM ledger_accounts").fetch_all(&mut *tx).await?;
        let accounts = Self::known_rows(&accounts, "account", |r| LedgerAccount::from_row(r), &mut unknown)?;
        let shards: Vec<Shard> = sqlx::query_as("SELECT * FROM ledger_account_shards").fetch_all(&mut *tx).await?;
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
        violations.extend(check_accounts(&accounts, &shards, &transfers));
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
            shard: 0,
        }
    }

    fn shard(account: &str, shard: i32, dp: i64, dpo: i64, cp: i64, cpo: i64) -> Shard {
        Shard {
            account_id: account.into(),
            shard,
            debits_pending: dp,
            debits_posted: dpo,
            credits_pending: cp,
            credits_posted: cpo,
        }
    }

    /// A card paying a merchant account twice, the payments booked on shards 3 and 5.
    fn sharded_ledger() -> ([LedgerAccount; 3], [LedgerTransfer; 3]) {
        let merchant = "merchant:t1:KZT";
        let accounts = [
            account("funding:simulator:KZT", AccountKind::Funding, 0, 1000, 0, 0),
            account("card:c", AccountKind::Card, 0, 700, 0, 1000),
            account(merchant, AccountKind::Merchant, 0, 0, 0, 0),
        ];
        let on = |t: LedgerTransfer, shard| LedgerTransfer { shard, ..t };
        let transfers = [
            transfer("o", "funding:simulator:KZT", "card:c", 1000, Posted, None),
            on(transfer("p1", "card:c", merchant, 300, Posted, None), 3),
            on(transfer("p2", "card:c", merchant, 400, Posted, None), 5),
        ];
        (accounts, transfers)
    }

    #[test]
    fn sound_sharded_ledger_has_no_violations() {
        let (accounts, transfers) = sharded_ledger();
        let shards = [shard("merchant:t1:KZT", 3, 0, 0, 0, 300), shard("merchant:t1:KZT", 5, 0, 0, 0, 400)];
        assert_eq!(check_accounts(&accounts, &shards, &transfers), vec![]);
    }

    #[test]
    fn finds_a_hold_resolved_on_another_shard_than_its_own() {
        let merchant = "merchant:t1:KZT";
        let (accounts, _) = sharded_ledger();
        let accounts = [
            accounts[0].clone(),
            account("card:c", AccountKind::Card, 0, 300, 0, 1000),
            account(merchant, AccountKind::Merchant, 0, 0, 0, 0),
        ];
        let on = |t: LedgerTransfer, shard| LedgerTransfer { shard, ..t };
        let transfers = [
            transfer("o", "funding:simulator:KZT", "card:c", 1000, Posted, None),
            on(transfer("h:auth", "card:c", merchant, 300, Pending, None), 0),
            on(transfer("h:charge", "card:c", merchant, 300, PostPending, Some("h:auth")), 6),
        ];
        // Each shard's sums are what its own transfers make them: 0 holds +300 pending, 6 holds
        // -300 pending and +300 posted.
        let shards = [shard(merchant, 0, 0, 0, 300, 0), shard(merchant, 6, 0, 0, -300, 300)];
        let v = check_accounts(&accounts, &shards, &transfers);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].subject, "transfer h:charge");
        assert!(v[0].problem.contains("of shard 0 on shard 6"), "{v:?}");
        // The same charge on the hold's shard is sound.
        let transfers = [transfers[0].clone(), transfers[1].clone(), on(transfers[2].clone(), 0)];
        let shards = [shard(merchant, 0, 0, 0, 0, 300)];
        assert_eq!(check_accounts(&accounts, &shards, &transfers), vec![]);
    }

    #[test]
    fn finds_a_drifted_shard_even_when_the_total_is_right() {
        let (accounts, transfers) = sharded_ledger();
        // 1 tiyn moved from shard 5 to shard 3: the account's total still matches its transfers.
        let shards = [shard("merchant:t1:KZT", 3, 0, 0, 0, 301), shard("merchant:t1:KZT", 5, 0, 0, 0, 399)];
        let v = check_accounts(&accounts, &shards, &transfers);
        assert!(
            v.iter().any(|v| v.subject == "account merchant:t1:KZT shard 3" && v.problem.contains("differ")),
            "{v:?}"
        );
        assert!(
            v.iter().any(|v| v.subject == "account merchant:t1:KZT shard 5" && v.problem.contains("differ")),
            "{v:?}"
        );
        assert_eq!(v.len(), 2, "{v:?}");
    }

    #[test]
    fn finds_sums_on_a_sharded_accounts_own_row_a_missing_shard_and_an_unbalanced_currency() {
        let (mut accounts, transfers) = sharded_ledger();
        accounts[2].credits_posted = 300;
        let shards = [shard("merchant:t1:KZT", 5, 0, 0, 0, 400)];
        let v = check_accounts(&accounts, &shards, &transfers);
        assert!(v.iter().any(|v| v.subject == "account merchant:t1:KZT" && v.problem.contains("differ")), "{v:?}");
        assert!(
            v.iter().any(|v| v.subject == "account merchant:t1:KZT shard 3" && v.problem.contains("missing")),
            "{v:?}"
        );
        // A shard whose account is in another currency counts in that currency.
        let usd = LedgerAccount { currency: "USD".into(), ..accounts[2].clone() };
        let accounts = [accounts[0].clone(), accounts[1].clone(), usd];
        let shards = [shard("merchant:t1:KZT", 3, 0, 0, 0, 300), shard("merchant:t1:KZT", 5, 0, 0, 0, 400)];
        let v = check_accounts(&accounts, &shards, &transfers);
        assert!(v.iter().any(|v| v.subject == "currency USD" && v.problem.contains("does not balance")), "{v:?}");
    }

    #[test]
    fn finds_a_shard_of_an_unsharded_or_missing_account() {
        let (accounts, transfers) = sharded_ledger();
        let shards = [
            shard("merchant:t1:KZT", 3, 0, 0, 0, 300),
            shard("merchant:t1:KZT", 5, 0, 0, 0, 400),
            shard("card:c", 0, 0, 0, 0, 0),
            shard("merchant:gone:KZT", 0, 0, 0, 0, 0),
        ];
        let v = check_accounts(&accounts, &shards, &transfers);
        assert!(v.iter().any(|v| v.subject == "account card:c shard 0"), "{v:?}");
        assert!(
            v.iter().any(|v| v.subject == "account merchant:gone:KZT" && v.problem.contains("does not exist")),
            "{v:?}"
        );
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
        assert_eq!(check_accounts(&accounts, &[], &transfers), vec![]);
    }

    #[test]
    fn finds_drift_and_overdraft() {
        let accounts =
            [account("f", AccountKind::Funding, 0, 100, 0, 0), account("c", AccountKind::Card, 0, 200, 0, 100)];
        let transfers = [transfer("o", "f", "c", 100, Posted, None)];
        let v = check_accounts(&accounts, &[], &transfers);
        assert!(v.iter().any(|v| v.problem.contains("differ")), "{v:?}");
        assert!(v.iter().any(|v| v.problem.contains("below zero")), "{v:?}");
    }

    #[test]
    fn finds_postings_between_currencies_and_unbalanced_currencies() {
        let usd = LedgerAccount { currency: "USD".into(), ..account("m", AccountKind::Merchant, 0, 0, 0, 100) };
        let accounts =
            [account("f", AccountKind::Funding, 0, 100, 0, 0), account("c", AccountKind::Card, 0, 100, 0, 100), usd];
        let transfers = [transfer("o", "f", "c", 100, Posted, None), transfer("x", "c", "m", 100, Posted, None)];
        let v = check_accounts(&accounts, &[], &transfers);
        assert!(v.iter().any(|v| v.subject == "transfer x" && v.problem.contains("mixes currencies")), "{v:?}");
        assert!(v.iter().any(|v| v.subject == "currency KZT" && v.problem.contains("does not balance")), "{v:?}");
        assert!(v.iter().any(|v| v.subject == "currency USD"), "{v:?}");
    }
}
