//! 3-D Secure (seed 003, facts §7), the part payments and transfers share: whether a card is
//! challenged, opening the challenge for a card about to be recorded in `3D` and its `secure3D`
//! answer (the messages themselves are `wire::three_ds`), and the simulated issuer's ACS (its
//! one-time code, its verdict, showing and answering a challenge). Ending a waiting payment or transfer is `three_ds_confirm`'s job, which calls the
//! payment and transfer services; this module calls neither, so both may call it.

use epay_domain::{ids, Amount, ReasonCode, ThreeDsState};
use epay_network::Authorization;
use epay_store::{Payment, Terminal, ThreeDsSession, TokenRecord};

use crate::app::App;
use crate::wire::three_ds::{self as messages, AcsTransId, ServerTransId};
use crate::wire::Secure3D;

/// The one-time code the simulated ACS accepts in sandbox mode (documented in
/// docs/test-cards.md). Production has no fixed code: see [`one_time_code`].
pub const SANDBOX_CODE: &str = "123456";

/// Wrong one-time codes a challenge takes: the third fails it (473), as issuers' ACSs allow a
/// few tries for a mistyped code (docs/security.md, "3-D Secure code attempts"). Counted in the
/// store (`wrong_three_ds_code`), so parallel answers cannot add tries.
pub const CODE_ATTEMPTS: i32 = 3;

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
        code_failures: 0,
    }
}

/// Whether a payment or transfer on `terminal` is challenged: a 3-D Secure terminal challenges
/// an enrolled card the network approved, before any money moves (seed 003). A declined card is
/// not challenged: its decline is the answer.
pub fn challenges(terminal: &Terminal, authorization: &Authorization) -> bool {
    terminal.three_ds && matches!(authorization, Authorization::Approved { three_ds_enrolled: true, .. })
}

/// The `secure3D` object of a `3D` answer: what the merchant's page posts to the ACS.
pub fn secure3d(s: &ThreeDsSession, acs_url: &str) -> Secure3D {
    Secure3D {
        pa_req: messages::pa_req(&s.server_trans_id, &s.id),
        md: messages::md(&s.server_trans_id),
        action: acs_url.to_string(),
    }
}

/// What the shopper did on the ACS's challenge page.
#[derive(Clone, PartialEq, Eq)]
pub enum ShopperAnswer {
    /// Entered this one-time code and submitted it.
    Code(String),
    /// Pressed Cancel (whatever the code field held).
    Cancel,
}

/// The code is the shopper's secret: never printed.
impl std::fmt::Debug for ShopperAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ShopperAnswer::Code(_) => "Code(…)",
            ShopperAnswer::Cancel => "Cancel",
        })
    }
}

/// The ACS's verdict on the shopper's answer to a challenge expecting `expected`.
pub fn verdict(expected: &str, answer: &ShopperAnswer) -> (ThreeDsState, ReasonCode) {
    match answer {
        ShopperAnswer::Cancel => (ThreeDsState::Cancelled, ReasonCode::THREE_DS_CODE_WRONG),
        ShopperAnswer::Code(code) if crate::platform::keys::digests_equal(code.trim(), expected) => {
            (ThreeDsState::Passed, ReasonCode::SUCCESS)
        }
        ShopperAnswer::Code(_) => (ThreeDsState::Failed, ReasonCode::THREE_DS_FAILED),
    }
}

/// A challenge the ACS shows: the waiting session and what the shopper is asked to approve.
pub struct Challenge {
    pub session: ThreeDsSession,
    pub merchant_name: String,
    pub amount: Amount,
    pub currency: String,
    pub card_mask: String,
    /// The payment's `language` as its request gave it: the ACS speaks to the shopper in it.
    pub language: String,
    /// Codes the shopper may still try.
    pub attempts_left: i32,
}

/// Why the ACS refuses a form. The ACS page words each one (`edge::page::acs`).
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

