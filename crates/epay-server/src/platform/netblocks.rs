//! Which IP addresses a callback may never be sent to in production: every block of IANA's
//! special-purpose address registries (IPv4: RFC 6890 and updates; IPv6: RFC 6890, 8215, 9602,
//! 9637, 9780), multicast, and for IPv6 everything outside global unicast (2000::/3).
//!
//! Addresses that carry an IPv4 address inside an IPv6 one (IPv4-mapped, IPv4-translated,
//! NAT64 well-known prefix, 6to4, Teredo) reach that IPv4 host, so they are judged by it. The
//! deprecated IPv4-compatible block (::/96) and the local-use NAT64 prefix are refused whole:
//! nothing public is reached through them.
//!
//! Sources: iana.org/assignments/iana-ipv4-special-registry and iana-ipv6-special-registry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address block: its first address and prefix length, and why it is special.
struct Block<A> {
    start: A,
    len: u8,
    name: &'static str,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, name: &'static str) -> Block<Ipv4Addr> {
    Block { start: Ipv4Addr::new(a, b, c, d), len, name }
}

const fn v6(s: [u16; 8], len: u8, name: &'static str) -> Block<Ipv6Addr> {
    Block { start: Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]), len, name }
}

/// IANA IPv4 special-purpose registry, plus multicast (224.0.0.0/4, its own registry).
const IPV4_SPECIAL: &[Block<Ipv4Addr>] = &[
    v4(0, 0, 0, 0, 8, "this network"),
    v4(10, 0, 0, 0, 8, "private-use"),
    v4(100, 64, 0, 0, 10, "shared address space (carrier-grade NAT)"),
    v4(127, 0, 0, 0, 8, "loopback"),
    v4(169, 254, 0, 0, 16, "link-local (cloud metadata)"),
    v4(172, 16, 0, 0, 12, "private-use"),
    v4(192, 0, 0, 0, 24, "IETF protocol assignments (DS-Lite, PCP, TURN, NAT64 discovery)"),
    v4(192, 0, 2, 0, 24, "documentation (TEST-NET-1)"),
    v4(192, 31, 196, 0, 24, "AS112-v4"),
    v4(192, 52, 193, 0, 24, "AMT"),
    v4(192, 88, 99, 0, 24, "deprecated 6to4 relay anycast"),
    v4(192, 168, 0, 0, 16, "private-use"),
    v4(192, 175, 48, 0, 24, "direct delegation AS112 service"),
    v4(198, 18, 0, 0, 15, "benchmarking"),
    v4(198, 51, 100, 0, 24, "documentation (TEST-NET-2)"),
    v4(203, 0, 113, 0, 24, "documentation (TEST-NET-3)"),
    v4(224, 0, 0, 0, 4, "multicast"),
    // Before 240.0.0.0/4, which holds it: the narrower block names it.
    v4(255, 255, 255, 255, 32, "limited broadcast"),
    v4(240, 0, 0, 0, 4, "reserved"),
];

/// IANA IPv6 special-purpose registry, plus the blocks outside global unicast. The embedding
/// prefixes (IPv4-mapped, -translated, NAT64, 6to4, Teredo) are handled by `embedded_ipv4`
/// before this table is consulted.
const IPV6_SPECIAL: &[Block<Ipv6Addr>] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible (deprecated)"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use IPv4/IPv6 translation (NAT64)"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, "dummy IPv6 prefix"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "IETF protocol assignments (PCP, TURN, AMT, AS112, ORCHID)"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, "direct delegation AS112 service"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "segment routing (SRv6) SIDs"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
];

fn in_v4(ip: Ipv4Addr, block: &Block<Ipv4Addr>) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(block.len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(block.start) & mask
}

fn in_v6(ip: Ipv6Addr, block: &Block<Ipv6Addr>) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(block.len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(block.start) & mask
}

/// The IPv4 address an IPv6 address delivers to, where it embeds one: IPv4-mapped
/// (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96), the NAT64 well-known prefix
/// (64:ff9b::/96), 6to4 (2002::/16, bits 16-47) and Teredo (2001::/32: the server in bits
/// 32-63 and the client, inverted, in the last 32 bits; both must be acceptable).
fn embedded_ipv4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    let s = ip.segments();
    let prefix96 = bits >> 32;
    if prefix96 == 0xffff || prefix96 == 0xffff_0000 || prefix96 == 0x0064_ff9b_0000_0000_0000_0000 {
        vec![low32]
    } else if s[0] == 0x2002 {
        vec![Ipv4Addr::from((bits >> 80) as u32)]
    } else if s[0] == 0x2001 && s[1] == 0 {
        vec![Ipv4Addr::from((bits >> 64) as u32), Ipv4Addr::from(!(bits as u32))]
    } else {
        Vec::new()
    }
}

