//! Counters for INFO. Each worker thread owns a `WorkerStats` and is its
//! only writer, so counting a command never bounces a cache line between
//! cores; INFO adds the workers up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hdrhistogram::Histogram;
use parking_lot::Mutex;

/// One command's counters (INFO commandstats).
#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

pub struct WorkerStats {
    pub commands: AtomicU64,
    pub net_input: AtomicU64,
    pub net_output: AtomicU64,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub error_replies: AtomicU64,
    /// Changes to the keyspace (INFO rdb_changes_since_last_save).
    pub dirty: AtomicU64,
    /// Indexed by `cmd::table::index_of`.
    pub per_command: Box<[CmdStat]>,
    /// Error replies by their first word (INFO errorstats). Errors are
    /// rare, so a lock is fine here.
    pub errors: Mutex<HashMap<Vec<u8>, u64>>,
    /// Per-command latency in nanoseconds (INFO latencystats), created on
    /// a command's first call.
    pub latency: Mutex<Vec<Option<Histogram<u64>>>>,
}

impl WorkerStats {
    pub fn new(commands: usize) -> WorkerStats {
        WorkerStats {
            commands: AtomicU64::new(0),
            net_input: AtomicU64::new(0),
            net_output: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            dirty: AtomicU64::new(0),
            per_command: (0..commands).map(|_| CmdStat::default()).collect(),
            errors: Mutex::new(HashMap::new()),
            latency: Mutex::new((0..commands).map(|_| None).collect()),
        }
    }

    pub fn count_error(&self, reply: &[u8]) {
        self.error_replies.fetch_add(1, Relaxed);
        let code = reply.split(|&c| c == b' ').next().unwrap_or(reply);
        *self.errors.lock().entry(code.to_vec()).or_insert(0) += 1;
    }

    pub fn record_latency(&self, cmd: usize, nanos: u64) {
        let mut all = self.latency.lock();
        // Redis's range (1 ns to 1 s, longer calls counted as 1 s) and
        // precision: about 25 KB per command, allocated on its first call.
        const MAX: u64 = 1_000_000_000;
        let h = all[cmd]
            .get_or_insert_with(|| Histogram::new_with_bounds(1, MAX, 2).expect("valid bounds"));
        let _ = h.record(nanos.clamp(1, MAX));
    }

    pub fn reset(&self) {
        for c in [
            &self.commands,
            &self.net_input,
            &self.net_output,
            &self.reads,
            &self.writes,
            &self.error_replies,
        ] {
            c.store(0, Relaxed);
        }
        for s in self.per_command.iter() {
            for c in [&s.calls, &s.usec, &s.rejected, &s.failed] {
                c.store(0, Relaxed);
            }
        }
        self.errors.lock().clear();
        for h in self.latency.lock().iter_mut() {
            *h = None;
        }
    }
}

/// Sums one counter over every worker.
pub fn sum(workers: &[std::sync::Arc<WorkerStats>], f: impl Fn(&WorkerStats) -> &AtomicU64) -> u64 {
    workers.iter().map(|w| f(w).load(Relaxed)).sum()
}

/// One command's latency histogram over every worker (`None`: not called
/// since the last reset), for INFO latencystats and LATENCY HISTOGRAM.
pub fn merged_latency(
    workers: &[std::sync::Arc<WorkerStats>],
    cmd: usize,
) -> Option<Histogram<u64>> {
    let mut merged: Option<Histogram<u64>> = None;
    for w in workers {
        if let Some(h) = &w.latency.lock()[cmd] {
            match &mut merged {
                Some(m) => {
                    let _ = m.add(h);
                }
                None => merged = Some(h.clone()),
            }
        }
    }
    merged
}
