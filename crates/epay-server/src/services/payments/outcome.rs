//! What the card network's answer makes of a payment: its status, its reason, and the money it
//! moves.

use epay_domain::{ReasonCode, TxStatus};
use epay_network::Authorization;
use epay_store::{DebitKind, Payment, PaymentEffect, Terminal};

/// A payment's outcome, before it is recorded.
pub(crate) struct Outcome {
    pub(crate) status: TxStatus,
    pub(crate) reason: ReasonCode,
    pub(crate) approval_code: String,
    pub(crate) issuer: String,
    pub(crate) effect: PaymentEffect,
    pub(crate) card_account: Option<String>,
}

/// The outcome of `authorization` on `terminal`: a `challenge` waits for 3-D Secure and moves
/// nothing, a `verification` (amount 0) only proves the card, an approval debits the card
/// (held on a two-step terminal, posted on a one-step one), a decline is recorded as such.
pub(crate) fn decide(
    authorization: &Authorization,
    challenge: bool,
    verification: bool,
    terminal: &Terminal,
    merchant_account: String,
) -> Outcome {
    let approved = |status, approval_code: &str, issuer: &str, effect, card_account: &str| Outcome {
        status,
        reason: ReasonCode::SUCCESS,
        approval_code: approval_code.to_string(),
        issuer: issuer.to_string(),
        effect,
        card_account: Some(card_account.to_string()),
    };
    match authorization {
        Authorization::Approved { card_account, issuer, .. } if challenge => {
            approved(TxStatus::ThreeD, "", issuer, PaymentEffect::None, card_account)
        }
        Authorization::Approved { card_account, approval_code, issuer, .. } if verification => {
            approved(TxStatus::Verified, approval_code, issuer, PaymentEffect::None, card_account)
        }
        Authorization::Approved { card_account, approval_code, issuer, .. } => {
            let (status, kind) = if terminal.two_step {
                (TxStatus::Auth, DebitKind::Pending)
            } else {
                (TxStatus::Charge, DebitKind::Posted)
            };
            let effect = PaymentEffect::Debit { card_account: card_account.clone(), merchant_account, kind };
            approved(status, approval_code, issuer, effect, card_account)
        }
        Authorization::Declined { reason, issuer } => Outcome {
            status: TxStatus::Reject,
            reason: *reason,
            approval_code: String::new(),
            issuer: issuer.clone(),
            effect: PaymentEffect::None,
            card_account: None,
        },
    }
}

/// The outcome of a merchant-initiated charge of a saved card (a subscription's period): no
/// challenge (no cardholder is present), never a verification.
pub(crate) fn decide_charge(authorization: &Authorization, terminal: &Terminal, merchant_account: String) -> Outcome {
    decide(authorization, false, false, terminal, merchant_account)
}

/// Records on the payment how the card's issuer converts it (the card's currency, the rate and
/// the full amount in the card's currency); every later operation converts at this rate.
pub(crate) fn with_conversion(mut payment: Payment, authorization: &Authorization) -> Payment {
    if let Authorization::Approved { conversion, .. } = authorization {
        payment.card_currency = conversion.card_currency.code().to_string();
        payment.fx_rate_micros = conversion.rate.micros();
        payment.card_amount_minor = conversion.rate.convert(payment.amount_minor);
    }
    payment
}
