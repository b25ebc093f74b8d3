//! STUN: one test per class of bad input, for the parser and the writer.

use talko_codecs::stun::{
    binding_success, verify_fingerprint, verify_integrity, Class, Method, StunError, StunMessage,
    StunWriter, DEFAULT_MAX_MESSAGE_LEN, ERROR_CODE, FINGERPRINT, ICE_CONTROLLING,
    MESSAGE_INTEGRITY, PRIORITY, SOFTWARE, USERNAME, USE_CANDIDATE, XOR_MAPPED_ADDRESS,
};

/// A message assembled by hand, attribute by attribute, with a correct length field:
/// lets a test put on the wire what the writer refuses to produce.
fn raw_message(message_type: u16, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&message_type.to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&0x2112_A442u32.to_be_bytes());
    m.extend_from_slice(&[0x42; 12]);
    for (kind, value) in attrs {
        m.extend_from_slice(&kind.to_be_bytes());
        m.extend_from_slice(&(value.len() as u16).to_be_bytes());
        m.extend_from_slice(value);
        m.resize(m.len().next_multiple_of(4), 0);
    }
    let body = (m.len() - 20) as u16;
    m[2..4].copy_from_slice(&body.to_be_bytes());
    m
}

fn signed_request(key: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 128];
    let len = StunWriter::new(&mut buf, Class::Request, Method::Binding, [1; 12])
        .username("remote:local")
        .software("peer")
        .priority(99)
        .message_integrity(key)
        .fingerprint()
        .finish()
        .unwrap();
    buf[..len].to_vec()
}

fn parse(bytes: &[u8]) -> Result<StunMessage<'_>, StunError> {
    StunMessage::try_from(bytes)
}

#[test]
fn datagrams_shorter_than_the_header_are_truncated() {
    let good = signed_request(b"k");
    for len in 0..20 {
        assert_eq!(
            parse(&good[..len]),
            Err(StunError::Truncated),
            "{len} bytes"
        );
    }
}

#[test]
fn a_body_shorter_than_the_length_field_is_truncated() {
    let good = signed_request(b"k");
    for len in 20..good.len() {
        assert!(parse(&good[..len]).is_err(), "{len} bytes");
    }
    assert_eq!(parse(&good[..good.len() - 4]), Err(StunError::Truncated));
}

#[test]
fn top_bits_set_is_not_stun() {
    let mut m = signed_request(b"k");
    m[0] |= 0x80;
    assert_eq!(parse(&m), Err(StunError::NotStun));
    m[0] = 0x40;
    assert_eq!(parse(&m), Err(StunError::NotStun));
}

#[test]
fn a_wrong_magic_cookie_is_rejected() {
    let mut m = signed_request(b"k");
    m[7] ^= 1;
    assert_eq!(parse(&m), Err(StunError::BadMagic));
}

#[test]
fn a_length_not_a_multiple_of_four_is_rejected() {
    let mut m = raw_message(0x0001, &[(PRIORITY, &[0, 0, 0, 1])]);
    m[3] = 7;
    m.truncate(27);
    assert_eq!(parse(&m), Err(StunError::LengthMismatch));
}

#[test]
fn trailing_bytes_after_the_message_are_rejected() {
    let mut m = signed_request(b"k");
    m.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(parse(&m), Err(StunError::LengthMismatch));
}

#[test]
fn an_attribute_past_the_end_of_the_message_is_rejected() {
    let mut m = raw_message(0x0001, &[(USERNAME, b"user"), (PRIORITY, &[0, 0, 0, 1])]);
    // USERNAME claims 0xFFFF bytes.
    m[22..24].copy_from_slice(&[0xFF, 0xFF]);
    assert_eq!(parse(&m), Err(StunError::AttributeOverrun));
    // The last attribute's padding would run past the end.
    let mut m = raw_message(0x0001, &[(USERNAME, b"user")]);
    m[23] = 5;
    assert_eq!(parse(&m), Err(StunError::AttributeOverrun));
    // A lone attribute header cut short by the length field.
    let mut m = raw_message(0x0001, &[]);
    m.extend_from_slice(&[0x00, 0x24, 0x00, 0x04]);
    m[3] = 4;
    assert_eq!(parse(&m), Err(StunError::AttributeOverrun));
}

#[test]
fn an_error_code_shorter_than_four_bytes_is_rejected() {
    for len in 0..4 {
        let value = [0u8, 0, 4][..len.min(3)].to_vec();
        let m = raw_message(0x0111, &[(ERROR_CODE, &value)]);
        assert_eq!(parse(&m), Err(StunError::BadErrorCode), "{len} bytes");
    }
}

