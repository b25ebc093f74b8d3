#![no_main]
//! The engine's receive path under hostile input: an `Engine` with one call and two
//! participants (fixed keys from `talko_engine::sim`) gets a script of operations decoded
//! from the fuzz input — raw datagrams from a participant's address or a stranger's,
//! SRTP packets correctly protected with a participant's keys but carrying fuzzed RTP
//! fields, extensions and Opus payloads (so the fuzzer gets past authentication into the
//! jitter buffer, level parsing, the decoder and the mixer), and ticks. Must never panic.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use talko_codecs::rtp::{Extension, RtpHeader};
use talko_codecs::srtp::{SrtpConfig, SrtpContext};
use talko_engine::sim::{keys_of, ClientConfig, SimClient};
use talko_engine::{CallId, Command, Engine, EngineConfig, ParticipantId};

const CLIENTS: usize = 2;

fuzz_target!(|data: &[u8]| {
    let mut engine = Engine::new(EngineConfig {
        max_calls: 2,
        max_participants: 4,
        ..EngineConfig::default()
    });
    // The one clock read: an origin for the virtual time below.
    let mut now = Instant::now();
    let call = CallId(1);
    let _ = engine.handle_command(now, Command::CreateCall { call });
    let mut addrs = Vec::with_capacity(CLIENTS);
    let mut ssrcs = Vec::with_capacity(CLIENTS);
    let mut senders = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let Ok(client) = SimClient::new(ClientConfig::new(i)) else {
            return;
        };
        let spec = client.spec(None);
        addrs.push(client.addr);
        ssrcs.push(spec.ssrc_in);
        let up = keys_of(i, 0);
        let Ok(tx) = SrtpContext::new(
            up.profile,
            &up.master_key,
            &up.master_salt,
            SrtpConfig::default(),
        ) else {
            return;
        };
        senders.push(tx);
        let _ = engine.handle_command(
            now,
            Command::AddParticipant {
                call,
                participant: ParticipantId(i as u64),
                spec,
            },
        );
    }
    let stranger = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 66)), 9);
    let mut out = vec![0u8; 1500];
    let mut pkt = vec![0u8; 2048];
    let mut seqs = [100u16, 200u16];
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        let Some((&len, tail)) = tail.split_first() else {
            break;
        };
        let take = usize::from(len).min(tail.len());
        let (body, tail) = tail.split_at(take);
        rest = tail;
        let who = usize::from(op >> 7) % CLIENTS;
        match op & 0x3 {
            // A raw datagram from a participant's address or from a stranger.
            0 | 1 => {
                let from = if op & 0x3 == 0 {
                    addrs.get(who).copied().unwrap_or(stranger)
                } else {
                    stranger
                };
                let Some(buf) = pkt.get_mut(..body.len()) else {
                    continue;
                };
                buf.copy_from_slice(body);
                engine.handle_datagram(now, from, buf);
            }
            // An authenticated packet with fuzzed fields and payload.
            2 => {
                let (fields, payload) = body.split_at(body.len().min(6));
                let f = |i: usize| fields.get(i).copied().unwrap_or(0);
                let seq = seqs
                    .get(who)
                    .copied()
                    .unwrap_or(0)
                    .wrapping_add(u16::from(f(0) % 8));
                if let Some(s) = seqs.get_mut(who) {
                    *s = seq.wrapping_add(1);
                }
                let ext_data = [f(3)];
                let ext = [Extension {
                    id: 1 + f(2) % 14,
                    data: &ext_data,
                }];
                let header = RtpHeader {
                    marker: f(1) & 1 != 0,
                    payload_type: if f(1) & 2 != 0 { f(4) & 0x7F } else { 111 },
                    sequence_number: seq,
                    timestamp: u32::from(seq)
                        .wrapping_mul(960)
                        .wrapping_add(u32::from(f(5))),
                    ssrc: ssrcs.get(who).copied().unwrap_or(0),
                    extensions: if f(1) & 4 != 0 { &ext } else { &[] },
                    ..RtpHeader::default()
                };
                let Ok(n) = header.write(payload, &mut pkt) else {
                    continue;
                };
                let Some(tx) = senders.get_mut(who) else {
                    continue;
                };
                let Ok(n) = tx.protect_rtp(&mut pkt, n) else {
                    continue;
                };
                let from = addrs.get(who).copied().unwrap_or(stranger);
                if let Some(buf) = pkt.get_mut(..n) {
                    engine.handle_datagram(now, from, buf);
                }
            }
            // Time passes; due ticks run.
            _ => {
                now += Duration::from_millis(u64::from(body.first().copied().unwrap_or(20)));
                engine.handle_timeout(now);
            }
        }
        while engine.poll_transmit(&mut out).is_some() {}
        while engine.poll_event().is_some() {}
    }
});
