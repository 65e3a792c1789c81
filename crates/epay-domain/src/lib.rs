//! Pure domain rules of the ePay gateway. Nothing here does I/O: every type is a validated
//! value (`parse` at the edge, so a bad value cannot travel further) or a pure rule.

pub mod amount_json;
mod text_enum;

pub mod attempts;
pub mod callback;
pub mod card;
pub mod delivery;
pub mod ids;
pub mod invoice;
pub mod kind;
pub mod ledger;
pub mod message;
pub mod money;
pub mod operation;
pub mod posting;
pub mod reason;
pub mod scope;
pub mod secret;
pub mod status;
pub mod step;
pub mod subscription;
pub mod three_ds;
pub mod transition;

pub use attempts::{InvoiceAttempts, MaxAttempts};
pub use callback::CallbackKind;
pub use card::{CardBrand, Cvc, Expiry, Pan};
pub use delivery::DeliveryStatus;
pub use invoice::{Description, ExpirePeriod, InvoiceId, InvoiceLinkState};
pub use kind::{PaymentKind, TransferKind};
pub use ledger::{AccountKind, LedgerTransferKind};
pub use message::{MessageChannel, MessageKind, MessageLanguage, MessageState};
pub use money::{Amount, Currency, FxRate, MoneyError};
pub use operation::{refund_meets_minimum, Operation, MIN_REFUND_MINOR};
pub use reason::ReasonCode;
pub use scope::Scope;
pub use secret::{DatabaseUrl, Secret};
pub use status::{ResultCode, TxStatus};
pub use step::PaymentStep;
pub use subscription::{Frequency, SubscriptionStatus};
pub use text_enum::Unknown;
pub use three_ds::ThreeDsState;
pub use transition::PaymentState;
