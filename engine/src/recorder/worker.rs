//! The recorder thread: takes frames off the ring, positions them by tick, fills gaps,
//! writes the files, flushes them on a wall-clock schedule and reports events.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::feed::{Frame, FrameKind, Msg};
use super::files::{Finished, OggOut, WavOut};
use super::{
    RecorderConfig, RecorderError, RecordingEvent, RecordingFile, RecordingSpec, Shared,
    TICK_SAMPLES,
};

/// Ticks a recording may span (12 h; a WAV file reaches its 4 GiB limit at ~12.4 h).
/// Frames claiming a later tick are ignored rather than filling the disk with silence.
const MAX_TICKS: u64 = 12 * 3600 * 50;

/// A CELT fullband 20 ms code-0 packet with an empty frame: decoders treat it as a lost
/// frame. Only used if libopus cannot encode the silent filler frame.
const PLC_FILLER: [u8; 1] = [0xF8];

/// One recorded call.
struct CallRec {
    start: u64,
    /// One past the last tick seen.
    end: u64,
    stem: String,
    mix: Option<OggOut>,
    wav: Option<WavOut>,
    tracks_on: bool,
    /// `None` once a track failed: no retry per packet.
    tracks: HashMap<u64, Option<OggOut>>,
}

impl CallRec {
    fn target(&self, tick: u64) -> u64 {
        (tick - self.start) * TICK_SAMPLES as u64
    }
}

pub(crate) struct Worker {
    config: RecorderConfig,
    rx: Receiver<Msg>,
    events: Sender<RecordingEvent>,
    shared: Arc<Shared>,
    homes: Vec<Option<SyncSender<Box<Frame>>>>,
    calls: HashMap<u64, CallRec>,
    /// One encoded 20 ms frame of silence, the filler for every gap.
    silence: Vec<u8>,
}

/// Encodes 20 ms of digital silence with libopus, on the recorder thread. The encoder
/// runs for a few frames first: its first packets spend bits on start-up, later ones are
/// the few bytes a silent frame costs.
fn silent_frame() -> Vec<u8> {
    let mut out = [0u8; 256];
    let mut len = 0;
    // CELT-only (restricted low delay): digital silence costs a few bytes there, where
    // the speech modes spend ~60 bytes a frame on it.
    let encoder = talko_codecs::opus::codec::Encoder::new(
        48_000,
        1,
        talko_codecs::opus::codec::Application::LowDelay,
    );
    if let Ok(mut enc) = encoder {
        for _ in 0..SILENCE_WARMUP_FRAMES {
            match enc.encode(&[0i16; TICK_SAMPLES], &mut out) {
                Ok(n) => len = n,
                Err(_) => return PLC_FILLER.to_vec(),
            }
        }
    }
    match out.get(..len) {
        Some(p) if talko_codecs::ogg::packet_samples(p) == Some(960) => p.to_vec(),
        _ => PLC_FILLER.to_vec(),
    }
}

/// Silent frames encoded before the filler is taken.
const SILENCE_WARMUP_FRAMES: usize = 10;

/// Keeps a file name stem to one harmless path component.
fn sanitize(stem: &str) -> String {
    let s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_owned();
    if s.is_empty() {
        "recording".to_owned()
    } else {
        s
    }
}

fn serial(call: u64, participant: u64) -> u32 {
    let h = (call ^ participant.rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 32) as u32
}

impl Worker {
    pub fn new(
        config: RecorderConfig,
        rx: Receiver<Msg>,
        events: Sender<RecordingEvent>,
        shared: Arc<Shared>,
    ) -> Worker {
        Worker {
            config,
            rx,
            events,
            shared,
            homes: Vec::new(),
            calls: HashMap::new(),
            silence: Vec::new(),
        }
    }

