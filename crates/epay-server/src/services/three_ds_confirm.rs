//! The 3-D Secure confirm step (seed 003, facts §7): the merchant's TermUrl presents `MD` and
//! `PaRes` with the payment's own token, and the payment or transfer that waited in `3D` ends in
//! AUTH/CHARGE or a failure with a 3-D Secure reason code. Also the sweep that fails challenges
//! abandoned for too long. Sits above the payment and transfer services: it calls them, they
//! never call it.

use epay_domain::{ids, Expiry, PaymentKind, ReasonCode, ThreeDsState, TxStatus};
use epay_network::{AuthRequest, Authorization};
use epay_store::{DebitKind, Payment, PaymentEffect, SavedCard, StoreError, ThreeDsFinish, ThreeDsSession};

use crate::app::App;
use crate::platform::clock::year_month;
use crate::services::auth::Caller;
use crate::services::callbacks;
use crate::services::payments::{payment_response, PaymentError};
use crate::services::transfers::{self, TransferResponse};
use crate::wire::three_ds::{AcsTransId, ServerTransId};
use crate::wire::PaymentResponse;

/// What a successful confirm answers: the payment, or the transfer, now final.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Confirmed {
    Payment(PaymentResponse),
    Transfer(TransferResponse),
}

fn internal(e: StoreError) -> PaymentError {
    tracing::error!(error = %e, "3-D Secure storage failed");
    PaymentError::Internal
}

/// What the merchant's TermUrl presents, read at the edge: the challenge `MD` names (an MD that
/// names none is refused there) and the one `PaRes` names.
#[derive(Debug, Clone)]
pub struct ConfirmChallenge {
    pub md: ServerTransId,
    /// `None` when the PaRes names no challenge; refused after the token is checked.
    pub pa_res: Option<AcsTransId>,
}

/// The refusal of an `MD` that names no challenge of this gateway, unreadable or unknown.
pub fn unknown_md() -> PaymentError {
    PaymentError::BadRequest("MD is not a 3-D Secure transaction of this gateway".into())
}

/// The confirm step (facts §7): the challenge's `MD` and `PaRes`, presented by the holder of the
/// payment's own token, expired or not (the challenge's timeout bounds a confirm, not the
/// token's lifetime; `caller` is `None` when no known token came). Ends the payment; a second
/// confirm is refused. The checks run in the order the gateway has always answered them (a client
/// may read which came first): the MD, the token, the PaRes, then the challenge's state.
pub async fn confirm(app: &App, caller: Option<&Caller>, command: ConfirmChallenge) -> Result<Confirmed, PaymentError> {
    let session =
        app.store.three_ds_session_by_server_id(command.md.as_str()).await.map_err(internal)?.ok_or_else(unknown_md)?;
    let token = match caller.and_then(Caller::token) {
        Some(t) if t.token_digest == session.token_digest => t,
        _ => return Err(PaymentError::Unauthorized("the token is not the one this payment was started with".into())),
    };
    if command.pa_res.as_ref().map(AcsTransId::as_str) != Some(session.id.as_str()) {
        return Err(PaymentError::BadRequest("PaRes does not belong to this MD".into()));
    }
    let payment = app
        .store
        .payment(&token.merchant_id, &session.payment_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| PaymentError::BadRequest("transaction not found".into()))?;
    let now = app.clock.now_ms();
    let timed_out = now - session.created_at > app.config.three_ds_timeout_secs * 1000;
    let outcome = match session.state {
        ThreeDsState::Confirmed => {
            return Err(PaymentError::Conflict("this 3-D Secure transaction was already confirmed".into()))
        }
        ThreeDsState::Pending if !timed_out => {
            return Err(PaymentError::BadRequest("the 3-D Secure challenge has not been answered yet".into()))
        }
        ThreeDsState::Pending => Err(ReasonCode::THREE_DS_UNAVAILABLE),
        ThreeDsState::Passed => Ok(()),
        ThreeDsState::Failed | ThreeDsState::Cancelled => {
            Err(ReasonCode::from_code(session.reason_code).unwrap_or(ReasonCode::THREE_DS_FAILED))
        }
    };
    let finished = finish_any(app, &session, payment, outcome, now).await?;
    if finished.reason_code != 0 {
        let reason = ReasonCode::from_code(finished.reason_code).unwrap_or(ReasonCode::THREE_DS_FAILED);
        return Err(PaymentError::Declined { reason, transaction_id: finished.id });
    }
    Ok(if transfers::is_transfer(&finished) {
        Confirmed::Transfer(transfers::response(&finished))
    } else {
        Confirmed::Payment(payment_response(&finished))
    })
}

