//! The ledger postings a transition plans (after TigerBeetle): which account pays which, how much
//! in each of the payment's two currencies, and how the balances change. Pure: the store names
//! the accounts (from the payment's card, terminal and transfer) and writes the rows.

use std::fmt;

use crate::{FxRate, LedgerTransferKind};

/// Which of a payment's two currencies an account (or an amount) is in: the payment's own, or
/// the paying card's when the card is in another currency. When both are the same currency,
/// every account is in `Payment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Denomination {
    Payment,
    Card,
}

/// One amount of a payment in both of its currencies: the payment's and the card's (the same
/// number when the rate is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amounts {
    pub payment: i64,
    pub card: i64,
}

impl Amounts {
    /// `amount` of the payment's currency, as the part of a series that already moved `before`:
    /// converted at the payment's recorded rate so the parts add up to the whole
    /// ([`FxRate::convert_part`]): a card never gets back more than it paid.
    pub fn part(fx: FxRate, before: i64, amount: i64) -> Amounts {
        Amounts { payment: amount, card: fx.convert_part(before, amount) }
    }

    /// The whole of `amount` (a series' first part).
    pub fn whole(fx: FxRate, amount: i64) -> Amounts {
        Amounts::part(fx, 0, amount)
    }

    /// The amount in the currency `denomination` names.
    pub fn of(self, denomination: Denomination) -> i64 {
        match denomination {
            Denomination::Payment => self.payment,
            Denomination::Card => self.card,
        }
    }

    pub fn plus(self, other: Amounts) -> Amounts {
        Amounts { payment: self.payment + other.payment, card: self.card + other.card }
    }
}

/// Whose account a posting debits or credits; the store resolves it to an account id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The account that pays: a payment's card, a P2P or AFT sender's card, the merchant of an
    /// OCT payout.
    Payer,
    /// The account paid: a payment's (or AFT's) merchant, a P2P or OCT receiving card.
    Payee,
    /// The terminal's transfer-fee account.
    Fee,
}

/// How a posting changes the balances (TigerBeetle's transfer kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Moves money at once.
    Posted,
    /// Reserves money (a hold): the payer's pending debit, the payee's pending credit.
    Pending,
    /// Posts the posting's amount of the hold that held `held`, releasing the rest.
    PostPending { held: Amounts },
    /// Releases the whole hold (`held`).
    VoidPending { held: Amounts },
}

impl Flow {
    pub fn kind(self) -> LedgerTransferKind {
        match self {
            Flow::Posted => LedgerTransferKind::Posted,
            Flow::Pending => LedgerTransferKind::Pending,
            Flow::PostPending { .. } => LedgerTransferKind::PostPending,
            Flow::VoidPending { .. } => LedgerTransferKind::VoidPending,
        }
    }

    /// What the hold this flow resolves held (nothing for a flow that resolves no hold).
    pub fn held(self) -> Amounts {
        match self {
            Flow::PostPending { held } | Flow::VoidPending { held } => held,
            Flow::Posted | Flow::Pending => Amounts::default(),
        }
    }
}

/// What a posting is, which names its ledger transfer: `<payment id>:<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostingName {
    /// The approval's money: the hold of a two-step payment, or the charge of a one-step one.
    Auth,
    /// A charge of the hold.
    Charge,
    /// The release of the hold (cancel or expiry).
    Void,
    /// A refund; `before` is what was refunded before it, which only grows, so it makes each
    /// refund's name unique.
    Refund { before: i64 },
    /// A transfer's amount.
    Transfer,
    /// A transfer's fee.
    Fee,
}

impl fmt::Display for PostingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostingName::Auth => f.write_str("auth"),
            PostingName::Charge => f.write_str("charge"),
            PostingName::Void => f.write_str("void"),
            PostingName::Refund { before } => write!(f, "refund:{before}"),
            PostingName::Transfer => f.write_str("transfer"),
            PostingName::Fee => f.write_str("fee"),
        }
    }
}

/// Money of one payment moved from one role's account to another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub name: PostingName,
    pub debit: Role,
    pub credit: Role,
    pub amount: Amounts,
    pub flow: Flow,
}

impl Posting {
    /// The hold a post or void resolves: always the approval's (`auth`) one.
    pub fn resolves(&self) -> Option<PostingName> {
        match self.flow {
            Flow::PostPending { .. } | Flow::VoidPending { .. } => Some(PostingName::Auth),
            Flow::Posted | Flow::Pending => None,
        }
    }

