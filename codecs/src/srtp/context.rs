//! [`SrtpContext`]: one direction of one SRTP session — keys, streams and the SRTP
//! (RTP) protect/unprotect entry points. SRTCP lives in `rtcp.rs`.
//!
//! Owns the session keys (through the suite transform) and the preallocated stream
//! table. Decides each packet's index (ROC guess), checks the replay window before
//! the crypto and updates stream state only after the packet authenticated. Never
//! allocates after construction; never changes the caller's buffer on an error.

use super::cm::CmTransform;
use super::gcm::GcmTransform;
use super::header;
use super::stream::{RtpState, Stream, StreamTable};
use super::{SrtpError, SrtpProfile, MAX_REPLAY_WINDOW, MIN_REPLAY_WINDOW};

/// Configuration of an [`SrtpContext`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpConfig {
    /// Streams (SSRCs, counting SRTP and SRTCP senders together) the context can hold;
    /// preallocated at construction. At least 1.
    pub max_streams: usize,
    /// Replay window in packets, for SRTP and SRTCP each: from [`MIN_REPLAY_WINDOW`]
    /// (128) to [`MAX_REPLAY_WINDOW`] (1024).
    pub replay_window: usize,
    /// When set, a packet for an SSRC without a stream (see [`SrtpContext::add_stream`])
    /// is an [`SrtpError::UnknownSsrc`] instead of creating one.
    pub strict_ssrc: bool,
}

impl Default for SrtpConfig {
    fn default() -> Self {
        SrtpConfig {
            max_streams: 8,
            replay_window: 128,
            strict_ssrc: false,
        }
    }
}

/// The DTLS role of the local side (RFC 5764 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// The DTLS client.
    Client,
    /// The DTLS server.
    Server,
}

/// Which way the packets a context handles travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Packets this side sends (protect): keyed with the local side's key and salt.
    Outbound,
    /// Packets this side receives (unprotect): keyed with the peer's key and salt.
    Inbound,
}

/// The suite transform with its session keys.
// The variants differ in key-schedule size; the whole transform sits behind one `Box` in
// the context, and boxing variants again would add a pointer chase per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum Transform {
    Cm(CmTransform),
    Gcm(GcmTransform),
}

impl Transform {
    pub(crate) fn new(
        profile: SrtpProfile,
        key: &[u8],
        salt: &[u8],
    ) -> Result<Transform, SrtpError> {
        if key.len() != profile.master_key_len() || salt.len() != profile.master_salt_len() {
            return Err(SrtpError::BadKeyLength);
        }
        Ok(match profile {
            SrtpProfile::AesCm128HmacSha1_80 | SrtpProfile::AesCm128HmacSha1_32 => Transform::Cm(
                CmTransform::new(key, salt, profile.tag_len_rtp(), profile.tag_len_rtcp())?,
            ),
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => {
                Transform::Gcm(GcmTransform::new(key, salt)?)
            }
        })
    }
}

/// One direction of an SRTP session: protects (outbound) or unprotects (inbound) SRTP
/// and SRTCP packets in place, for up to [`SrtpConfig::max_streams`] SSRCs.
///
/// Use one context per direction; a context used for both would share replay state.
/// Every method leaves the caller's buffer unchanged when it returns an error.
pub struct SrtpContext {
    profile: SrtpProfile,
    transform: Box<Transform>,
    streams: StreamTable,
    config: SrtpConfig,
    #[cfg(feature = "fuzzing")]
    skip_auth: bool,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print keys.
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("streams", &self.streams.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// Creates a context from a master key and salt, deriving the session keys once
    /// (RFC 3711 §4.3, key derivation rate 0).
    pub fn new(
        profile: SrtpProfile,
        master_key: &[u8],
        master_salt: &[u8],
        config: SrtpConfig,
    ) -> Result<SrtpContext, SrtpError> {
        if config.max_streams == 0
            || !(MIN_REPLAY_WINDOW..=MAX_REPLAY_WINDOW).contains(&config.replay_window)
        {
            return Err(SrtpError::BadConfig);
        }
        Ok(SrtpContext {
            profile,
            transform: Box::new(Transform::new(profile, master_key, master_salt)?),
            streams: StreamTable::with_capacity(config.max_streams),
            config,
            #[cfg(feature = "fuzzing")]
            skip_auth: false,
        })
    }

    /// Creates a context from DTLS-SRTP exporter output (RFC 5764 §4.2: client key |
    /// server key | client salt | server salt). Outbound uses the local role's key and
    /// salt, inbound the peer's.
    pub fn from_dtls_keying_material(
        profile: SrtpProfile,
        material: &[u8],
        role: DtlsRole,
        direction: Direction,
        config: SrtpConfig,
    ) -> Result<SrtpContext, SrtpError> {
        let (key, salt) = split_keying_material(profile, material, role, direction)?;
        SrtpContext::new(profile, key, salt, config)
    }

    /// The profile this context was created with.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// The configuration this context was created with.
    pub fn config(&self) -> SrtpConfig {
        self.config
    }

    /// Number of streams (SSRCs) currently held.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Replaces the master key and salt (same profile), keeping every stream's rollover
    /// counter, highest index and replay windows (libsrtp's `srtp_update`). On error the
    /// old keys stay in use.
    pub fn update_keys(&mut self, master_key: &[u8], master_salt: &[u8]) -> Result<(), SrtpError> {
        *self.transform = Transform::new(self.profile, master_key, master_salt)?;
        Ok(())
    }

    /// Adds a stream for `ssrc` (required before use in strict mode). Adding an existing
    /// SSRC does nothing.
    pub fn add_stream(&mut self, ssrc: u32) -> Result<(), SrtpError> {
        self.streams.find_or_insert(ssrc).map(|_| ())
    }

    /// Removes the stream of `ssrc`; returns whether it existed.
    pub fn remove_stream(&mut self, ssrc: u32) -> bool {
        self.streams.remove(ssrc)
    }

    /// The SRTP rollover counter of `ssrc`, if it has a stream.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        let slot = self.streams.find(ssrc)?;
        self.streams.get(slot).map(|s| s.rtp.roc())
    }