/// Ends a 3D transaction, payment or transfer.
async fn finish_any(
    app: &App,
    session: &ThreeDsSession,
    payment: Payment,
    outcome: Result<(), ReasonCode>,
    now: i64,
) -> Result<Payment, PaymentError> {
    if transfers::is_transfer(&payment) {
        transfers::finish_three_ds(app, session, payment, outcome, now).await
    } else {
        finish(app, session, payment, outcome, now).await
    }
}

/// The card a passed challenge saves: entered with its expiry and CVC, then 3-D Secure, so it
/// is proven and may pay.
fn proven_card(
    app: &App,
    payment: &Payment,
    session: &ThreeDsSession,
    pan: &epay_domain::Pan,
    terminal_pos_id: &str,
    now: i64,
) -> SavedCard {
    SavedCard {
        id: ids::uuid(),
        merchant_id: payment.merchant_id.clone(),
        account_id: payment.account_id.clone(),
        pan_fingerprint: app.keys.pan_fingerprint(pan),
        pan_ciphertext: session.pan_ciphertext.clone(),
        card_mask: pan.masked(),
        card_brand: pan.brand().as_str().to_string(),
        expiry_mmyy: session.expiry_mmyy.clone(),
        payer_name: payment.payer_name.clone(),
        transaction_id: payment.id.clone(),
        terminal_pos_id: terminal_pos_id.to_string(),
        reference: payment.reference.clone(),
        int_reference: payment.int_reference.clone(),
        card_token: hex::encode_upper(uuid::Uuid::new_v4().as_bytes()),
        active: true,
        payable: true,
        created_at: now,
    }
}