/// What the merchant's page posts to the ACS: the challenge its `PaReq` names, and its `MD`
/// (`None` when the MD is no 3DS Server id at all).
#[derive(Debug, Clone)]
pub struct ShowChallenge {
    pub challenge: AcsTransId,
    pub md: Option<ServerTransId>,
}

/// What the ACS's challenge page posts back: the challenge, its `MD`, and the shopper's answer.
#[derive(Debug, Clone)]
pub struct AnswerChallenge {
    pub challenge: AcsTransId,
    pub md: Option<ServerTransId>,
    pub answer: ShopperAnswer,
}

/// Whether `md` is the MD of `session`.
fn md_matches(md: Option<&ServerTransId>, session: &ThreeDsSession) -> bool {
    md.is_some_and(|md| md.as_str() == session.server_trans_id)
}

/// The challenge a merchant's page posted to the ACS, if it is one this ACS still waits an
/// answer to. In production the one-time code is "sent" (logged) here. The challenge page's
/// "send the code again" comes here too: the code is sent again, and the wrong codes already
/// answered still count (a new code gives no new tries).
pub async fn challenge(app: &App, form: ShowChallenge) -> Result<Challenge, AcsRefusal> {
    let session = match app.store.three_ds_session(form.challenge.as_str()).await {
        Ok(Some(s)) => s,
        _ => return Err(AcsRefusal::UnknownRequest),
    };
    if !md_matches(form.md.as_ref(), &session) {
        return Err(AcsRefusal::MdMismatch);
    }
    let challenge = waiting(app, session).await?;
    if app.config.mode == crate::platform::config::Mode::Production {
        // The simulated issuer's "SMS": a real ACS sends the code to the card holder's phone.
        let code = one_time_code(&app.keys, &challenge.session.id);
        let payment_id = &challenge.session.payment_id;
        tracing::info!(acs_id = %challenge.session.id, %payment_id, code = %code, "3-D Secure one-time code");
    }
    Ok(challenge)
}

/// What the ACS shows for a challenge that still waits for its answer.
async fn waiting(app: &App, session: ThreeDsSession) -> Result<Challenge, AcsRefusal> {
    if !session.state.can_be_answered() {
        return Err(AcsRefusal::AlreadyAnswered);
    }
    let Ok(Some(payment)) = app.store.payment_by_id(&session.payment_id).await else {
        return Err(AcsRefusal::TransactionNotFound);
    };
    let merchant_name =
        app.store.merchant(&payment.merchant_id).await.ok().flatten().map(|m| m.name).unwrap_or_default();
    Ok(Challenge {
        attempts_left: (CODE_ATTEMPTS - session.code_failures).max(0),
        session,
        merchant_name,
        amount: Amount::from_minor(payment.amount_minor).unwrap_or_default(),
        currency: payment.currency,
        card_mask: payment.card_mask,
        language: payment.language,
    })
}

/// The ACS's reply to an answer.
pub enum Answered {
    /// The challenge is over (passed, failed or cancelled): its `PaRes` goes back to TermUrl.
    Over { session: ThreeDsSession, state: ThreeDsState },
    /// A wrong code with tries left: the challenge again.
    TryAgain(Challenge),
}

