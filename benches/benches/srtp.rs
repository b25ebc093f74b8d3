//! SRTP protect and unprotect of one 172-byte RTP packet (12-byte header + 160-byte
//! payload, a 20 ms Opus frame at ~64 kb/s) for every profile, talko next to
//! webrtc-srtp 0.17. Figure of merit: time per packet. Targets (issue 3): ≤ 0.5 µs per
//! packet for AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM, ≥ 3× webrtc-srtp.
//!
//! Method, identical for both implementations:
//! - protect: each iteration writes the next sequence number into the plaintext
//!   template (talko: copies the 172-byte template into its in-place buffer first) and
//!   protects it, so every packet has a fresh index, as on the wire.
//! - unprotect: 4096 consecutive packets are protected once, outside the timing. Each
//!   pass over them uses a fresh receiving context (created outside the timing, via
//!   `iter_custom`) with a 128-packet replay window, so every timed call takes the real
//!   path: index guess, replay check, authentication, decryption, window update. talko's
//!   timing includes copying the packet into the buffer it decrypts in place;
//!   webrtc-srtp reads from a slice and allocates its output.
//!
//! Two clocks: `srtp_protect/…` and `srtp_unprotect/…` are criterion's wall-clock
//! time; `srtp_cpu_protect/…` and `srtp_cpu_unprotect/…` run the same code measured in
//! on-CPU time of the benchmark thread (`/proc/thread-self/schedstat`, flat sampling
//! with samples of a few hundred milliseconds so the scheduler-tick granularity of that
//! counter stays below ~2 %). On a shared machine the wall clock also counts time the
//! thread waited for a core; the CPU clock is what one packet costs.
//!
//! Run: `cargo bench -p talko-benches --bench srtp`.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use talko_codecs::srtp::{
    RtpAuthBatch, RtpProtectBatch, SrtpConfig, SrtpContext, SrtpProfile, MAX_TAG_LEN,
};
use webrtc_srtp::context::Context;
use webrtc_srtp::option::srtp_replay_protection;
use webrtc_srtp::protection_profile::ProtectionProfile;

const PACKET_LEN: usize = 172;
const BATCH: usize = 4096;
const SSRC: u32 = 0x1234_5678;

fn oracle_profile(p: SrtpProfile) -> ProtectionProfile {
    match p {
        SrtpProfile::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        SrtpProfile::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        SrtpProfile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
    }
}

fn plaintext(seq: u16) -> [u8; PACKET_LEN] {
    let mut p = [0u8; PACKET_LEN];
    p[0] = 0x80;
    p[1] = 111;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p[8..12].copy_from_slice(&SSRC.to_be_bytes());
    for (i, b) in p[12..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(29) ^ 0x5a;
    }
    p
}

fn keys(profile: SrtpProfile) -> (Vec<u8>, Vec<u8>) {
    (
        (0..profile.master_key_len() as u8).collect(),
        (100..100 + profile.master_salt_len() as u8).collect(),
    )
}

fn talko_ctx(profile: SrtpProfile) -> SrtpContext {
    let (key, salt) = keys(profile);
    SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).expect("valid key")
}

fn oracle_ctx(profile: SrtpProfile, replay: bool) -> Context {
    let (key, salt) = keys(profile);
    let opt = replay.then(|| srtp_replay_protection(128));
    Context::new(&key, &salt, oracle_profile(profile), opt, None).expect("valid key")
}

/// `BATCH` consecutive protected packets (identical bytes from either implementation).
fn protected_batch(profile: SrtpProfile) -> Vec<Vec<u8>> {
    let mut tx = talko_ctx(profile);
    (0..BATCH)
        .map(|i| {
            let mut buf = [0u8; PACKET_LEN + MAX_TAG_LEN];
            buf[..PACKET_LEN].copy_from_slice(&plaintext(i as u16));
            let n = tx.protect_rtp(&mut buf, PACKET_LEN).expect("protects");
            buf[..n].to_vec()
        })
        .collect()
}

