//! 3-D Secure (seed 003, facts §7), the part payments and transfers share: opening a challenge
//! for a card about to be recorded in `3D`, the CReq/CRes messages (`paReq`, `MD`, `PaRes`), and
//! the simulated issuer's ACS (its one-time code, its verdict, showing and answering a
//! challenge). Ending a waiting payment or transfer is `three_ds_confirm`'s job, which calls the
//! payment and transfer services; this module calls neither, so both may call it.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use epay_domain::{ids, Amount, ReasonCode, ThreeDsState};
use epay_store::{Payment, ThreeDsSession, TokenRecord};

use crate::app::App;
use crate::wire::Secure3D;

/// The one-time code the simulated ACS accepts in sandbox mode (documented in
/// docs/test-cards.md). Production has no fixed code: see [`one_time_code`].
pub const SANDBOX_CODE: &str = "123456";

/// A production challenge's one-time code: six digits from an HMAC of the ACS transaction id
/// under a key derived from the vault master key. Unpredictable without that key, different for
/// every challenge, and nothing to store: the simulated ACS "delivers" it to the operator log
/// and to `epay acs code`, the simulator's stand-in for the SMS a real issuer sends.
pub fn one_time_code(keys: &crate::platform::keys::Keys, acs_trans_id: &str) -> String {
    let mac = keys.purpose_mac("acs-one-time-code", acs_trans_id);
    let number = u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]]);
    format!("{:06}", number % 1_000_000)
}

/// The code the ACS expects for the challenge `acs_trans_id` in this gateway's mode.
pub fn expected_code(app: &App, acs_trans_id: &str) -> String {
    match app.config.mode {
        crate::platform::config::Mode::Sandbox => SANDBOX_CODE.to_string(),
        crate::platform::config::Mode::Production => one_time_code(&app.keys, acs_trans_id),
    }
}

/// Opens the challenge for a payment about to be recorded in `3D`. The card number is sealed
/// for the confirm step; the CVC, already checked, is not kept.
pub fn new_session(
    app: &App,
    payment: &Payment,
    token: &TokenRecord,
    pan: &epay_domain::Pan,
    expiry_mmyy: &str,
    save_card: bool,
    token_spend: epay_store::TokenSpend,
) -> ThreeDsSession {
    ThreeDsSession {
        id: ids::uuid(),
        payment_id: payment.id.clone(),
        server_trans_id: ids::uuid(),
        token_digest: token.token_digest.clone(),
        pan_ciphertext: app.keys.seal_pan(pan),
        expiry_mmyy: expiry_mmyy.to_string(),
        save_card,
        receiver_pan_ciphertext: None,
        receiver_expiry_mmyy: String::new(),
        save_receiver: false,
        token_spend,
        state: ThreeDsState::Pending,
        reason_code: 0,
        created_at: payment.created_at,
        updated_at: payment.created_at,
    }
}

/// `paReq`: base64url (no padding) of a 3DS 2.2 CReq, as seed 003's example decodes.
pub fn pa_req(s: &ThreeDsSession) -> String {
    let creq = serde_json::json!({
        "messageType": "CReq",
        "messageVersion": "2.2.0",
        "threeDSServerTransID": s.server_trans_id,
        "acsTransID": s.id,
        "challengeWindowSize": "05",
    });
    URL_SAFE_NO_PAD.encode(creq.to_string())
}

/// The `secure3D` object of a `3D` answer: what the merchant's page posts to the ACS.
pub fn secure3d(s: &ThreeDsSession, acs_url: &str) -> Secure3D {
    Secure3D { pa_req: pa_req(s), md: md(s), action: acs_url.to_string() }
}

/// `MD`: base64 of the threeDSServerTransID (seed 003).
pub fn md(s: &ThreeDsSession) -> String {
    STANDARD.encode(&s.server_trans_id)
}

