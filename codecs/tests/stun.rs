//! STUN against the RFC 5769 test vectors, and writer round trips.

use std::net::SocketAddr;

use talko_codecs::stun::{
    binding_error, binding_success, verify_fingerprint, verify_integrity, BindingError, Class,
    Method, StunError, StunMessage, StunWriter, NONCE, REALM, SOFTWARE, XOR_MAPPED_ADDRESS,
};

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// RFC 5769 §2.1–2.3: the short-term password of the sample messages.
const PASSWORD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
const TID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

// RFC 5769 §2.1 Sample Request.
const SAMPLE_REQUEST: &str = "
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff
    80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf";

// RFC 5769 §2.2 Sample IPv4 Response.
const SAMPLE_IPV4_RESPONSE: &str = "
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96";

// RFC 5769 §2.3 Sample IPv6 Response.
const SAMPLE_IPV6_RESPONSE: &str = "
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c";

// RFC 5769 §2.4 Sample Request with Long-Term Authentication.
const SAMPLE_LONG_TERM_REQUEST: &str = "
    00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
    00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
    00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
    00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
    00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66";

/// RFC 5769 §2.4: the long-term key MD5("マトリックス:example.org:TheMatrIX"), computed
/// outside the test (`printf 'マトリックス:example.org:TheMatrIX' | md5sum`) because talko
/// has no MD5: it never uses long-term credentials.
const LONG_TERM_KEY: &str = "e8ca7ad59d5eb0518e312911d2dab2a9";

// RFC 5769 §2.1
#[test]
fn rfc5769_sample_request_verifies_and_decodes() {
    let bytes = hex(SAMPLE_REQUEST);
    let msg = StunMessage::try_from(bytes.as_slice()).unwrap();
    assert_eq!(msg.class(), Class::Request);
    assert_eq!(msg.method(), Method::Binding);
    assert!(msg.is_binding_request());
    assert_eq!(msg.transaction_id(), TID);
    assert_eq!(msg.software(), Some("STUN test client"));
    assert_eq!(msg.priority(), Some(0x6e00_01ff));
    assert_eq!(msg.ice_controlled(), Some(0x932f_f9b1_5126_3b36));
    assert_eq!(msg.ice_controlling(), None);
    assert_eq!(msg.username(), Some("evtj:h6vY"));
    assert!(!msg.use_candidate());
    assert!(msg.has_message_integrity());
    assert!(msg.has_fingerprint());
    assert_eq!(msg.check_comprehension(), Ok(()));
    assert_eq!(msg.verify_integrity(PASSWORD), Ok(()));
    assert_eq!(msg.verify_fingerprint(), Ok(()));
    assert_eq!(verify_integrity(&bytes, PASSWORD), Ok(()));
    assert_eq!(verify_fingerprint(&bytes), Ok(()));
    let kinds: Vec<u16> = msg.attributes().map(|a| a.kind).collect();
    assert_eq!(kinds, [0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028]);
}

// RFC 5769 §2.2
#[test]
fn rfc5769_ipv4_response_verifies_and_decodes() {
    let bytes = hex(SAMPLE_IPV4_RESPONSE);
    let msg = StunMessage::try_from(bytes.as_slice()).unwrap();
    assert_eq!(msg.class(), Class::Success);
    assert_eq!(msg.method(), Method::Binding);
    assert_eq!(msg.transaction_id(), TID);
    assert_eq!(msg.software(), Some("test vector"));
    let expected: SocketAddr = "192.0.2.1:32853".parse().unwrap();
    assert_eq!(msg.xor_mapped_address(), Some(expected));
    assert_eq!(msg.verify_integrity(PASSWORD), Ok(()));
    assert_eq!(msg.verify_fingerprint(), Ok(()));
}

// RFC 5769 §2.3
#[test]
fn rfc5769_ipv6_response_verifies_and_decodes() {
    let bytes = hex(SAMPLE_IPV6_RESPONSE);
    let msg = StunMessage::try_from(bytes.as_slice()).unwrap();
    assert_eq!(msg.class(), Class::Success);
    let expected: SocketAddr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
        .parse()
        .unwrap();
    assert_eq!(msg.xor_mapped_address(), Some(expected));
    assert_eq!(msg.verify_integrity(PASSWORD), Ok(()));
    assert_eq!(msg.verify_fingerprint(), Ok(()));
}

// RFC 5769 §2.4
#[test]
fn rfc5769_long_term_request_verifies_under_the_md5_key() {
    let bytes = hex(SAMPLE_LONG_TERM_REQUEST);
    let key = hex(LONG_TERM_KEY);
    let msg = StunMessage::try_from(bytes.as_slice()).unwrap();
    assert_eq!(msg.username(), Some("マトリックス"));
    assert_eq!(msg.nonce(), Some(&b"f//499k954d6OL34oL9FSTvy64sA"[..]));
    assert_eq!(msg.realm(), Some(&b"example.org"[..]));
    assert_eq!(msg.verify_integrity(&key), Ok(()));
    assert_eq!(msg.verify_integrity(PASSWORD), Err(StunError::BadIntegrity));
    assert_eq!(msg.verify_fingerprint(), Err(StunError::MissingFingerprint));
}

