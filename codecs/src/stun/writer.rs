//! Building STUN messages into a caller-owned buffer, and the two answers an ICE-lite
//! agent gives to a Binding request (RFC 8445 §7.3).
//!
//! [`StunWriter`] keeps the header's length field current after every attribute, so
//! MESSAGE-INTEGRITY and FINGERPRINT are computed over exactly what a reader will see.
//! Errors are sticky: the first one is returned by [`StunWriter::finish`]. It never
//! allocates and never writes past the buffer.

use core::net::SocketAddr;

use super::attr::{self, MAX_REASON_LEN, MAX_SOFTWARE_LEN, MAX_USERNAME_LEN};
use super::integrity::{compute_fingerprint, compute_integrity};
use super::{message_type, Class, Method, StunError, StunMessage, HEADER_LEN, MAGIC_COOKIE};

/// The largest value of the header's length field that is a multiple of 4.
const MAX_BODY_LEN: usize = 0xFFFC;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Open,
    AfterIntegrity,
    AfterFingerprint,
}

/// Builds one STUN message into `&mut [u8]`.
///
/// ```
/// use talko_codecs::stun::{Class, Method, StunMessage, StunWriter};
/// let mut buf = [0u8; 128];
/// let len = StunWriter::new(&mut buf, Class::Request, Method::Binding, [7; 12])
///     .username("remote:local")
///     .priority(0x6e00_1eff)
///     .message_integrity(b"password")
///     .fingerprint()
///     .finish()
///     .unwrap();
/// let msg = StunMessage::try_from(&buf[..len]).unwrap();
/// assert!(msg.verify_integrity(b"password").is_ok());
/// ```
#[derive(Debug)]
pub struct StunWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    stage: Stage,
    transaction_id: [u8; 12],
    error: Option<StunError>,
}

impl<'b> StunWriter<'b> {
    /// Starts a message: writes the 20-byte header with an empty body.
    pub fn new(
        buf: &'b mut [u8],
        class: Class,
        method: Method,
        transaction_id: [u8; 12],
    ) -> StunWriter<'b> {
        let mut w = StunWriter {
            buf,
            len: 0,
            stage: Stage::Open,
            transaction_id,
            error: None,
        };
        if method.number() > 0x0FFF {
            w.error = Some(StunError::BadMethod);
            return w;
        }
        let Some(header) = w.buf.first_chunk_mut::<HEADER_LEN>() else {
            w.error = Some(StunError::BufferTooSmall);
            return w;
        };
        header[0..2].copy_from_slice(&message_type(class, method.number()).to_be_bytes());
        header[2..4].copy_from_slice(&[0, 0]);
        header[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        header[8..20].copy_from_slice(&transaction_id);
        w.len = HEADER_LEN;
        w
    }

    /// Appends an attribute of `value_len` bytes whose value `fill` writes; pads it to
    /// 4 bytes with zeros and updates the length field.
    fn append(
        mut self,
        kind: u16,
        value_len: usize,
        fill: impl FnOnce(&mut [u8], &[u8; 12]) -> Option<()>,
    ) -> Self {
        if self.error.is_some() {
            return self;
        }
        let stage_ok = match self.stage {
            Stage::Open => true,
            Stage::AfterIntegrity => kind == attr::FINGERPRINT,
            Stage::AfterFingerprint => false,
        };
        if !stage_ok {
            self.error = Some(match self.stage {
                Stage::AfterFingerprint => StunError::AttributeAfterFingerprint,
                _ => StunError::AttributeAfterIntegrity,
            });
            return self;
        }
        let Ok(wire_len) = u16::try_from(value_len) else {
            self.error = Some(StunError::ValueTooLong);
            return self;
        };
        let end = self.len + 4 + value_len.next_multiple_of(4);
        if end - HEADER_LEN > MAX_BODY_LEN {
            self.error = Some(StunError::ValueTooLong);
            return self;
        }
        let tid = self.transaction_id;
        let Some(slot) = self.buf.get_mut(self.len..end) else {
            self.error = Some(StunError::BufferTooSmall);
            return self;
        };
        let Some((head, body)) = slot.split_first_chunk_mut::<4>() else {
            self.error = Some(StunError::BufferTooSmall);
            return self;
        };
        head[0..2].copy_from_slice(&kind.to_be_bytes());
        head[2..4].copy_from_slice(&wire_len.to_be_bytes());
        let Some((value, padding)) = body.split_at_mut_checked(value_len) else {
            self.error = Some(StunError::BufferTooSmall);
            return self;
        };
        padding.fill(0);
        if fill(value, &tid).is_none() {
            self.error = Some(StunError::BufferTooSmall);
            return self;
        }
        self.len = end;
        self.set_length_field(end);
        self
    }

