//! Tests' SQLite store: a migrated database file of its own, with merchant `m1` and its terminal
//! `t1`, as the store's own tests of SQLite paths need.

use epay_domain::Secret;

use super::SqlStore;
use crate::model::{Merchant, NewCallback, Payment, Terminal};
use crate::ports::{DatabasePort, MerchantsPort};

/// A new SQLite file in the temporary directory (named after `what`), migrated, with merchant
/// `m1` (client id `what`) and terminal `t1`.
pub(crate) async fn sqlite_file_store(what: &str) -> SqlStore<sqlx::Sqlite> {
    let path = std::env::temp_dir().join(format!("epay-{what}-{}.sqlite", uuid::Uuid::new_v4().simple()));
    let store = SqlStore::<sqlx::Sqlite>::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    store.migrate().await.unwrap();
    let merchant = Merchant {
        id: "m1".into(),
        name: what.into(),
        client_id: what.into(),
        secret_digest: Secret::from("digest".to_string()),
        webhook_secret: Secret::from("whsec".to_string()),
        token_generation: 1,
    };
    let terminal =
        Terminal { id: "t1".into(), merchant_id: "m1".into(), pos_id: "00000001".into(), ..Default::default() };
    store.upsert_merchant(&merchant, &[terminal]).await.unwrap();
    store
}

/// A payment write's callback builder that sends none.
pub(crate) fn no_callback(_: &Payment) -> Option<NewCallback> {
    None
}
