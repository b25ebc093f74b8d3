//! STUN as ICE-lite needs it (RFC 8489, RFC 8445 §7.3): Binding requests, success and
//! error responses, and the attributes ICE uses.
//!
//! This module owns the STUN wire format: [`StunMessage`] is a borrowed view validated
//! once by `TryFrom<&[u8]>` (header, length, every attribute's bounds, the rule that only
//! FINGERPRINT may follow MESSAGE-INTEGRITY, the value of every attribute it exposes);
//! [`StunWriter`] builds messages into a caller-owned buffer; [`verify_integrity`] and
//! [`verify_fingerprint`] check short-term credentials and the CRC. It must never
//! allocate, panic on any input, or decide policy: which credentials are valid, whether
//! an unknown comprehension-required attribute earns a 420, and role conflicts belong to
//! the ICE agent in the engine.

mod attr;
mod integrity;
mod writer;

use core::fmt;
use core::net::SocketAddr;

pub use attr::{
    is_comprehension_required, is_known_required, Attributes, RawAttribute, ERROR_CODE,
    FINGERPRINT, ICE_CONTROLLED, ICE_CONTROLLING, MAPPED_ADDRESS, MAX_REASON_LEN, MAX_SOFTWARE_LEN,
    MAX_USERNAME_LEN, MESSAGE_INTEGRITY, NONCE, PRIORITY, REALM, SOFTWARE, UNKNOWN_ATTRIBUTES,
    USERNAME, USE_CANDIDATE, XOR_MAPPED_ADDRESS,
};
pub use integrity::{verify_fingerprint, verify_integrity, FINGERPRINT_XOR};
pub use writer::{binding_error, binding_success, BindingError, StunWriter};

/// The magic cookie in bytes 4–7 of every RFC 5389/8489 message.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// The fixed header: type, length, magic cookie, transaction ID.
pub const HEADER_LEN: usize = 20;
/// The largest datagram [`StunMessage::try_from`] accepts. STUN over UDP must fit the
/// path MTU (RFC 8489 §6.1); anything larger is hostile or broken.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 1500;
/// Length of the MESSAGE-INTEGRITY value (HMAC-SHA1).
pub const INTEGRITY_LEN: usize = 20;

/// The class of a STUN message (RFC 8489 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// A request: expects a success or error response.
    Request,
    /// An indication: no response.
    Indication,
    /// A success response.
    Success,
    /// An error response (carries ERROR-CODE).
    Error,
}

impl Class {
    const fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::Success => 0b10,
            Class::Error => 0b11,
        }
    }

    const fn from_bits(bits: u16) -> Class {
        match bits & 0b11 {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::Success,
            _ => Class::Error,
        }
    }
}

/// The method of a STUN message (RFC 8489 §18.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Binding (0x001), the only method ICE uses.
    Binding,
    /// Any other 12-bit method (TURN's Allocate, …); talko parses but does not act on it.
    Other(u16),
}

impl Method {
    /// The 12-bit method number.
    pub const fn number(self) -> u16 {
        match self {
            Method::Binding => 0x001,
            Method::Other(n) => n,
        }
    }

    const fn from_number(n: u16) -> Method {
        match n {
            0x001 => Method::Binding,
            n => Method::Other(n),
        }
    }
}

/// Interleaves class and method into the 14-bit message type (RFC 8489 §5, Figure 3).
const fn message_type(class: Class, method: u16) -> u16 {
    let c = class.bits();
    (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((c & 0b01) << 4)
        | ((c & 0b10) << 7)
}

/// Splits a 14-bit message type into class and method.
const fn split_message_type(t: u16) -> (Class, Method) {
    let class = ((t >> 4) & 0b01) | ((t >> 7) & 0b10);
    let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);
    (Class::from_bits(class), Method::from_number(method))
}