/// Ends a 3D payment: a passed challenge asks the network again (no CVC: it was checked before
/// the challenge) and moves the money; anything else fails the payment with `reason`.
async fn finish(
    app: &App,
    session: &ThreeDsSession,
    mut payment: Payment,
    outcome: Result<(), ReasonCode>,
    now: i64,
) -> Result<Payment, PaymentError> {
    let terminal = app.store.terminal(&payment.terminal_id).await.map_err(internal)?.ok_or(PaymentError::Internal)?;
    let pan = app.open_pan(&session.pan_ciphertext).await.ok_or(PaymentError::Internal)?;
    let mut effect = PaymentEffect::None;
    let mut save_card = None;
    payment.secure = true;
    match outcome {
        Ok(()) => {
            let amount = epay_domain::Amount::from_minor(payment.amount_minor).map_err(|_| PaymentError::Internal)?;
            let request = AuthRequest {
                pan: &pan,
                expiry: Expiry::parse(&session.expiry_mmyy).ok(),
                cvc: None,
                amount,
                currency: payment.currency.parse().map_err(|_| PaymentError::Internal)?,
                today: year_month(now),
            };
            match app.network.authorize(&request) {
                // A card verification (amount 0) proves the card and moves no money.
                Authorization::Approved { approval_code, issuer, .. } if payment.kind == PaymentKind::Verification => {
                    payment.status = TxStatus::Verified;
                    payment.approval_code = approval_code;
                    payment.issuer = issuer;
                    if session.save_card && !payment.account_id.is_empty() {
                        save_card = Some(proven_card(app, &payment, session, &pan, &terminal.pos_id, now));
                    }
                }
                Authorization::Approved { card_account, approval_code, issuer, .. } => {
                    // The conversion was recorded when the challenge started; it stays.
                    let (status, kind) = if terminal.two_step {
                        (TxStatus::Auth, DebitKind::Pending)
                    } else {
                        (TxStatus::Charge, DebitKind::Posted)
                    };
                    payment.status = status;
                    payment.charged_minor = if status == TxStatus::Charge { payment.amount_minor } else { 0 };
                    payment.approval_code = approval_code;
                    payment.issuer = issuer;
                    payment.reference = ids::reference();
                    payment.card_account = Some(card_account.clone());
                    effect = PaymentEffect::Debit {
                        card_account,
                        merchant_account: epay_store::merchant_account(&terminal.id, &payment.currency),
                        kind,
                    };
                    if session.save_card && !payment.account_id.is_empty() {
                        save_card = Some(proven_card(app, &payment, session, &pan, &terminal.pos_id, now));
                    }
                }
                Authorization::Declined { reason, .. } => {
                    payment.status = TxStatus::Reject;
                    payment.reason_code = reason.code;
                    payment.reason = reason.message.into();
                }
            }
        }
        Err(reason) => {
            payment.status = TxStatus::Failed;
            payment.reason_code = reason.code;
            payment.reason = reason.message.into();
        }
    }
    let finish = ThreeDsFinish { session_id: session.id.clone(), payment, effect, save_card, now_ms: now };
    match app.store.finish_three_ds(finish, &callbacks::for_payment).await {
        Ok(p) => {
            app.metrics.observe_outcome(&p);
            tracing::info!(payment_id = %p.id, status = %p.status, reason_code = p.reason_code, "3-D Secure payment finished");
            Ok(p)
        }
        Err(StoreError::AlreadyConfirmed) => {
            Err(PaymentError::Conflict("this 3-D Secure transaction was already confirmed".into()))
        }
        Err(e) => Err(internal(e)),
    }
}

/// Fails 3D payments whose challenge was abandoned for longer than `three_ds_timeout_secs`.
pub async fn fail_abandoned(app: &App) -> usize {
    let now = app.clock.now_ms();
    let cutoff = now - app.config.three_ds_timeout_secs * 1000;
    let Ok(sessions) = app.store.abandoned_three_ds(cutoff, 200).await else {
        return 0;
    };
    let mut failed = 0;
    for session in sessions {
        let Ok(Some(payment)) = app.store.payment_by_id(&session.payment_id).await else { continue };
        if finish_any(app, &session, payment, Err(ReasonCode::THREE_DS_UNAVAILABLE), now).await.is_ok() {
            failed += 1;
        }
    }
    failed
}

#[cfg(test)]
/// The confirm step and the sweep without a server: challenges opened through the payment
/// service, answered at the ACS, confirmed here, with the clock standing where each test puts it.
mod tests {
    use epay_domain::{ReasonCode, ThreeDsState, TxStatus};

    use super::{confirm, fail_abandoned, ConfirmChallenge, Confirmed};
    use crate::app::App;
    use crate::platform::test_merchant::{PAYMENT_TERMINAL, TEST_MERCHANT_ID};
    use crate::services::auth::Caller;
    use crate::services::payments::PaymentError;
    use crate::services::three_ds::{self, AnswerChallenge, ShopperAnswer};
    use crate::testing::{challenged, issue, service_token, Challenged, NOW};
    use crate::wire::three_ds::{md, AcsTransId, ServerTransId};

    /// What the merchant's TermUrl presents for challenge `c`.
    fn presented(c: &Challenged) -> ConfirmChallenge {
        ConfirmChallenge {
            md: ServerTransId::from_md(&md(&c.session.server_trans_id)).unwrap(),
            pa_res: AcsTransId::parse(&c.session.id),
        }
    }

