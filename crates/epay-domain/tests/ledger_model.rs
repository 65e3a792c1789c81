//! Random transactions driven through the state machine's transitions onto an in-memory
//! double-entry ledger: after every step each currency balances, no account is overdrawn, a hold
//! is released exactly, refunded ≤ charged ≤ authorized, the card paid exactly what the merchant
//! kept (converted at the recorded rate), and a final status never moves.

use std::collections::HashMap;

use epay_domain::posting::{Amounts, Denomination, LegEnd, Posting, PostingName, Role};
use epay_domain::transition::{self, Checks, DailyLimit, Decision, Refunded};
use epay_domain::{FxRate, LedgerTransferKind, PaymentKind, PaymentState, TxStatus};
use proptest::prelude::*;

/// A ledger account of the model: a role's account or the conversion account, in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Role(Role),
    Conversion,
    /// Where the payer's opening balance came from.
    Funding,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sums {
    debits_pending: i64,
    debits_posted: i64,
    credits_pending: i64,
    credits_posted: i64,
}

impl Sums {
    fn available(&self) -> i64 {
        self.credits_posted - self.debits_posted - self.debits_pending
    }
}

#[derive(Debug, Clone, Default)]
struct Ledger {
    accounts: HashMap<(Key, Denomination), Sums>,
    /// The open hold's legs: (fx leg?) → amount held.
    holds: HashMap<bool, i64>,
}

/// A transaction and the currency of each of its roles' accounts.
#[derive(Debug, Clone)]
struct World {
    state: PaymentState,
    payer: Denomination,
    payee: Denomination,
    fee: Denomination,
    funded: i64,
    fee_minor: i64,
    ledger: Ledger,
}

impl World {
    fn side(&self, role: Role) -> Denomination {
        match role {
            Role::Payer => self.payer,
            Role::Payee => self.payee,
            Role::Fee => self.fee,
        }
    }

    fn checks(&self, terminal: Option<DailyLimit>, receiver: Option<DailyLimit>) -> Checks {
        let payer = self.ledger.accounts.get(&(Key::Role(Role::Payer), self.payer)).map(Sums::available);
        Checks {
            payer: Some((self.payer, payer.unwrap_or(0))),
            terminal_limit: terminal,
            receiver_limit: receiver.map(|l| (self.payee, l)),
        }
    }

    fn book(&mut self, postings: &[Posting]) {
        for posting in postings {
            for leg in posting.legs(self.side(posting.debit), self.side(posting.credit)) {
                assert!(leg.amount >= 0, "{posting:?}");
                match leg.kind {
                    LedgerTransferKind::Pending => {
                        assert_eq!(posting.name, PostingName::Auth);
                        assert!(self.ledger.holds.insert(leg.fx_leg, leg.amount).is_none(), "one hold per leg");
                    }
                    LedgerTransferKind::PostPending | LedgerTransferKind::VoidPending => {
                        assert_eq!(posting.resolves(), Some(PostingName::Auth));
                        let held = self.ledger.holds.remove(&leg.fx_leg).expect("resolves an open hold");
                        assert_eq!(leg.held, held, "releases exactly what was held");
                        assert!(leg.amount <= held, "posts no more than held");
                    }
                    LedgerTransferKind::Posted => {}
                }
                let end = |e: LegEnd| match e {
                    LegEnd::Account(role) => Key::Role(role),
                    LegEnd::Conversion => Key::Conversion,
                };
                let (pending, posted) = leg.deltas();
                let d = self.ledger.accounts.entry((end(leg.debit), leg.denomination)).or_default();
                d.debits_pending += pending;
                d.debits_posted += posted;
                let c = self.ledger.accounts.entry((end(leg.credit), leg.denomination)).or_default();
                c.credits_pending += pending;
                c.credits_posted += posted;
            }
        }
    }

