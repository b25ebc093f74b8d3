//! Packet-parser benchmarks (issue: workspace and parsers).
//!
//! - `rtp/parse_172B`: validate a typical 172-byte Opus RTP packet (12-byte header, a
//!   one-byte-form extension block holding an RFC 6464 audio level, 152-byte payload; the
//!   constructor walks and checks every extension element) and read its header fields and
//!   payload. Target: ≤ 15 ns median, 0 allocations (`codecs/tests/rtp_alloc.rs`).
//! - `rtp/parse_172B_read_audio_level`: the same, also looking up the audio level.
//! - `rtp/rtp_crate_unmarshal_172B`: `rtp::packet::Packet::unmarshal` on the same bytes, the
//!   oracle talko must beat by ≥ 10× (it copies the payload into `Bytes` and collects the
//!   extensions into a `Vec`).
//! - `rtcp/walk_sr_sdes`: walk a compound SR (one report block) + SDES CNAME and read every
//!   field.
//! - `stun/verify_binding_request`: parse an ICE Binding request and verify its
//!   MESSAGE-INTEGRITY (HMAC-SHA1) and FINGERPRINT (CRC-32).
//!
//! Run: `cargo bench -p talko-benches --bench parsers`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use talko_codecs::rtcp::{self, CompoundWriter, ReportBlock, RtcpPacket, SenderInfo};
use talko_codecs::rtp::{audio_level, Extension, RtpHeader, RtpPacket};
use talko_codecs::stun::{self, Class, Method, StunMessage, StunWriter};
use webrtc_util::Unmarshal;

const AUDIO_LEVEL_ID: u8 = 1;

fn rtp_packet() -> Vec<u8> {
    let level = [0x80 | 30];
    let ext = [Extension {
        id: AUDIO_LEVEL_ID,
        data: &level,
    }];
    let header = RtpHeader {
        marker: false,
        payload_type: 111,
        sequence_number: 4711,
        timestamp: 960 * 1000,
        ssrc: 0x1234_5678,
        csrcs: &[],
        extensions: &ext,
        padding: 0,
    };
    let payload_len = 172 - header.len(0);
    let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7) as u8).collect();
    let mut out = vec![0u8; 1500];
    let n = header
        .write(&payload, &mut out)
        .expect("benchmark packet fits");
    out.truncate(n);
    assert_eq!(out.len(), 172);
    out
}

fn bench_rtp(c: &mut Criterion) {
    let pkt = rtp_packet();
    let mut g = c.benchmark_group("rtp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_172B", |b| {
        b.iter(|| {
            let p = RtpPacket::try_from(black_box(&pkt[..])).expect("valid packet");
            black_box((
                p.sequence_number(),
                p.timestamp(),
                p.ssrc(),
                p.payload_type(),
                p.payload().len(),
            ))
        })
    });
    g.bench_function("parse_172B_read_audio_level", |b| {
        b.iter(|| {
            let p = RtpPacket::try_from(black_box(&pkt[..])).expect("valid packet");
            let level = audio_level(&p, AUDIO_LEVEL_ID).map(|l| l.level_dbov);
            black_box((p.sequence_number(), p.ssrc(), level, p.payload().len()))
        })
    });
    g.bench_function("rtp_crate_unmarshal_172B", |b| {
        b.iter(|| {
            let p = rtp::packet::Packet::unmarshal(&mut black_box(&pkt[..])).expect("valid");
            black_box((
                p.header.sequence_number,
                p.header.timestamp,
                p.header.ssrc,
                p.header.payload_type,
                p.payload.len(),
            ))
        })
    });
    g.finish();
}

fn bench_rtcp(c: &mut Criterion) {
    let mut buf = [0u8; 1500];
    let info = SenderInfo {
        ssrc: 0x1234_5678,
        ntp_timestamp: 0xE5A1_0000_8000_0000,
        rtp_timestamp: 96_000,
        packet_count: 500,
        octet_count: 76_000,
    };
    let block = ReportBlock {
        ssrc: 0x9ABC_DEF0,
        fraction_lost: 3,
        cumulative_lost: 12,
        highest_seq: 70_000,
        jitter: 240,
        lsr: 0x1234_5678,
        dlsr: 0x0001_0000,
    };
    let mut w = CompoundWriter::new(&mut buf);
    w.sender_report(&info, &[block])
        .and_then(|w| w.sdes_cname(0x1234_5678, b"talko-bench@example.invalid"))
        .expect("compound fits");
    let n = w.finish();
    let pkt = buf[..n].to_vec();
    c.bench_function("rtcp/walk_sr_sdes", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for p in rtcp::packets(black_box(&pkt)) {
                match p.expect("valid compound") {
                    RtcpPacket::SenderReport(sr) => {
                        acc += u64::from(sr.ssrc());
                        for rb in sr.report_blocks() {
                            acc += u64::from(rb.highest_seq) + u64::from(rb.jitter);
                        }
                    }
                    RtcpPacket::Sdes(sdes) => {
                        for chunk in sdes.chunks() {
                            acc += u64::from(chunk.ssrc);
                            for item in chunk.items() {
                                acc += item.data.len() as u64;
                            }
                        }
                    }
                    _ => {}
                }
            }
            black_box(acc)
        })
    });
}

fn bench_stun(c: &mut Criterion) {
    let key = b"VOkJxbRl1RmTxUk/WvJxBt";
    let mut buf = [0u8; 1500];
    let n = StunWriter::new(&mut buf, Class::Request, Method::Binding, [7; 12])
        .username("evtj:h6vY")
        .priority(0x6E00_01FF)
        .ice_controlling(0x932F_F9B1_5126_3B36)
        .use_candidate()
        .message_integrity(key)
        .fingerprint()
        .finish()
        .expect("request fits");
    let msg = buf[..n].to_vec();
    c.bench_function("stun/verify_binding_request", |b| {
        b.iter(|| {
            let m = StunMessage::try_from(black_box(&msg[..])).expect("valid request");
            stun::verify_integrity(m.as_bytes(), key).expect("integrity");
            stun::verify_fingerprint(m.as_bytes()).expect("fingerprint");
            black_box(m.username())
        })
    });
}

criterion_group!(benches, bench_rtp, bench_rtcp, bench_stun);
criterion_main!(benches);