    // The recorder thread is I/O glue, not the sans-IO core: flushing "at least every
    // second" is a wall-clock promise, so it reads the clock.
    #[allow(clippy::disallowed_methods)]
    pub fn run(mut self) {
        self.silence = silent_frame();
        let interval = self.config.flush_interval;
        let mut last_flush = Instant::now();
        loop {
            let wait = interval.saturating_sub(last_flush.elapsed());
            match self.rx.recv_timeout(wait) {
                Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if last_flush.elapsed() >= interval {
                self.flush_all();
                last_flush = Instant::now();
            }
        }
        // Take in what is still on the ring, then finish every call at its last tick.
        while let Ok(msg) = self.rx.try_recv() {
            if !matches!(msg, Msg::Shutdown) {
                self.handle(msg);
            }
        }
        let calls: Vec<u64> = self.calls.keys().copied().collect();
        for call in calls {
            if let Some(rec) = self.calls.remove(&call) {
                let end = rec.end;
                self.finish_call(call, rec, end);
            }
        }
    }

    fn emit(&self, event: RecordingEvent) {
        let _ = self.events.send(event);
    }

    fn error(
        &self,
        call: u64,
        file: Option<RecordingFile>,
        path: Option<PathBuf>,
        e: RecorderError,
    ) {
        self.emit(RecordingEvent::Error {
            call,
            file,
            path,
            error: e,
        });
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Frame(frame) => {
                self.shared.queued.fetch_sub(1, Ordering::AcqRel);
                self.shared.received.fetch_add(1, Ordering::Relaxed);
                if frame.drops > 0 {
                    self.emit(RecordingEvent::Dropped {
                        call: frame.call,
                        frames: frame.drops,
                    });
                }
                self.frame(&frame);
                let home = self.homes.get(frame.home).and_then(Option::as_ref);
                if let Some(home) = home {
                    // The pool has room for every frame it owns; a gone feed drops it.
                    let _ = home.try_send(frame);
                }
            }
            Msg::Register { home, free } => {
                if self.homes.len() <= home {
                    self.homes.resize_with(home + 1, || None);
                }
                if let Some(slot) = self.homes.get_mut(home) {
                    *slot = Some(free);
                }
            }
            Msg::Start { call, tick, spec } => self.start(call, tick, &spec),
            Msg::Stop { call, tick, drops } => {
                if drops > 0 {
                    self.emit(RecordingEvent::Dropped {
                        call,
                        frames: drops,
                    });
                }
                match self.calls.remove(&call) {
                    Some(rec) => self.finish_call(call, rec, tick),
                    None => self.error(call, None, None, RecorderError::NotRecording),
                }
            }
            Msg::Shutdown => {}
        }
    }

    // `{start}` is the wall-clock start time of the recording, read on this I/O thread.
    #[allow(clippy::disallowed_methods)]
    fn stem(&self, call: u64, tick: u64, spec: &RecordingSpec) -> String {
        let raw = match &spec.name {
            Some(name) => name.clone(),
            None => {
                let unix = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                self.config
                    .name_template
                    .replace("{call}", &call.to_string())
                    .replace("{start}", &unix.to_string())
                    .replace("{tick}", &tick.to_string())
            }
        };
        sanitize(&raw)
    }

    fn start(&mut self, call: u64, tick: u64, spec: &RecordingSpec) {
        if self.calls.contains_key(&call) {
            self.error(call, None, None, RecorderError::AlreadyRecording);
            return;
        }
        let stem = self.stem(call, tick, spec);
        let dir = self.config.dir.clone();
        let mut rec = CallRec {
            start: tick,
            end: tick,
            stem,
            mix: None,
            wav: None,
            tracks_on: spec.tracks && self.config.tracks,
            tracks: HashMap::new(),
        };
        if spec.mix_ogg {
            let call_tag = format!("TALKO_CALL={call}");
            let tick_tag = format!("TALKO_START_TICK={tick}");
            let comments = [call_tag.as_str(), "TALKO_FILE=mix", tick_tag.as_str()];
            match OggOut::create(
                &dir,
                &rec.stem,
                RecordingFile::Mix,
                serial(call, 0),
                &comments,
            ) {
                Ok(out) => {
                    self.emit(RecordingEvent::Started {
                        call,
                        file: RecordingFile::Mix,
                        path: out.path.clone(),
                    });
                    rec.mix = Some(out);
                }
                Err((path, e)) => self.error(call, Some(RecordingFile::Mix), Some(path), e),
            }
        }
        if spec.mix_wav && self.config.wav {
            match WavOut::create(&dir, &rec.stem) {
                Ok(out) => {
                    self.emit(RecordingEvent::Started {
                        call,
                        file: RecordingFile::MixWav,
                        path: out.path.clone(),
                    });
                    rec.wav = Some(out);
                }
                Err((path, e)) => self.error(call, Some(RecordingFile::MixWav), Some(path), e),
            }
        }
        self.calls.insert(call, rec);
    }

