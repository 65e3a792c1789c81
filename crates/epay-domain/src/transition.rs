//! The transaction state machine as pure transitions: each takes a transaction's money state
//! and a command, checks the rules, and answers the new state with the ledger postings that go
//! with it, or why not. No I/O: the store reads the row (locked) and whatever the checks need
//! (balances, today's totals), calls the transition, and applies its answer by compare-and-set
//! in the same database transaction.
//!
//! - [`decide`]: an attempt (`NEW`) or a 3-D Secure challenge (`3D`) gets its decision:
//!   approved (held, charged, a transfer posted, a card verified), declined, or challenged.
//!   An approval can still be declined here for the gateway's own reasons: too little money,
//!   a daily limit.
//! - [`charge`], [`cancel`], [`expire`], [`refund`]: a merchant's (or the clock's) operation on
//!   a decided card payment ([`Operation`] says which runs from where).

use crate::posting::{Amounts, Denomination, Flow, Posting, PostingName, Role};
use crate::{refund_meets_minimum, FxRate, Operation, PaymentKind, TxStatus};

/// What the transitions read of a transaction: its kind, status and money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentState {
    pub kind: PaymentKind,
    pub status: TxStatus,
    /// What was asked and approved (held, for a two-step payment).
    pub amount_minor: i64,
    pub charged_minor: i64,
    pub refunded_minor: i64,
    /// The rate from the payment's currency into the card's, recorded when it was made.
    pub fx: FxRate,
}

impl PaymentState {
    /// What is left to refund.
    pub fn refundable(&self) -> i64 {
        self.charged_minor - self.refunded_minor
    }

    /// The whole approved amount in both currencies: what the approval held or moved.
    fn held(&self) -> Amounts {
        Amounts::whole(self.fx, self.amount_minor)
    }
}

/// What the card network (or the 3-D Secure challenge) decided about an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A card payment approved: held on the card (`hold`, two-step terminal) or charged at once.
    Approve { hold: bool },
    /// A transfer approved: its amount payer → payee and its fee payer → fee account, at once.
    Transfer { fee_minor: i64 },
    /// A card verification approved: no money moves.
    Verify,
    /// Declined (`REJECT`) or failed at 3-D Secure (`FAILED`).
    Decline { status: TxStatus },
    /// Waits for the shopper's 3-D Secure challenge.
    Challenge,
}

/// A daily limit and what already counts against it today, in the limit's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyLimit {
    pub limit_minor: i64,
    pub used_minor: i64,
}

impl DailyLimit {
    fn exceeded_by(self, amount: i64) -> bool {
        self.used_minor + amount > self.limit_minor
    }
}

/// What the store read, in the decision's transaction, for the checks of an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checks {
    /// The paying account: its currency and what it has available; `None`: no such account.
    pub payer: Option<(Denomination, i64)>,
    /// The terminal's daily transfer limit (in the payment's currency).
    pub terminal_limit: Option<DailyLimit>,
    /// The receiving card's daily incoming limit, in its account's currency.
    pub receiver_limit: Option<(Denomination, DailyLimit)>,
}

/// Why the gateway declined what the network approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decline {
    /// The paying account has too little money for the amount (and the fee).
    InsufficientFunds,
    /// The receiving card's daily incoming limit (528).
    ReceiverLimit,
    /// The terminal's daily transfer limit (529).
    TerminalLimit,
}

/// A decided attempt: its status and money, why the gateway declined it if it did, and the
/// postings that book it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub status: TxStatus,
    pub charged_minor: i64,
    /// A transfer's fee (what a challenged transfer will take; nothing once declined). `None`:
    /// the decision does not touch it.
    pub fee_minor: Option<i64>,
    pub declined: Option<Decline>,
    pub postings: Vec<Posting>,
}

/// A move the state machine has no room for: a caller's bug, never a customer's mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the transaction state machine has no move {from} → {to}")]
    IllegalMove { from: TxStatus, to: TxStatus },
    #[error("a {kind} cannot be decided by {decision:?}")]
    WrongKind { kind: PaymentKind, decision: Decision },
}