fn b64_json(text: &str) -> Option<serde_json::Value> {
    let t = text.trim().replace(' ', "+");
    let bytes = URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')).or_else(|_| STANDARD.decode(&t)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The ACS transaction a PaReq (CReq) or PaRes (CRes) names.
pub fn acs_trans_id(message: &str) -> Option<String> {
    b64_json(message)?.get("acsTransID")?.as_str().map(String::from)
}

/// The threeDSServerTransID an `MD` carries.
pub fn server_trans_id(md: &str) -> Option<String> {
    let bytes = STANDARD.decode(md.trim().replace(' ', "+")).ok()?;
    String::from_utf8(bytes).ok().filter(|s| uuid::Uuid::parse_str(s).is_ok())
}

/// `PaRes`: base64url of a CRes with the challenge's outcome.
pub fn pa_res(s: &ThreeDsSession, passed: bool) -> String {
    let cres = serde_json::json!({
        "messageType": "CRes",
        "messageVersion": "2.2.0",
        "threeDSServerTransID": s.server_trans_id,
        "acsTransID": s.id,
        "transStatus": if passed { "Y" } else { "N" },
    });
    URL_SAFE_NO_PAD.encode(cres.to_string())
}

/// The ACS's verdict on the shopper's answer `code` to a challenge expecting `expected`.
pub fn verdict(expected: &str, code: &str, cancelled: bool) -> (ThreeDsState, ReasonCode) {
    if cancelled {
        (ThreeDsState::Cancelled, ReasonCode::THREE_DS_CODE_WRONG)
    } else if crate::platform::keys::digests_equal(code.trim(), expected) {
        (ThreeDsState::Passed, ReasonCode::SUCCESS)
    } else {
        (ThreeDsState::Failed, ReasonCode::THREE_DS_FAILED)
    }
}

/// A challenge the ACS shows: the waiting session and what the shopper is asked to approve.
pub struct Challenge {
    pub session: ThreeDsSession,
    pub merchant_name: String,
    pub amount: Amount,
    pub currency: String,
    pub card_mask: String,
}

/// Why the ACS refuses a form. The ACS page words each one (`page::acs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcsRefusal {
    /// The PaReq names no challenge of this ACS.
    UnknownRequest,
    /// The MD is not the one of the PaReq's challenge.
    MdMismatch,
    /// The answer form names no challenge of this ACS, or another MD.
    UnknownChallenge,
    /// The challenge was answered already.
    AlreadyAnswered,
    /// The challenge's payment or transfer is gone.
    TransactionNotFound,
    /// Storage failed.
    Internal,
}

/// The challenge a merchant's page posted to the ACS (`PaReq` and `MD`), if it is one this ACS
/// still waits an answer to. In production the one-time code is "sent" (logged) here.
pub async fn challenge(app: &App, pa_req: &str, md_text: &str) -> Result<Challenge, AcsRefusal> {
    let acs_id = acs_trans_id(pa_req).ok_or(AcsRefusal::UnknownRequest)?;
    let session = match app.store.three_ds_session(&acs_id).await {
        Ok(Some(s)) => s,
        _ => return Err(AcsRefusal::UnknownRequest),
    };
    if server_trans_id(md_text).as_deref() != Some(session.server_trans_id.as_str()) {
        return Err(AcsRefusal::MdMismatch);
    }
    if !session.state.can_be_answered() {
        return Err(AcsRefusal::AlreadyAnswered);
    }
    let Ok(Some(payment)) = app.store.payment_by_id(&session.payment_id).await else {
        return Err(AcsRefusal::TransactionNotFound);
    };
    let merchant_name =
        app.store.merchant(&payment.merchant_id).await.ok().flatten().map(|m| m.name).unwrap_or_default();
    if app.config.mode == crate::platform::config::Mode::Production {
        // The simulated issuer's "SMS": a real ACS sends the code to the card holder's phone.
        let code = one_time_code(&app.keys, &session.id);
        tracing::info!(acs_id = %session.id, payment_id = %payment.id, code = %code, "3-D Secure one-time code");
    }
    Ok(Challenge {
        session,
        merchant_name,
        amount: Amount::from_minor(payment.amount_minor).unwrap_or_default(),
        currency: payment.currency,
        card_mask: payment.card_mask,
    })
}