/// What was wrong with a STUN message, or why one could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StunError {
    /// Shorter than the 20-byte header, or shorter than its length field says.
    Truncated,
    /// Longer than the configured maximum datagram size.
    TooLarge,
    /// The two most significant bits are not zero: not a STUN message.
    NotStun,
    /// The magic cookie is not 0x2112A442 (RFC 3489 or not STUN).
    BadMagic,
    /// The length field is not a multiple of 4 or does not end at the datagram's end.
    LengthMismatch,
    /// An attribute header or value runs past the end of the message.
    AttributeOverrun,
    /// An attribute of this type has a length its definition does not allow.
    BadAttributeLength(u16),
    /// (XOR-)MAPPED-ADDRESS with an unknown address family or the wrong length for it.
    BadAddress,
    /// USERNAME longer than 513 bytes or not UTF-8.
    BadUsername,
    /// ERROR-CODE shorter than 4 bytes, with a class outside 3–6, a number over 99,
    /// or a reason phrase that is not UTF-8 or too long; or, when building, a code
    /// outside 300–699.
    BadErrorCode,
    /// An attribute other than FINGERPRINT after MESSAGE-INTEGRITY.
    AttributeAfterIntegrity,
    /// Any attribute after FINGERPRINT.
    AttributeAfterFingerprint,
    /// A comprehension-required attribute (type below 0x8000) talko does not understand.
    UnknownRequired(u16),
    /// No MESSAGE-INTEGRITY to verify.
    MissingIntegrity,
    /// No FINGERPRINT to verify.
    MissingFingerprint,
    /// FINGERPRINT does not match the message's CRC-32.
    BadFingerprint,
    /// MESSAGE-INTEGRITY does not match the HMAC-SHA1 under the given key.
    BadIntegrity,
    /// The output buffer cannot hold the message.
    BufferTooSmall,
    /// A value too long for its attribute, or a message over 65535 bytes of attributes.
    ValueTooLong,
    /// A method number over 12 bits.
    BadMethod,
    /// A Binding response was asked for something that is not a Binding request.
    NotBindingRequest,
}

impl fmt::Display for StunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StunError::Truncated => f.write_str("STUN message truncated"),
            StunError::TooLarge => f.write_str("STUN datagram over the maximum size"),
            StunError::NotStun => f.write_str("not a STUN message"),
            StunError::BadMagic => f.write_str("STUN magic cookie missing"),
            StunError::LengthMismatch => {
                f.write_str("STUN length field disagrees with the datagram")
            }
            StunError::AttributeOverrun => {
                f.write_str("STUN attribute past the end of the message")
            }
            StunError::BadAttributeLength(t) => {
                write!(f, "STUN attribute {t:#06x} has an invalid length")
            }
            StunError::BadAddress => f.write_str("STUN address attribute malformed"),
            StunError::BadUsername => f.write_str("STUN USERNAME too long or not UTF-8"),
            StunError::BadErrorCode => f.write_str("STUN ERROR-CODE malformed"),
            StunError::AttributeAfterIntegrity => {
                f.write_str("STUN attribute other than FINGERPRINT after MESSAGE-INTEGRITY")
            }
            StunError::AttributeAfterFingerprint => f.write_str("STUN attribute after FINGERPRINT"),
            StunError::UnknownRequired(t) => {
                write!(f, "unknown comprehension-required STUN attribute {t:#06x}")
            }
            StunError::MissingIntegrity => f.write_str("STUN MESSAGE-INTEGRITY missing"),
            StunError::MissingFingerprint => f.write_str("STUN FINGERPRINT missing"),
            StunError::BadFingerprint => f.write_str("STUN FINGERPRINT mismatch"),
            StunError::BadIntegrity => f.write_str("STUN MESSAGE-INTEGRITY mismatch"),
            StunError::BufferTooSmall => f.write_str("buffer too small for the STUN message"),
            StunError::ValueTooLong => f.write_str("STUN attribute value too long"),
            StunError::BadMethod => f.write_str("STUN method over 12 bits"),
            StunError::NotBindingRequest => f.write_str("not a STUN Binding request"),
        }
    }
}