/// The shopper's answer to a challenge. A wrong code is counted, and the challenge shown again
/// until the [`CODE_ATTEMPTS`]-th fails it; a verdict is recorded once, and the session and its
/// new state returned for the `PaRes`.
pub async fn answer(app: &App, form: AnswerChallenge) -> Result<Answered, AcsRefusal> {
    let session = match app.store.three_ds_session(form.challenge.as_str()).await {
        Ok(Some(s)) if md_matches(form.md.as_ref(), &s) => s,
        _ => return Err(AcsRefusal::UnknownChallenge),
    };
    let internal = |e: epay_store::StoreError| {
        tracing::error!(error = %e, "recording the 3-D Secure answer failed");
        AcsRefusal::Internal
    };
    let now = app.clock.now_ms();
    let (state, reason) = verdict(&expected_code(app, &session.id), &form.answer);
    if state == ThreeDsState::Failed {
        let counted = app.store.wrong_three_ds_code(&session.id, CODE_ATTEMPTS, reason.code, now).await;
        match counted.map_err(internal)? {
            None => return Err(AcsRefusal::AlreadyAnswered),
            Some(wrong) if !wrong.failed => {
                let session = ThreeDsSession { code_failures: wrong.failures, ..session };
                tracing::info!(acs_id = %session.id, failures = wrong.failures, "3-D Secure code wrong");
                return waiting(app, session).await.map(Answered::TryAgain);
            }
            Some(_) => {}
        }
    } else if !app.store.answer_three_ds(&session.id, state, reason.code, now).await.map_err(internal)? {
        return Err(AcsRefusal::AlreadyAnswered);
    }
    tracing::info!(acs_id = %session.id, state = %state, "3-D Secure challenge answered");
    Ok(Answered::Over { session, state })
}

#[cfg(test)]
/// The challenge without a server: the decision, the session, and the ACS showing and answering
/// it, against the in-memory gateway whose clock stands at `NOW`.
mod tests {
    use epay_domain::{Currency, Expiry, TxStatus};
    use epay_network::AuthRequest;

    use super::*;
    use crate::platform::clock::year_month;
    use crate::platform::test_merchant::{PAYMENT_TERMINAL, THREE_DS_TERMINAL};
    use crate::testing::{challenged, ENROLLED_CARD, GOOD_CARD, NOW};

    /// What the simulated network answers for `card` (100 KZT, no CVC asked).
    fn authorize(app: &App, (pan, expiry, _): (&str, &str, &str)) -> Authorization {
        let pan = epay_domain::Pan::parse(pan).unwrap();
        app.network.authorize(&AuthRequest {
            pan: &pan,
            expiry: Expiry::parse(expiry).ok(),
            cvc: None,
            amount: Amount::from_minor(10_000).unwrap(),
            currency: Currency::Kzt,
            today: year_month(NOW),
        })
    }

    #[tokio::test]
    async fn only_a_three_ds_terminal_challenges_and_only_an_enrolled_approved_card() {
        let app = App::for_tests(NOW).await;
        let secure = app.store.terminal(THREE_DS_TERMINAL).await.unwrap().unwrap();
        let plain = app.store.terminal(PAYMENT_TERMINAL).await.unwrap().unwrap();
        let enrolled = authorize(&app, ENROLLED_CARD);
        assert!(matches!(enrolled, Authorization::Approved { three_ds_enrolled: true, .. }), "{enrolled:?}");
        assert!(challenges(&secure, &enrolled));
        assert!(!challenges(&plain, &enrolled), "a terminal without 3-D Secure never challenges");
        assert!(!challenges(&secure, &authorize(&app, GOOD_CARD)), "a card not enrolled pays without a challenge");
        // A decline is the answer: nothing to challenge.
        let declined = Authorization::Declined { reason: ReasonCode::INSUFFICIENT_FUNDS, issuer: String::new() };
        assert!(!challenges(&secure, &declined));
    }

    #[tokio::test]
    async fn a_new_challenge_seals_the_card_and_waits_for_the_shopper() {
        let app = App::for_tests(NOW).await;
        let c = challenged(&app, "000101").await;
        let s = &c.session;
        assert_eq!(c.payment.status, TxStatus::ThreeD);
        assert_eq!((s.payment_id.as_str(), s.state, s.reason_code), (c.payment.id.as_str(), ThreeDsState::Pending, 0));
        assert_eq!((s.created_at, s.updated_at), (NOW, NOW), "opened at the gateway clock's time");
        assert_eq!(s.token_digest, c.token.record().token_digest, "the confirm must present the payment's token");
        assert!(!s.pan_ciphertext.contains(ENROLLED_CARD.0), "the card number is sealed");
        assert_eq!(
            app.open_pan(&s.pan_ciphertext).await.map(|p| p.expose().to_string()).as_deref(),
            Some(ENROLLED_CARD.0)
        );
        assert_eq!(s.expiry_mmyy, "1230");
        assert_ne!(s.id, s.server_trans_id, "the ACS's id and the 3DS Server's id differ");
        // The `3D` answer's messages name this challenge.
        let secure = secure3d(s, "https://gw/acs/challenge");
        assert_eq!(AcsTransId::named_by(&secure.pa_req).as_ref().map(AcsTransId::as_str), Some(s.id.as_str()));
        assert_eq!(
            ServerTransId::from_md(&secure.md).as_ref().map(ServerTransId::as_str),
            Some(s.server_trans_id.as_str())
        );
        assert_eq!(secure.action, "https://gw/acs/challenge");
    }