    /// Sets the rollover counter the next SRTP packet of `ssrc` is assumed to carry
    /// (e.g. a receiver joining a stream mid-way, RFC 4771), creating the stream if
    /// needed. Forgets its SRTP highest index and replay window.
    pub fn set_roc(&mut self, ssrc: u32, roc: u32) -> Result<(), SrtpError> {
        let slot = self.streams.find_or_insert(ssrc)?;
        if let Some(s) = self.streams.get_mut(slot) {
            s.rtp.set_roc(roc);
        }
        Ok(())
    }

    /// Fuzzing builds only: accept packets whatever their tag, so a fuzzer reaches the
    /// rollover, replay and decryption logic behind authentication.
    #[cfg(feature = "fuzzing")]
    pub fn set_fuzzing_skip_auth(&mut self, skip: bool) {
        self.skip_auth = skip;
    }

    pub(crate) fn verify_tags(&self) -> bool {
        #[cfg(feature = "fuzzing")]
        {
            !self.skip_auth
        }
        #[cfg(not(feature = "fuzzing"))]
        {
            true
        }
    }

    pub(crate) fn transform(&self) -> &Transform {
        &self.transform
    }

    pub(crate) fn streams(&self) -> &StreamTable {
        &self.streams
    }

    pub(crate) fn streams_mut(&mut self) -> &mut StreamTable {
        &mut self.streams
    }

    /// The slot of `ssrc` for sending, creating it unless strict.
    pub(crate) fn send_slot(&mut self, ssrc: u32) -> Result<usize, SrtpError> {
        match self.streams.find(ssrc) {
            Some(slot) => Ok(slot),
            None if self.config.strict_ssrc => Err(SrtpError::UnknownSsrc),
            None => self.streams.insert(ssrc, Stream::new()),
        }
    }

    /// The slot of `ssrc` for receiving: `Some` if present, `None` if a new stream may be
    /// created once the packet authenticates.
    pub(crate) fn recv_slot(&self, ssrc: u32) -> Result<Option<usize>, SrtpError> {
        match self.streams.find(ssrc) {
            Some(slot) => Ok(Some(slot)),
            None if self.config.strict_ssrc => Err(SrtpError::UnknownSsrc),
            None if self.streams.is_full() => Err(SrtpError::TooManyStreams),
            None => Ok(None),
        }
    }

    pub(crate) fn replay_window(&self) -> usize {
        self.config.replay_window
    }