// RFC 5769 §2.4: its attributes are zero-padded, so the writer reproduces it exactly,
// MESSAGE-INTEGRITY included.
#[test]
fn writer_reproduces_the_long_term_vector_byte_for_byte() {
    let expected = hex(SAMPLE_LONG_TERM_REQUEST);
    let key = hex(LONG_TERM_KEY);
    let tid: [u8; 12] = expected[8..20].try_into().unwrap();
    let mut buf = [0u8; 256];
    let len = StunWriter::new(&mut buf, Class::Request, Method::Binding, tid)
        .username("マトリックス")
        .attribute(NONCE, b"f//499k954d6OL34oL9FSTvy64sA")
        .attribute(REALM, b"example.org")
        .message_integrity(&key)
        .finish()
        .unwrap();
    assert_eq!(&buf[..len], expected.as_slice());
}

// RFC 5769 §2.2 and §2.3: XOR-MAPPED-ADDRESS encodes to the vectors' bytes.
#[test]
fn writer_encodes_xor_mapped_address_like_the_vectors() {
    for (vector, addr) in [
        (SAMPLE_IPV4_RESPONSE, "192.0.2.1:32853"),
        (
            SAMPLE_IPV6_RESPONSE,
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
        ),
    ] {
        let bytes = hex(vector);
        let want = StunMessage::try_from(bytes.as_slice())
            .unwrap()
            .attributes()
            .find(|a| a.kind == XOR_MAPPED_ADDRESS)
            .unwrap()
            .value
            .to_vec();
        let mut buf = [0u8; 64];
        let len = StunWriter::new(&mut buf, Class::Success, Method::Binding, TID)
            .xor_mapped_address(addr.parse().unwrap())
            .finish()
            .unwrap();
        let built = StunMessage::try_from(&buf[..len]).unwrap();
        assert_eq!(built.attributes().next().unwrap().value, want.as_slice());
    }
}

#[test]
fn built_request_parses_back_with_every_field_and_verifies() {
    let key = b"ice-password-of-the-peer";
    let mut buf = [0u8; 256];
    let len = StunWriter::new(&mut buf, Class::Request, Method::Binding, [9; 12])
        .username("lite:full")
        .software("talko")
        .priority(0x7e7f_00ff)
        .use_candidate()
        .ice_controlling(0xdead_beef_0bad_f00d)
        .message_integrity(key)
        .fingerprint()
        .finish()
        .unwrap();
    assert_eq!(len % 4, 0);
    let msg = StunMessage::try_from(&buf[..len]).unwrap();
    assert!(msg.is_binding_request());
    assert_eq!(msg.transaction_id(), [9; 12]);
    assert_eq!(msg.username(), Some("lite:full"));
    assert_eq!(msg.software(), Some("talko"));
    assert_eq!(msg.priority(), Some(0x7e7f_00ff));
    assert!(msg.use_candidate());
    assert_eq!(msg.ice_controlling(), Some(0xdead_beef_0bad_f00d));
    assert_eq!(msg.verify_integrity(key), Ok(()));
    assert_eq!(
        msg.verify_integrity(b"another"),
        Err(StunError::BadIntegrity)
    );
    assert_eq!(msg.verify_fingerprint(), Ok(()));
}

#[test]
fn built_error_response_carries_code_and_reason() {
    let mut buf = [0u8; 128];
    let len = StunWriter::new(&mut buf, Class::Error, Method::Binding, [1; 12])
        .error_code(438, "Stale Nonce")
        .ice_controlled(7)
        .fingerprint()
        .finish()
        .unwrap();
    let msg = StunMessage::try_from(&buf[..len]).unwrap();
    assert_eq!(msg.class(), Class::Error);
    assert_eq!(msg.error_code(), Some((438, "Stale Nonce")));
    assert_eq!(msg.ice_controlled(), Some(7));
    assert_eq!(msg.verify_fingerprint(), Ok(()));
}

#[test]
fn every_class_and_method_survives_the_type_interleaving() {
    for class in [
        Class::Request,
        Class::Indication,
        Class::Success,
        Class::Error,
    ] {
        for method in [0x001, 0x003, 0x00F, 0x010, 0x070, 0x080, 0xF80, 0xFFF] {
            let method = if method == 1 {
                Method::Binding
            } else {
                Method::Other(method)
            };
            let mut buf = [0u8; 20];
            let len = StunWriter::new(&mut buf, class, method, [3; 12])
                .finish()
                .unwrap();
            let msg = StunMessage::try_from(&buf[..len]).unwrap();
            assert_eq!((msg.class(), msg.method()), (class, method));
        }
    }
    // The Binding request, success and error types are the well-known values.
    let mut buf = [0u8; 20];
    StunWriter::new(&mut buf, Class::Error, Method::Binding, [0; 12])
        .finish()
        .unwrap();
    assert_eq!(&buf[..2], &[0x01, 0x11]);
}