#[test]
fn an_error_code_outside_its_ranges_is_rejected() {
    for value in [
        &[0u8, 0, 2, 0][..],     // class 2
        &[0, 0, 7, 0][..],       // class 7
        &[0, 0, 4, 100][..],     // number 100
        &[0, 0, 4, 1, 0xFF][..], // reason not UTF-8
    ] {
        let m = raw_message(0x0111, &[(ERROR_CODE, value)]);
        assert_eq!(parse(&m), Err(StunError::BadErrorCode), "{value:?}");
    }
    let too_long = [b'x'; 764];
    let mut value = vec![0, 0, 4, 0];
    value.extend_from_slice(&too_long);
    let m = raw_message(0x0111, &[(ERROR_CODE, &value)]);
    assert_eq!(
        StunMessage::parse(&m, usize::MAX),
        Err(StunError::BadErrorCode)
    );
}

#[test]
fn attributes_after_message_integrity_other_than_fingerprint_are_rejected() {
    let mac = [0u8; 20];
    let m = raw_message(
        0x0001,
        &[(MESSAGE_INTEGRITY, &mac), (SOFTWARE, b"sneaked in")],
    );
    assert_eq!(parse(&m), Err(StunError::AttributeAfterIntegrity));
    let m = raw_message(
        0x0001,
        &[(MESSAGE_INTEGRITY, &mac), (MESSAGE_INTEGRITY, &mac)],
    );
    assert_eq!(parse(&m), Err(StunError::AttributeAfterIntegrity));
    let m = raw_message(0x0001, &[(MESSAGE_INTEGRITY, &mac), (FINGERPRINT, &[0; 4])]);
    assert!(parse(&m).is_ok());
}

#[test]
fn attributes_after_fingerprint_are_rejected() {
    let m = raw_message(0x0001, &[(FINGERPRINT, &[0; 4]), (PRIORITY, &[0; 4])]);
    assert_eq!(parse(&m), Err(StunError::AttributeAfterFingerprint));
}

#[test]
fn a_bad_fingerprint_is_detected() {
    let mut m = signed_request(b"k");
    let last = m.len() - 1;
    m[last] ^= 0x01;
    assert_eq!(verify_fingerprint(&m), Err(StunError::BadFingerprint));
    // Integrity does not cover FINGERPRINT, so it still holds.
    assert_eq!(verify_integrity(&m, b"k"), Ok(()));
}

#[test]
fn a_changed_body_breaks_fingerprint_and_integrity() {
    let mut m = signed_request(b"k");
    // Flip a byte inside the USERNAME value.
    m[24] ^= 0x20;
    assert_eq!(verify_fingerprint(&m), Err(StunError::BadFingerprint));
    assert_eq!(verify_integrity(&m, b"k"), Err(StunError::BadIntegrity));
}

#[test]
fn a_wrong_key_fails_integrity() {
    let m = signed_request(b"right key");
    assert_eq!(verify_integrity(&m, b"right key"), Ok(()));
    assert_eq!(
        verify_integrity(&m, b"wrong key"),
        Err(StunError::BadIntegrity)
    );
    assert_eq!(verify_integrity(&m, b""), Err(StunError::BadIntegrity));
}

#[test]
fn missing_integrity_or_fingerprint_is_named() {
    let m = raw_message(0x0001, &[(PRIORITY, &[0; 4])]);
    assert_eq!(verify_integrity(&m, b"k"), Err(StunError::MissingIntegrity));
    assert_eq!(verify_fingerprint(&m), Err(StunError::MissingFingerprint));
}

#[test]
fn a_datagram_over_the_configured_maximum_is_rejected() {
    let software = vec![b's'; 700];
    let big = raw_message(
        0x0001,
        &[
            (SOFTWARE, &software),
            (0x8123, &software),
            (0x8124, &[0; 100]),
        ],
    );
    assert!(big.len() > DEFAULT_MAX_MESSAGE_LEN);
    assert_eq!(parse(&big), Err(StunError::TooLarge));
    assert!(StunMessage::parse(&big, big.len()).is_ok());
    let small = signed_request(b"k");
    assert_eq!(
        StunMessage::parse(&small, small.len() - 1),
        Err(StunError::TooLarge)
    );
}

#[test]
fn malformed_addresses_are_rejected() {
    for value in [
        &[0u8, 3, 0, 1, 1, 2, 3, 4][..],  // unknown family
        &[0, 1, 0, 1, 1, 2, 3][..],       // IPv4, 3 address bytes
        &[0, 2, 0, 1, 1, 2, 3, 4][..],    // IPv6 family, IPv4 length
        &[0, 1, 0, 1, 1, 2, 3, 4, 5][..], // IPv4, 5 address bytes
        &[0, 1][..],                      // no port
    ] {
        let m = raw_message(0x0101, &[(XOR_MAPPED_ADDRESS, value)]);
        assert_eq!(parse(&m), Err(StunError::BadAddress), "{value:?}");
    }
}