/// Decides an attempt waiting in `NEW` (just made) or `3D` (its challenge answered).
pub fn decide(state: &PaymentState, decision: Decision, checks: &Checks) -> Result<Decided, TransitionError> {
    let to = match decision {
        Decision::Approve { hold: true } => TxStatus::Auth,
        Decision::Approve { hold: false } | Decision::Transfer { .. } => TxStatus::Charge,
        Decision::Verify => TxStatus::Verified,
        Decision::Decline { status } => status,
        Decision::Challenge => TxStatus::ThreeD,
    };
    if !matches!(state.status, TxStatus::New | TxStatus::ThreeD) || !state.status.can_move_to(to) {
        return Err(TransitionError::IllegalMove { from: state.status, to });
    }
    if let Decision::Decline { .. } = decision {
        if !to.is_declined() {
            return Err(TransitionError::IllegalMove { from: state.status, to });
        }
    }
    let fits = match decision {
        Decision::Approve { .. } => state.kind == PaymentKind::Payment,
        Decision::Transfer { .. } => state.kind.is_transfer(),
        Decision::Verify => state.kind == PaymentKind::Verification,
        Decision::Decline { .. } | Decision::Challenge => true,
    };
    if !fits {
        return Err(TransitionError::WrongKind { kind: state.kind, decision });
    }
    let nothing_moves =
        |status, fee_minor| Decided { status, charged_minor: 0, fee_minor, declined: None, postings: vec![] };
    let declined = |why| Decided {
        status: TxStatus::Reject,
        charged_minor: 0,
        fee_minor: Some(0),
        declined: Some(why),
        postings: vec![],
    };
    let amount = state.held();
    match decision {
        Decision::Verify | Decision::Challenge => Ok(nothing_moves(to, None)),
        Decision::Decline { .. } => Ok(nothing_moves(to, Some(0))),
        Decision::Approve { hold } => {
            if !has_funds(checks, amount) {
                return Ok(declined(Decline::InsufficientFunds));
            }
            let flow = if hold { Flow::Pending } else { Flow::Posted };
            let posting = Posting { name: PostingName::Auth, debit: Role::Payer, credit: Role::Payee, amount, flow };
            let charged_minor = if hold { 0 } else { state.amount_minor };
            Ok(Decided { status: to, charged_minor, fee_minor: None, declined: None, postings: vec![posting] })
        }
        Decision::Transfer { fee_minor } => {
            // The fee converts as the part of amount + fee after the amount, so the card pays
            // exactly convert(amount + fee).
            let fee = Amounts::part(state.fx, state.amount_minor, fee_minor);
            if checks.terminal_limit.is_some_and(|l| l.exceeded_by(state.amount_minor)) {
                return Ok(declined(Decline::TerminalLimit));
            }
            if checks.receiver_limit.is_some_and(|(side, l)| l.exceeded_by(amount.of(side))) {
                return Ok(declined(Decline::ReceiverLimit));
            }
            // One check for amount and fee together: both move or neither.
            if !has_funds(checks, amount.plus(fee)) {
                return Ok(declined(Decline::InsufficientFunds));
            }
            let mut postings = vec![Posting {
                name: PostingName::Transfer,
                debit: Role::Payer,
                credit: Role::Payee,
                amount,
                flow: Flow::Posted,
            }];
            if fee_minor > 0 {
                postings.push(Posting {
                    name: PostingName::Fee,
                    debit: Role::Payer,
                    credit: Role::Fee,
                    amount: fee,
                    flow: Flow::Posted,
                });
            }
            Ok(Decided {
                status: to,
                charged_minor: state.amount_minor,
                fee_minor: Some(fee_minor),
                declined: None,
                postings,
            })
        }
    }
}

fn has_funds(checks: &Checks, needed: Amounts) -> bool {
    checks.payer.is_some_and(|(side, available)| available >= needed.of(side))
}

/// Why an operation is refused: the merchant's request does not fit the payment as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the payment is {status}")]
    WrongStatus { status: TxStatus },
    #[error("more than the {left_minor} left")]
    OverAmount { left_minor: i64 },
    #[error("a refund of {amount_minor} is below the minimum")]
    BelowMinimumRefund { amount_minor: i64 },
    #[error("the externalID was used for a refund of {amount_minor}")]
    ExternalIdReused { amount_minor: i64 },
    #[error("a {kind} is not a card payment")]
    NotAPayment { kind: PaymentKind },
}

/// An operation's result: the payment's new status and money, the amount its history shows,
/// and the postings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub operation: Operation,
    pub status: TxStatus,
    pub charged_minor: i64,
    pub refunded_minor: i64,
    /// The amount the operation moved (a cancel or expiry: the whole hold released).
    pub amount_minor: i64,
    pub postings: Vec<Posting>,
}