#[test]
fn binding_success_answers_the_rfc_request() {
    let request_bytes = hex(SAMPLE_REQUEST);
    let request = StunMessage::try_from(request_bytes.as_slice()).unwrap();
    let local_password = b"local-ice-password";
    for from in ["198.51.100.7:40000", "[2001:db8::42]:5000"] {
        let from: SocketAddr = from.parse().unwrap();
        let mut out = [0u8; 128];
        let len = binding_success(&request, from, local_password, &mut out).unwrap();
        let response = StunMessage::try_from(&out[..len]).unwrap();
        assert_eq!(response.class(), Class::Success);
        assert_eq!(response.method(), Method::Binding);
        assert_eq!(response.transaction_id(), TID);
        assert_eq!(response.xor_mapped_address(), Some(from));
        assert_eq!(verify_integrity(&out[..len], local_password), Ok(()));
        assert_eq!(verify_fingerprint(&out[..len]), Ok(()));
    }
}

#[test]
fn binding_error_role_conflict_is_signed_and_unauthorized_is_not() {
    let request_bytes = hex(SAMPLE_REQUEST);
    let request = StunMessage::try_from(request_bytes.as_slice()).unwrap();
    let key = b"local-ice-password";
    let mut out = [0u8; 128];

    let len = binding_error(&request, BindingError::RoleConflict, Some(key), &mut out).unwrap();
    let msg = StunMessage::try_from(&out[..len]).unwrap();
    assert_eq!(msg.class(), Class::Error);
    assert_eq!(msg.error_code(), Some((487, "Role Conflict")));
    assert_eq!(msg.verify_integrity(key), Ok(()));
    assert_eq!(msg.verify_fingerprint(), Ok(()));

    let len = binding_error(&request, BindingError::Unauthorized, Some(key), &mut out).unwrap();
    let msg = StunMessage::try_from(&out[..len]).unwrap();
    assert_eq!(msg.error_code(), Some((401, "Unauthorized")));
    assert!(!msg.has_message_integrity());
    assert_eq!(msg.verify_fingerprint(), Ok(()));

    let len = binding_error(&request, BindingError::BadRequest, None, &mut out).unwrap();
    let msg = StunMessage::try_from(&out[..len]).unwrap();
    assert_eq!(msg.error_code(), Some((400, "Bad Request")));
}

#[test]
fn unknown_required_attributes_are_reported_and_answered_with_420() {
    let mut buf = [0u8; 128];
    let len = StunWriter::new(&mut buf, Class::Request, Method::Binding, [5; 12])
        .username("a:b")
        .attribute(0x7777, b"xyz")
        .attribute(0x8888, b"optional, skipped")
        .attribute(0x0003, &[0, 0, 0, 0])
        .finish()
        .unwrap();
    let request = StunMessage::try_from(&buf[..len]).unwrap();
    assert_eq!(
        request.check_comprehension(),
        Err(StunError::UnknownRequired(0x7777))
    );
    assert_eq!(
        request.unknown_required().collect::<Vec<_>>(),
        [0x7777, 0x0003]
    );

    let mut out = [0u8; 128];
    let len = binding_error(&request, BindingError::UnknownAttribute, None, &mut out).unwrap();
    let response = StunMessage::try_from(&out[..len]).unwrap();
    assert_eq!(response.error_code(), Some((420, "Unknown Attribute")));
    assert_eq!(
        response.unknown_attributes().collect::<Vec<_>>(),
        [0x7777, 0x0003]
    );
    assert_eq!(response.check_comprehension(), Ok(()));
}

#[test]
fn unknown_optional_attributes_are_skipped() {
    let mut buf = [0u8; 64];
    let len = StunWriter::new(&mut buf, Class::Request, Method::Binding, [5; 12])
        .attribute(0xC001, b"vendor")
        .priority(1)
        .finish()
        .unwrap();
    let msg = StunMessage::try_from(&buf[..len]).unwrap();
    assert_eq!(msg.check_comprehension(), Ok(()));
    assert_eq!(msg.unknown_required().count(), 0);
    assert_eq!(msg.priority(), Some(1));
}

#[test]
fn the_first_of_duplicate_attributes_wins() {
    let mut buf = [0u8; 64];
    let len = StunWriter::new(&mut buf, Class::Request, Method::Binding, [5; 12])
        .priority(1)
        .priority(2)
        .username("first")
        .username("second")
        .finish()
        .unwrap();
    let msg = StunMessage::try_from(&buf[..len]).unwrap();
    assert_eq!(msg.priority(), Some(1));
    assert_eq!(msg.username(), Some("first"));
}

#[test]
fn software_attribute_is_written_and_read() {
    let mut buf = [0u8; 64];
    let len = StunWriter::new(&mut buf, Class::Indication, Method::Binding, [5; 12])
        .software("talko 0.1")
        .finish()
        .unwrap();
    let msg = StunMessage::try_from(&buf[..len]).unwrap();
    assert_eq!(msg.class(), Class::Indication);
    assert_eq!(msg.software(), Some("talko 0.1"));
    let raw = msg.attributes().next().unwrap();
    assert_eq!((raw.kind, raw.value), (SOFTWARE, &b"talko 0.1"[..]));
}
