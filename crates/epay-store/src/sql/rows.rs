//! How columns become the model's fields where the column's type is not the field's: each
//! wrapper below is the column as stored, and its conversion is the one way the store reads it
//! (`#[sqlx(try_from = "…")]` on the model's `FromRow`). A word that is not one of its enum's is
//! a decode error, never a guess.

use epay_domain::{
    AccountKind, CallbackKind, DeliveryStatus, LedgerTransferKind, MaxAttempts, PaymentKind, PaymentStep, Secret,
    ThreeDsState, TransferKind, TxStatus,
};

use crate::TokenSpend;

/// A text column holding one of a domain enum's words (a status, a kind, a state).
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct Word(String);

/// A domain enum stored as one of its words reads back through its `FromStr`: the same four
/// lines for each enum, which cannot be one generic impl (the standard library's blanket
/// `TryFrom` would overlap it), so the macro writes them.
macro_rules! stored_as_word {
    ($($enum:ty),+ $(,)?) => {$(
        impl TryFrom<Word> for $enum {
            type Error = epay_domain::Unknown;
            fn try_from(word: Word) -> Result<Self, Self::Error> {
                word.0.parse()
            }
        }
    )+};
}

stored_as_word!(
    TxStatus,
    PaymentKind,
    ThreeDsState,
    AccountKind,
    DeliveryStatus,
    LedgerTransferKind,
    CallbackKind,
    PaymentStep,
    epay_domain::Frequency,
    epay_domain::SubscriptionStatus,
    epay_domain::MessageKind,
    epay_domain::MessageChannel,
    epay_domain::MessageLanguage,
    epay_domain::MessageState,
);

/// A nullable text column holding one of [`TransferKind`]'s words (NULL: none).
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct MaybeWord(Option<String>);

impl TryFrom<MaybeWord> for Option<TransferKind> {
    type Error = epay_domain::Unknown;
    fn try_from(word: MaybeWord) -> Result<Self, Self::Error> {
        word.0.map(|text| text.parse()).transpose()
    }
}

/// A nullable text column holding a secret.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct MaybeSecret(Option<String>);

impl From<MaybeSecret> for Option<Secret> {
    fn from(text: MaybeSecret) -> Self {
        text.0.map(Secret::from)
    }
}

/// A list stored as one text column, its items separated by spaces.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct SpaceSeparated(String);

impl From<SpaceSeparated> for Vec<String> {
    fn from(text: SpaceSeparated) -> Self {
        text.0.split_whitespace().map(str::to_string).collect()
    }
}

/// A terminal's `max_attempts`. Written only through `MaxAttempts::parse`; anything else reads
/// as the default.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct AttemptLimit(i32);

impl From<AttemptLimit> for MaxAttempts {
    fn from(limit: AttemptLimit) -> Self {
        MaxAttempts::parse(limit.0.into()).unwrap_or_default()
    }
}

/// A 3-D Secure session's `keep_token_on_decline`.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct KeepTokenOnDecline(bool);

impl From<KeepTokenOnDecline> for TokenSpend {
    fn from(keep: KeepTokenOnDecline) -> Self {
        if keep.0 {
            TokenSpend::UnlessDeclined
        } else {
            TokenSpend::Always
        }
    }
}