    /// The ledger transfers that book this posting, given the currency of the debited and the
    /// credited account. In one currency it is one transfer. Between the card's currency and the
    /// payment's it is two, through the pair's conversion accounts, so each currency balances on
    /// its own: debit → conversion account in the debit's currency, then conversion account in
    /// the credit's currency → credit.
    pub fn legs(&self, debit: Denomination, credit: Denomination) -> Vec<Leg> {
        let leg = |from: LegEnd, to: LegEnd, denomination: Denomination, fx_leg: bool| Leg {
            fx_leg,
            debit: from,
            credit: to,
            denomination,
            amount: self.amount.of(denomination),
            held: self.flow.held().of(denomination),
            kind: self.flow.kind(),
        };
        if debit == credit {
            vec![leg(LegEnd::Account(self.debit), LegEnd::Account(self.credit), debit, false)]
        } else {
            vec![
                leg(LegEnd::Account(self.debit), LegEnd::Conversion, debit, false),
                leg(LegEnd::Conversion, LegEnd::Account(self.credit), credit, true),
            ]
        }
    }
}

/// One side of a ledger transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegEnd {
    /// A role's account.
    Account(Role),
    /// The conversion account of the payment's currency pair, in the leg's currency.
    Conversion,
}

/// One ledger transfer, in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    /// The second leg of a conversion: its id, and the id of the hold it resolves, end in `:fx`.
    pub fx_leg: bool,
    pub debit: LegEnd,
    pub credit: LegEnd,
    pub denomination: Denomination,
    pub amount: i64,
    /// What the resolved hold held in this currency (0 when it resolves none).
    pub held: i64,
    pub kind: LedgerTransferKind,
}

impl Leg {
    /// Changes to (debits_pending, debits_posted) of the debit account, which are also those to
    /// (credits_pending, credits_posted) of the credit account.
    pub fn deltas(&self) -> (i64, i64) {
        match self.kind {
            LedgerTransferKind::Posted => (0, self.amount),
            LedgerTransferKind::Pending => (self.amount, 0),
            LedgerTransferKind::PostPending => (-self.held, self.amount),
            LedgerTransferKind::VoidPending => (-self.held, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USD: FxRate = FxRate::from_micros(500_000_000);

    #[test]
    fn one_currency_is_one_leg_and_two_currencies_go_through_conversion() {
        let posting = Posting {
            name: PostingName::Auth,
            debit: Role::Payer,
            credit: Role::Payee,
            amount: Amounts::whole(USD, 1_000),
            flow: Flow::Pending,
        };
        let same = posting.legs(Denomination::Payment, Denomination::Payment);
        assert_eq!(same.len(), 1);
        assert_eq!((same[0].amount, same[0].deltas()), (1_000, (1_000, 0)));
        let across = posting.legs(Denomination::Card, Denomination::Payment);
        assert_eq!(across.len(), 2);
        assert_eq!((across[0].debit, across[0].credit), (LegEnd::Account(Role::Payer), LegEnd::Conversion));
        assert_eq!((across[0].amount, across[0].fx_leg), (500_000, false), "the card pays in its currency");
        assert_eq!((across[1].debit, across[1].credit), (LegEnd::Conversion, LegEnd::Account(Role::Payee)));
        assert_eq!((across[1].amount, across[1].fx_leg), (1_000, true), "the merchant gets the payment's");
    }

    #[test]
    fn a_post_releases_the_whole_hold_and_posts_its_amount() {
        let held = Amounts::whole(USD, 1_000);
        let posting = Posting {
            name: PostingName::Charge,
            debit: Role::Payer,
            credit: Role::Payee,
            amount: Amounts::whole(USD, 400),
            flow: Flow::PostPending { held },
        };
        assert_eq!(posting.resolves(), Some(PostingName::Auth));
        let legs = posting.legs(Denomination::Card, Denomination::Payment);
        assert_eq!(legs[0].deltas(), (-500_000, 200_000));
        assert_eq!(legs[1].deltas(), (-1_000, 400));
        let void = Posting { flow: Flow::VoidPending { held }, amount: Amounts::default(), ..posting };
        assert_eq!(void.legs(Denomination::Payment, Denomination::Payment)[0].deltas(), (-1_000, 0));
    }

    #[test]
    fn names_of_postings() {
        let names: Vec<String> = [
            PostingName::Auth,
            PostingName::Charge,
            PostingName::Void,
            PostingName::Refund { before: 300 },
            PostingName::Transfer,
            PostingName::Fee,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(names, ["auth", "charge", "void", "refund:300", "transfer", "fee"]);
    }

    #[test]
    fn parts_of_a_series_add_up_to_the_whole() {
        let odd = FxRate::from_micros(470_500_000);
        let parts = [Amounts::part(odd, 0, 1), Amounts::part(odd, 1, 1), Amounts::part(odd, 2, 1)];
        let sum = parts.iter().fold(Amounts::default(), |a, b| a.plus(*b));
        assert_eq!(sum, Amounts::whole(odd, 3));
        assert_eq!(sum.of(Denomination::Card), 1_412);
    }
}