/// What a refund does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refunded {
    /// A new refund.
    Moved(Moved),
    /// The refund with this externalID was already made: answer it again, move nothing.
    Replay,
}

/// Checks that `op` may run on the payment as it is: a card payment, in the status it needs.
fn admit(state: &PaymentState, op: Operation) -> Result<(), Refusal> {
    if !op.applies_to(state.kind) {
        return Err(Refusal::NotAPayment { kind: state.kind });
    }
    if !op.allowed_from(state.status) {
        return Err(Refusal::WrongStatus { status: state.status });
    }
    Ok(())
}

/// AUTH → CHARGE: posts `amount` (all of the hold when `None`) and releases the rest.
pub fn charge(state: &PaymentState, amount: Option<i64>) -> Result<Moved, Refusal> {
    let op = Operation::Charge;
    admit(state, op)?;
    let amount = amount.unwrap_or(state.amount_minor);
    if amount > state.amount_minor || amount <= 0 {
        return Err(Refusal::OverAmount { left_minor: state.amount_minor });
    }
    Ok(Moved {
        operation: op,
        status: op.status_after(false),
        charged_minor: amount,
        refunded_minor: state.refunded_minor,
        amount_minor: amount,
        postings: vec![Posting {
            name: PostingName::Charge,
            debit: Role::Payer,
            credit: Role::Payee,
            amount: Amounts::whole(state.fx, amount),
            flow: Flow::PostPending { held: state.held() },
        }],
    })
}

/// AUTH → CANCEL: the merchant releases the whole hold.
pub fn cancel(state: &PaymentState) -> Result<Moved, Refusal> {
    release(state, Operation::Cancel)
}

/// AUTH → CANCEL_OLD: the hold outlived its terminal's hold period and is released.
pub fn expire(state: &PaymentState) -> Result<Moved, Refusal> {
    release(state, Operation::Expire)
}

fn release(state: &PaymentState, op: Operation) -> Result<Moved, Refusal> {
    admit(state, op)?;
    Ok(Moved {
        operation: op,
        status: op.status_after(false),
        charged_minor: state.charged_minor,
        refunded_minor: state.refunded_minor,
        amount_minor: state.amount_minor,
        postings: vec![Posting {
            name: PostingName::Void,
            debit: Role::Payer,
            credit: Role::Payee,
            amount: Amounts::default(),
            flow: Flow::VoidPending { held: state.held() },
        }],
    })
}

