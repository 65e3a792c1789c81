//! Sandbox seed data: the public ePay test merchant and its terminals (facts §16).

use epay_store::{Merchant, Store, StoreResult, Terminal};

use crate::platform::keys::{secret_digest, Keys, Sealing};
use crate::runtime::start::StartError;
use crate::services::admin::{new_client_secret, new_sealed_webhook_secret, AdminError};

pub use crate::platform::test_merchant::{
    ONE_STEP_TERMINAL, P2P_TERMINAL, PAYMENT_TERMINAL, PAYOUT_TERMINAL, TEST_CLIENT_ID, TEST_CLIENT_SECRET,
    TEST_MERCHANT_ID, TEST_WEBHOOK_SECRET, THREE_DS_TERMINAL,
};

/// The hold period the seeded terminals get: every new terminal's default.
pub use crate::services::admin::DEFAULT_HOLD_PERIOD_SECS;

/// The test merchant and its terminals. Its webhook secret is the public one in clear:
/// [`seed_sandbox`] seals it before writing.
pub fn test_merchant() -> (Merchant, Vec<Terminal>) {
    let merchant = Merchant {
        id: TEST_MERCHANT_ID.into(),
        name: "ePay test merchant".into(),
        client_id: TEST_CLIENT_ID.into(),
        secret_digest: secret_digest(TEST_CLIENT_SECRET),
        webhook_secret: TEST_WEBHOOK_SECRET.into(),
        token_generation: 0,
    };
    let terminal = |id: &str, pos: &str, name: &str, two_step: bool, transfers: bool| Terminal {
        id: id.into(),
        merchant_id: TEST_MERCHANT_ID.into(),
        pos_id: pos.into(),
        name: name.into(),
        two_step,
        three_ds: false,
        transfers_allowed: transfers,
        hold_period_secs: DEFAULT_HOLD_PERIOD_SECS,
        ..Terminal::default()
    };
    let terminals = vec![
        // Two-step like the public test terminal: seed 003 shows its payments ending in AUTH.
        // It makes transfers too: seed 001 lists it as the test terminal for P2P, and seed 002
        // requests its transfer token on it (docs/compatibility.md 54).
        terminal(PAYMENT_TERMINAL, "98120001", "Payments", true, true),
        // P2P fee: 1%, at least 95 tenge — seed 001's example shows fee 95 on a 100-tenge
        // transfer. At most 5,000,000 tenge of transfers a day.
        Terminal {
            fee_percent_bp: 100,
            fee_min_minor: 9_500,
            transfer_daily_limit_minor: 500_000_000,
            ..terminal(P2P_TERMINAL, "98120002", "P2P transfers", false, true)
        },
        terminal(PAYOUT_TERMINAL, "98120003", "Transfers and payouts", false, true),
        terminal(ONE_STEP_TERMINAL, "98120004", "One-step payments", false, false),
        three_ds_terminal(),
    ];
    (merchant, terminals)
}

/// The seeded 3-D Secure terminal: the payments terminal's settings with 3-D Secure on.
fn three_ds_terminal() -> Terminal {
    Terminal {
        id: THREE_DS_TERMINAL.into(),
        merchant_id: TEST_MERCHANT_ID.into(),
        pos_id: "98120005".into(),
        name: "3-D Secure payments".into(),
        two_step: true,
        three_ds: true,
        hold_period_secs: DEFAULT_HOLD_PERIOD_SECS,
        ..Terminal::default()
    }
}

/// Terminals added to the seed after databases were first seeded with it: a later start adds
/// each one that is missing, once; an existing one is left alone, so an operator's changes stay.
fn terminals_added_later() -> Vec<Terminal> {
    vec![three_ds_terminal()]
}

/// The payout terminal's opening balance in the sandbox (1,000,000 tenge), so OCT payouts work
/// before any money came in.
pub const PAYOUT_OPENING_BALANCE_MINOR: i64 = 100_000_000;

