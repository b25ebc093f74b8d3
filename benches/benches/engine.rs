//! Engine benchmarks (virtual clock, no sockets):
//! - `tick/<participants>p_<talkers>t`: one 20 ms tick of one call — `handle_timeout`
//!   plus draining `poll_transmit_batch` as the driver does (every mix encoded, re-headed
//!   and SRTP-protected, a call's fan-out protected together).
//!   Each iteration first feeds every participant's packet for that tick (not timed).
//!   Stands for the per-shard cost of a call; the target is ≥ 500 participants per core
//!   in 50-person rooms with ≤ 3 talkers, i.e. a `tick/50p_3t` well under 2 ms.
//! - `receive/packet`: `handle_datagram` of one SRTP Opus packet in a 10-person call
//!   with 3 talkers (demux, SSRC lookup, SRTP unprotect, level, jitter-buffer insert).
//!   Ticks run between rounds of packets, untimed.
//! - `encode/complexity_<c>`: one mix encode (a 20 ms frame of three speech-like
//!   talkers, 32 kbit/s, in-band FEC on, as the engine's mixes) at each Opus encoder
//!   complexity: the engine's per-call tick cost is mostly these encodes, and this is
//!   what its default complexity is chosen by.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use talko_benches::feeder::Feeder;
use talko_engine::{CallId, Command, Engine, EngineConfig, Transmit};

const TICK: Duration = Duration::from_millis(20);
/// Datagrams drained per `poll_transmit_batch`, as the driver does.
const SEND_BATCH: usize = talko_codecs::srtp::SRTP_BATCH;
const STRIDE: usize = 1500;

struct Bench {
    engine: Engine,
    feeder: Feeder,
    now: Instant,
    buf: Vec<u8>,
    sends: Vec<Transmit>,
    pkt: Vec<u8>,
}

impl Bench {
    fn new(n: usize, talkers: usize) -> Bench {
        let (feeder, specs) = Feeder::new(n, talkers).expect("feeder");
        let mut engine = Engine::new(EngineConfig {
            max_calls: 4,
            max_participants: n + 4,
            ..EngineConfig::default()
        });
        let now = Instant::now();
        let call = CallId(1);
        engine
            .handle_command(now, Command::CreateCall { call })
            .expect("create call");
        for (participant, spec) in specs {
            engine
                .handle_command(
                    now,
                    Command::AddParticipant {
                        call,
                        participant,
                        spec,
                    },
                )
                .expect("add participant");
        }
        let mut b = Bench {
            engine,
            feeder,
            now,
            buf: vec![0u8; SEND_BATCH * STRIDE],
            sends: vec![Transmit::NOTHING; SEND_BATCH],
            pkt: vec![0u8; 1500],
        };
        b.drain();
        // Warm-up: 2 s of traffic so addresses latch, buffers fill and talkers are
        // selected.
        for _ in 0..100 {
            b.feed_round();
            b.tick();
        }
        b
    }

    fn drain(&mut self) -> usize {
        let mut bytes = 0;
        loop {
            let n = self
                .engine
                .poll_transmit_batch(&mut self.buf, STRIDE, &mut self.sends);
            if n == 0 {
                break;
            }
            bytes += self.sends.iter().take(n).map(|t| t.len).sum::<usize>();
        }
        while self.engine.poll_event().is_some() {}
        bytes
    }

    /// Every participant's packet for the next tick, arriving 10 ms before it.
    fn feed_round(&mut self) {
        let tick = self.engine.poll_timeout().unwrap_or(self.now + TICK);
        let arrival = tick.checked_sub(TICK / 2).unwrap_or(tick).max(self.now);
        for i in 0..self.feeder.len() {
            self.feed_one(i, arrival);
        }
    }

    fn feed_one(&mut self, i: usize, at: Instant) {
        if let Some((from, len)) = self.feeder.packet(i, &mut self.pkt) {
            if let Some(p) = self.pkt.get_mut(..len) {
                self.engine.handle_datagram(at, from, p);
            }
        }
        self.drain();
    }

    /// Runs the next due tick and sends its output; returns bytes sent.
    fn tick(&mut self) -> usize {
        let tick = self.engine.poll_timeout().unwrap_or(self.now + TICK);
        self.now = tick;
        self.engine.handle_timeout(tick);
        self.drain()
    }
}

fn tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(4));
    for n in [2usize, 10, 50, 200] {
        for talkers in [1usize, 3] {
            let mut b = Bench::new(n, talkers);
            group.bench_function(
                BenchmarkId::from_parameter(format!("{n}p_{talkers}t")),
                |bencher| {
                    bencher.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            b.feed_round();
                            let start = Instant::now();
                            black_box(b.tick());
                            total += start.elapsed();
                        }
                        total
                    })
                },
            );
        }
    }
    group.finish();
}

fn receive(c: &mut Criterion) {
    let mut b = Bench::new(10, 3);
    let mut next = 0usize;
    c.bench_function("receive/packet", |bencher| {
        bencher.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let i = next % b.feeder.len();
                next += 1;
                let at = b.now + Duration::from_millis(10);
                let Some((from, len)) = b.feeder.packet(i, &mut b.pkt) else {
                    continue;
                };
                let Some(p) = b.pkt.get_mut(..len) else {
                    continue;
                };
                let start = Instant::now();
                b.engine.handle_datagram(at, from, p);
                total += start.elapsed();
                b.drain();
                if i + 1 == b.feeder.len() {
                    b.tick();
                }
            }
            total
        })
    });
}

fn encode(c: &mut Criterion) {
    use talko_benches::signal::speech_like;
    use talko_codecs::opus::codec::Encoder;
    let frames = 250;
    let talkers: Vec<_> = (0..3).map(|k| speech_like(k, frames, 5)).collect();
    let mix: Vec<i16> = (0..frames * 960)
        .map(|i| {
            let sum: i32 = talkers.iter().map(|t| i32::from(t.samples[i])).sum();
            sum.clamp(-32_768, 32_767) as i16
        })
        .collect();
    let mut group = c.benchmark_group("encode");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(3));
    for complexity in [1, 2, 3, 5, 7, 10] {
        let mut enc = Encoder::voip_mono().expect("encoder");
        enc.set_bitrate(32_000).expect("bitrate");
        enc.set_complexity(complexity).expect("complexity");
        enc.set_fec(true).expect("fec");
        enc.set_packet_loss_pct(10).expect("loss");
        let mut out = [0u8; 1_500];
        let mut f = 0usize;
        group.bench_function(format!("complexity_{complexity}"), |bencher| {
            bencher.iter(|| {
                let frame = &mix[f * 960..(f + 1) * 960];
                f = (f + 1) % frames;
                black_box(enc.encode(frame, &mut out).expect("encode"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, tick, receive, encode);
criterion_main!(benches);
