//! `loadgen`'s command line: a small hand-written parser with bounded values.
//!
//! Owns: option names, defaults and limits. Must never: accept an unbounded run (the
//! duration is capped at [`MAX_DURATION_SECS`], participants at [`MAX_PARTICIPANTS`]).

use std::fmt;
use std::path::PathBuf;

/// Longest run accepted.
pub const MAX_DURATION_SECS: u64 = 600;
/// Most participants accepted in one run.
pub const MAX_PARTICIPANTS: usize = 20_000;
/// Most empty calls accepted.
pub const MAX_EMPTY_CALLS: usize = 100_000;

/// Where the engine under load runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// In this process: `loadgen` starts an `EngineHandle` and creates the rooms itself.
    Embedded,
}

/// SRTP suite the simulated clients use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// AES_CM_128_HMAC_SHA1_80.
    AesCm80,
    /// AEAD_AES_128_GCM.
    Gcm128,
}

/// Everything a run is configured with.
#[derive(Clone, Debug)]
pub struct Options {
    /// Engine location.
    pub target: Target,
    /// Rooms (calls with participants).
    pub rooms: usize,
    /// Participants in each room.
    pub participants_per_room: usize,
    /// Talkers in each room (at most the participants, at most 13 tags).
    pub talkers_per_room: usize,
    /// Calls with no participants at all, created in addition to the rooms.
    pub empty_calls: usize,
    /// Measured seconds (after warm-up).
    pub duration_secs: u64,
    /// Seconds of warm-up before measuring.
    pub warmup_secs: u64,
    /// Engine shards (0 = one per core).
    pub shards: usize,
    /// Client threads simulating participants.
    pub client_threads: usize,
    /// Participants per client UDP socket.
    pub participants_per_socket: usize,
    /// Listeners per room whose mixes are decoded and checked (talkers always are).
    pub checked_listeners_per_room: usize,
    /// Silent participants send a (silent) packet every this many ms (20 = every frame,
    /// as a client without DTX; 400 = DTX-like).
    pub listener_packet_ms: u64,
    /// WAV file to use instead of the generated speech-like signal.
    pub wav: Option<PathBuf>,
    /// Seconds of talker audio before it loops.
    pub signal_secs: u64,
    /// Client Opus bitrate.
    pub bitrate: i32,
    /// Send the RFC 6464 audio level extension.
    pub audio_level: bool,
    /// SRTP suite.
    pub profile: Profile,
    /// The engine jitter buffer's minimum target, ms (`None`: the engine's default).
    pub jitter_min_ms: Option<u64>,
    /// The engine's Opus encoder complexity for the mixes (`None`: the engine's default).
    pub complexity: Option<i32>,
    /// The engine's sub-tick phases per 20 ms period (`None`: the engine's default).
    pub tick_phases: Option<u32>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Print the report as JSON.
    pub json: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            target: Target::Embedded,
            rooms: 10,
            participants_per_room: 50,
            talkers_per_room: 3,
            empty_calls: 0,
            duration_secs: 20,
            warmup_secs: 3,
            shards: 1,
            client_threads: 1,
            participants_per_socket: 64,
            checked_listeners_per_room: 2,
            listener_packet_ms: 20,
            wav: None,
            signal_secs: 12,
            bitrate: 32_000,
            audio_level: true,
            profile: Profile::AesCm80,
            jitter_min_ms: None,
            complexity: None,
            tick_phases: None,
            seed: 1,
            json: false,
        }
    }
}

/// What was wrong with the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// `--help` was asked for.
    Help,
    /// An option loadgen does not know.
    UnknownOption(String),
    /// An option's value is missing.
    MissingValue(&'static str),
    /// An option's value is not a number or is out of range.
    BadValue(&'static str),
    /// A mode that is not available yet.
    Unsupported(&'static str),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Help => f.write_str(USAGE),
            CliError::UnknownOption(o) => write!(f, "unknown option {o}\n\n{USAGE}"),
            CliError::MissingValue(o) => write!(f, "{o} needs a value"),
            CliError::BadValue(o) => write!(f, "bad value for {o}"),
            CliError::Unsupported(m) => write!(f, "not supported: {m}"),
        }
    }
}