    fn show(s: &ThreeDsSession, md: Option<&str>) -> ShowChallenge {
        ShowChallenge {
            challenge: AcsTransId::parse(&s.id).unwrap(),
            md: md.map(|m| ServerTransId::from_md(&crate::wire::three_ds::md(m)).unwrap()),
        }
    }

    fn answered(s: &ThreeDsSession, answer: ShopperAnswer) -> AnswerChallenge {
        let md = ServerTransId::from_md(&crate::wire::three_ds::md(&s.server_trans_id));
        AnswerChallenge { challenge: AcsTransId::parse(&s.id).unwrap(), md, answer }
    }

    #[tokio::test]
    async fn the_acs_shows_a_waiting_challenge_and_records_one_answer() {
        let app = App::for_tests(NOW).await;
        let c = challenged(&app, "000102").await;
        let other = challenged(&app, "000103").await;
        let s = &c.session;
        let shown = challenge(&app, show(s, Some(&s.server_trans_id))).await.expect("shown");
        assert_eq!(shown.session.id, s.id);
        assert_eq!((shown.amount.minor(), shown.currency.as_str()), (10_000, "KZT"));
        assert_eq!(shown.card_mask, c.payment.card_mask);
        assert!(!shown.merchant_name.is_empty());
        assert_eq!(challenge(&app, show(s, None)).await.err(), Some(AcsRefusal::MdMismatch));
        assert_eq!(
            challenge(&app, show(s, Some(&other.session.server_trans_id))).await.err(),
            Some(AcsRefusal::MdMismatch),
            "another challenge's MD"
        );
        let unknown = ShowChallenge { challenge: AcsTransId::parse(&ids::uuid()).unwrap(), md: None };
        assert_eq!(challenge(&app, unknown).await.err(), Some(AcsRefusal::UnknownRequest));

        // An answer with another challenge's MD is no answer.
        let foreign = AnswerChallenge {
            md: show(s, Some(&other.session.server_trans_id)).md,
            ..answered(s, ShopperAnswer::Cancel)
        };
        assert_eq!(answer(&app, foreign).await.err(), Some(AcsRefusal::UnknownChallenge));
        let Ok(Answered::Over { session, state }) =
            answer(&app, answered(s, ShopperAnswer::Code(" 123456 ".into()))).await
        else {
            panic!("the right code ends the challenge")
        };
        assert_eq!((session.id.as_str(), state), (s.id.as_str(), ThreeDsState::Passed));
        let stored = app.store.three_ds_session(&s.id).await.unwrap().unwrap();
        assert_eq!((stored.state, stored.reason_code, stored.updated_at), (ThreeDsState::Passed, 0, NOW));
        // Answered once: neither shown nor answered again, and the verdict stands.
        assert_eq!(answer(&app, answered(s, ShopperAnswer::Cancel)).await.err(), Some(AcsRefusal::AlreadyAnswered));
        assert_eq!(challenge(&app, show(s, Some(&s.server_trans_id))).await.err(), Some(AcsRefusal::AlreadyAnswered));
        assert_eq!(app.store.three_ds_session(&s.id).await.unwrap().unwrap().state, ThreeDsState::Passed);
        // The other challenge is unaffected by all this.
        assert_eq!(app.store.three_ds_session(&other.session.id).await.unwrap().unwrap().state, ThreeDsState::Pending);
    }

