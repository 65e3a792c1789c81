//! Pure domain rules of the ePay gateway. Nothing here does I/O: every type is a validated
//! value (`parse` at the edge, so a bad value cannot travel further) or a pure rule.

pub mod amount_json;
pub mod attempts;
pub mod card;
pub mod ids;
pub mod invoice;
pub mod money;
pub mod reason;
pub mod secret;
pub mod status;

pub use attempts::{InvoiceAttempts, MaxAttempts};
pub use card::{CardBrand, Cvc, Expiry, Pan};
pub use invoice::{Description, InvoiceId};
pub use money::{Amount, Currency, FxRate, MoneyError};
pub use reason::ReasonCode;
pub use secret::{DatabaseUrl, Secret};
pub use status::{ResultCode, TxStatus};
