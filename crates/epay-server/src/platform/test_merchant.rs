//! The sandbox's public test merchant: ePay's published test credentials and terminal ids
//! (facts §16) and the few terminals of our own beside them. `runtime::seed` writes them; the
//! demo shop and the OpenAPI examples show them.

pub const TEST_CLIENT_ID: &str = "test";
pub const TEST_CLIENT_SECRET: &str = "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG";
/// The sandbox test merchant's callback signing secret: fixed and public (docs/callbacks.md), so
/// a developer can verify signatures locally. Real merchants get a random one.
pub const TEST_WEBHOOK_SECRET: &str = "whsec_ZXBheS10ZXN0LW1lcmNoYW50LXdlYmhvb2stc2VjcmV0";
pub const TEST_MERCHANT_ID: &str = "7b1c3a52-5e0b-4c59-9a43-2f1e7b0c0001";
pub const PAYMENT_TERMINAL: &str = "67e34d63-102f-4bd1-898e-370781d0074d";
pub const P2P_TERMINAL: &str = "40a348cb-68a3-45d5-9002-a4836d79c3b5";
pub const PAYOUT_TERMINAL: &str = "c36b282f-6819-4d4f-85df-a4bdc8a8f703";
/// A one-step payments terminal (pay → CHARGE at once). The public test merchant has only a
/// two-step payments terminal; this one lets a sandbox user try a one-step integration, and it
/// is the terminal of `epay bench`'s saved-card flow. Not one of ePay's public ids.
pub const ONE_STEP_TERMINAL: &str = "044e4bf0-442a-46fc-9cfb-22652415af5f";
/// A two-step payments terminal with 3-D Secure on, so that seed 003's `3D` answer is seen out
/// of the box: the enrolled test card (`4000000000003220`) is challenged here. ePay publishes
/// no 3-D Secure terminal; this id is ours (docs/test-cards.md).
pub const THREE_DS_TERMINAL: &str = "3d5ec0de-5eed-4000-8000-000000000005";
