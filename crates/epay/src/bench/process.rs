//! What the bench can see of the gateway process and the machine through `/proc` (Linux only;
//! elsewhere every reading is `None` and the report says so).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `/proc/<pid>/stat` counts CPU time in USER_HZ ticks, which Linux fixes at 100 per second for
/// user space on every architecture it exports them for.
const TICKS_PER_SEC: f64 = 100.0;

/// The process listening on `port` on this machine: the socket's inode from `/proc/net/tcp{,6}`,
/// then the process holding a descriptor to it. Needs permission to read the other process's
/// `fd` directory (same user, or root); `--server-pid` is the way around that.
pub fn find_listener(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // cols: sl, local_address (hex ip:port), rem_address, st (0A = LISTEN), …, inode (9)
            let (Some(local), Some(state), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9)) else { continue };
            let local_port = local.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && local_port == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| target.as_os_str() == i.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..].trim_start_matches(':').split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// Resident memory now, in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    status_kb(pid, "VmRSS")
}

/// The most resident memory the process ever had (the kernel's high-water mark), in bytes.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    status_kb(pid, "VmHWM")
}

/// User plus system CPU time the process has used, in seconds.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its ")" are plain.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SEC)
}

/// CPU time of this process (the load generator), in seconds.
pub fn own_cpu_secs() -> Option<f64> {
    cpu_secs(std::process::id())
}

/// The machine's CPU counters from `/proc/stat`: (busy ticks, all ticks) over every core.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let all: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((all - idle, all))
}

/// Samples the process's RSS every 50 ms in the background and keeps the largest value, so a
/// phase of the run gets its own peak (VmHWM only knows the peak of the whole process life).
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let peak = Arc::new(AtomicU64::new(rss_bytes(pid).unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Some(rss) = rss_bytes(pid) {
                    p.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        RssSampler { peak, stop, task }
    }

    /// Stops sampling; the peak in bytes, or None if the process could not be read.
    pub async fn finish(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        Some(self.peak.load(Ordering::Relaxed)).filter(|b| *b > 0)
    }
}

/// CPU used by the gateway nodes, by this process and by the whole machine between two moments.
#[derive(Clone)]
pub struct CpuMark {
    /// Per node, in the order of the pids given.
    servers: Vec<Option<f64>>,
    own: Option<f64>,
    machine: Option<(u64, u64)>,
}

#[derive(Debug, Clone, Default)]
pub struct CpuUsage {
    /// Seconds of CPU the gateway nodes used together (their database, if another process, is
    /// not in it); None if any node could not be read.
    pub server_secs: Option<f64>,
    /// The same per node, in the order of the pids given.
    pub per_server_secs: Vec<Option<f64>>,
    /// Seconds of CPU the load generator used.
    pub bench_secs: Option<f64>,
    /// Share of all cores that were busy, 0–1.
    pub machine_busy: Option<f64>,
}

impl CpuMark {
    /// `server_pids`: one entry per gateway node, None where its process is not known.
    pub fn now(server_pids: &[Option<u32>]) -> CpuMark {
        CpuMark {
            servers: server_pids.iter().map(|p| p.and_then(cpu_secs)).collect(),
            own: own_cpu_secs(),
            machine: machine_ticks(),
        }
    }

    pub fn since(&self, server_pids: &[Option<u32>]) -> CpuUsage {
        let later = CpuMark::now(server_pids);
        let machine_busy = match (self.machine, later.machine) {
            (Some((b0, a0)), Some((b1, a1))) if a1 > a0 => Some((b1 - b0) as f64 / (a1 - a0) as f64),
            _ => None,
        };
        let per_server_secs: Vec<Option<f64>> =
            self.servers.iter().zip(&later.servers).map(|(a, b)| a.zip(*b).map(|(a, b)| b - a)).collect();
        let server_secs =
            if per_server_secs.is_empty() { None } else { per_server_secs.iter().copied().sum::<Option<f64>>() };
        CpuUsage { server_secs, per_server_secs, bench_secs: self.own.zip(later.own).map(|(a, b)| b - a), machine_busy }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        if !std::path::Path::new("/proc/self/status").exists() {
            return;
        }
        let pid = std::process::id();
        assert!(rss_bytes(pid).unwrap() > 0);
        assert!(peak_rss_bytes(pid).unwrap() >= rss_bytes(pid).unwrap() / 2);
        assert!(cpu_secs(pid).is_some());
        let (busy, all) = machine_ticks().unwrap();
        assert!(all >= busy);
    }

    #[test]
    fn finds_a_listener_by_port() {
        if !std::path::Path::new("/proc/net/tcp").exists() {
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(find_listener(port), Some(std::process::id()));
    }
}