/// On-CPU nanoseconds of the calling thread so far (Linux; 0 where unavailable).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Criterion measurement: on-CPU time of the benchmark thread.
struct ThreadCpu;

static WALL: WallTime = WallTime;

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = Duration;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> Duration {
        Duration::from_nanos(thread_cpu_ns().saturating_sub(start))
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

/// Wall-clock time since the first call.
fn wall_now() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

fn cpu_now() -> Duration {
    Duration::from_nanos(thread_cpu_ns())
}

/// Times `iters` unprotect calls over the batch: one fresh receiver per pass over the
/// batch, all created before the clock starts and dropped after it stops.
fn time_unprotect<C>(
    iters: u64,
    batch: &[Vec<u8>],
    now: fn() -> Duration,
    mut fresh: impl FnMut() -> C,
    mut open: impl FnMut(&mut C, &[u8]),
) -> Duration {
    let passes = iters.div_ceil(BATCH as u64);
    let mut receivers: Vec<C> = (0..passes).map(|_| fresh()).collect();
    let mut left = iters;
    let start = now();
    for rx in &mut receivers {
        let n = left.min(BATCH as u64) as usize;
        for packet in &batch[..n] {
            open(rx, packet);
        }
        left -= n as u64;
    }
    let elapsed = now().saturating_sub(start);
    drop(receivers);
    elapsed
}

fn bench_srtp<M: Measurement<Value = Duration>>(
    c: &mut Criterion<M>,
    prefix: &str,
    now: fn() -> Duration,
    flat: bool,
) {
    for profile in [
        SrtpProfile::AesCm128HmacSha1_80,
        SrtpProfile::AesCm128HmacSha1_32,
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
    ] {
        let name = profile.to_string();

        let mut group = c.benchmark_group(format!("{prefix}protect/{name}"));
        if flat {
            group.sampling_mode(SamplingMode::Flat);
        }
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter("talko"), |b| {
            let mut tx = talko_ctx(profile);
            let template = plaintext(0);
            let mut buf = [0u8; PACKET_LEN + MAX_TAG_LEN];
            let mut seq: u16 = 0;
            b.iter(|| {
                buf[..PACKET_LEN].copy_from_slice(&template);
                buf[2..4].copy_from_slice(&seq.to_be_bytes());
                seq = seq.wrapping_add(1);
                black_box(
                    tx.protect_rtp(black_box(&mut buf), PACKET_LEN)
                        .expect("protects"),
                )
            });
        });
        group.bench_function(BenchmarkId::from_parameter("webrtc-srtp"), |b| {
            let mut tx = oracle_ctx(profile, false);
            let mut plain = plaintext(0);
            let mut seq: u16 = 0;
            b.iter(|| {
                plain[2..4].copy_from_slice(&seq.to_be_bytes());
                seq = seq.wrapping_add(1);
                black_box(tx.encrypt_rtp(black_box(&plain)).expect("protects"))
            });
        });
        group.finish();

        let batch = protected_batch(profile);
        let mut group = c.benchmark_group(format!("{prefix}unprotect/{name}"));
        if flat {
            group.sampling_mode(SamplingMode::Flat);
        }
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter("talko"), |b| {
            let mut buf = [0u8; PACKET_LEN + MAX_TAG_LEN];
            b.iter_custom(|iters| {
                time_unprotect(
                    iters,
                    &batch,
                    now,
                    || talko_ctx(profile),
                    |rx, packet| {
                        let buf = &mut buf[..packet.len()];
                        buf.copy_from_slice(packet);
                        black_box(rx.unprotect_rtp(black_box(buf)).expect("unprotects"));
                    },
                )
            });
        });
        group.bench_function(BenchmarkId::from_parameter("webrtc-srtp"), |b| {
            b.iter_custom(|iters| {
                time_unprotect(
                    iters,
                    &batch,
                    now,
                    || oracle_ctx(profile, true),
                    |rx, packet| {
                        black_box(rx.decrypt_rtp(black_box(packet)).expect("unprotects"));
                    },
                )
            });
        });
        group.finish();
    }
}

