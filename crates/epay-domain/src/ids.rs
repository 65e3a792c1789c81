//! Identifiers in ePay's observed formats: `reference` 12 digits, `intReference` 16 upper hex,
//! `approvalCode` 6 digits, POS terminal 8 digits, access tokens 22 chars of `[A-Z0-9_-]`.

use rand::Rng;

pub fn reference() -> String {
    digits(12)
}

pub fn approval_code() -> String {
    digits(6)
}

pub fn int_reference() -> String {
    let mut rng = rand::thread_rng();
    (0..16).map(|_| char::from(b"0123456789ABCDEF"[rng.gen_range(0..16)])).collect()
}

/// An opaque access token shaped like ePay's (`DCEB8O_ZM5U7SO_T_U5EJQ`): 22 characters from a
/// 38-symbol alphabet, about 115 bits of entropy from the OS-seeded CSPRNG.
pub fn access_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    let mut rng = rand::thread_rng();
    (0..22).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

/// The first 9 digits of a subscription's period invoices (a period's invoice adds its number
/// in 3 digits: 12 digits in all). It starts with 9, as no test invoice of ours does.
pub fn subscription_invoice_prefix() -> String {
    format!("9{}", digits(8))
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn digits(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(reference().len() == 12 && reference().chars().all(|c| c.is_ascii_digit()));
        assert!(approval_code().len() == 6);
        let r = int_reference();
        assert!(r.len() == 16 && r.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        let t = access_token();
        assert_eq!(t.len(), 22);
        assert_ne!(access_token(), access_token());
    }
}