    fn assert_sound(&self) {
        let s = &self.state;
        for side in [Denomination::Payment, Denomination::Card] {
            let (mut posted, mut pending) = (0, 0);
            for ((_, d), sums) in &self.ledger.accounts {
                if *d == side {
                    posted += sums.credits_posted - sums.debits_posted;
                    pending += sums.credits_pending - sums.debits_pending;
                }
            }
            assert_eq!((posted, pending), (0, 0), "{side:?} balances");
        }
        for ((key, _), sums) in &self.ledger.accounts {
            if let Key::Role(_) = key {
                assert!(sums.available() >= 0, "{key:?} overdrawn: {sums:?}");
                assert!(sums.debits_pending >= 0 && sums.credits_pending >= 0, "{key:?}: {sums:?}");
            }
        }
        assert!(0 <= s.refunded_minor && s.refunded_minor <= s.charged_minor, "{s:?}");
        assert!(s.charged_minor <= s.amount_minor, "{s:?}");
        let held = self.ledger.accounts.get(&(Key::Role(Role::Payer), self.payer)).map_or(0, |a| a.debits_pending);
        if s.status == TxStatus::Auth {
            assert_eq!(held, Amounts::whole(s.fx, s.amount_minor).of(self.payer), "the hold is the whole amount");
        } else {
            assert_eq!(held, 0, "no hold left in {}", s.status);
            assert!(self.ledger.holds.is_empty());
        }
        // What left the card is what the merchant kept (and the fee), at the recorded rate.
        let payer = self.ledger.accounts.get(&(Key::Role(Role::Payer), self.payer)).copied().unwrap_or_default();
        let payee = self.ledger.accounts.get(&(Key::Role(Role::Payee), self.payee)).copied().unwrap_or_default();
        let kept = s.charged_minor - s.refunded_minor;
        let convert =
            |side: Denomination, minor: i64| if side == Denomination::Card { s.fx.convert(minor) } else { minor };
        let paid = if s.kind == PaymentKind::Payment {
            convert(self.payer, s.charged_minor) - convert(self.payer, s.refunded_minor)
        } else {
            convert(self.payer, s.charged_minor + self.fee_minor)
        };
        assert_eq!(self.funded - (payer.credits_posted - payer.debits_posted), paid, "the card paid");
        assert_eq!(payee.credits_posted - payee.debits_posted, convert(self.payee, kept), "the payee kept");
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// A charge of this many thousandths of the hold (all of it when `None`; over 1000: too much).
    Charge(Option<i64>),
    Cancel,
    Expire,
    /// A refund of this many thousandths of what is left (all of it when `None`).
    Refund(Option<i64>),
    /// The 3-D Secure challenge ends with this decision.
    Finish(Decision),
}

fn decision() -> impl Strategy<Value = Decision> {
    prop_oneof![
        any::<bool>().prop_map(|hold| Decision::Approve { hold }),
        (0i64..5_000).prop_map(|fee_minor| Decision::Transfer { fee_minor }),
        Just(Decision::Verify),
        Just(Decision::Decline { status: TxStatus::Reject }),
        Just(Decision::Decline { status: TxStatus::Failed }),
        Just(Decision::Challenge),
    ]
}

/// Thousandths of what may be charged or refunded; now and then more than all of it.
fn part() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![1 => Just(None), 4 => (1i64..1_000).prop_map(Some), 1 => (1_000i64..1_200).prop_map(Some)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        part().prop_map(Step::Charge),
        Just(Step::Cancel),
        Just(Step::Expire),
        part().prop_map(Step::Refund),
        part().prop_map(Step::Refund),
        decision().prop_map(Step::Finish),
    ]
}

fn kind() -> impl Strategy<Value = PaymentKind> {
    prop::sample::select(PaymentKind::ALL.to_vec())
}

fn side() -> impl Strategy<Value = Denomination> {
    prop::sample::select(vec![Denomination::Payment, Denomination::Card])
}

/// A limit somewhere around the amount, sometimes none.
fn limit() -> impl Strategy<Value = Option<DailyLimit>> {
    prop::option::of(
        (0i64..3_000_000, 0i64..3_000_000).prop_map(|(limit_minor, used_minor)| DailyLimit { limit_minor, used_minor }),
    )
}

#[allow(clippy::too_many_arguments)]
fn world(
    kind: PaymentKind,
    amount: i64,
    other_currency: bool,
    rate_micros: i64,
    payer: Denomination,
    payee: Denomination,
    funded_per_mille: i64,
) -> World {
    let amount = if kind == PaymentKind::Verification { 0 } else { amount };
    // A card in the payment's own currency: everything in one currency at rate one.
    let (fx, payer, payee) = if other_currency {
        let (payer, payee) = match kind {
            // A card payment: the card pays in its currency, the merchant is paid in the payment's.
            PaymentKind::Payment | PaymentKind::Verification => (Denomination::Card, Denomination::Payment),
            _ => (payer, payee),
        };
        (FxRate::from_micros(rate_micros), payer, payee)
    } else {
        (FxRate::ONE, Denomination::Payment, Denomination::Payment)
    };
    let state =
        PaymentState { kind, status: TxStatus::New, amount_minor: amount, charged_minor: 0, refunded_minor: 0, fx };
    // Between nothing and twice what the payment (and a fee) needs.
    let needed = Amounts::whole(fx, amount + 5_000).of(payer);
    let funded = needed * funded_per_mille / 1_000;
    let mut w =
        World { state, payer, payee, fee: Denomination::Payment, funded, fee_minor: 0, ledger: Ledger::default() };
    let side = |d: Denomination| (Key::Funding, d);
    w.ledger.accounts.entry(side(payer)).or_default().debits_posted += funded;
    w.ledger.accounts.entry((Key::Role(Role::Payer), payer)).or_default().credits_posted += funded;
    w
}