/// The test merchant's cabinet sign-in: ePay's public test cabinet account (facts §16).
pub const CABINET_EMAIL: &str = "epay@halykbank.kz";
pub const CABINET_PASSWORD: &str = "XZG1E@Mm";

/// Creates the test merchant on first start. Later starts leave it alone, so settings an
/// operator changed are kept; only a terminal added to the seed since (the 3-D Secure one) is
/// created when missing. Its cabinet user is created when missing (also in a sandbox database
/// from before the cabinet existed), and then left alone too.
pub async fn seed_sandbox(store: &dyn Store, keys: &Keys) -> Result<bool, StartError> {
    let created = if store.merchant_by_client_id(TEST_CLIENT_ID).await?.is_some() {
        for terminal in terminals_added_later() {
            // Two nodes starting at once may both write it: the same row, so no harm.
            if store.terminal(&terminal.id).await?.is_none() {
                store.upsert_terminal(&terminal).await?;
            }
        }
        false
    } else {
        let (mut merchant, terminals) = test_merchant();
        // Public, yet sealed like every merchant's: the database holds no signing secret in clear.
        let what = Sealing::WebhookSecret { merchant_id: &merchant.id };
        merchant.webhook_secret = keys.seal(what, TEST_WEBHOOK_SECRET)?.into();
        store.upsert_merchant(&merchant, &terminals).await?;
        true
    };
    if store.cabinet_user_by_email(CABINET_EMAIL).await?.is_none() {
        use crate::services::cabinet_users::{create_user, UserError};
        match create_user(store, TEST_MERCHANT_ID, CABINET_EMAIL, CABINET_PASSWORD, 0).await {
            // Exists: another node seeded it at the same moment.
            Ok(_) | Err(UserError::Exists) | Err(UserError::Invalid(_)) => {}
            Err(UserError::Store(e)) => return Err(e.into()),
        }
    }
    Ok(created)
}

/// What of the public sandbox data this database holds, described for an operator; `None` if
/// nothing. A production gateway refuses to start while anything is found: the test merchant's
/// client secret and the cabinet sign-in are published.
pub async fn public_sandbox_data(store: &dyn Store) -> StoreResult<Option<String>> {
    let merchant = store.merchant_by_client_id(TEST_CLIENT_ID).await?.is_some();
    let user = store.cabinet_user_by_email(CABINET_EMAIL).await?.is_some();
    let merchant_text = format!("the public sandbox merchant (client id {TEST_CLIENT_ID:?})");
    let user_text = format!("the public cabinet user {CABINET_EMAIL}");
    Ok(match (merchant, user) {
        (true, true) => Some(format!("{merchant_text} and {user_text}")),
        (true, false) => Some(merchant_text),
        (false, true) => Some(user_text),
        (false, false) => None,
    })
}

/// `epay sandbox purge`: removes the public sandbox merchant (client id `test`) and the public
/// cabinet user, so a data directory used in sandbox mode can serve production. A merchant with
/// transactions is refused unless `force`; forced, it is retired instead of deleted (its
/// transactions and ledger stay; its client id, secrets, tokens and cabinet users go; `keys`
/// seal its new webhook secret).
pub async fn purge_sandbox(
    store: &dyn Store,
    keys: &Keys,
    force: bool,
) -> Result<epay_store::PurgeOutcome, AdminError> {
    let merchant_id = match store.merchant_by_client_id(TEST_CLIENT_ID).await? {
        Some(m) => m.id,
        None => TEST_MERCHANT_ID.to_string(),
    };
    let retire_as = if force {
        // A client id and secrets nobody knows: the retired merchant can never sign in again.
        Some(epay_store::MerchantRetirement {
            client_id: format!("purged-{}", uuid::Uuid::new_v4().simple()),
            secret_digest: secret_digest(new_client_secret().expose()),
            webhook_secret: new_sealed_webhook_secret(keys, &merchant_id)?.1,
        })
    } else {
        None
    };
    let purge = epay_store::MerchantPurge { merchant_id, cabinet_email: CABINET_EMAIL.to_string(), retire_as };
    Ok(store.purge_merchant(&purge).await?)
}
