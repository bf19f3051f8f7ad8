//! CPU time of a process's threads, from `/proc/<pid>/task/*/stat`, grouped by thread name.

use std::collections::BTreeMap;

/// Clock ticks per second of `utime` and `stime` (`USER_HZ`, 100 on Linux's mainstream
/// architectures).
const TICKS: f64 = 100.0;

/// Per thread ID: (name, user ticks, system ticks).
#[derive(Default)]
pub(crate) struct Snapshot(BTreeMap<u32, (String, u64, u64)>);

/// Per thread-name group: (user seconds, system seconds).
pub(crate) type Split = BTreeMap<String, (f64, f64)>;

impl Snapshot {
    /// The CPU times of every thread of `pid` now.
    pub(crate) fn take(pid: u32) -> Snapshot {
        let mut threads = BTreeMap::new();
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return Snapshot(threads);
        };
        for entry in dir.flatten() {
            let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            // A thread may end between the listing and the read.
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            if let Some((name, user, sys)) = parse(&stat) {
                let name = if tid == pid { "main".to_string() } else { name };
                threads.insert(tid, (name, user, sys));
            }
        }
        Snapshot(threads)
    }

    /// What each group of threads (by name) spent from `before` until this snapshot; a
    /// thread started since counts whole, one that ended since is missing.
    pub(crate) fn since(&self, before: &Snapshot) -> Split {
        let mut split = Split::new();
        for (tid, (name, user, sys)) in &self.0 {
            let (u0, s0) = before.0.get(tid).map_or((0, 0), |(_, u, s)| (*u, *s));
            let e = split.entry(name.clone()).or_default();
            e.0 += user.saturating_sub(u0) as f64 / TICKS;
            e.1 += sys.saturating_sub(s0) as f64 / TICKS;
        }
        split
    }
}

/// `(comm, utime, stime)` of one `stat` line: `pid (comm) state ppid ...`, where `comm` may
/// hold spaces and parentheses, and utime and stime are fields 14 and 15.
fn parse(stat: &str) -> Option<(String, u64, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // fields[0] is field 3 (state).
    let user = fields.get(11)?.parse().ok()?;
    let sys = fields.get(12)?.parse().ok()?;
    Some((name, user, sys))
}

/// One line: `name user/sys` per group, in seconds, groups that spent nothing left out.
pub(crate) fn format(split: &Split) -> String {
    let parts: Vec<String> = split
        .iter()
        .filter(|(_, (u, s))| u + s > 0.0)
        .map(|(name, (u, s))| format!("{name} {u:.2}u/{s:.2}s"))
        .collect();
    if parts.is_empty() {
        "none measurable".into()
    } else {
        parts.join(", ")
    }
}