/// Listeners of one fan-out, senders of one receive burst.
const FANOUT: usize = 16;
/// Bursts per fresh set of receivers in the burst benchmark.
const BURSTS: usize = 256;

/// Keys that differ per participant, as in a call.
fn seeded_keys(profile: SrtpProfile, seed: usize) -> (Vec<u8>, Vec<u8>) {
    let (mut key, mut salt) = keys(profile);
    key.iter_mut().for_each(|b| *b ^= seed as u8);
    salt.iter_mut()
        .for_each(|b| *b = b.wrapping_add(seed as u8));
    (key, salt)
}

fn talko_seeded(profile: SrtpProfile, seed: usize) -> SrtpContext {
    let (key, salt) = seeded_keys(profile, seed);
    SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).expect("valid key")
}

fn oracle_seeded(profile: SrtpProfile, seed: usize, replay: bool) -> Context {
    let (key, salt) = seeded_keys(profile, seed);
    let opt = replay.then(|| srtp_replay_protection(128));
    Context::new(&key, &salt, oracle_profile(profile), opt, None).expect("valid key")
}

/// The server's two bulk paths, measured per packet (`Throughput::Elements(16)`):
/// - `srtp_fanout_protect`: one 172-byte mix packet protected for 16 listeners, each
///   with its own keys — talko through `RtpProtectBatch` (tags computed together),
///   webrtc-srtp one `encrypt_rtp` per listener;
/// - `srtp_burst_unprotect`: 16 packets from 16 senders (own keys each) received in one
///   wake-up — talko through `RtpAuthBatch` then `unprotect_rtp_authenticated` (GCM
///   suites decline the batch and take `unprotect_rtp`), webrtc-srtp one `decrypt_rtp`
///   per packet; fresh receivers every 256 bursts, created outside the timing.
fn bench_batches<M: Measurement<Value = Duration>>(
    c: &mut Criterion<M>,
    prefix: &str,
    now: fn() -> Duration,
    flat: bool,
) {
    for profile in SrtpProfile::ALL {
        let name = profile.to_string();
        let mut group = c.benchmark_group(format!("{prefix}fanout_protect/{name}"));
        if flat {
            group.sampling_mode(SamplingMode::Flat);
        }
        group.throughput(Throughput::Elements(FANOUT as u64));
        group.bench_function(BenchmarkId::from_parameter("talko"), |b| {
            let mut txs: Vec<SrtpContext> = (0..FANOUT).map(|i| talko_seeded(profile, i)).collect();
            let template = plaintext(0);
            let mut bufs = vec![[0u8; PACKET_LEN + MAX_TAG_LEN]; FANOUT];
            let mut seq: u16 = 0;
            b.iter(|| {
                let mut batch = RtpProtectBatch::new();
                for (tx, buf) in txs.iter_mut().zip(bufs.iter_mut()) {
                    buf[..PACKET_LEN].copy_from_slice(&template);
                    buf[2..4].copy_from_slice(&seq.to_be_bytes());
                    black_box(batch.push(tx, buf, PACKET_LEN).expect("protects"));
                }
                batch.finish();
                seq = seq.wrapping_add(1);
                black_box(&bufs);
            });
        });
        group.bench_function(BenchmarkId::from_parameter("webrtc-srtp"), |b| {
            let mut txs: Vec<Context> = (0..FANOUT)
                .map(|i| oracle_seeded(profile, i, false))
                .collect();
            let mut plain = plaintext(0);
            let mut seq: u16 = 0;
            b.iter(|| {
                plain[2..4].copy_from_slice(&seq.to_be_bytes());
                seq = seq.wrapping_add(1);
                for tx in txs.iter_mut() {
                    black_box(tx.encrypt_rtp(black_box(&plain)).expect("protects"));
                }
            });
        });
        group.finish();

        // BURSTS bursts; burst k holds sequence number k of every sender.
        let bursts: Vec<Vec<Vec<u8>>> = {
            let mut txs: Vec<SrtpContext> = (0..FANOUT).map(|i| talko_seeded(profile, i)).collect();
            (0..BURSTS)
                .map(|k| {
                    txs.iter_mut()
                        .map(|tx| {
                            let mut buf = [0u8; PACKET_LEN + MAX_TAG_LEN];
                            buf[..PACKET_LEN].copy_from_slice(&plaintext(k as u16));
                            let n = tx.protect_rtp(&mut buf, PACKET_LEN).expect("protects");
                            buf[..n].to_vec()
                        })
                        .collect()
                })
                .collect()
        };
        let mut group = c.benchmark_group(format!("{prefix}burst_unprotect/{name}"));
        if flat {
            group.sampling_mode(SamplingMode::Flat);
        }
        group.throughput(Throughput::Elements(FANOUT as u64));
        group.bench_function(BenchmarkId::from_parameter("talko"), |b| {
            let mut bufs = vec![[0u8; PACKET_LEN + MAX_TAG_LEN]; FANOUT];
            b.iter_custom(|iters| {
                let passes = iters.div_ceil(BURSTS as u64);
                let mut sets: Vec<Vec<SrtpContext>> = (0..passes)
                    .map(|_| (0..FANOUT).map(|i| talko_seeded(profile, i)).collect())
                    .collect();
                let mut left = iters;
                let start = now();
                for rxs in sets.iter_mut() {
                    let n = left.min(BURSTS as u64) as usize;
                    for burst in &bursts[..n] {
                        let mut auth = RtpAuthBatch::new();
                        let mut tickets = [None; FANOUT];
                        for ((buf, packet), (rx, t)) in bufs
                            .iter_mut()
                            .zip(burst.iter())
                            .zip(rxs.iter().zip(tickets.iter_mut()))
                        {
                            buf[..packet.len()].copy_from_slice(packet);
                            *t = auth.add(rx, &buf[..packet.len()]);
                        }
                        let tags = auth.compute();
                        for ((buf, packet), (rx, t)) in bufs
                            .iter_mut()
                            .zip(burst.iter())
                            .zip(rxs.iter_mut().zip(tickets.iter()))
                        {
                            let buf = &mut buf[..packet.len()];
                            let r = match t {
                                Some(t) => rx.unprotect_rtp_authenticated(buf, &tags, *t),
                                None => rx.unprotect_rtp(buf),
                            };
                            black_box(r.expect("unprotects"));
                        }
                    }
                    left -= n as u64;
                }
                let elapsed = now().saturating_sub(start);
                drop(sets);
                elapsed
            });
        });
        group.bench_function(BenchmarkId::from_parameter("webrtc-srtp"), |b| {
            b.iter_custom(|iters| {
                let passes = iters.div_ceil(BURSTS as u64);
                let mut sets: Vec<Vec<Context>> = (0..passes)
                    .map(|_| {
                        (0..FANOUT)
                            .map(|i| oracle_seeded(profile, i, true))
                            .collect()
                    })
                    .collect();
                let mut left = iters;
                let start = now();
                for rxs in sets.iter_mut() {
                    let n = left.min(BURSTS as u64) as usize;
                    for burst in &bursts[..n] {
                        for (rx, packet) in rxs.iter_mut().zip(burst.iter()) {
                            black_box(rx.decrypt_rtp(black_box(packet)).expect("unprotects"));
                        }
                    }
                    left -= n as u64;
                }
                let elapsed = now().saturating_sub(start);
                drop(sets);
                elapsed
            });
        });
        group.finish();
    }
}

fn wall_clock(c: &mut Criterion) {
    bench_srtp(c, "srtp_", wall_now, false);
    bench_batches(c, "srtp_", wall_now, false);
}

fn cpu_clock(c: &mut Criterion<ThreadCpu>) {
    bench_srtp(c, "srtp_cpu_", cpu_now, true);
    bench_batches(c, "srtp_cpu_", cpu_now, true);
}

criterion_group! {
    name = wall;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40);
    targets = wall_clock
}
criterion_group! {
    name = cpu;
    config = Criterion::default()
        .with_measurement(ThreadCpu)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    targets = cpu_clock
}
criterion_main!(wall, cpu);
