//! STUN attribute types, the raw attribute walk, and the (XOR-)MAPPED-ADDRESS encoding
//! (RFC 8489 §14, RFC 8445 §16.1).
//!
//! This file owns the TLV layout of attributes. It never interprets message semantics
//! (which attribute may follow which is `mod.rs`'s business) and never allocates.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::MAGIC_COOKIE;

/// MAPPED-ADDRESS (RFC 8489 §14.1).
pub const MAPPED_ADDRESS: u16 = 0x0001;
/// USERNAME (RFC 8489 §14.3).
pub const USERNAME: u16 = 0x0006;
/// MESSAGE-INTEGRITY: HMAC-SHA1 (RFC 8489 §14.5).
pub const MESSAGE_INTEGRITY: u16 = 0x0008;
/// ERROR-CODE (RFC 8489 §14.8).
pub const ERROR_CODE: u16 = 0x0009;
/// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13).
pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
/// REALM (RFC 8489 §14.9).
pub const REALM: u16 = 0x0014;
/// NONCE (RFC 8489 §14.10).
pub const NONCE: u16 = 0x0015;
/// XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// PRIORITY (RFC 8445 §16.1).
pub const PRIORITY: u16 = 0x0024;
/// USE-CANDIDATE (RFC 8445 §16.1).
pub const USE_CANDIDATE: u16 = 0x0025;
/// SOFTWARE (RFC 8489 §14.14).
pub const SOFTWARE: u16 = 0x8022;
/// FINGERPRINT (RFC 8489 §14.7).
pub const FINGERPRINT: u16 = 0x8028;
/// ICE-CONTROLLED (RFC 8445 §16.1).
pub const ICE_CONTROLLED: u16 = 0x8029;
/// ICE-CONTROLLING (RFC 8445 §16.1).
pub const ICE_CONTROLLING: u16 = 0x802A;

/// Longest USERNAME value in bytes (RFC 8489 §14.3).
pub const MAX_USERNAME_LEN: usize = 513;
/// Longest ERROR-CODE reason phrase in bytes (RFC 8489 §14.8: 128 characters).
pub const MAX_REASON_LEN: usize = 763;
/// Longest SOFTWARE value in bytes (RFC 8489 §14.14: 128 characters).
pub const MAX_SOFTWARE_LEN: usize = 763;

/// Whether an attribute type is comprehension-required (0x0000–0x7FFF, RFC 8489 §14):
/// an agent that does not understand it must not process the message.
pub const fn is_comprehension_required(kind: u16) -> bool {
    kind < 0x8000
}

/// The comprehension-required attributes talko understands. Any other type in
/// 0x0000–0x7FFF is reported by [`super::StunMessage::unknown_required`].
pub const fn is_known_required(kind: u16) -> bool {
    matches!(
        kind,
        MAPPED_ADDRESS
            | USERNAME
            | MESSAGE_INTEGRITY
            | ERROR_CODE
            | UNKNOWN_ATTRIBUTES
            | REALM
            | NONCE
            | XOR_MAPPED_ADDRESS
            | PRIORITY
            | USE_CANDIDATE
    )
}

/// One attribute as it appears on the wire: its type and its value without padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// The attribute type.
    pub kind: u16,
    /// The value, without the padding to a 4-byte boundary.
    pub value: &'a [u8],
}

/// Splits one attribute off the front of `bytes`: `(offset-independent attribute, rest)`.
/// `None` when the header or the padded value runs past the end.
pub(super) fn split_attribute(bytes: &[u8]) -> Option<(RawAttribute<'_>, &[u8])> {
    let (header, rest) = bytes.split_first_chunk::<4>()?;
    let kind = u16::from_be_bytes([header[0], header[1]]);
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let padded = len.next_multiple_of(4);
    let (value_padded, rest) = rest.split_at_checked(padded)?;
    let value = value_padded.get(..len)?;
    Some((RawAttribute { kind, value }, rest))
}

/// The attributes of a validated message, in order. Produced by
/// [`super::StunMessage::attributes`]; the walk was checked when the message was parsed.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    pub(super) rest: &'a [u8],
}

impl<'a> Iterator for Attributes<'a> {
    type Item = RawAttribute<'a>;

    fn next(&mut self) -> Option<RawAttribute<'a>> {
        let (attr, rest) = split_attribute(self.rest)?;
        self.rest = rest;
        Some(attr)
    }
}

const FAMILY_IPV4: u8 = 0x01;
const FAMILY_IPV6: u8 = 0x02;

/// Decodes a MAPPED-ADDRESS value, or an XOR-MAPPED-ADDRESS value when `xor` carries
/// the transaction ID. `None` on a wrong length or unknown family.
pub(super) fn decode_address(value: &[u8], xor: Option<&[u8; 12]>) -> Option<SocketAddr> {
    let (head, addr) = value.split_first_chunk::<4>()?;
    let family = head[1];
    let mut port = u16::from_be_bytes([head[2], head[3]]);
    let cookie = MAGIC_COOKIE.to_be_bytes();
    if xor.is_some() {
        port ^= u16::from_be_bytes([cookie[0], cookie[1]]);
    }
    let ip = match (family, addr.len()) {
        (FAMILY_IPV4, 4) => {
            let mut octets: [u8; 4] = addr.try_into().ok()?;
            if xor.is_some() {
                for (o, k) in octets.iter_mut().zip(cookie) {
                    *o ^= k;
                }
            }
            IpAddr::V4(Ipv4Addr::from(octets))
        }
        (FAMILY_IPV6, 16) => {
            let mut octets: [u8; 16] = addr.try_into().ok()?;
            if let Some(tid) = xor {
                for (o, k) in octets.iter_mut().zip(cookie.iter().chain(tid)) {
                    *o ^= k;
                }
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Encodes an XOR-MAPPED-ADDRESS value into `out` (8 bytes for IPv4, 20 for IPv6) and
/// returns how many bytes it used; `None` if `out` is too short.
pub(super) fn encode_xor_address(
    addr: SocketAddr,
    tid: &[u8; 12],
    out: &mut [u8],
) -> Option<usize> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let port = addr.port() ^ u16::from_be_bytes([cookie[0], cookie[1]]);
    let (family, len) = match addr.ip() {
        IpAddr::V4(_) => (FAMILY_IPV4, 8),
        IpAddr::V6(_) => (FAMILY_IPV6, 20),
    };
    let out = out.get_mut(..len)?;
    let (head, body) = out.split_first_chunk_mut::<4>()?;
    *head = [0, family, 0, 0];
    head[2..].copy_from_slice(&port.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(ip) => {
            for ((o, a), k) in body.iter_mut().zip(ip.octets()).zip(cookie) {
                *o = a ^ k;
            }
        }
        IpAddr::V6(ip) => {
            for ((o, a), k) in body
                .iter_mut()
                .zip(ip.octets())
                .zip(cookie.iter().chain(tid))
            {
                *o = a ^ k;
            }
        }
    }
    Some(len)
}
