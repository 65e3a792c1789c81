//! A database error the store makes itself, read by its callers like one sqlx answered: a
//! batch's failed COMMIT told to every unit of it (`writer.rs`), and a statement's failure on the
//! write connection's handle (`inline_writes.rs`). A database error, not an I/O one, so neither
//! is taken for a lost connection (`lost.rs`).

use std::borrow::Cow;

use rusqlite::ffi;
use sqlx::error::{DatabaseError, ErrorKind};

#[derive(Debug)]
pub(crate) struct StoreDbError {
    /// SQLite's extended result code, when SQLite gave one.
    code: Option<i32>,
    message: String,
}

impl StoreDbError {
    /// A failure SQLite reported with `code` (extended), as sqlx-sqlite would report it.
    pub(crate) fn sqlite(code: i32, message: String) -> sqlx::Error {
        sqlx::Error::Database(Box::new(StoreDbError { code: Some(code), message }))
    }

    /// A failure of the store's own, with no code.
    pub(crate) fn own(message: String) -> sqlx::Error {
        sqlx::Error::Database(Box::new(StoreDbError { code: None, message }))
    }
}

impl std::fmt::Display for StoreDbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            // As sqlx-sqlite's errors read.
            Some(code) => write!(f, "(code: {code}) {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for StoreDbError {}

impl DatabaseError for StoreDbError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.map(|code| Cow::Owned(code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    /// As sqlx-sqlite reads SQLite's extended codes.
    fn kind(&self) -> ErrorKind {
        match self.code {
            Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => ErrorKind::UniqueViolation,
            Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(ffi::SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(ffi::SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}