    fn set_length_field(&mut self, end: usize) {
        // `append` keeps `end - HEADER_LEN` within MAX_BODY_LEN.
        let body = u16::try_from(end - HEADER_LEN).unwrap_or(u16::MAX);
        if let Some(field) = self.buf.get_mut(2..4) {
            field.copy_from_slice(&body.to_be_bytes());
        }
    }

    fn bytes(self, kind: u16, value: &[u8]) -> Self {
        self.append(kind, value.len(), |out, _| {
            out.copy_from_slice(value);
            Some(())
        })
    }

    /// Appends any attribute with a raw value (for types this writer has no method for).
    pub fn attribute(self, kind: u16, value: &[u8]) -> Self {
        self.bytes(kind, value)
    }

    /// USERNAME (at most 513 bytes).
    pub fn username(mut self, username: &str) -> Self {
        if username.len() > MAX_USERNAME_LEN {
            self.error.get_or_insert(StunError::ValueTooLong);
            return self;
        }
        self.bytes(attr::USERNAME, username.as_bytes())
    }

    /// SOFTWARE (at most 763 bytes).
    pub fn software(mut self, software: &str) -> Self {
        if software.len() > MAX_SOFTWARE_LEN {
            self.error.get_or_insert(StunError::ValueTooLong);
            return self;
        }
        self.bytes(attr::SOFTWARE, software.as_bytes())
    }

    /// XOR-MAPPED-ADDRESS for an IPv4 or IPv6 address.
    pub fn xor_mapped_address(self, addr: SocketAddr) -> Self {
        let len = if addr.is_ipv4() { 8 } else { 20 };
        self.append(attr::XOR_MAPPED_ADDRESS, len, |out, tid| {
            attr::encode_xor_address(addr, tid, out).map(|_| ())
        })
    }

    /// PRIORITY.
    pub fn priority(self, priority: u32) -> Self {
        self.bytes(attr::PRIORITY, &priority.to_be_bytes())
    }

    /// USE-CANDIDATE (no value).
    pub fn use_candidate(self) -> Self {
        self.bytes(attr::USE_CANDIDATE, &[])
    }

    /// ICE-CONTROLLING with the agent's tiebreaker.
    pub fn ice_controlling(self, tiebreaker: u64) -> Self {
        self.bytes(attr::ICE_CONTROLLING, &tiebreaker.to_be_bytes())
    }

    /// ICE-CONTROLLED with the agent's tiebreaker.
    pub fn ice_controlled(self, tiebreaker: u64) -> Self {
        self.bytes(attr::ICE_CONTROLLED, &tiebreaker.to_be_bytes())
    }

    /// ERROR-CODE: a code 300–699 and a reason phrase of at most 763 bytes.
    pub fn error_code(mut self, code: u16, reason: &str) -> Self {
        if !(300..=699).contains(&code) || reason.len() > MAX_REASON_LEN {
            self.error.get_or_insert(StunError::BadErrorCode);
            return self;
        }
        let class = (code / 100) as u8;
        let number = (code % 100) as u8;
        self.append(attr::ERROR_CODE, 4 + reason.len(), |out, _| {
            let (head, text) = out.split_first_chunk_mut::<4>()?;
            *head = [0, 0, class, number];
            text.copy_from_slice(reason.as_bytes());
            Some(())
        })
    }

    /// UNKNOWN-ATTRIBUTES listing `kinds` (for a 420 response).
    pub fn unknown_attributes<I>(self, kinds: I) -> Self
    where
        I: IntoIterator<Item = u16>,
        I::IntoIter: Clone,
    {
        let kinds = kinds.into_iter();
        let len = kinds.clone().count() * 2;
        self.append(attr::UNKNOWN_ATTRIBUTES, len, |out, _| {
            for (slot, kind) in out.chunks_exact_mut(2).zip(kinds) {
                slot.copy_from_slice(&kind.to_be_bytes());
            }
            Some(())
        })
    }

