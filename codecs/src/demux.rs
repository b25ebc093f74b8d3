//! Demultiplexing of one UDP 5-tuple into STUN, DTLS, RTP and RTCP (RFC 7983, RFC 5761).
//!
//! This module owns the decision "which parser gets this datagram", made from the first
//! one or two bytes and the protocol's fixed header size alone. It must never parse
//! further, allocate, or panic: every datagram, however short or hostile, maps to a
//! [`Kind`], and anything that cannot be one of talko's protocols is [`Kind::Other`]
//! (a counted drop for the caller).

/// What a datagram on a media 5-tuple carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A STUN message (first byte 0–3, at least the 20-byte STUN header).
    Stun,
    /// A DTLS record (first byte 20–63, at least the 13-byte record header).
    Dtls,
    /// An RTP packet (first byte 128–191, second byte outside 192–223, at least 12 bytes).
    Rtp,
    /// An RTCP packet (first byte 128–191, second byte 192–223, at least 8 bytes).
    Rtcp,
    /// Empty, too short for its protocol's fixed header, or a first byte talko does not
    /// speak (ZRTP 16–19, TURN channels 64–79, QUIC, …).
    Other,
}

/// The STUN header: type, length, magic cookie, transaction ID (RFC 8489 §5).
pub const STUN_HEADER_LEN: usize = 20;
/// The DTLS record header: type, version, epoch, sequence number, length (RFC 6347 §4.1).
pub const DTLS_RECORD_HEADER_LEN: usize = 13;
/// The fixed RTP header (RFC 3550 §5.1).
pub const RTP_HEADER_LEN: usize = 12;
/// The fixed part of SR/RR, with which every compound RTCP packet starts (RFC 3550 §6.1).
pub const RTCP_MIN_LEN: usize = 8;

/// Classifies one datagram by its first byte (RFC 7983 §7) and, for RTP/RTCP, by its
/// second byte (RFC 5761 §4: RTCP packet types 192–223 sit where the RTP marker bit and
/// payload type are). A datagram shorter than its protocol's fixed header is
/// [`Kind::Other`].
///
/// ```
/// use talko_codecs::demux::{classify, Kind};
/// assert_eq!(classify(&[0x80, 200, 0, 6, 0, 0, 0, 1]), Kind::Rtcp);
/// assert_eq!(classify(&[]), Kind::Other);
/// ```
pub fn classify(datagram: &[u8]) -> Kind {
    let Some((&first, rest)) = datagram.split_first() else {
        return Kind::Other;
    };
    let (kind, min_len) = match first {
        0..=3 => (Kind::Stun, STUN_HEADER_LEN),
        20..=63 => (Kind::Dtls, DTLS_RECORD_HEADER_LEN),
        128..=191 => match rest.first() {
            Some(192..=223) => (Kind::Rtcp, RTCP_MIN_LEN),
            Some(_) => (Kind::Rtp, RTP_HEADER_LEN),
            None => return Kind::Other,
        },
        _ => return Kind::Other,
    };
    if datagram.len() < min_len {
        Kind::Other
    } else {
        kind
    }
}