/// The shopper's answer to challenge `acs_id` (its one-time `code`, or `cancelled`): the ACS's
/// verdict is recorded once, and the session and its new state returned for the `PaRes`.
pub async fn answer(
    app: &App,
    acs_id: &str,
    md_text: &str,
    code: &str,
    cancelled: bool,
) -> Result<(ThreeDsSession, ThreeDsState), AcsRefusal> {
    let session = match app.store.three_ds_session(acs_id).await {
        Ok(Some(s)) if server_trans_id(md_text).as_deref() == Some(s.server_trans_id.as_str()) => s,
        _ => return Err(AcsRefusal::UnknownChallenge),
    };
    let (state, reason) = verdict(&expected_code(app, &session.id), code, cancelled);
    match app.store.answer_three_ds(&session.id, state, reason.code, app.clock.now_ms()).await {
        Ok(true) => {}
        Ok(false) => return Err(AcsRefusal::AlreadyAnswered),
        Err(e) => {
            tracing::error!(error = %e, "recording the 3-D Secure answer failed");
            return Err(AcsRefusal::Internal);
        }
    }
    tracing::info!(acs_id = %session.id, state = %state, "3-D Secure challenge answered");
    Ok((session, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use epay_store::TokenSpend;

    fn session() -> ThreeDsSession {
        ThreeDsSession {
            id: "0b0c6ad2-7d7c-4a38-9d8e-6b1f8a3b3c01".into(),
            payment_id: "p".into(),
            server_trans_id: "5e0c58c1-9b5f-4b9e-8a1e-2f7f0f6b9d02".into(),
            token_digest: "t".into(),
            pan_ciphertext: "sealed".into(),
            expiry_mmyy: "1230".into(),
            save_card: false,
            receiver_pan_ciphertext: None,
            receiver_expiry_mmyy: String::new(),
            save_receiver: false,
            token_spend: TokenSpend::Always,
            state: ThreeDsState::Pending,
            reason_code: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_messages_name_their_challenge() {
        let s = session();
        assert_eq!(acs_trans_id(&pa_req(&s)).as_deref(), Some(s.id.as_str()));
        assert_eq!(acs_trans_id(&pa_res(&s, true)).as_deref(), Some(s.id.as_str()));
        assert_eq!(server_trans_id(&md(&s)).as_deref(), Some(s.server_trans_id.as_str()));
        let secure = secure3d(&s, "https://gw/acs/challenge");
        assert_eq!((secure.pa_req, secure.md, secure.action), (pa_req(&s), md(&s), "https://gw/acs/challenge".into()));
        // A browser form may turn `+` into a space: still read.
        assert_eq!(server_trans_id(&md(&s).replace('+', " ")).as_deref(), Some(s.server_trans_id.as_str()));
        assert_eq!(server_trans_id("not base64 of a uuid"), None);
        assert_eq!(acs_trans_id("e30"), None, "{{}} names no challenge");
    }

    #[test]
    fn a_pa_res_carries_the_outcome() {
        let s = session();
        let status = |passed| b64_json(&pa_res(&s, passed)).and_then(|v| v["transStatus"].as_str().map(String::from));
        assert_eq!(status(true).as_deref(), Some("Y"));
        assert_eq!(status(false).as_deref(), Some("N"));
    }

    #[test]
    fn the_verdict_passes_only_the_expected_code() {
        assert_eq!(verdict("123456", " 123456 ", false), (ThreeDsState::Passed, ReasonCode::SUCCESS));
        assert_eq!(verdict("123456", "654321", false), (ThreeDsState::Failed, ReasonCode::THREE_DS_FAILED));
        assert_eq!(verdict("123456", "", false), (ThreeDsState::Failed, ReasonCode::THREE_DS_FAILED));
        // Cancelling wins over a right code.
        assert_eq!(verdict("123456", "123456", true), (ThreeDsState::Cancelled, ReasonCode::THREE_DS_CODE_WRONG));
    }
}
