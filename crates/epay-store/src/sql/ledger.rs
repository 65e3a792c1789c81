//! The ledger's invariants, checked over every account and transfer (`epay ledger check`).
//! Pure functions over rows already read, so they are tested without a database.

use std::collections::HashMap;

use epay_domain::LedgerTransferKind;

use crate::model::*;

/// Recomputes every account's four sums from the transfers and compares.
pub(super) fn check_accounts(accounts: &[LedgerAccount], transfers: &[LedgerTransfer]) -> Vec<InvariantViolation> {
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
