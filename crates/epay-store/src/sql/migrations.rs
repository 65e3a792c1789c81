//! The embedded migrations of each backend: `migrations/shared/` plus the backend's own
//! directory, listed by `build.rs`, each file's text exactly as written.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// A migrator over `files`, built as `sqlx::migrate!` builds one from a directory: the same
/// versions, descriptions and checksums (SHA-384 of the text), and a file whose first line is
/// `-- no-transaction` runs outside a transaction.
pub(super) fn migrator(files: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = files
        .iter()
        .map(|&(version, description, sql)| {
            let no_tx = sql.starts_with("-- no-transaction");
            Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), no_tx)
        })
        .collect();
    Migrator { migrations: Cow::Owned(migrations), ..Migrator::DEFAULT }
}

#[cfg(test)]
mod tests {
    use sqlx::{Postgres, Row, Sqlite};

    use super::super::Backend;

    /// `migrations/released.txt`: every migration as it was released, one line each: backend,
    /// version, description, SHA-384 of the file's text. sqlx refuses to migrate a database whose
    /// `_sqlx_migrations` holds another checksum for a version, so a released file must never
    /// change by one byte; this keeps existing databases migrating.
    fn released(backend: &str) -> Vec<(i64, String, String)> {
        include_str!("../../migrations/released.txt")
            .lines()
            .filter_map(|line| {
                let (name, rest) = line.split_once(' ')?;
                let (version, rest) = rest.split_once(' ')?;
                let (description, checksum) = rest.rsplit_once(' ')?;
                (name == backend).then(|| (version.parse().unwrap(), description.to_string(), checksum.to_string()))
            })
            .collect()
    }

    fn embedded<DB: Backend>() -> Vec<(i64, String, String)> {
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        DB::migrator().iter().map(|m| (m.version, m.description.to_string(), hex(&m.checksum))).collect()
    }

    fn assert_released_unchanged<DB: Backend>(backend: &str) {
        let released = released(backend);
        assert!(!released.is_empty(), "no released migrations listed for {backend}");
        let embedded = embedded::<DB>();
        assert_eq!(embedded[..released.len()], released[..], "{backend}: a released migration changed");
    }

    #[test]
    fn released_sqlite_migrations_are_unchanged() {
        assert_released_unchanged::<Sqlite>("sqlite");
    }

    #[test]
    fn released_postgres_migrations_are_unchanged() {
        assert_released_unchanged::<Postgres>("postgres");
    }

    /// Every write of a card payment fires a domain trigger (migrations 0015, 0016). Written with
    /// `NOT IN (…)`, each built an ephemeral table of its list whenever it ran, together about a
    /// tenth of a saved-card flow's instructions (migration 0026). SQLite's plan of each statement, its triggers'
    /// programs included, must open none.
    #[tokio::test]
    async fn the_domain_triggers_of_a_payments_writes_build_no_table() {
        let store = super::super::test_store::sqlite_file_store("trigger-lists").await;
        let writes = [
            "INSERT INTO payments (id, status, kind) VALUES ('p', 'NEW', 'payment')",
            "UPDATE payments SET status = 'AUTH' WHERE id = 'p'",
            "INSERT INTO payment_events (payment_id, operation, status) VALUES ('p', 'created', 'AUTH')",
            "INSERT INTO callback_events (id, kind, status) VALUES ('c', 'payment.success', 'pending')",
            "UPDATE ledger_accounts SET debits_posted = debits_posted + 1 WHERE id = 'a'",
            "INSERT INTO ledger_transfers (id, kind, amount_minor) VALUES ('t', 'posted', 1)",
            "INSERT INTO three_ds_sessions (id, state) VALUES ('s', 'pending')",
        ];
        for sql in writes {
            let plan = sqlx::query(&format!("EXPLAIN {sql}"))
                .fetch_all(&store.pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let opcodes: Vec<String> = plan.iter().map(|step| step.get("opcode")).collect();
            assert!(opcodes.len() > 10, "{sql}: not a plan: {opcodes:?}");
            assert!(!opcodes.iter().any(|opcode| opcode == "OpenEphemeral"), "{sql} builds a table");
        }
    }
}