/// Why `ip` is not a public unicast address a callback may go to, or `None` when it is one.
pub fn special_purpose(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => IPV4_SPECIAL.iter().find(|b| in_v4(ip, b)).map(|b| b.name),
        IpAddr::V6(ip) => {
            let embedded = embedded_ipv4(ip);
            if !embedded.is_empty() {
                return embedded.into_iter().find_map(|v4| special_purpose(IpAddr::V4(v4)));
            }
            if let Some(block) = IPV6_SPECIAL.iter().find(|b| in_v6(ip, b)) {
                return Some(block.name);
            }
            // Only 2000::/3 is allocated for global unicast.
            (ip.segments()[0] & 0xe000 != 0x2000).then_some("outside global unicast (2000::/3)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn special(ip: &str) -> Option<&'static str> {
        special_purpose(ip.parse().unwrap())
    }

    /// Every block's first and last address is special (the first named by that block); the
    /// addresses just outside are not.
    #[test]
    fn every_ipv4_block_is_refused_at_both_ends() {
        for block in IPV4_SPECIAL {
            let first = u32::from(block.start);
            let last = first | u32::MAX.checked_shr(u32::from(block.len)).unwrap_or(0);
            assert_eq!(special_purpose(IpAddr::V4(first.into())), Some(block.name), "{}", Ipv4Addr::from(first));
            // The last address may belong to a narrower block inside (255.255.255.255).
            assert!(special_purpose(IpAddr::V4(last.into())).is_some(), "{}", Ipv4Addr::from(last));
        }
        for public in ["1.1.1.1", "8.8.8.8", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255"] {
            assert_eq!(special(public), None, "{public}");
        }
        for public in ["172.15.255.255", "172.32.0.0", "192.0.1.0", "198.17.255.255", "198.20.0.0", "223.255.255.255"] {
            assert_eq!(special(public), None, "{public}");
        }
    }

    #[test]
    fn every_ipv6_block_is_refused_at_both_ends() {
        for block in IPV6_SPECIAL {
            let first = u128::from(block.start);
            let last = first | u128::MAX.checked_shr(u32::from(block.len)).unwrap_or(0);
            for ip in [first, last] {
                let ip = Ipv6Addr::from(ip);
                assert!(special_purpose(IpAddr::V6(ip)).is_some(), "{ip} ({})", block.name);
            }
        }
        for public in ["2a00:1450:4001::1", "2606:4700::1111", "2001:200::1", "2003::1", "3ffe::1"] {
            assert_eq!(special(public), None, "{public}");
        }
        for outside in ["4000::1", "1::1", "8000::1", "e000::1"] {
            assert_eq!(special(outside), Some("outside global unicast (2000::/3)"), "{outside}");
        }
    }

    #[test]
    fn the_ranges_named_in_the_issue_are_refused() {
        assert_eq!(special("::127.0.0.1"), Some("IPv4-compatible (deprecated)"));
        assert_eq!(special("::8.8.8.8"), Some("IPv4-compatible (deprecated)"));
        assert_eq!(special("64:ff9b::127.0.0.1"), Some("loopback"));
        assert_eq!(special("64:ff9b::10.0.0.1"), Some("private-use"));
        assert_eq!(special("64:ff9b:1::8.8.8.8"), Some("local-use IPv4/IPv6 translation (NAT64)"));
        assert_eq!(special("2002:7f00:1::"), Some("loopback"), "6to4 of 127.0.0.1");
        assert_eq!(special("2002:a9fe:a9fe::1"), Some("link-local (cloud metadata)"), "6to4 of 169.254.169.254");
        assert_eq!(special("fec0::1"), Some("site-local (deprecated)"));
        assert_eq!(special("198.18.0.1"), Some("benchmarking"));
        assert_eq!(special("198.19.255.255"), Some("benchmarking"));
    }

    #[test]
    fn embedded_ipv4_decides_for_mapped_translated_nat64_6to4_and_teredo() {
        assert_eq!(special("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(special("::ffff:8.8.8.8"), None);
        assert_eq!(special("::ffff:0:10.1.2.3"), Some("private-use"), "IPv4-translated");
        assert_eq!(special("::ffff:0:8.8.8.8"), None);
        assert_eq!(special("64:ff9b::8.8.8.8"), None, "NAT64 to a public host reaches that host");
        assert_eq!(special("2002:808:808::1"), None, "6to4 of 8.8.8.8");
        // Teredo: server 65.54.227.120 (public), client 127.0.0.1 inverted = 0x80ff_fffe.
        assert_eq!(special("2001:0:4136:e378:8000:63bf:80ff:fffe"), Some("loopback"));
        // Teredo with a private server.
        assert_eq!(special("2001:0:0a00:0001:8000:63bf:f7f7:f7f7"), Some("private-use"));
        // Teredo with both ends public (client 8.8.8.8 inverted = f7f7:f7f7).
        assert_eq!(special("2001:0:4136:e378:8000:63bf:f7f7:f7f7"), None);
    }
}
