//! An ICE connectivity check over real UDP on loopback: a full agent's Binding request
//! crosses a socket, is demultiplexed, authenticated and answered the ICE-lite way, and
//! the answer tells the requester its own address.

use std::net::UdpSocket;
use std::time::Duration;

use talko_codecs::demux::{classify, Kind};
use talko_codecs::stun::{
    binding_error, binding_success, BindingError, Class, Method, StunError, StunMessage, StunWriter,
};

const LITE_UFRAG: &str = "lite";
const LITE_PASSWORD: &[u8] = b"lite-password-0123456789";
const FULL_UFRAG: &str = "full";

/// What the ICE-lite side does with one datagram: answer a check whose USERNAME names it
/// and whose MESSAGE-INTEGRITY verifies with its password; 401 anything else.
fn serve_one(socket: &UdpSocket) -> Result<(), StunError> {
    let mut buf = [0u8; 1500];
    let (len, from) = socket.recv_from(&mut buf).unwrap();
    let datagram = &buf[..len];
    assert_eq!(classify(datagram), Kind::Stun);
    let request = StunMessage::try_from(datagram)?;
    request.verify_fingerprint()?;
    let mut out = [0u8; 256];
    let for_us = request
        .username()
        .and_then(|u| u.split_once(':'))
        .is_some_and(|(local, _)| local == LITE_UFRAG);
    let n = if for_us && request.verify_integrity(LITE_PASSWORD).is_ok() {
        binding_success(&request, from, LITE_PASSWORD, &mut out)?
    } else {
        binding_error(&request, BindingError::Unauthorized, None, &mut out)?
    };
    socket.send_to(&out[..n], from).unwrap();
    Ok(())
}

fn check(client: &UdpSocket, server: &UdpSocket, password: &[u8], tid: [u8; 12]) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let username = format!("{LITE_UFRAG}:{FULL_UFRAG}");
    let len = StunWriter::new(&mut buf, Class::Request, Method::Binding, tid)
        .username(&username)
        .priority(0x6e7f_1eff)
        .ice_controlling(0x1234_5678_9abc_def0)
        .use_candidate()
        .message_integrity(password)
        .fingerprint()
        .finish()
        .unwrap();
    client
        .send_to(&buf[..len], server.local_addr().unwrap())
        .unwrap();
    serve_one(server).unwrap();
    let mut answer = vec![0u8; 1500];
    let n = client.recv(&mut answer).unwrap();
    answer.truncate(n);
    answer
}

#[test]
fn a_connectivity_check_over_loopback_learns_the_mapped_address() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&server, &client] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }

    let answer = check(&client, &server, LITE_PASSWORD, [0x11; 12]);
    let response = StunMessage::try_from(answer.as_slice()).unwrap();
    assert_eq!(response.class(), Class::Success);
    assert_eq!(response.transaction_id(), [0x11; 12]);
    assert_eq!(
        response.xor_mapped_address(),
        Some(client.local_addr().unwrap())
    );
    assert_eq!(response.verify_integrity(LITE_PASSWORD), Ok(()));
    assert_eq!(response.verify_fingerprint(), Ok(()));

    // The wrong password earns a 401 without MESSAGE-INTEGRITY.
    let answer = check(&client, &server, b"guessed", [0x22; 12]);
    let response = StunMessage::try_from(answer.as_slice()).unwrap();
    assert_eq!(response.class(), Class::Error);
    assert_eq!(response.transaction_id(), [0x22; 12]);
    assert_eq!(response.error_code(), Some((401, "Unauthorized")));
    assert!(!response.has_message_integrity());
    assert_eq!(response.verify_fingerprint(), Ok(()));
}