    /// MESSAGE-INTEGRITY under a short-term credential `key` (the ICE password). After
    /// this only [`StunWriter::fingerprint`] may follow.
    pub fn message_integrity(mut self, key: &[u8]) -> Self {
        if self.error.is_some() {
            return self;
        }
        let at = self.len;
        // Reserve the attribute first so the length field already covers it.
        self = self.bytes(attr::MESSAGE_INTEGRITY, &[0; super::INTEGRITY_LEN]);
        if self.error.is_some() {
            return self;
        }
        match compute_integrity(self.buf, at, key) {
            Some(mac) => {
                if let Some(v) = self.buf.get_mut(at + 4..at + 4 + mac.len()) {
                    v.copy_from_slice(&mac);
                }
                self.stage = Stage::AfterIntegrity;
            }
            None => self.error = Some(StunError::BufferTooSmall),
        }
        self
    }

    /// FINGERPRINT; nothing may follow it.
    pub fn fingerprint(mut self) -> Self {
        if self.error.is_some() {
            return self;
        }
        let at = self.len;
        self = self.bytes(attr::FINGERPRINT, &[0; 4]);
        if self.error.is_some() {
            return self;
        }
        match compute_fingerprint(self.buf, at) {
            Some(crc) => {
                if let Some(v) = self.buf.get_mut(at + 4..at + 8) {
                    v.copy_from_slice(&crc.to_be_bytes());
                }
                self.stage = Stage::AfterFingerprint;
            }
            None => self.error = Some(StunError::BufferTooSmall),
        }
        self
    }

    /// The message's length in bytes, or the first error met while building it.
    pub fn finish(self) -> Result<usize, StunError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.len),
        }
    }
}

/// The error responses an ICE-lite agent sends to a Binding request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindingError {
    /// 400: malformed, or a required attribute (USERNAME, MESSAGE-INTEGRITY) missing.
    BadRequest,
    /// 401: MESSAGE-INTEGRITY does not verify or the USERNAME is unknown. Sent without
    /// MESSAGE-INTEGRITY (RFC 8489 §9.1.3).
    Unauthorized,
    /// 420: the request carries comprehension-required attributes talko does not
    /// understand; the response lists them in UNKNOWN-ATTRIBUTES.
    UnknownAttribute,
    /// 487: ICE role conflict (RFC 8445 §7.3.1.1).
    RoleConflict,
}

impl BindingError {
    /// The ERROR-CODE number.
    pub const fn code(self) -> u16 {
        match self {
            BindingError::BadRequest => 400,
            BindingError::Unauthorized => 401,
            BindingError::UnknownAttribute => 420,
            BindingError::RoleConflict => 487,
        }
    }

    /// The reason phrase RFC 8489 §14.8 and RFC 8445 §16.1 suggest.
    pub const fn reason(self) -> &'static str {
        match self {
            BindingError::BadRequest => "Bad Request",
            BindingError::Unauthorized => "Unauthorized",
            BindingError::UnknownAttribute => "Unknown Attribute",
            BindingError::RoleConflict => "Role Conflict",
        }
    }
}

/// Writes the success response to a Binding `request` received from `from`:
/// XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY under `key` (the local ICE password) and
/// FINGERPRINT (RFC 8445 §7.3.1.4). Returns the length written into `out`.
///
/// Checking the request's credentials is the caller's job; this only answers.
pub fn binding_success(
    request: &StunMessage<'_>,
    from: SocketAddr,
    key: &[u8],
    out: &mut [u8],
) -> Result<usize, StunError> {
    if !request.is_binding_request() {
        return Err(StunError::NotBindingRequest);
    }
    StunWriter::new(
        out,
        Class::Success,
        Method::Binding,
        request.transaction_id(),
    )
    .xor_mapped_address(from)
    .message_integrity(key)
    .fingerprint()
    .finish()
}

/// Writes an error response to a Binding `request`: ERROR-CODE, UNKNOWN-ATTRIBUTES for
/// a 420, MESSAGE-INTEGRITY when a `key` is given (never for a 401), and FINGERPRINT.
pub fn binding_error(
    request: &StunMessage<'_>,
    error: BindingError,
    key: Option<&[u8]>,
    out: &mut [u8],
) -> Result<usize, StunError> {
    if !request.is_binding_request() {
        return Err(StunError::NotBindingRequest);
    }
    let mut w = StunWriter::new(out, Class::Error, Method::Binding, request.transaction_id())
        .error_code(error.code(), error.reason());
    if error == BindingError::UnknownAttribute {
        w = w.unknown_attributes(request.unknown_required());
    }
    if let (Some(key), false) = (key, error == BindingError::Unauthorized) {
        w = w.message_integrity(key);
    }
    w.fingerprint().finish()
}
