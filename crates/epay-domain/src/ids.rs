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

/// A UUID (version 7) whose first 48 bits are `now_ms` and whose other 74 bits are random, for
/// the rows a payment writes (its own id, and through it its ledger transfers, events and
/// callbacks). Ids made close in time sort close together, so a batch of payments inserts
/// into the same few leaf pages of each index keyed by them, where random ids put every
/// payment on a page of its own in each such index: pages the commit must write and sync
/// (docs/performance.md). No counter: two ids of one millisecond share nothing but the
/// time, so one id says nothing about another beyond when it was made. Not for anything that
/// is a secret or a capability (those keep 122 random bits: [`uuid`]).
pub fn time_ordered_uuid(now_ms: i64) -> String {
    let mut random = [0u8; 10];
    rand::thread_rng().fill(&mut random);
    let millis = u64::try_from(now_ms).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid().to_string()
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

    #[test]
    fn time_ordered_ids_sort_by_time_and_differ_within_a_millisecond() {
        let earlier = time_ordered_uuid(1_764_000_000_000);
        let later = time_ordered_uuid(1_764_000_000_001);
        assert!(earlier < later, "{earlier} sorts after {later}");
        let parsed = uuid::Uuid::parse_str(&earlier).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(parsed.get_timestamp().unwrap().to_unix(), (1_764_000_000, 0));
        // Same millisecond: distinct, with the same time prefix.
        let (a, b) = (time_ordered_uuid(1_764_000_000_000), time_ordered_uuid(1_764_000_000_000));
        assert_ne!(a, b);
        assert_eq!(a[..13], b[..13]);
        // A clock before 1970 (never expected) still makes an id.
        assert_eq!(uuid::Uuid::parse_str(&time_ordered_uuid(-5)).unwrap().get_version_num(), 7);
    }
}