impl std::error::Error for StunError {}

/// A validated STUN message borrowed from a datagram.
///
/// Built by [`StunMessage::try_from`] (with [`DEFAULT_MAX_MESSAGE_LEN`]) or
/// [`StunMessage::parse`]; every accessor afterwards is infallible. When an attribute
/// appears twice, the typed getters return the first (RFC 8489 §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StunMessage<'a> {
    bytes: &'a [u8],
    class: Class,
    method: Method,
    transaction_id: [u8; 12],
    username: Option<&'a str>,
    software: Option<&'a [u8]>,
    realm: Option<&'a [u8]>,
    nonce: Option<&'a [u8]>,
    mapped_address: Option<SocketAddr>,
    xor_mapped_address: Option<SocketAddr>,
    priority: Option<u32>,
    use_candidate: bool,
    ice_controlling: Option<u64>,
    ice_controlled: Option<u64>,
    error_code: Option<(u16, &'a str)>,
    unknown_attributes: Option<&'a [u8]>,
    integrity_at: Option<usize>,
    fingerprint_at: Option<usize>,
    first_unknown_required: Option<u16>,
}

impl<'a> TryFrom<&'a [u8]> for StunMessage<'a> {
    type Error = StunError;

    /// Parses with the default size limit, [`DEFAULT_MAX_MESSAGE_LEN`].
    fn try_from(datagram: &'a [u8]) -> Result<Self, StunError> {
        StunMessage::parse(datagram, DEFAULT_MAX_MESSAGE_LEN)
    }
}

fn fixed<const N: usize>(kind: u16, value: &[u8]) -> Result<[u8; N], StunError> {
    value
        .try_into()
        .map_err(|_| StunError::BadAttributeLength(kind))
}

fn decode_error_code(value: &[u8]) -> Result<(u16, &str), StunError> {
    let (head, reason) = value
        .split_first_chunk::<4>()
        .ok_or(StunError::BadErrorCode)?;
    let class = u16::from(head[2] & 0x07);
    let number = u16::from(head[3]);
    if !(3..=6).contains(&class) || number > 99 || reason.len() > MAX_REASON_LEN {
        return Err(StunError::BadErrorCode);
    }
    let reason = core::str::from_utf8(reason).map_err(|_| StunError::BadErrorCode)?;
    Ok((class * 100 + number, reason))
}

impl<'a> StunMessage<'a> {
    /// Parses one datagram as a STUN message, rejecting datagrams over `max_len` bytes.
    ///
    /// Checks, in order: size limit, header, length field (a multiple of 4 that ends
    /// exactly at the datagram's end), every attribute's bounds, attribute order around
    /// MESSAGE-INTEGRITY and FINGERPRINT, and the value of every attribute talko reads.
    /// Unknown comprehension-optional attributes are skipped; unknown
    /// comprehension-required ones are kept for [`StunMessage::unknown_required`].
    pub fn parse(datagram: &'a [u8], max_len: usize) -> Result<Self, StunError> {
        if datagram.len() > max_len {
            return Err(StunError::TooLarge);
        }
        let (header, body) = datagram
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(StunError::Truncated)?;
        let message_type = u16::from_be_bytes([header[0], header[1]]);
        if message_type & 0xC000 != 0 {
            return Err(StunError::NotStun);
        }
        if u32::from_be_bytes([header[4], header[5], header[6], header[7]]) != MAGIC_COOKIE {
            return Err(StunError::BadMagic);
        }
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        if length % 4 != 0 {
            return Err(StunError::LengthMismatch);
        }
        if length > body.len() {
            return Err(StunError::Truncated);
        }
        if length < body.len() {
            return Err(StunError::LengthMismatch);
        }
        let (class, method) = split_message_type(message_type);
        let mut transaction_id = [0u8; 12];
        transaction_id.copy_from_slice(&header[8..]);

        let mut msg = StunMessage {
            bytes: datagram,
            class,
            method,
            transaction_id,
            username: None,
            software: None,
            realm: None,
            nonce: None,
            mapped_address: None,
            xor_mapped_address: None,
            priority: None,
            use_candidate: false,
            ice_controlling: None,
            ice_controlled: None,
            error_code: None,
            unknown_attributes: None,
            integrity_at: None,
            fingerprint_at: None,
            first_unknown_required: None,
        };
        let mut rest = body;
        while !rest.is_empty() {
            let offset = datagram.len() - rest.len();
            let (a, after) = attr::split_attribute(rest).ok_or(StunError::AttributeOverrun)?;
            rest = after;
            if msg.fingerprint_at.is_some() {
                return Err(StunError::AttributeAfterFingerprint);
            }
            if msg.integrity_at.is_some() && a.kind != FINGERPRINT {
                return Err(StunError::AttributeAfterIntegrity);
            }
            msg.absorb(a, offset)?;
        }
        Ok(msg)
    }