#[test]
fn fixed_size_attributes_with_the_wrong_length_are_rejected() {
    for (kind, len) in [
        (PRIORITY, 3),
        (PRIORITY, 8),
        (USE_CANDIDATE, 4),
        (ICE_CONTROLLING, 4),
        (MESSAGE_INTEGRITY, 32),
        (FINGERPRINT, 8),
        (0x000A, 3), // UNKNOWN-ATTRIBUTES: an odd length
    ] {
        let m = raw_message(0x0001, &[(kind, &vec![0; len])]);
        assert_eq!(
            parse(&m),
            Err(StunError::BadAttributeLength(kind)),
            "{kind:#x}"
        );
    }
}

#[test]
fn a_username_that_is_not_utf8_or_too_long_is_rejected() {
    let m = raw_message(0x0001, &[(USERNAME, &[0xC3, 0x28])]);
    assert_eq!(parse(&m), Err(StunError::BadUsername));
    let m = raw_message(0x0001, &[(USERNAME, &[b'u'; 514])]);
    assert_eq!(parse(&m), Err(StunError::BadUsername));
}

#[test]
fn writer_reports_a_short_buffer_at_every_size() {
    let full = signed_request(b"k");
    for size in 0..full.len() {
        let mut buf = vec![0u8; size];
        let result = StunWriter::new(&mut buf, Class::Request, Method::Binding, [1; 12])
            .username("remote:local")
            .software("peer")
            .priority(99)
            .message_integrity(b"k")
            .fingerprint()
            .finish();
        assert_eq!(result, Err(StunError::BufferTooSmall), "{size} bytes");
    }
}

#[test]
fn writer_refuses_attributes_after_integrity_or_fingerprint() {
    let mut buf = [0u8; 128];
    let r = StunWriter::new(&mut buf, Class::Request, Method::Binding, [1; 12])
        .message_integrity(b"k")
        .priority(1)
        .finish();
    assert_eq!(r, Err(StunError::AttributeAfterIntegrity));
    let r = StunWriter::new(&mut buf, Class::Request, Method::Binding, [1; 12])
        .fingerprint()
        .message_integrity(b"k")
        .finish();
    assert_eq!(r, Err(StunError::AttributeAfterFingerprint));
}

#[test]
fn writer_refuses_values_outside_their_limits() {
    let mut buf = [0u8; 2048];
    let long = "u".repeat(514);
    let r = StunWriter::new(&mut buf, Class::Request, Method::Binding, [1; 12])
        .username(&long)
        .finish();
    assert_eq!(r, Err(StunError::ValueTooLong));
    for code in [0, 299, 700, 999] {
        let r = StunWriter::new(&mut buf, Class::Error, Method::Binding, [1; 12])
            .error_code(code, "x")
            .finish();
        assert_eq!(r, Err(StunError::BadErrorCode), "{code}");
    }
    let r = StunWriter::new(&mut buf, Class::Request, Method::Other(0x1000), [1; 12]).finish();
    assert_eq!(r, Err(StunError::BadMethod));
    let mut huge = vec![0u8; 70_000];
    let value = vec![0u8; 40_000];
    let r = StunWriter::new(&mut huge, Class::Request, Method::Binding, [1; 12])
        .attribute(0x8001, &value)
        .attribute(0x8002, &value)
        .finish();
    assert_eq!(r, Err(StunError::ValueTooLong));
}

#[test]
fn binding_success_refuses_anything_but_a_binding_request() {
    let mut buf = [0u8; 64];
    let len = StunWriter::new(&mut buf, Class::Indication, Method::Binding, [1; 12])
        .finish()
        .unwrap();
    let indication = StunMessage::try_from(&buf[..len]).unwrap();
    let mut out = [0u8; 128];
    assert_eq!(
        binding_success(&indication, "1.2.3.4:5".parse().unwrap(), b"k", &mut out),
        Err(StunError::NotBindingRequest)
    );
}

#[test]
fn every_error_has_a_message() {
    let all = [
        StunError::Truncated,
        StunError::TooLarge,
        StunError::NotStun,
        StunError::BadMagic,
        StunError::LengthMismatch,
        StunError::AttributeOverrun,
        StunError::BadAttributeLength(0x24),
        StunError::BadAddress,
        StunError::BadUsername,
        StunError::BadErrorCode,
        StunError::AttributeAfterIntegrity,
        StunError::AttributeAfterFingerprint,
        StunError::UnknownRequired(0x7777),
        StunError::MissingIntegrity,
        StunError::MissingFingerprint,
        StunError::BadFingerprint,
        StunError::BadIntegrity,
        StunError::BufferTooSmall,
        StunError::ValueTooLong,
        StunError::BadMethod,
        StunError::NotBindingRequest,
    ];
    let mut seen = std::collections::HashSet::new();
    for e in all {
        let text = e.to_string();
        assert!(text.contains("STUN") || text.contains("stun") || text.contains("buffer"));
        assert!(seen.insert(text), "{e:?} shares its message");
    }
}
