//! CPU time of this process and of its threads, from Linux `/proc`.
//!
//! Owns: reading `/proc/self/task/<tid>/{comm,schedstat,stat}` and `/proc/self/stat`.
//! Must never: fail loudly where `/proc` is missing (other systems): it reports `None`.

use std::fs;
use std::time::Duration;

/// Clock ticks per second assumed for `stat` fields (Linux's `USER_HZ` is 100 on every
/// mainstream architecture); only used when `schedstat` is unavailable.
const USER_HZ: u64 = 100;

/// One thread's identity and CPU time.
#[derive(Clone, Debug)]
pub struct ThreadCpu {
    /// Kernel thread id.
    pub tid: u32,
    /// Thread name (`comm`).
    pub name: String,
    /// CPU time consumed so far (user + system).
    pub cpu: Duration,
    /// Time spent runnable but waiting for a CPU (from `schedstat`; zero when the
    /// kernel does not provide it).
    pub runqueue_wait: Duration,
}

/// CPU time of thread `tid` of this process: `schedstat`'s on-CPU nanoseconds when the
/// kernel provides it, else `stat`'s utime + stime.
pub fn thread_cpu(tid: u32) -> Option<Duration> {
    if let Ok(s) = fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")) {
        if let Some(ns) = s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        {
            return Some(Duration::from_nanos(ns));
        }
    }
    let stat = fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    stat_cpu(&stat)
}

/// Time thread `tid` spent runnable but not running (`schedstat`'s second field): how
/// much the machine's other load delayed it.
pub fn thread_runqueue_wait(tid: u32) -> Option<Duration> {
    let s = fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let ns = s.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(ns))
}

/// utime + stime from the text of a `stat` file.
fn stat_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) may contain spaces; fields after the last ')' are fixed.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': field 3 is state (index 0), utime is field 14 (index 11), stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// Threads of this process whose name starts with `prefix`.
pub fn threads_named(prefix: &str) -> Vec<ThreadCpu> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(name) = fs::read_to_string(format!("/proc/self/task/{tid}/comm")) else {
            continue;
        };
        let name = name.trim().to_string();
        if name.starts_with(prefix) {
            if let Some(cpu) = thread_cpu(tid) {
                let runqueue_wait = thread_runqueue_wait(tid).unwrap_or_default();
                out.push(ThreadCpu {
                    tid,
                    name,
                    cpu,
                    runqueue_wait,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// CPU time of the whole process (all threads, user + system).
pub fn process_cpu() -> Option<Duration> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    stat_cpu(&stat)
}

/// The 1-minute load average of the machine.
pub fn loadavg() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Machine-wide UDP counters of the kernel (`/proc/net/snmp`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpCounters {
    /// Datagrams dropped because a socket's receive buffer was full.
    pub rcvbuf_errors: u64,
    /// Datagrams refused because a socket's send buffer was full.
    pub sndbuf_errors: u64,
}

/// Reads the kernel's UDP counters.
pub fn udp_counters() -> Option<UdpCounters> {
    parse_snmp_udp(&fs::read_to_string("/proc/net/snmp").ok()?)
}

fn parse_snmp_udp(text: &str) -> Option<UdpCounters> {
    let mut lines = text.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let get = |name: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == name)?;
        values.get(i)?.parse().ok()
    };
    Some(UdpCounters {
        rcvbuf_errors: get("RcvbufErrors")?,
        sndbuf_errors: get("SndbufErrors")?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn snmp_udp_counters_are_read_by_name() {
        let text = "Ip: a b\nIp: 1 2\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 10 0 3 9 3 1\n";
        assert_eq!(
            parse_snmp_udp(text),
            Some(UdpCounters {
                rcvbuf_errors: 3,
                sndbuf_errors: 1
            })
        );
    }

    use super::*;

    #[test]
    fn stat_line_with_spaces_in_the_name_is_parsed() {
        let line = "1234 (talko shard) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(stat_cpu(line), Some(Duration::from_secs(3)));
    }

    #[test]
    fn a_busy_thread_shows_cpu_time() {
        // The machine may be shared: burn until /proc shows the time, with a deadline.
        let handle = std::thread::Builder::new()
            .name("cpu-probe-busy".into())
            .spawn(|| {
                let start = std::time::Instant::now();
                let mut x = 0u64;
                while start.elapsed() < Duration::from_secs(20) {
                    for _ in 0..1_000_000 {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                    }
                    let cpu = threads_named("cpu-probe-busy").first().map(|t| t.cpu);
                    if cpu.is_some_and(|c| c >= Duration::from_millis(50)) {
                        return cpu;
                    }
                }
                None
            })
            .expect("spawn");
        let cpu = handle.join().expect("join");
        assert!(cpu.is_some(), "thread CPU never reached 50 ms in /proc");
        assert!(process_cpu().is_some_and(|c| c >= Duration::from_millis(50)));
    }
}