    /// Protects the RTP packet in `buf[..len]` in place: encrypts the payload and
    /// appends the tag. `buf` must have [`SrtpProfile::tag_len_rtp`] (at most
    /// [`MAX_TAG_LEN`](super::MAX_TAG_LEN)) bytes of room after `len`. Returns the SRTP
    /// length.
    ///
    /// Refuses to protect a packet index (ROC, sequence number) twice, which would reuse
    /// keystream ([`SrtpError::Replayed`]), or one behind the replay window
    /// ([`SrtpError::TooOld`]).
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let send = self.send_index(buf, len)?;
        let pkt = buf.get_mut(..send.total).ok_or(SrtpError::BufferTooSmall)?;
        let f = send.fields;
        match &*self.transform {
            Transform::Cm(t) => t.protect_rtp(pkt, f.header_len, len, f.ssrc, send.index)?,
            Transform::Gcm(t) => t.protect_rtp(pkt, f.header_len, len, f.ssrc, send.index)?,
        }
        self.accept_sent(send);
        Ok(send.total)
    }

    /// Validates the RTP packet `buf[..len]` for protection and picks its index (the
    /// stream is created if new and allowed); moves no index.
    pub(crate) fn send_index(&mut self, buf: &[u8], len: usize) -> Result<SendIndex, SrtpError> {
        let total = len
            .checked_add(self.profile.tag_len_rtp())
            .ok_or(SrtpError::BufferTooSmall)?;
        let fields = header::plaintext_rtp(buf.get(..len).ok_or(SrtpError::BufferTooSmall)?)?;
        if buf.len() < total {
            return Err(SrtpError::BufferTooSmall);
        }
        let slot = self.send_slot(fields.ssrc)?;
        let stream = self.streams.get(slot).ok_or(SrtpError::UnknownSsrc)?;
        let index = stream.rtp.estimate(fields.seq)?;
        stream.rtp.check(index, self.config.replay_window)?;
        Ok(SendIndex {
            fields,
            slot,
            index,
            total,
        })
    }

    /// Records a protected packet's index as used.
    pub(crate) fn accept_sent(&mut self, send: SendIndex) {
        if let Some(stream) = self.streams.get_mut(send.slot) {
            stream.rtp.accept(send.index);
        }
    }

    /// Unprotects the SRTP packet filling `buf` in place: checks replay, authenticates,
    /// decrypts. Returns the RTP length (`buf.len()` minus the tag); the bytes after it
    /// are left as they were. On error `buf` is unchanged and no state moves.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let fields = self.srtp_fields(buf)?;
        let index = self.receive_index(fields.ssrc, fields.seq)?;
        let verify = self.verify_tags();
        let plain_len = match &*self.transform {
            Transform::Cm(t) => {
                t.unprotect_rtp(buf, fields.header_len, fields.ssrc, index, verify)?
            }
            Transform::Gcm(t) => {
                t.unprotect_rtp(buf, fields.header_len, fields.ssrc, index, verify)?
            }
        };
        self.accept_rtp(fields.ssrc, index)?;
        Ok(plain_len)
    }

    /// The clear header of a received SRTP packet, checked to leave room for the tag.
    pub(crate) fn srtp_fields(&self, buf: &[u8]) -> Result<header::RtpFields, SrtpError> {
        let fields = header::srtp_header(buf)?;
        if buf.len() < fields.header_len + self.profile.tag_len_rtp() {
            return Err(SrtpError::TooShort);
        }
        Ok(fields)
    }

    /// The index a received packet of `ssrc` with sequence number `seq` has, if the
    /// stream table and replay window allow it; changes nothing.
    pub(crate) fn receive_index(&self, ssrc: u32, seq: u16) -> Result<u64, SrtpError> {
        let slot = self.recv_slot(ssrc)?;
        let fresh = RtpState::new();
        let state = match slot.and_then(|s| self.streams.get(s)) {
            Some(stream) => &stream.rtp,
            None => &fresh,
        };
        let index = state.estimate(seq)?;
        state.check(index, self.config.replay_window)?;
        Ok(index)
    }

    /// Records an authenticated packet's index, creating its stream if new.
    pub(crate) fn accept_rtp(&mut self, ssrc: u32, index: u64) -> Result<(), SrtpError> {
        let slot = match self.streams.find(ssrc) {
            Some(slot) => slot,
            None => self.streams.insert(ssrc, Stream::new())?,
        };
        if let Some(stream) = self.streams.get_mut(slot) {
            stream.rtp.accept(index);
        }
        Ok(())
    }
}

/// A packet about to be protected: its header fields, stream slot, index and
/// protected length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendIndex {
    pub(crate) fields: header::RtpFields,
    pub(crate) slot: usize,
    pub(crate) index: u64,
    pub(crate) total: usize,
}

/// Picks this direction's key and salt out of RFC 5764 §4.2 keying material.
fn split_keying_material(
    profile: SrtpProfile,
    material: &[u8],
    role: DtlsRole,
    direction: Direction,
) -> Result<(&[u8], &[u8]), SrtpError> {
    if material.len() != profile.keying_material_len() {
        return Err(SrtpError::BadKeyLength);
    }
    let (keys, salts) = material
        .split_at_checked(2 * profile.master_key_len())
        .ok_or(SrtpError::BadKeyLength)?;
    let (client_key, server_key) = keys
        .split_at_checked(profile.master_key_len())
        .ok_or(SrtpError::BadKeyLength)?;
    let (client_salt, server_salt) = salts
        .split_at_checked(profile.master_salt_len())
        .ok_or(SrtpError::BadKeyLength)?;
    let client_side = (role == DtlsRole::Client) == (direction == Direction::Outbound);
    Ok(if client_side {
        (client_key, client_salt)
    } else {
        (server_key, server_salt)
    })
}
