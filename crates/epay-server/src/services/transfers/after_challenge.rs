//! Ending a transfer that waited for the sender's 3-D Secure challenge (`three_ds_confirm`
//! calls it, for the confirm step and for abandoned challenges).

use epay_domain::{ids, Amount, Currency, Expiry, ReasonCode, TransferKind, TxStatus};
use epay_network::{AuthRequest, Authorization};
use epay_store::{Payment, StoreError, ThreeDsSession};

use super::answer::callback;
use super::money::{settlement, transfer_money};
use super::sides::new_saved_card;
use crate::app::App;
use crate::platform::clock::year_month;
use crate::services::payments::PaymentError;

/// Ends a transfer that waited for 3-D Secure: a passed challenge asks the network again for the
/// sender (no CVC: it was checked before the challenge) and the receiver, then moves the money;
/// anything else fails the transfer with `outcome`'s reason.
pub async fn finish_three_ds(
    app: &App,
    session: &ThreeDsSession,
    mut payment: Payment,
    outcome: Result<(), ReasonCode>,
    now: i64,
) -> Result<Payment, PaymentError> {
    let kind = payment.kind.transfer().unwrap_or(TransferKind::P2p);
    let broken = |what: &str| {
        tracing::error!(transfer_id = %payment.id, "3-D Secure transfer cannot be finished: {what}");
        PaymentError::Internal
    };
    let terminal = app
        .store
        .terminal(&payment.terminal_id)
        .await
        .map_err(|e| broken(&e.to_string()))?
        .ok_or_else(|| broken("its terminal is missing"))?;
    let sender = app.open_pan(&session.pan_ciphertext).await.ok_or_else(|| broken("a card cannot be unsealed"))?;
    let receiver = match session.receiver_pan_ciphertext.as_deref() {
        Some(text) => Some(app.open_pan(text).await.ok_or_else(|| broken("a card cannot be unsealed"))?),
        None => None,
    };
    payment.secure = true;
    payment.updated_at = now;
    let mut decline = outcome.err().map(|r| (TxStatus::Failed, r));
    let mut from_account = payment.card_account.clone().unwrap_or_default();
    let mut to_account = payment
        .receiver_account
        .clone()
        .unwrap_or_else(|| epay_store::merchant_account(&terminal.id, &payment.currency));
    let currency: Currency = payment.currency.parse().map_err(|_| broken("its currency is unknown"))?;
    let mut receiver_limit = None;
    if decline.is_none() {
        let amount =
            Amount::from_minor(payment.amount_minor + payment.fee_minor).map_err(|e| broken(&e.to_string()))?;
        let request = AuthRequest {
            pan: &sender,
            expiry: Expiry::parse(&session.expiry_mmyy).ok(),
            cvc: None,
            amount,
            currency,
            today: year_month(now),
        };
        match app.network.authorize(&request) {
            Authorization::Approved { card_account, approval_code, issuer, .. } => {
                from_account = card_account;
                payment.approval_code = approval_code;
                payment.issuer = issuer;
            }
            Authorization::Declined { reason, .. } => decline = Some((TxStatus::Reject, reason)),
        }
    }
    if let (None, Some(pan)) = (&decline, &receiver) {
        match app.network.receiver(pan, year_month(now)) {
            Ok(info) => {
                to_account = info.card_account;
                receiver_limit = info.daily_incoming_limit_minor;
            }
            Err(reason) => decline = Some((TxStatus::Reject, reason)),
        }
    }
    let (money, save_sender, save_receiver) = match decline {
        Some((status, reason)) => {
            payment.status = status;
            payment.reason_code = reason.code;
            payment.reason = reason.message.into();
            payment.fee_minor = 0;
            payment.approval_code = String::new();
            (None, None, None)
        }
        None => {
            payment.status = TxStatus::Charge;
            payment.charged_minor = payment.amount_minor;
            payment.reference = ids::reference();
            payment.card_account = Some(from_account.clone());
            if receiver.is_some() {
                payment.receiver_account = Some(to_account.clone());
            }
            let save_sender = session.save_card.then(|| {
                new_saved_card(app, &payment, &terminal, &sender, &session.expiry_mmyy, &payment.payer_name, true)
            });
            let save_receiver = receiver
                .as_ref()
                .filter(|_| session.save_receiver)
                .map(|pan| new_saved_card(app, &payment, &terminal, pan, &session.receiver_expiry_mmyy, "", false));
            let from_tenge = app.network.rate(Currency::Kzt, currency);
            let money = transfer_money(
                &terminal,
                &payment,
                from_account,
                to_account,
                payment.fee_minor,
                receiver_limit,
                from_tenge,
                now,
            );
            (Some(money), save_sender, save_receiver)
        }
    };
    let settled = settlement(kind, payment, money, save_sender, save_receiver);
    let finished = match app.store.finish_three_ds_transfer(&session.id, settled, now, &callback).await {
        Ok(p) => p,
        Err(StoreError::AlreadyConfirmed) => {
            return Err(PaymentError::Conflict("this 3-D Secure transaction was already confirmed".into()))
        }
        Err(e) => {
            tracing::error!(error = %e, "3-D Secure transfer storage failed");
            return Err(PaymentError::Internal);
        }
    };
    app.metrics.observe_outcome(&finished);
    tracing::info!(
        transfer_id = %finished.id, status = %finished.status, reason_code = finished.reason_code,
        "3-D Secure transfer finished"
    );
    Ok(finished)
}
