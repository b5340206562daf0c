//! The active expiry cycle: reclaims expired keys nobody touches.
//!
//! Like Redis 6+ (`activeExpireCycle`), each table is walked with a
//! persistent cursor over its keys that have an expiry, 20 at a time; a
//! table is revisited at once while more than 10% of what was looked at
//! had expired, and the whole cycle stops when its time budget is used
//! (25% of the period between cycles, set by `hz`). `active-expire-effort`
//! raises all three as Redis does. The next cycle resumes
//! at the shard where this one stopped. A shard is locked only for one
//! step, so clients are never held up for longer than that.

use std::time::{Duration, Instant};

use smallvec::SmallVec;

use super::{now_ms, Store, Table, SHARDS};

/// Unix ms until which CLIENT PAUSE suspends expiry (0: not paused).
/// Redis 7.0 reclaims no key while clients are paused (a paused replica
/// set must not diverge): expired keys read as missing but stay until
/// the pause ends. A process-wide value because tables check it on
/// every lookup of an expired key, far from the server's state.
static SUSPENDED_UNTIL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// CLIENT PAUSE (until `until_ms`) and its end (0).
pub fn suspend_until(until_ms: u64) {
    SUSPENDED_UNTIL.store(until_ms, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a pause may be leaving expired keys in place (one load).
pub fn any_suspended() -> bool {
    SUSPENDED_UNTIL.load(std::sync::atomic::Ordering::Relaxed) != 0
}

/// Whether expired keys are left in place at `now_ms`.
pub fn suspended(now_ms: u64) -> bool {
    now_ms < SUSPENDED_UNTIL.load(std::sync::atomic::Ordering::Relaxed)
}

/// Keys with an expiry examined per step (Redis's
/// ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP), at the lowest effort.
const SAMPLES: usize = 20;
/// Positions visited per step at most (per key sampled), when few keys
/// have an expiry.
const VISITS_PER_SAMPLE: usize = 20;
/// A table is swept again at once while more than this percentage of the
/// sampled keys had expired (Redis's ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE),
/// at the lowest effort.
const ACCEPTABLE_STALE: usize = 10;

/// `active-expire-effort` (1..=10) as Redis scales it: more keys per step,
/// a lower tolerated share of stale keys, and more of each period
/// (`cycle_share`, in percent).
#[derive(Clone, Copy, Debug)]
pub struct Effort {
    samples: usize,
    acceptable_stale: usize,
    pub cycle_share: u32,
}

impl Effort {
    pub fn new(effort: u32) -> Effort {
        let e = effort.clamp(1, 10) as usize - 1;
        Effort {
            samples: SAMPLES + SAMPLES / 4 * e,
            acceptable_stale: ACCEPTABLE_STALE - e,
            cycle_share: 25 + 2 * e as u32,
        }
    }
}

#[derive(Default)]
pub struct ExpireCycle {
    next_shard: usize,
}

/// What one cycle did (INFO's expire_cycle_cpu_milliseconds and
/// expired_time_cap_reached_count).
#[derive(Default, Debug, Clone, Copy)]
pub struct CycleReport {
    pub deleted: usize,
    pub micros: u64,
    /// The cycle stopped because its time budget ran out.
    pub capped: bool,
}

impl ExpireCycle {
    /// Runs one cycle within `budget`. `reclaimed` sees each table that
    /// has just deleted keys, while its shard is still locked, to take
    /// their effects (`Table::take_log`).
    /// `active` is DEBUG SET-ACTIVE-EXPIRE's switch, read under each
    /// shard's lock: DEBUG sets it holding every shard, so once it has
    /// answered no step of a cycle already running deletes anything (in
    /// Redis no cycle can be running then).
    pub fn run(
        &mut self,
        store: &Store,
        budget: Duration,
        effort: Effort,
        active: &std::sync::atomic::AtomicBool,
        reclaimed: &mut dyn FnMut(usize, &mut Table),
    ) -> CycleReport {
        let start = Instant::now();
        let mut deleted = 0;
        let report = |deleted, capped| CycleReport {
            deleted,
            micros: start.elapsed().as_micros() as u64,
            capped,
        };
        if suspended(now_ms()) {
            return report(0, false);
        }
        for _ in 0..SHARDS {
            let shard_index = self.next_shard;
            self.next_shard = (self.next_shard + 1) % SHARDS;
            // One lock per shard to see which databases have keys with an
            // expiry: most shards have none, and this keeps an idle cycle
            // at SHARDS lock operations rather than SHARDS x databases.
            let busy: SmallVec<[usize; 16]> = {
                let shard = store.lock(shard_index);
                (0..shard.dbs.len())
                    .filter(|&db| shard.dbs[db].expires() > 0)
                    .collect()
            };
            for db in busy {
                loop {
                    let step = {
                        let mut shard = store.lock(shard_index);
                        if !active.load(std::sync::atomic::Ordering::Relaxed) {
                            return report(deleted, false);
                        }
                        let t = &mut shard.dbs[db];
                        let step = t.sweep_expired(
                            now_ms(),
                            effort.samples,
                            effort.samples * VISITS_PER_SAMPLE,
                        );
                        if t.has_log() {
                            reclaimed(db, t);
                        }
                        step
                    };
                    deleted += step.expired;
                    if start.elapsed() >= budget {
                        return report(deleted, true);
                    }
                    if step.wrapped || step.expired * 100 <= step.sampled * effort.acceptable_stale
                    {
                        break;
                    }
                }
            }
        }
        report(deleted, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effort_scales_as_redis() {
        // Redis's activeExpireCycle: keys per loop 20 + 5e, stale 10 - e,
        // time 25 + 2e percent, for effort e = active-expire-effort - 1.
        let low = Effort::new(1);
        assert_eq!(
            (low.samples, low.acceptable_stale, low.cycle_share),
            (20, 10, 25)
        );
        let high = Effort::new(10);
        assert_eq!(
            (high.samples, high.acceptable_stale, high.cycle_share),
            (65, 1, 43)
        );
    }
}