    /// Validates one attribute and records it if it is the first of its type.
    fn absorb(&mut self, a: RawAttribute<'a>, offset: usize) -> Result<(), StunError> {
        let v = a.value;
        match a.kind {
            USERNAME => {
                if v.len() > MAX_USERNAME_LEN {
                    return Err(StunError::BadUsername);
                }
                let name = core::str::from_utf8(v).map_err(|_| StunError::BadUsername)?;
                self.username.get_or_insert(name);
            }
            MESSAGE_INTEGRITY => {
                if v.len() != INTEGRITY_LEN {
                    return Err(StunError::BadAttributeLength(a.kind));
                }
                self.integrity_at = Some(offset);
            }
            FINGERPRINT => {
                fixed::<4>(a.kind, v)?;
                self.fingerprint_at = Some(offset);
            }
            ERROR_CODE => {
                let code = decode_error_code(v)?;
                self.error_code.get_or_insert(code);
            }
            UNKNOWN_ATTRIBUTES => {
                if !v.len().is_multiple_of(2) {
                    return Err(StunError::BadAttributeLength(a.kind));
                }
                self.unknown_attributes.get_or_insert(v);
            }
            MAPPED_ADDRESS => {
                let addr = attr::decode_address(v, None).ok_or(StunError::BadAddress)?;
                self.mapped_address.get_or_insert(addr);
            }
            XOR_MAPPED_ADDRESS => {
                let addr = attr::decode_address(v, Some(&self.transaction_id))
                    .ok_or(StunError::BadAddress)?;
                self.xor_mapped_address.get_or_insert(addr);
            }
            PRIORITY => {
                let p = u32::from_be_bytes(fixed(a.kind, v)?);
                self.priority.get_or_insert(p);
            }
            USE_CANDIDATE => {
                if !v.is_empty() {
                    return Err(StunError::BadAttributeLength(a.kind));
                }
                self.use_candidate = true;
            }
            ICE_CONTROLLING => {
                let t = u64::from_be_bytes(fixed(a.kind, v)?);
                self.ice_controlling.get_or_insert(t);
            }
            ICE_CONTROLLED => {
                let t = u64::from_be_bytes(fixed(a.kind, v)?);
                self.ice_controlled.get_or_insert(t);
            }
            SOFTWARE => {
                self.software.get_or_insert(v);
            }
            REALM => {
                self.realm.get_or_insert(v);
            }
            NONCE => {
                self.nonce.get_or_insert(v);
            }
            kind if is_comprehension_required(kind) => {
                self.first_unknown_required.get_or_insert(kind);
            }
            // Unknown comprehension-optional attributes are skipped (RFC 8489 §14).
            _ => {}
        }
        Ok(())
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The message class.
    pub fn class(&self) -> Class {
        self.class
    }

    /// The message method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Whether this is a Binding request (what an ICE-lite agent answers).
    pub fn is_binding_request(&self) -> bool {
        self.class == Class::Request && self.method == Method::Binding
    }

    /// The 96-bit transaction ID.
    pub fn transaction_id(&self) -> [u8; 12] {
        self.transaction_id
    }

    /// Every attribute in order, including unknown ones.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            rest: self.bytes.get(HEADER_LEN..).unwrap_or_default(),
        }
    }

    /// USERNAME (for ICE: `"<receiver ufrag>:<sender ufrag>"`).
    pub fn username(&self) -> Option<&'a str> {
        self.username
    }

    /// SOFTWARE, if present and UTF-8.
    pub fn software(&self) -> Option<&'a str> {
        self.software.and_then(|s| core::str::from_utf8(s).ok())
    }

    /// REALM, raw (long-term credentials; talko does not use them).
    pub fn realm(&self) -> Option<&'a [u8]> {
        self.realm
    }

    /// NONCE, raw (long-term credentials; talko does not use them).
    pub fn nonce(&self) -> Option<&'a [u8]> {
        self.nonce
    }

    /// XOR-MAPPED-ADDRESS, decoded (IPv4 or IPv6).
    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        self.xor_mapped_address
    }

    /// MAPPED-ADDRESS (the pre-XOR form, RFC 8489 §14.1), decoded.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        self.mapped_address
    }

    /// PRIORITY (RFC 8445 §7.1.1).
    pub fn priority(&self) -> Option<u32> {
        self.priority
    }

    /// Whether USE-CANDIDATE is present (the controlling agent nominates this pair).
    pub fn use_candidate(&self) -> bool {
        self.use_candidate
    }

    /// ICE-CONTROLLING's tiebreaker.
    pub fn ice_controlling(&self) -> Option<u64> {
        self.ice_controlling
    }

    /// ICE-CONTROLLED's tiebreaker.
    pub fn ice_controlled(&self) -> Option<u64> {
        self.ice_controlled
    }

    /// ERROR-CODE as `(code 300–699, reason phrase)`.
    pub fn error_code(&self) -> Option<(u16, &'a str)> {
        self.error_code
    }

    /// The attribute types listed in UNKNOWN-ATTRIBUTES (in a 420 response).
    pub fn unknown_attributes(&self) -> impl Iterator<Item = u16> + Clone + 'a {
        self.unknown_attributes
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    /// Whether MESSAGE-INTEGRITY is present (not whether it is valid).
    pub fn has_message_integrity(&self) -> bool {
        self.integrity_at.is_some()
    }

    /// Whether FINGERPRINT is present (not whether it is valid).
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint_at.is_some()
    }

    /// The comprehension-required attribute types talko does not understand, in order
    /// (with repeats). An ICE agent answers a request carrying any with a 420 error
    /// listing them ([`binding_error`] with [`BindingError::UnknownAttribute`]).
    pub fn unknown_required(&self) -> impl Iterator<Item = u16> + Clone + 'a {
        let any = self.first_unknown_required.is_some();
        self.attributes()
            .filter(move |a| any && is_comprehension_required(a.kind))
            .map(|a| a.kind)
            .filter(|&k| !is_known_required(k))
    }

    /// `Err(UnknownRequired(type))` naming the first comprehension-required attribute
    /// talko does not understand.
    pub fn check_comprehension(&self) -> Result<(), StunError> {
        match self.first_unknown_required {
            Some(kind) => Err(StunError::UnknownRequired(kind)),
            None => Ok(()),
        }
    }

    /// Verifies MESSAGE-INTEGRITY with a short-term credential key (the ICE password)
    /// in constant time.
    pub fn verify_integrity(&self, key: &[u8]) -> Result<(), StunError> {
        let at = self.integrity_at.ok_or(StunError::MissingIntegrity)?;
        integrity::check_integrity(self.bytes, at, key)
    }

    /// Verifies FINGERPRINT.
    pub fn verify_fingerprint(&self) -> Result<(), StunError> {
        let at = self.fingerprint_at.ok_or(StunError::MissingFingerprint)?;
        integrity::check_fingerprint(self.bytes, at)
    }
}
