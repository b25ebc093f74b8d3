//! Wall-clock truth: a simulated one-hour call on a virtual tick counter, with DTX gaps,
//! lost packets, mutes, late joiners and missing mix ticks, records to files whose
//! duration equals the call's within ±20 ms, and whose per-participant tracks hold every
//! packet at exactly the sample position of its tick (aligned with the mix).

mod record_common;

use std::time::Duration;

use record_common::{config, finished, scratch, tone_frame, wait_events};
use talko_codecs::ogg::OggOpusReader;
use talko_codecs::opus::codec::Encoder;
use talko_engine::recorder::{Recorder, RecordingEvent, RecordingFile, RecordingSpec};

/// xorshift64*: deterministic randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

/// Participant behaviour: joins at `join`, leaves at `leave`, talks in bursts.
struct Talker {
    id: u64,
    join: u64,
    leave: u64,
    /// Ticks left in the current talk (packets) or silence (DTX, nothing sent) spell.
    spell: u64,
    talking: bool,
    muted_until: u64,
}

const START: u64 = 7_777;
const HOUR_TICKS: u64 = 3600 * 50;

#[test]
fn one_hour_call_with_gaps_keeps_duration_and_track_alignment() {
    let dir = scratch("wallclock");
    let mut cfg = config(&dir);
    cfg.ring_capacity = 4096;
    let rec = Recorder::spawn(cfg).expect("spawn");
    let mut feed = rec.feed();

    // A handful of real encoded packets, cycled (encoding an hour in a debug test is slow).
    let mut enc = Encoder::voip_mono().expect("encoder");
    let mut buf = [0u8; 1500];
    let packets: Vec<Vec<u8>> = (0..64u64)
        .map(|t| {
            let n = enc
                .encode(&tone_frame(330.0, t, 7000.0), &mut buf)
                .expect("encode");
            buf[..n].to_vec()
        })
        .collect();

    let mut rng = Rng(0x5EED_CA11);
    let stop = START + HOUR_TICKS;
    let mut talkers = [
        Talker {
            id: 1,
            join: START,
            leave: stop,
            spell: 0,
            talking: false,
            muted_until: 0,
        },
        // Joins 10 minutes late, leaves 10 minutes early.
        Talker {
            id: 2,
            join: START + 30_000,
            leave: stop - 30_000,
            spell: 0,
            talking: false,
            muted_until: 0,
        },
        // Joins in the last minute.
        Talker {
            id: 3,
            join: stop - 3_000,
            leave: stop,
            spell: 0,
            talking: false,
            muted_until: 0,
        },
    ];
    // (participant, tick, packet index) of every packet handed to the feed.
    let mut fed: Vec<(u64, u64, usize)> = Vec::new();
    let mut mix_fed: Vec<(u64, usize)> = Vec::new();

    feed.start(
        99,
        &RecordingSpec {
            mix_ogg: true,
            mix_wav: false,
            tracks: true,
            name: None,
        },
        START,
    );
    for tick in START..stop {
        for t in talkers.iter_mut() {
            if tick < t.join || tick >= t.leave {
                continue;
            }
            if t.spell == 0 {
                t.talking = !t.talking;
                t.spell = 1 + rng.next() % 400;
                if rng.chance(20) {
                    t.muted_until = tick + rng.next() % 3000;
                }
            }
            t.spell -= 1;
            // DTX (not talking), mutes and 3 % loss all leave holes in the track.
            if t.talking && tick >= t.muted_until && !rng.chance(30) {
                let idx = (tick % 64) as usize;
                feed.track_packet(99, t.id, tick, &packets[idx]);
                fed.push((t.id, tick, idx));
            }
        }
        // The mixer skips ticks now and then (nothing to mix, a stalled shard).
        if !rng.chance(50) {
            let idx = ((tick * 7) % 64) as usize;
            feed.mix_frame(99, tick, Some(&packets[idx]), None);
            mix_fed.push((tick, idx));
        }
        // Run as fast as the recorder keeps up (a real-time feed is far slower), so that
        // every packet reaches the files and alignment can be checked exactly.
        while rec.queued_frames() > 2048 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    feed.stop(99, stop);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(120), |s| {
        s.iter()
            .filter(|e| matches!(e, RecordingEvent::Finished { .. }))
            .count()
            == 4
    });
    let drops = feed.dropped_frames();
    let call_duration = Duration::from_millis(20 * HOUR_TICKS);
    let (mix_path, mix_dur, _) = finished(&seen, 99, RecordingFile::Mix).expect("mix");
    let diff = mix_dur.abs_diff(call_duration);
    assert!(diff <= Duration::from_millis(20), "mix off by {diff:?}");
    let mix = OggOpusReader::new(&std::fs::read(&mix_path).expect("read")).expect("Ogg");
    assert!(mix.duration().abs_diff(call_duration) <= Duration::from_millis(20));
    assert_eq!(
        mix.packets().len() as u64,
        HOUR_TICKS,
        "one 20 ms packet per tick"
    );
    let mut mix_misplaced = 0;
    for &(tick, idx) in &mix_fed {
        let at = (tick - START) as usize;
        if mix.packets()[at].data != packets[idx] {
            mix_misplaced += 1;
        }
    }
    assert_eq!(drops, 0, "paced feeding never fills the ring");
    assert_eq!(mix_misplaced, 0, "mix packets not at their tick's position");

    for id in [1u64, 2, 3] {
        let (path, dur, _) =
            finished(&seen, 99, RecordingFile::Track { participant: id }).expect("track");
        assert_eq!(dur, mix_dur, "track {id} length equals the mix");
        let track = OggOpusReader::new(&std::fs::read(&path).expect("read")).expect("Ogg");
        assert_eq!(track.last_granule(), mix.last_granule());
        assert_eq!(track.packets().len() as u64, HOUR_TICKS);
        // Every fed packet sits at the sample position of its tick.
        let mut misplaced = 0u64;
        let mut count = 0;
        for &(_, tick, idx) in fed.iter().filter(|f| f.0 == id) {
            count += 1;
            if track.packets()[(tick - START) as usize].data != packets[idx] {
                misplaced += 1;
            }
        }
        assert!(count > 100, "participant {id} talked");
        assert_eq!(
            misplaced, 0,
            "track {id}: packets not at their tick's position"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(feed);
    rec.shutdown();
}

#[test]
fn one_hour_wav_has_exactly_the_call_length() {
    let dir = scratch("wallclock-wav");
    let rec = Recorder::spawn(config(&dir)).expect("spawn");
    let mut feed = rec.feed();
    let mut rng = Rng(42);
    let pcm = tone_frame(200.0, 0, 3000.0);
    feed.start(
        5,
        &RecordingSpec {
            mix_wav: true,
            ..RecordingSpec::default()
        },
        10,
    );
    let stop = 10 + HOUR_TICKS;
    for tick in 10..stop {
        // Ticks with and without PCM, and ticks never fed at all.
        match rng.next() % 10 {
            0 => {}
            1 => feed.mix_frame(5, tick, None, None),
            _ => feed.mix_frame(5, tick, None, Some(&pcm)),
        }
        while rec.queued_frames() > 512 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    feed.stop(5, stop);
    let mut seen = Vec::new();
    wait_events(rec.events(), &mut seen, Duration::from_secs(120), |s| {
        finished(s, 5, RecordingFile::MixWav).is_some()
    });
    let (path, dur, bytes) = finished(&seen, 5, RecordingFile::MixWav).expect("wav");
    assert_eq!(dur, Duration::from_secs(3600));
    assert_eq!(bytes, 44 + 2 * 960 * HOUR_TICKS);
    let wav = hound::WavReader::open(&path).expect("valid WAV");
    assert_eq!(u64::from(wav.duration()), 960 * HOUR_TICKS);
    let _ = std::fs::remove_dir_all(&dir);
    drop(feed);
    rec.shutdown();
}