    fn frame(&mut self, frame: &Frame) {
        let Some(rec) = self.calls.get_mut(&frame.call) else {
            return;
        };
        if frame.tick < rec.start || frame.tick - rec.start >= MAX_TICKS {
            return;
        }
        rec.end = rec.end.max(frame.tick + 1);
        let target = rec.target(frame.tick);
        let mut failures: Vec<(Option<RecordingFile>, PathBuf, RecorderError)> = Vec::new();
        match frame.kind {
            FrameKind::Mix => {
                if let Some(out) = rec.mix.as_mut() {
                    let r = out.fill_to(target, &self.silence).and_then(|()| {
                        match frame.opus() {
                            // A second frame for a tick already written is ignored.
                            Some(p) if out.samples() <= target => out.write(p, &self.silence),
                            _ => out.fill_to(target + TICK_SAMPLES as u64, &self.silence),
                        }
                    });
                    if let Err(e) = r {
                        failures.push((Some(RecordingFile::Mix), out.path.clone(), e));
                        rec.mix = None;
                    }
                }
                if let Some(out) = rec.wav.as_mut() {
                    let r = out.fill_to(target).and_then(|()| {
                        if frame.has_pcm && out.samples() <= target {
                            out.write(&frame.pcm)
                        } else {
                            out.fill_to(target + TICK_SAMPLES as u64)
                        }
                    });
                    if let Err(e) = r {
                        failures.push((Some(RecordingFile::MixWav), out.path.clone(), e));
                        rec.wav = None;
                    }
                }
            }
            FrameKind::Track => {
                if !rec.tracks_on {
                    return;
                }
                let participant = frame.participant;
                let slot = rec.tracks.entry(participant).or_insert_with(|| {
                    let file = RecordingFile::Track { participant };
                    let stem = format!("{}-p{participant}", rec.stem);
                    let call_tag = format!("TALKO_CALL={}", frame.call);
                    let p_tag = format!("TALKO_PARTICIPANT={participant}");
                    let tick_tag = format!("TALKO_START_TICK={}", rec.start);
                    let comments = [call_tag.as_str(), p_tag.as_str(), tick_tag.as_str()];
                    let serial = serial(frame.call, participant.wrapping_add(1));
                    match OggOut::create(&self.config.dir, &stem, file, serial, &comments) {
                        Ok(out) => {
                            let _ = self.events.send(RecordingEvent::Started {
                                call: frame.call,
                                file,
                                path: out.path.clone(),
                            });
                            Some(out)
                        }
                        Err((path, e)) => {
                            failures.push((Some(file), path, e));
                            None
                        }
                    }
                });
                if let Some(out) = slot.as_mut() {
                    let r = out.fill_to(target, &self.silence).and_then(|()| {
                        // A packet may run ahead of its tick by one frame (e.g. 40/60 ms
                        // packets); later than that it would break alignment.
                        if out.samples() <= target + TICK_SAMPLES as u64 {
                            frame.opus().map_or(Ok(()), |p| out.write(p, &self.silence))
                        } else {
                            Ok(())
                        }
                    });
                    if let Err(e) = r {
                        failures.push((Some(out.kind), out.path.clone(), e));
                        *slot = None;
                    }
                }
            }
        }
        for (file, path, e) in failures {
            self.error(frame.call, file, Some(path), e);
        }
    }

    fn flush_all(&mut self) {
        let mut failures = Vec::new();
        for (&call, rec) in self.calls.iter_mut() {
            if let Some(out) = rec.mix.as_mut() {
                if let Err(e) = out.flush() {
                    failures.push((call, RecordingFile::Mix, out.path.clone(), e));
                    rec.mix = None;
                }
            }
            if let Some(out) = rec.wav.as_mut() {
                if let Err(e) = out.flush() {
                    failures.push((call, RecordingFile::MixWav, out.path.clone(), e));
                    rec.wav = None;
                }
            }
            for slot in rec.tracks.values_mut() {
                if let Some(out) = slot.as_mut() {
                    if let Err(e) = out.flush() {
                        failures.push((call, out.kind, out.path.clone(), e));
                        *slot = None;
                    }
                }
            }
        }
        for (call, file, path, e) in failures {
            self.error(call, Some(file), Some(path), e);
        }
    }

    /// Fills every file of the call up to `stop` (exclusive) — or past the last frame fed
    /// before the stop, if that is later, so that all files of a call end together —
    /// then finishes and renames them.
    fn finish_call(&mut self, call: u64, mut rec: CallRec, stop: u64) {
        let stop = stop.max(rec.end).clamp(rec.start, rec.start + MAX_TICKS);
        let target = rec.target(stop);
        let mut outcomes: Vec<(RecordingFile, Finished)> = Vec::new();
        let mut oggs: Vec<OggOut> = Vec::new();
        oggs.extend(rec.mix.take());
        oggs.extend(rec.tracks.drain().filter_map(|(_, o)| o));
        for mut out in oggs {
            let kind = out.kind;
            let r = match out.fill_to(target, &self.silence) {
                Ok(()) => out.finish(),
                Err(e) => Err((out.path.clone(), e)),
            };
            outcomes.push((kind, r));
        }
        if let Some(mut out) = rec.wav.take() {
            let r = match out.fill_to(target) {
                Ok(()) => out.finish(),
                Err(e) => Err((out.path.clone(), e)),
            };
            outcomes.push((RecordingFile::MixWav, r));
        }
        for (file, r) in outcomes {
            match r {
                Ok(done) => self.emit(RecordingEvent::Finished {
                    call,
                    file,
                    path: done.path,
                    duration: done.duration,
                    bytes: done.bytes,
                }),
                Err((path, e)) => self.error(call, Some(file), Some(path), e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_is_a_small_packet_that_decodes_to_20_ms_of_silence() {
        let filler = silent_frame();
        assert!(filler.len() <= 16, "filler of {} bytes", filler.len());
        let mut dec = talko_codecs::opus::codec::Decoder::mono().expect("decoder");
        let mut pcm = [1i16; 1920];
        for _ in 0..5 {
            let n = dec.decode(&filler, &mut pcm, false).expect("decodes");
            assert_eq!(n, 960);
            assert!(pcm[..n].iter().all(|&s| s.unsigned_abs() < 4), "silent");
        }
    }

    #[test]
    fn file_names_stay_inside_the_directory() {
        assert_eq!(sanitize("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitize("..."), "recording");
        assert_eq!(sanitize("call 7/ä"), "call_7__");
    }
}