impl std::error::Error for CliError {}

/// Usage text.
pub const USAGE: &str = "\
loadgen: simulated participants over real UDP on loopback against a talko engine

usage: loadgen [options]
  --embedded                     start the engine in this process (default; the only mode)
  --rooms N                      rooms with participants (default 10)
  --participants-per-room N      (default 50)
  --talkers-per-room N           talkers per room, 0..=13 (default 3)
  --empty-calls N                calls with no participants, in addition (default 0)
  --duration-secs N              measured seconds, 1..=600 (default 20)
  --warmup-secs N                seconds before measuring (default 3)
  --shards N                     engine shards, 0 = one per core (default 1)
  --client-threads N             threads simulating participants (default 1)
  --participants-per-socket N    participants sharing one client UDP socket (default 64)
  --checked-listeners-per-room N listeners per room whose mix is decoded and checked (default 2)
  --listener-packet-ms N         silent participants send every N ms, 20..=1000 (default 20)
  --wav FILE                     talker audio from a WAV file instead of the generated signal
  --signal-secs N                seconds of talker audio before it loops, 2..=60 (default 12)
  --bitrate BPS                  client Opus bitrate (default 32000)
  --no-audio-level               do not send the RFC 6464 audio-level extension
  --profile aes-cm-80|gcm-128    SRTP suite (default aes-cm-80)
  --jitter-min-ms N              engine jitter-buffer minimum target, 0..=200 (default: the engine's)
  --complexity N                 engine Opus encoder complexity, 0..=10 (default: the engine's)
  --tick-phases N                engine sub-tick phases per 20 ms period, 1..=64 (default: the engine's)
  --seed N                       seed of every random choice (default 1)
  --json                         print the report as JSON
";

fn number<T: std::str::FromStr>(name: &'static str, value: Option<String>) -> Result<T, CliError> {
    value
        .ok_or(CliError::MissingValue(name))?
        .parse()
        .map_err(|_| CliError::BadValue(name))
}

fn bounded<T: PartialOrd>(name: &'static str, v: T, lo: T, hi: T) -> Result<T, CliError> {
    if v < lo || v > hi {
        Err(CliError::BadValue(name))
    } else {
        Ok(v)
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, CliError> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(CliError::Help),
            "--embedded" => o.target = Target::Embedded,
            "--target" => return Err(CliError::Unsupported("--target (a running talkod)")),
            "--rooms" => o.rooms = bounded("--rooms", number("--rooms", args.next())?, 0, 10_000)?,
            "--participants-per-room" => {
                o.participants_per_room = bounded(
                    "--participants-per-room",
                    number("--participants-per-room", args.next())?,
                    1,
                    MAX_PARTICIPANTS,
                )?
            }
            "--talkers-per-room" => {
                o.talkers_per_room = bounded(
                    "--talkers-per-room",
                    number("--talkers-per-room", args.next())?,
                    0,
                    crate::signal::MAX_TAGGED_TALKERS,
                )?
            }
            "--empty-calls" => {
                o.empty_calls = bounded(
                    "--empty-calls",
                    number("--empty-calls", args.next())?,
                    0,
                    MAX_EMPTY_CALLS,
                )?
            }
            "--duration-secs" => {
                o.duration_secs = bounded(
                    "--duration-secs",
                    number("--duration-secs", args.next())?,
                    1,
                    MAX_DURATION_SECS,
                )?
            }
            "--warmup-secs" => {
                o.warmup_secs = bounded(
                    "--warmup-secs",
                    number("--warmup-secs", args.next())?,
                    0,
                    60,
                )?
            }
            "--shards" => o.shards = bounded("--shards", number("--shards", args.next())?, 0, 256)?,
            "--client-threads" => {
                o.client_threads = bounded(
                    "--client-threads",
                    number("--client-threads", args.next())?,
                    1,
                    64,
                )?
            }
            "--participants-per-socket" => {
                o.participants_per_socket = bounded(
                    "--participants-per-socket",
                    number("--participants-per-socket", args.next())?,
                    1,
                    4096,
                )?
            }
            "--checked-listeners-per-room" => {
                o.checked_listeners_per_room = number("--checked-listeners-per-room", args.next())?
            }
            "--listener-packet-ms" => {
                o.listener_packet_ms = bounded(
                    "--listener-packet-ms",
                    number("--listener-packet-ms", args.next())?,
                    20,
                    1000,
                )?
            }
            "--wav" => {
                o.wav = Some(PathBuf::from(
                    args.next().ok_or(CliError::MissingValue("--wav"))?,
                ))
            }
            "--signal-secs" => {
                o.signal_secs = bounded(
                    "--signal-secs",
                    number("--signal-secs", args.next())?,
                    2,
                    60,
                )?
            }
            "--bitrate" => {
                o.bitrate = bounded(
                    "--bitrate",
                    number("--bitrate", args.next())?,
                    6_000,
                    510_000,
                )?
            }
            "--no-audio-level" => o.audio_level = false,
            "--profile" => {
                o.profile = match args.next().as_deref() {
                    Some("aes-cm-80") => Profile::AesCm80,
                    Some("gcm-128") => Profile::Gcm128,
                    Some(_) => return Err(CliError::BadValue("--profile")),
                    None => return Err(CliError::MissingValue("--profile")),
                }
            }
            "--jitter-min-ms" => {
                o.jitter_min_ms = Some(bounded(
                    "--jitter-min-ms",
                    number("--jitter-min-ms", args.next())?,
                    0,
                    200,
                )?)
            }
            "--complexity" => {
                o.complexity = Some(bounded(
                    "--complexity",
                    number("--complexity", args.next())?,
                    0,
                    10,
                )?)
            }
            "--tick-phases" => {
                o.tick_phases = Some(bounded(
                    "--tick-phases",
                    number("--tick-phases", args.next())?,
                    1,
                    talko_engine::config::MAX_TICK_PHASES,
                )?)
            }
            "--seed" => o.seed = number("--seed", args.next())?,
            "--json" => o.json = true,
            _ => return Err(CliError::UnknownOption(arg)),
        }
    }
    if o.talkers_per_room > o.participants_per_room {
        return Err(CliError::BadValue("--talkers-per-room"));
    }
    if o.rooms.saturating_mul(o.participants_per_room) > MAX_PARTICIPANTS {
        return Err(CliError::BadValue("--rooms × --participants-per-room"));
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_are_a_bounded_run() {
        let o = parse(Vec::new()).expect("defaults");
        assert_eq!(o.duration_secs, 20);
        assert_eq!(o.participants_per_room, 50);
    }

    #[test]
    fn options_are_read() {
        let o = parse(args(
            "--rooms 4 --participants-per-room 10 --talkers-per-room 2 --shards 1 --json",
        ))
        .expect("parse");
        assert_eq!(
            (o.rooms, o.participants_per_room, o.talkers_per_room),
            (4, 10, 2)
        );
        assert!(o.json);
    }

    #[test]
    fn unbounded_or_inconsistent_runs_are_refused() {
        assert_eq!(
            parse(args("--duration-secs 601")).unwrap_err(),
            CliError::BadValue("--duration-secs")
        );
        assert!(parse(args("--participants-per-room 2 --talkers-per-room 3")).is_err());
        assert!(parse(args("--rooms 1000 --participants-per-room 50")).is_err());
        assert!(matches!(
            parse(args("--frobnicate")),
            Err(CliError::UnknownOption(_))
        ));
        assert_eq!(
            parse(args("--rooms")).unwrap_err(),
            CliError::MissingValue("--rooms")
        );
    }
}