/// Applies a decision; a move the machine refuses leaves everything as it was.
fn apply_decision(w: &mut World, decision: Decision, terminal: Option<DailyLimit>, receiver: Option<DailyLimit>) {
    let before = w.state;
    match transition::decide(&w.state, decision, &w.checks(terminal, receiver)) {
        Ok(d) => {
            assert!(before.status.can_move_to(d.status), "{} → {}", before.status, d.status);
            w.book(&d.postings);
            w.state.status = d.status;
            w.state.charged_minor = d.charged_minor;
            if let (Some(fee), false) = (d.fee_minor, d.postings.is_empty()) {
                w.fee_minor = fee;
            }
        }
        Err(_) => assert!(
            !matches!(before.status, TxStatus::New | TxStatus::ThreeD)
                || matches!(decision, Decision::Challenge) && before.status == TxStatus::ThreeD
                || !fits(before.kind, decision),
            "refused a decision that fits: {before:?} {decision:?}"
        ),
    }
}

fn fitting_approval(kind: PaymentKind, drawn: Decision) -> Decision {
    match (kind, drawn) {
        (PaymentKind::Payment, Decision::Approve { hold }) => Decision::Approve { hold },
        (PaymentKind::Payment, _) => Decision::Approve { hold: true },
        (PaymentKind::Verification, _) => Decision::Verify,
        (_, Decision::Transfer { fee_minor }) => Decision::Transfer { fee_minor },
        _ => Decision::Transfer { fee_minor: 150 },
    }
}

fn fits(kind: PaymentKind, decision: Decision) -> bool {
    match decision {
        Decision::Approve { .. } => kind == PaymentKind::Payment,
        Decision::Transfer { .. } => kind.is_transfer(),
        Decision::Verify => kind == PaymentKind::Verification,
        Decision::Decline { .. } | Decision::Challenge => true,
    }
}

fn is_final(status: TxStatus) -> bool {
    !TxStatus::ALL.iter().any(|to| status.can_move_to(*to))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_step_keeps_the_ledger_sound(
        (kind, amount, other_currency, rate) in (kind(), 1i64..1_000_000, any::<bool>(), 1_000i64..900_000_000),
        (payer, payee, funded) in (side(), side(), prop_oneof![1 => 0i64..1_000, 4 => 1_000i64..2_000]),
        (first, approve, terminal, receiver) in (decision(), 0u8..10, limit(), limit()),
        steps in prop::collection::vec(step(), 0..12),
    ) {
        let mut w = world(kind, amount, other_currency, rate, payer, payee, funded);
        w.assert_sound();
        // Mostly the approval that fits the kind, so that most cases go on to operations.
        let first = if approve < 7 { fitting_approval(kind, first) } else { first };
        apply_decision(&mut w, first, terminal, receiver);
        w.assert_sound();
        for step in steps {
            let before = w.state;
            let final_before = is_final(before.status);
            let moved = match step {
                Step::Finish(decision) => {
                    apply_decision(&mut w, decision, terminal, receiver);
                    None
                }
                Step::Charge(a) => Some(transition::charge(&w.state, a.map(|a| before.amount_minor * a / 1_000))),
                Step::Cancel => Some(transition::cancel(&w.state)),
                Step::Expire => Some(transition::expire(&w.state)),
                Step::Refund(a) => match transition::refund(&w.state, a.map(|a| before.refundable() * a / 1_000), None) {
                    Ok(Refunded::Moved(m)) => Some(Ok(m)),
                    Ok(Refunded::Replay) => panic!("no externalID, no replay"),
                    Err(e) => Some(Err(e)),
                },
            };
            if let Some(Ok(m)) = moved {
                prop_assert!(before.status.can_move_to(m.status), "{} → {}", before.status, m.status);
                prop_assert!(m.operation.allowed(before.kind, before.status));
                w.book(&m.postings);
                w.state.status = m.status;
                w.state.charged_minor = m.charged_minor;
                w.state.refunded_minor = m.refunded_minor;
            }
            if final_before {
                prop_assert_eq!(w.state, before, "a final status never moves");
            }
            w.assert_sound();
        }
    }
}
