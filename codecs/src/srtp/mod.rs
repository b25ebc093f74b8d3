//! SRTP and SRTCP (RFC 3711, RFC 7714), in place.
//!
//! This module owns the SRTP transform: the four suites WebRTC negotiates
//! ([`SrtpProfile`]), session-key derivation from a master key and salt (RFC 3711 §4.3,
//! key derivation rate 0), the per-SSRC cryptographic state (rollover counter, highest
//! sequence number, replay windows for SRTP and SRTCP) and the packet transforms
//! themselves. Everything works on caller-owned `&mut [u8]`: protect appends the tag
//! (and, for SRTCP, the `E`|index trailer) into room the caller left after the packet;
//! unprotect shortens the packet in place.
//!
//! What it must never do:
//! - allocate per packet (streams are preallocated from [`SrtpConfig::max_streams`],
//!   cipher key schedules and the keyed HMAC state are built once per key);
//! - touch the caller's buffer when a packet fails: AES-CM authenticates before it
//!   decrypts, AES-GCM verifies the tag before it decrypts, and every error leaves the
//!   bytes exactly as they came in;
//! - update a rollover counter, highest sequence number or replay window for a packet
//!   that did not authenticate, or create a stream for one;
//! - compare tags in variable time (`subtle`);
//! - read the clock, open sockets or panic on any input.
//!
//! Sender-side, protecting the same packet index twice is refused ([`SrtpError::Replayed`])
//! because it would reuse a keystream; retransmit the already protected bytes instead.
//!
//! MKI and key derivation rates other than 0 are not supported (WebRTC uses neither).
//!
//! ```
//! use talko_codecs::srtp::{Direction, DtlsRole, SrtpConfig, SrtpContext, SrtpProfile, MAX_TAG_LEN};
//!
//! let profile = SrtpProfile::from_dtls_id(0x0007).unwrap(); // negotiated by DTLS-SRTP
//! let material = [7u8; 56]; // DTLS exporter output, profile.keying_material_len() bytes
//! let config = SrtpConfig::default();
//! let mut send = SrtpContext::from_dtls_keying_material(
//!     profile, &material, DtlsRole::Server, Direction::Outbound, config)?;
//! let mut peer_recv = SrtpContext::from_dtls_keying_material(
//!     profile, &material, DtlsRole::Client, Direction::Inbound, config)?;
//!
//! let mut buf = [0u8; 1500];
//! let rtp = [0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 42, 0xde, 0xad];
//! buf[..rtp.len()].copy_from_slice(&rtp);
//! let protected_len = send.protect_rtp(&mut buf, rtp.len())?; // room: MAX_TAG_LEN
//! assert!(protected_len <= rtp.len() + MAX_TAG_LEN);
//! let plain_len = peer_recv.unprotect_rtp(&mut buf[..protected_len])?;
//! assert_eq!(&buf[..plain_len], &rtp);
//! # Ok::<(), talko_codecs::srtp::SrtpError>(())
//! ```

mod batch;
mod cm;
mod context;
mod gcm;
mod header;
mod hmac_sha1;
mod kdf;
#[cfg(target_arch = "x86_64")]
mod ni;
mod replay;
mod rtcp;
#[cfg(target_arch = "x86_64")]
mod sha1ni;
#[cfg(target_arch = "x86_64")]
mod sha1x16;
mod stream;
mod suite;
#[cfg(test)]
mod tests;

pub use batch::{AuthTicket, RtpAuthBatch, RtpAuthTags, RtpProtectBatch, SRTP_BATCH};
pub use context::{Direction, DtlsRole, SrtpConfig, SrtpContext};
pub use suite::SrtpProfile;

/// The longest authentication tag any supported suite appends to an SRTP packet
/// (AES-GCM: 16 bytes). Leave this much room after an RTP packet you protect.
pub const MAX_TAG_LEN: usize = 16;

/// The most SRTCP appends to an RTCP packet: the 4-byte `E`|SRTCP-index word plus the
/// longest tag. Leave this much room after an RTCP packet you protect.
pub const SRTCP_TRAILER_MAX: usize = 4 + MAX_TAG_LEN;

/// The largest replay window [`SrtpConfig::replay_window`] accepts, in packets.
pub const MAX_REPLAY_WINDOW: usize = replay::RING_BITS;

/// The smallest replay window [`SrtpConfig::replay_window`] accepts, in packets.
pub const MIN_REPLAY_WINDOW: usize = 128;

/// Why an SRTP or SRTCP operation failed. On every error the caller's buffer is
/// unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpError {
    /// The packet is shorter than its header plus the tag (and SRTCP trailer).
    TooShort,
    /// The authentication tag does not match: forged, corrupted or wrong key.
    BadTag,
    /// This packet index was already accepted (or, when protecting, already used).
    Replayed,
    /// The packet index is behind the replay window.
    TooOld,
    /// Strict mode: the SSRC has no stream in this context.
    UnknownSsrc,
    /// A new SSRC arrived but every preallocated stream slot is in use.
    TooManyStreams,
    /// The buffer has no room for the tag (or SRTCP trailer) after the packet.
    BufferTooSmall,
    /// A master key, salt or DTLS keying material has the wrong length for the suite.
    BadKeyLength,
    /// The packet is not an RTP/RTCP version 2 packet, or its header overruns it.
    Malformed,
    /// The configuration is out of range (replay window, zero streams).
    BadConfig,
    /// The packet index space of the key is used up (2^48 SRTP or 2^31 SRTCP
    /// packets); rekey before sending more.
    KeyExhausted,
}

impl std::fmt::Display for SrtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SrtpError::TooShort => "packet too short for its header and tag",
            SrtpError::BadTag => "authentication tag mismatch",
            SrtpError::Replayed => "packet index already seen (replay)",
            SrtpError::TooOld => "packet index behind the replay window",
            SrtpError::UnknownSsrc => "unknown SSRC",
            SrtpError::TooManyStreams => "no free SRTP stream slot",
            SrtpError::BufferTooSmall => "buffer has no room for the tag",
            SrtpError::BadKeyLength => "wrong master key, salt or keying material length",
            SrtpError::Malformed => "malformed RTP/RTCP header",
            SrtpError::BadConfig => "SRTP configuration out of range",
            SrtpError::KeyExhausted => "packet index space of the key exhausted",
        })
    }
}

impl std::error::Error for SrtpError {}