/// CHARGE → CHARGE or REFUND: gives `amount` (all that is left when `None`) back to the card.
/// `earlier` is the amount of the refund already made with the request's externalID, if any.
/// The checks run in ePay's order: the minimum refund, the kind, a replay, the status, the amount.
pub fn refund(state: &PaymentState, amount: Option<i64>, earlier: Option<i64>) -> Result<Refunded, Refusal> {
    let op = Operation::Refund;
    let left = state.refundable();
    // ePay's minimum refund, judged on what is left as this transaction sees it.
    if let Some(amount) = amount {
        if !refund_meets_minimum(amount, left) {
            return Err(Refusal::BelowMinimumRefund { amount_minor: amount });
        }
    }
    if !op.applies_to(state.kind) {
        return Err(Refusal::NotAPayment { kind: state.kind });
    }
    if let Some(earlier) = earlier {
        if amount.is_some_and(|a| a != earlier) {
            return Err(Refusal::ExternalIdReused { amount_minor: earlier });
        }
        return Ok(Refunded::Replay);
    }
    admit(state, op)?;
    let amount = amount.unwrap_or(left);
    if amount > left || amount <= 0 {
        return Err(Refusal::OverAmount { left_minor: left });
    }
    let refunded_minor = state.refunded_minor + amount;
    Ok(Refunded::Moved(Moved {
        operation: op,
        status: op.status_after(refunded_minor == state.charged_minor),
        charged_minor: state.charged_minor,
        refunded_minor,
        amount_minor: amount,
        // The card gets back, in its currency, this part of the refunded total at the rate
        // recorded when it paid.
        postings: vec![Posting {
            name: PostingName::Refund { before: state.refunded_minor },
            debit: Role::Payee,
            credit: Role::Payer,
            amount: Amounts::part(state.fx, state.refunded_minor, amount),
            flow: Flow::Posted,
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posting::Denomination::{Card, Payment};

    const USD: FxRate = FxRate::from_micros(500_000_000);

    fn new(kind: PaymentKind, amount: i64) -> PaymentState {
        PaymentState {
            kind,
            status: TxStatus::New,
            amount_minor: amount,
            charged_minor: 0,
            refunded_minor: 0,
            fx: FxRate::ONE,
        }
    }

    fn rich() -> Checks {
        Checks { payer: Some((Payment, i64::MAX / 4)), ..Checks::default() }
    }

    fn held(amount: i64) -> PaymentState {
        PaymentState { status: TxStatus::Auth, ..new(PaymentKind::Payment, amount) }
    }

    fn charged(amount: i64, refunded: i64) -> PaymentState {
        PaymentState {
            status: TxStatus::Charge,
            charged_minor: amount,
            refunded_minor: refunded,
            ..new(PaymentKind::Payment, amount)
        }
    }

    #[test]
    fn a_two_step_approval_holds_and_a_one_step_one_charges() {
        let p = new(PaymentKind::Payment, 10_000);
        let held = decide(&p, Decision::Approve { hold: true }, &rich()).unwrap();
        assert_eq!((held.status, held.charged_minor, held.declined), (TxStatus::Auth, 0, None));
        assert_eq!(held.postings.len(), 1);
        assert_eq!(held.postings[0].flow, Flow::Pending);
        assert_eq!((held.postings[0].debit, held.postings[0].credit), (Role::Payer, Role::Payee));
        let charged = decide(&p, Decision::Approve { hold: false }, &rich()).unwrap();
        assert_eq!((charged.status, charged.charged_minor), (TxStatus::Charge, 10_000));
        assert_eq!(charged.postings[0].flow, Flow::Posted);
        assert_eq!(charged.postings[0].name, PostingName::Auth);
    }

    #[test]
    fn an_approval_the_card_cannot_pay_is_declined_and_moves_nothing() {
        let p = PaymentState { fx: USD, ..new(PaymentKind::Payment, 1_000) };
        let exactly = Checks { payer: Some((Card, 500_000)), ..Checks::default() };
        assert_eq!(decide(&p, Decision::Approve { hold: true }, &exactly).unwrap().declined, None);
        for payer in [Some((Card, 499_999)), None] {
            let d = decide(&p, Decision::Approve { hold: false }, &Checks { payer, ..Checks::default() }).unwrap();
            assert_eq!(
                (d.status, d.charged_minor, d.declined),
                (TxStatus::Reject, 0, Some(Decline::InsufficientFunds))
            );
            assert!(d.postings.is_empty());
        }
    }

    #[test]
    fn declines_challenges_and_verifications_move_nothing() {
        let p = new(PaymentKind::Payment, 500);
        for (decision, status) in [
            (Decision::Decline { status: TxStatus::Reject }, TxStatus::Reject),
            (Decision::Decline { status: TxStatus::Failed }, TxStatus::Failed),
            (Decision::Challenge, TxStatus::ThreeD),
        ] {
            let d = decide(&p, decision, &Checks::default()).unwrap();
            assert_eq!((d.status, d.charged_minor, d.postings.len()), (status, 0, 0));
        }
        let v = decide(&new(PaymentKind::Verification, 0), Decision::Verify, &Checks::default()).unwrap();
        assert_eq!((v.status, v.postings.len()), (TxStatus::Verified, 0));
        let err = decide(&p, Decision::Decline { status: TxStatus::Charge }, &rich()).unwrap_err();
        assert_eq!(err, TransitionError::IllegalMove { from: TxStatus::New, to: TxStatus::Charge });
    }

    #[test]
    fn a_challenge_ends_in_a_decision_and_only_once() {
        let waiting = PaymentState { status: TxStatus::ThreeD, ..new(PaymentKind::Payment, 2_000) };
        let approved = decide(&waiting, Decision::Approve { hold: true }, &rich()).unwrap();
        assert_eq!(approved.status, TxStatus::Auth);
        let failed = decide(&waiting, Decision::Decline { status: TxStatus::Failed }, &rich()).unwrap();
        assert_eq!(failed.status, TxStatus::Failed);
        assert_eq!(
            decide(&waiting, Decision::Challenge, &rich()).unwrap_err(),
            TransitionError::IllegalMove { from: TxStatus::ThreeD, to: TxStatus::ThreeD }
        );
        let decided = PaymentState { status: TxStatus::Auth, ..waiting };
        assert!(decide(&decided, Decision::Approve { hold: false }, &rich()).is_err(), "decided once");
    }

    #[test]
    fn decisions_fit_their_kind() {
        let transfer = new(PaymentKind::P2p, 1_000);
        assert!(matches!(
            decide(&transfer, Decision::Approve { hold: false }, &rich()),
            Err(TransitionError::WrongKind { .. })
        ));
        assert!(decide(&new(PaymentKind::Payment, 1), Decision::Transfer { fee_minor: 0 }, &rich()).is_err());
        assert!(decide(&new(PaymentKind::Payment, 0), Decision::Verify, &rich()).is_err());
    }

    #[test]
    fn a_transfer_moves_amount_and_fee_together_within_its_limits() {
        let p = new(PaymentKind::Aft, 10_000);
        let d = decide(&p, Decision::Transfer { fee_minor: 150 }, &rich()).unwrap();
        assert_eq!((d.status, d.charged_minor, d.fee_minor), (TxStatus::Charge, 10_000, Some(150)));
        let names: Vec<_> = d.postings.iter().map(|p| (p.name, p.credit, p.amount.payment)).collect();
        assert_eq!(names, [(PostingName::Transfer, Role::Payee, 10_000), (PostingName::Fee, Role::Fee, 150)]);
        let no_fee = decide(&p, Decision::Transfer { fee_minor: 0 }, &rich()).unwrap();
        assert_eq!(no_fee.postings.len(), 1, "no fee, no fee posting");

        let just_short = Checks { payer: Some((Payment, 10_149)), ..Checks::default() };
        let d = decide(&p, Decision::Transfer { fee_minor: 150 }, &just_short).unwrap();
        assert_eq!((d.declined, d.fee_minor, d.postings.len()), (Some(Decline::InsufficientFunds), Some(0), 0));

        let limit = |used| DailyLimit { limit_minor: 50_000, used_minor: used };
        let at_limit = Checks { terminal_limit: Some(limit(40_000)), ..rich() };
        assert_eq!(decide(&p, Decision::Transfer { fee_minor: 0 }, &at_limit).unwrap().declined, None);
        let over =
            Checks { terminal_limit: Some(limit(40_001)), receiver_limit: Some((Payment, limit(49_999))), ..rich() };
        assert_eq!(
            decide(&p, Decision::Transfer { fee_minor: 0 }, &over).unwrap().declined,
            Some(Decline::TerminalLimit),
            "the terminal's limit is checked first"
        );
        let receiver = Checks { receiver_limit: Some((Payment, limit(40_001))), payer: None, ..Checks::default() };
        assert_eq!(
            decide(&p, Decision::Transfer { fee_minor: 0 }, &receiver).unwrap().declined,
            Some(Decline::ReceiverLimit),
            "then the receiver's, then the money"
        );
    }

    #[test]
    fn a_receiving_card_in_another_currency_counts_its_limit_in_its_currency() {
        let p = PaymentState { fx: USD, ..new(PaymentKind::Oct, 100) };
        let limit = DailyLimit { limit_minor: 50_000, used_minor: 0 };
        let ok = Checks { receiver_limit: Some((Card, limit)), ..rich() };
        assert_eq!(decide(&p, Decision::Transfer { fee_minor: 0 }, &ok).unwrap().declined, None, "50,000 card minor");
        let used = Checks { receiver_limit: Some((Card, DailyLimit { used_minor: 1, ..limit })), ..rich() };
        assert_eq!(
            decide(&p, Decision::Transfer { fee_minor: 0 }, &used).unwrap().declined,
            Some(Decline::ReceiverLimit)
        );
    }

    #[test]
    fn a_charge_posts_part_or_all_of_the_hold() {
        let p = PaymentState { fx: USD, ..held(10_000) };
        let all = charge(&p, None).unwrap();
        assert_eq!((all.status, all.charged_minor, all.amount_minor), (TxStatus::Charge, 10_000, 10_000));
        let part = charge(&p, Some(4_000)).unwrap();
        assert_eq!(part.charged_minor, 4_000);
        let posting = part.postings[0];
        assert_eq!(posting.flow, Flow::PostPending { held: Amounts { payment: 10_000, card: 5_000_000 } });
        assert_eq!(posting.amount, Amounts { payment: 4_000, card: 2_000_000 });
        assert_eq!(charge(&p, Some(10_001)), Err(Refusal::OverAmount { left_minor: 10_000 }));
        assert_eq!(charge(&p, Some(0)), Err(Refusal::OverAmount { left_minor: 10_000 }));
        assert_eq!(charge(&charged(10_000, 0), None), Err(Refusal::WrongStatus { status: TxStatus::Charge }));
    }

    #[test]
    fn a_cancel_and_an_expiry_release_the_whole_hold() {
        let p = held(7_000);
        let cancelled = cancel(&p).unwrap();
        assert_eq!((cancelled.status, cancelled.amount_minor), (TxStatus::Cancel, 7_000));
        assert_eq!(cancelled.postings[0].flow, Flow::VoidPending { held: Amounts { payment: 7_000, card: 7_000 } });
        assert_eq!(expire(&p).unwrap().status, TxStatus::CancelOld);
        let done = PaymentState { status: TxStatus::Cancel, ..p };
        assert_eq!(cancel(&done), Err(Refusal::WrongStatus { status: TxStatus::Cancel }));
        assert_eq!(expire(&done), Err(Refusal::WrongStatus { status: TxStatus::Cancel }));
    }

    #[test]
    fn refunds_give_back_part_then_the_rest() {
        let p = PaymentState { fx: USD, ..charged(10_000, 0) };
        let Refunded::Moved(part) = refund(&p, Some(3_000), None).unwrap() else { panic!("moved") };
        assert_eq!((part.status, part.refunded_minor), (TxStatus::Charge, 3_000));
        assert_eq!(part.postings[0].name, PostingName::Refund { before: 0 });
        assert_eq!((part.postings[0].debit, part.postings[0].credit), (Role::Payee, Role::Payer));
        let after = PaymentState { refunded_minor: 3_000, ..p };
        let Refunded::Moved(rest) = refund(&after, None, None).unwrap() else { panic!("moved") };
        assert_eq!((rest.status, rest.refunded_minor, rest.amount_minor), (TxStatus::Refund, 10_000, 7_000));
        assert_eq!(rest.postings[0].name, PostingName::Refund { before: 3_000 });
        assert_eq!(rest.postings[0].amount, Amounts { payment: 7_000, card: 3_500_000 });
        assert_eq!(refund(&after, Some(7_001), None), Err(Refusal::OverAmount { left_minor: 7_000 }));
    }

    #[test]
    fn a_refund_meets_the_minimum_unless_it_is_the_rest() {
        let p = charged(10_000, 9_500);
        assert_eq!(refund(&p, Some(400), None), Err(Refusal::BelowMinimumRefund { amount_minor: 400 }));
        assert!(matches!(refund(&p, Some(500), None), Ok(Refunded::Moved(m)) if m.status == TxStatus::Refund));
        let transfer = PaymentState { kind: PaymentKind::P2p, ..charged(10_000, 0) };
        assert_eq!(
            refund(&transfer, Some(999), None),
            Err(Refusal::BelowMinimumRefund { amount_minor: 999 }),
            "the minimum is judged first"
        );
        assert_eq!(refund(&transfer, Some(1_000), None), Err(Refusal::NotAPayment { kind: PaymentKind::P2p }));
    }

    #[test]
    fn a_refund_with_a_used_external_id_replays_or_is_refused() {
        let p = PaymentState { status: TxStatus::Refund, ..charged(10_000, 10_000) };
        assert_eq!(refund(&p, Some(10_000), Some(10_000)), Ok(Refunded::Replay), "even after the last refund");
        assert_eq!(refund(&p, None, Some(10_000)), Ok(Refunded::Replay));
        let open = charged(10_000, 2_000);
        assert_eq!(refund(&open, Some(3_000), Some(2_000)), Err(Refusal::ExternalIdReused { amount_minor: 2_000 }));
    }

    #[test]
    fn operations_refuse_transfers_and_verifications() {
        for kind in [PaymentKind::P2p, PaymentKind::Aft, PaymentKind::Oct, PaymentKind::Verification] {
            let p = PaymentState { kind, ..held(1_000) };
            assert_eq!(charge(&p, None), Err(Refusal::NotAPayment { kind }));
            assert_eq!(cancel(&p), Err(Refusal::NotAPayment { kind }));
            assert_eq!(expire(&p), Err(Refusal::NotAPayment { kind }));
        }
    }
}
