//! Interop with an SRTP implementation written elsewhere: ffmpeg (its own `srtp`
//! protocol, libavformat/srtp.c) sends a 440 Hz tone as Opus over SRTP
//! (AES_CM_128_HMAC_SHA1_80) and SRTCP to loopback UDP sockets bound here. talko
//! must unprotect every packet, and the payloads must decode with libopus into the
//! tone.
//!
//! ffmpeg is a test dependency (`scripts/test` installs it). A machine without it fails
//! this test loudly; set `TALKO_SKIP_FFMPEG=1` to skip it deliberately.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use talko_codecs::rtp::RtpPacket;
use talko_codecs::srtp::{SrtpConfig, SrtpContext, SrtpProfile};

/// The whole exchange must finish within this time (the tone lasts 2 s).
const DEADLINE: Duration = Duration::from_secs(30);
const TONE_HZ: f64 = 440.0;
const TONE_SECONDS: f64 = 2.0;

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Binds an RTP socket on an even port and its RTCP socket on the next one.
fn bind_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..50 {
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rtp.local_addr().unwrap().port();
        if port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", port + 1)) {
            return (rtp, rtcp);
        }
    }
    panic!("no free pair of adjacent UDP ports on loopback");
}

/// Kills and reaps ffmpeg however the test ends (success, assertion, deadline).
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ffmpeg_available() -> bool {
    match Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) => status.success(),
        Err(_) => false,
    }
}

// A real subprocess must be bounded in wall-clock time: this test reads the clock.
#[allow(clippy::disallowed_methods)]
#[test]
fn ffmpeg_srtp_opus_stream_is_unprotected_and_decodes_to_the_tone() {
    if !ffmpeg_available() {
        if std::env::var("TALKO_SKIP_FFMPEG").as_deref() == Ok("1") {
            eprintln!("SKIPPED: ffmpeg not found and TALKO_SKIP_FFMPEG=1");
            return;
        }
        panic!("ffmpeg is required for the SRTP interop test (scripts/test installs it); set TALKO_SKIP_FFMPEG=1 to skip");
    }

    let master: Vec<u8> = (0..30u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let profile = SrtpProfile::AesCm128HmacSha1_80;
    let mut rx =
        SrtpContext::new(profile, &master[..16], &master[16..], SrtpConfig::default()).unwrap();

    let (rtp_sock, rtcp_sock) = bind_pair();
    let port = rtp_sock.local_addr().unwrap().port();
    rtp_sock
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    rtcp_sock.set_nonblocking(true).unwrap();

    let mut child = Reaped(
        Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostdin",
                "-re",
                "-f",
                "lavfi",
                "-i",
            ])
            .arg(format!("sine=frequency={TONE_HZ}:duration={TONE_SECONDS}"))
            .args(["-c:a", "libopus", "-b:a", "64k", "-f", "rtp"])
            .args([
                "-srtp_out_suite",
                "AES_CM_128_HMAC_SHA1_80",
                "-srtp_out_params",
            ])
            .arg(base64(&master))
            .arg(format!(
                "srtp://127.0.0.1:{port}?rtcpport={}&pkt_size=1200",
                port + 1
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ffmpeg"),
    );

    let start = Instant::now();
    let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut pcm: Vec<i16> = Vec::new();
    let mut frame = vec![0i16; 5760];
    let (mut rtp_packets, mut rtcp_packets) = (0usize, 0usize);
    let mut exited_at: Option<Instant> = None;
    let mut buf = [0u8; 2048];
    loop {
        if start.elapsed() > DEADLINE {
            panic!("ffmpeg exchange exceeded {DEADLINE:?}");
        }
        if exited_at.is_none() {
            if let Some(status) = child.0.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = child.0.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                assert!(status.success(), "ffmpeg failed: {status}: {err}");
                exited_at = Some(Instant::now());
            }
        }
        match rtp_sock.recv(&mut buf) {
            Ok(n) => {
                let len = rx
                    .unprotect_rtp(&mut buf[..n])
                    .unwrap_or_else(|e| panic!("packet {rtp_packets} from ffmpeg: {e}"));
                let pkt = RtpPacket::try_from(&buf[..len]).expect("decrypted RTP parses");
                let samples = decoder
                    .decode(pkt.payload(), &mut frame, false)
                    .expect("payload decodes as Opus");
                pcm.extend_from_slice(&frame[..samples]);
                rtp_packets += 1;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if exited_at.is_some_and(|t| t.elapsed() > Duration::from_millis(500)) {
                    break;
                }
            }
            Err(e) => panic!("recv: {e}"),
        }
        while let Ok(n) = rtcp_sock.recv(&mut buf) {
            let len = rx
                .unprotect_rtcp(&mut buf[..n])
                .unwrap_or_else(|e| panic!("SRTCP from ffmpeg: {e}"));
            assert!(len >= 8);
            assert_eq!(buf[1], 200, "ffmpeg sends sender reports");
            rtcp_packets += 1;
        }
    }

    eprintln!(
        "ffmpeg interop: {rtp_packets} SRTP, {rtcp_packets} SRTCP packets, {} samples",
        pcm.len()
    );
    let expected_samples = (TONE_SECONDS * 48_000.0) as usize;
    assert!(rtp_packets >= 90, "only {rtp_packets} RTP packets arrived");
    assert!(rtcp_packets >= 1, "no SRTCP sender report arrived");
    assert!(
        pcm.len() >= expected_samples * 9 / 10,
        "decoded {} samples, expected about {expected_samples}",
        pcm.len()
    );
    // Skip the codec's start-up, then check level and pitch.
    let steady = &pcm[4800..pcm.len() - 4800];
    let rms =
        (steady.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / steady.len() as f64).sqrt();
    assert!(rms > 1000.0, "decoded audio is silent (rms {rms:.1})");
    let crossings = steady
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    let hz = crossings as f64 / 2.0 / (steady.len() as f64 / 48_000.0);
    eprintln!("ffmpeg interop: rms {rms:.0}, pitch {hz:.1} Hz");
    assert!(
        (hz - TONE_HZ).abs() < TONE_HZ * 0.03,
        "decoded tone is {hz:.1} Hz, expected {TONE_HZ} Hz"
    );
}
