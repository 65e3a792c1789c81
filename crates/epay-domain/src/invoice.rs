//! Merchant order identifiers and descriptions.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    #[error("invoiceId must be 6 to 15 digits")]
    Format,
    #[error("order id must be 6 to 16 digits")]
    TransferFormat,
    #[error("description must be at most 125 bytes")]
    DescriptionTooLong,
}

/// The merchant's order number: 6 to 15 digits (facts §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InvoiceId(String);

impl InvoiceId {
    pub fn parse(text: &str) -> Result<Self, InvoiceError> {
        Self::parse_up_to(text, 15)
    }

    /// Transfer order ids may be one digit longer: seed 001's example is 16 digits.
    pub fn parse_transfer_order(text: &str) -> Result<Self, InvoiceError> {
        Self::parse_up_to(text, 16).map_err(|_| InvoiceError::TransferFormat)
    }

    fn parse_up_to(text: &str, max: usize) -> Result<Self, InvoiceError> {
        let t = text.trim();
        if !(6..=max).contains(&t.len()) || !t.chars().all(|c| c.is_ascii_digit()) {
            return Err(InvoiceError::Format);
        }
        Ok(InvoiceId(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvoiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Order description, at most 125 bytes of UTF-8 (facts §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub const MAX_BYTES: usize = 125;

    pub fn parse(text: &str) -> Result<Self, InvoiceError> {
        if text.len() > Self::MAX_BYTES {
            return Err(InvoiceError::DescriptionTooLong);
        }
        Ok(Description(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_rules() {
        assert!(InvoiceId::parse("000001").is_ok());
        assert!(InvoiceId::parse("123456789012345").is_ok());
        assert_eq!(InvoiceId::parse("12345"), Err(InvoiceError::Format));
        assert_eq!(InvoiceId::parse("1234567890123456"), Err(InvoiceError::Format));
        assert_eq!(InvoiceId::parse("12345a"), Err(InvoiceError::Format));
    }

    #[test]
    fn description_counts_bytes() {
        assert!(Description::parse(&"a".repeat(125)).is_ok());
        // 63 Cyrillic letters are 126 bytes.
        assert_eq!(Description::parse(&"я".repeat(63)), Err(InvoiceError::DescriptionTooLong));
    }
}