    /// The shopper answers `c`'s challenge at the ACS.
    async fn answer(app: &App, c: &Challenged, answer: ShopperAnswer) {
        let form = AnswerChallenge {
            challenge: AcsTransId::parse(&c.session.id).unwrap(),
            md: ServerTransId::from_md(&md(&c.session.server_trans_id)),
            answer,
        };
        // A wrong code is answered until the ACS's last try fails the challenge.
        while let three_ds::Answered::TryAgain(_) = three_ds::answer(app, form.clone()).await.expect("answered") {}
    }

    async fn stored(app: &App, c: &Challenged) -> (TxStatus, i32, bool) {
        let p = app.store.payment(TEST_MERCHANT_ID, &c.payment.id).await.unwrap().unwrap();
        (p.status, p.reason_code, p.secure)
    }

    #[tokio::test]
    async fn a_passed_challenge_confirmed_with_its_token_authorizes_once() {
        let app = App::for_tests(NOW).await;
        let c = challenged(&app, "000201").await;
        answer(&app, &c, ShopperAnswer::Code("123456".into())).await;
        let app = app.at(NOW + 30_000);
        let Ok(Confirmed::Payment(paid)) = confirm(&app, Some(&c.token.caller), presented(&c)).await else {
            panic!("a payment, confirmed")
        };
        // The 3-D Secure terminal is two-step: a hold, to be charged later.
        assert_eq!((paid.id.as_str(), paid.status.as_str(), paid.amount.0), (c.payment.id.as_str(), "AUTH", 10_000));
        assert_eq!(stored(&app, &c).await, (TxStatus::Auth, 0, true));
        assert_eq!(app.store.ledger_transfers_of(&c.payment.id).await.unwrap().len(), 1, "the hold");
        let session = app.store.three_ds_session(&c.session.id).await.unwrap().unwrap();
        assert_eq!((session.state, session.updated_at), (ThreeDsState::Confirmed, NOW + 30_000));
        // A replayed confirm changes nothing.
        assert_eq!(
            confirm(&app, Some(&c.token.caller), presented(&c)).await.unwrap_err(),
            PaymentError::Conflict("this 3-D Secure transaction was already confirmed".into())
        );
        assert_eq!(app.store.ledger_transfers_of(&c.payment.id).await.unwrap().len(), 1);
        assert!(app.store.check_ledger().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn only_the_payments_own_token_with_its_own_pa_res_confirms_checked_in_order() {
        let app = App::for_tests(NOW).await;
        let c = challenged(&app, "000202").await;
        let other = challenged(&app, "000203").await;
        answer(&app, &c, ShopperAnswer::Code("123456".into())).await;
        let not_the_token = PaymentError::Unauthorized("the token is not the one this payment was started with".into());
        let service = issue(&app, service_token(PAYMENT_TERMINAL)).await;
        for caller in [None, Some(&other.token.caller), Some(&service.caller)] {
            assert_eq!(confirm(&app, caller, presented(&c)).await.unwrap_err(), not_the_token);
        }
        let cabinet = Caller::Cabinet { merchant_id: TEST_MERCHANT_ID.into() };
        assert_eq!(confirm(&app, Some(&cabinet), presented(&c)).await.unwrap_err(), not_the_token);
        let bad_pa_res = PaymentError::BadRequest("PaRes does not belong to this MD".into());
        for pa_res in [AcsTransId::parse(&other.session.id), None] {
            let command = ConfirmChallenge { pa_res, ..presented(&c) };
            assert_eq!(confirm(&app, Some(&c.token.caller), command).await.unwrap_err(), bad_pa_res);
        }
        // The MD is checked first: an unknown one is refused before the token and the PaRes.
        let unknown =
            ConfirmChallenge { md: ServerTransId::from_md(&md(&epay_domain::ids::uuid())).unwrap(), pa_res: None };
        assert_eq!(confirm(&app, None, unknown).await.unwrap_err(), super::unknown_md());
        // The token before the PaRes.
        let both_wrong = ConfirmChallenge { pa_res: None, ..presented(&c) };
        assert_eq!(confirm(&app, None, both_wrong).await.unwrap_err(), not_the_token);
        // None of it touched the payment.
        assert_eq!(stored(&app, &c).await, (TxStatus::ThreeD, 0, false));
        confirm(&app, Some(&c.token.caller), presented(&c)).await.expect("its own token and PaRes confirm");
    }

    #[tokio::test]
    async fn a_failed_or_cancelled_challenge_fails_the_payment_with_its_reason() {
        let app = App::for_tests(NOW).await;
        for (invoice, shopper, reason) in [
            ("000204", ShopperAnswer::Code("000000".into()), ReasonCode::THREE_DS_FAILED),
            ("000205", ShopperAnswer::Cancel, ReasonCode::THREE_DS_CODE_WRONG),
        ] {
            let c = challenged(&app, invoice).await;
            answer(&app, &c, shopper).await;
            let declined = confirm(&app, Some(&c.token.caller), presented(&c)).await.unwrap_err();
            assert_eq!(declined, PaymentError::Declined { reason, transaction_id: c.payment.id.clone() });
            assert_eq!(stored(&app, &c).await, (TxStatus::Failed, reason.code, true));
            assert!(app.store.ledger_transfers_of(&c.payment.id).await.unwrap().is_empty(), "no money moved");
        }
    }

    #[tokio::test]
    async fn an_unanswered_challenge_waits_until_the_clock_passes_its_timeout() {
        let app = App::for_tests(NOW).await;
        let timeout_ms = app.config.three_ds_timeout_secs * 1000;
        let c = challenged(&app, "000206").await;
        let app = app.at(NOW + timeout_ms);
        assert_eq!(
            confirm(&app, Some(&c.token.caller), presented(&c)).await.unwrap_err(),
            PaymentError::BadRequest("the 3-D Secure challenge has not been answered yet".into())
        );
        assert_eq!(stored(&app, &c).await, (TxStatus::ThreeD, 0, false));
        let app = app.at(NOW + timeout_ms + 1);
        let unavailable = ReasonCode::THREE_DS_UNAVAILABLE;
        assert_eq!(
            confirm(&app, Some(&c.token.caller), presented(&c)).await.unwrap_err(),
            PaymentError::Declined { reason: unavailable, transaction_id: c.payment.id.clone() }
        );
        assert_eq!(stored(&app, &c).await, (TxStatus::Failed, unavailable.code, true));
    }

    #[tokio::test]
    async fn the_sweep_fails_challenges_abandoned_past_the_timeout_and_no_others() {
        let app = App::for_tests(NOW).await;
        let timeout_ms = app.config.three_ds_timeout_secs * 1000;
        let unanswered = challenged(&app, "000207").await;
        let unconfirmed = challenged(&app, "000208").await;
        answer(&app, &unconfirmed, ShopperAnswer::Code("123456".into())).await;
        // A challenge opened later is younger than the timeout when the sweep runs.
        let app = app.at(NOW + 60_000);
        let recent = challenged(&app, "000209").await;

        let app = app.at(NOW + timeout_ms);
        assert_eq!(fail_abandoned(&app).await, 0, "at the timeout itself, still in time");
        let app = app.at(NOW + timeout_ms + 1);
        assert_eq!(fail_abandoned(&app).await, 2);
        let unavailable = ReasonCode::THREE_DS_UNAVAILABLE.code;
        assert_eq!(stored(&app, &unanswered).await, (TxStatus::Failed, unavailable, true));
        assert_eq!(stored(&app, &unconfirmed).await, (TxStatus::Failed, unavailable, true));
        assert_eq!(stored(&app, &recent).await, (TxStatus::ThreeD, 0, false));
        assert_eq!(fail_abandoned(&app).await, 0, "each is failed once");
        // A confirm that comes too late finds the challenge ended.
        assert_eq!(
            confirm(&app, Some(&unconfirmed.token.caller), presented(&unconfirmed)).await.unwrap_err(),
            PaymentError::Conflict("this 3-D Secure transaction was already confirmed".into())
        );
        assert!(app.store.check_ledger().await.unwrap().is_empty());
    }
}