    #[tokio::test]
    async fn a_wrong_code_may_be_retried_until_the_third_fails_the_challenge() {
        let app = App::for_tests(NOW).await;
        let wrong = || ShopperAnswer::Code("000000".into());
        let c = challenged(&app, "000111").await;
        let s = &c.session;
        assert_eq!(challenge(&app, show(s, Some(&s.server_trans_id))).await.unwrap().attempts_left, CODE_ATTEMPTS);
        for left in [2, 1] {
            let Ok(Answered::TryAgain(again)) = answer(&app, answered(s, wrong())).await else { panic!("try again") };
            assert_eq!((again.attempts_left, again.session.code_failures), (left, CODE_ATTEMPTS - left));
        }
        // Sending the code again gives no new tries.
        assert_eq!(challenge(&app, show(s, Some(&s.server_trans_id))).await.unwrap().attempts_left, 1);
        let Ok(Answered::Over { state, .. }) = answer(&app, answered(s, wrong())).await else { panic!("over") };
        assert_eq!(state, ThreeDsState::Failed);
        let stored = app.store.three_ds_session(&s.id).await.unwrap().unwrap();
        assert_eq!((stored.state, stored.reason_code, stored.code_failures), (ThreeDsState::Failed, 473, 3));
        let right = answer(&app, answered(s, ShopperAnswer::Code(SANDBOX_CODE.into()))).await;
        assert_eq!(right.err(), Some(AcsRefusal::AlreadyAnswered), "the right code comes too late");

        // Wrong codes sent at once are counted one by one: two more tries, one failure, and
        // every other answer finds the challenge over.
        let c = challenged(&app, "000112").await;
        let one = || answer(&app, answered(&c.session, wrong()));
        let (a, b, c2, d, e, f) = tokio::join!(one(), one(), one(), one(), one(), one());
        let replies = [a, b, c2, d, e, f];
        let count = |f: fn(&Result<Answered, AcsRefusal>) -> bool| replies.iter().filter(|r| f(r)).count();
        assert_eq!(count(|r| matches!(r, Ok(Answered::TryAgain(_)))), 2);
        assert_eq!(count(|r| matches!(r, Ok(Answered::Over { state: ThreeDsState::Failed, .. }))), 1);
        assert_eq!(count(|r| matches!(r, Err(AcsRefusal::AlreadyAnswered))), 3);
        assert_eq!(app.store.three_ds_session(&c.session.id).await.unwrap().unwrap().code_failures, 3);
    }

    #[test]
    fn the_verdict_passes_only_the_expected_code() {
        let code = |c: &str| ShopperAnswer::Code(c.into());
        assert_eq!(verdict("123456", &code(" 123456 ")), (ThreeDsState::Passed, ReasonCode::SUCCESS));
        assert_eq!(verdict("123456", &code("654321")), (ThreeDsState::Failed, ReasonCode::THREE_DS_FAILED));
        assert_eq!(verdict("123456", &code("")), (ThreeDsState::Failed, ReasonCode::THREE_DS_FAILED));
        assert_eq!(
            verdict("123456", &ShopperAnswer::Cancel),
            (ThreeDsState::Cancelled, ReasonCode::THREE_DS_CODE_WRONG)
        );
        assert_eq!(format!("{:?}", code("123456")), "Code(…)", "the code is never printed");
    }

    #[tokio::test]
    async fn production_codes_differ_per_challenge_and_are_six_digits() {
        let app = App::for_tests(NOW).await;
        let keys = &app.keys;
        let (a, b) = (one_time_code(keys, "a"), one_time_code(keys, "b"));
        assert!(a.len() == 6 && a.bytes().all(|d| d.is_ascii_digit()), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, one_time_code(keys, "a"), "nothing to store: the same challenge gets the same code");
    }
}
