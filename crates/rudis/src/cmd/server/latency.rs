//! The latency monitor and LATENCY: DOCTOR, GRAPH, HELP, HISTOGRAM,
//! HISTORY, LATEST, RESET, after Redis's latency.c. Events (`command`,
//! `fast-command`, `expire-cycle`) are recorded when they take at least
//! `latency-monitor-threshold` milliseconds: one sample per second per
//! event (the worst), the last 160 kept, and the all-time maximum.

use parking_lot::Mutex;
use resp::write::Aggregate;
use resp::Reply;

use super::super::flags::*;
use super::super::{acl, lookup_full, row, Args, Command, Ctx};
use crate::errors::{CmdResult, Error};
use crate::server::Server;

pub static COMMANDS: &[Command] = &[row("latency", -2, 0, |_, _| Ok(())).subs(LATENCY)];

const ADMIN_ROW: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const REPORT_TIPS: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_nodes",
    "response_policy:special",
];

static LATENCY: &[Command] = &[
    row("latency|latest", 2, ADMIN_ROW, latest)
        .acl(acl::ADMIN | acl::SLOW | acl::DANGEROUS)
        .tips(REPORT_TIPS),
    row("latency|reset", -2, ADMIN_ROW, reset)
        .acl(acl::ADMIN | acl::SLOW | acl::DANGEROUS)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
    row("latency|doctor", 2, ADMIN_ROW, doctor)
        .acl(acl::ADMIN | acl::SLOW | acl::DANGEROUS)
        .tips(REPORT_TIPS),
    row("latency|graph", 3, ADMIN_ROW, graph)
        .acl(acl::ADMIN | acl::SLOW | acl::DANGEROUS)
        .tips(REPORT_TIPS),
    row("latency|help", 2, LOADING | STALE, help).acl(acl::SLOW),
    row("latency|histogram", -2, ADMIN_ROW, histogram)
        .acl(acl::ADMIN | acl::SLOW | acl::DANGEROUS)
        .tips(REPORT_TIPS),
    row("latency|history", 3, ADMIN_ROW, history)
        .acl(acl::ADMIN | acl::SLOW | acl::DANGEROUS)
        .tips(REPORT_TIPS),
];

/// Redis's LATENCY_TS_LEN.
const SAMPLES: usize = 160;

/// One event's samples: (Unix second, milliseconds), a ring from `idx`.
#[derive(Clone)]
struct Series {
    samples: [(u64, u64); SAMPLES],
    idx: usize,
    max: u64,
}

impl Series {
    /// The samples present, oldest first.
    fn in_order(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        (0..SAMPLES)
            .map(move |j| self.samples[(self.idx + j) % SAMPLES])
            .filter(|s| s.0 != 0)
    }

    fn last(&self) -> (u64, u64) {
        self.samples[(self.idx + SAMPLES - 1) % SAMPLES]
    }
}

/// Every event seen so far, in the order first seen.
#[derive(Default)]
pub struct Monitor {
    events: Mutex<Vec<(String, Box<Series>)>>,
}

fn unix_secs() -> u64 {
    crate::db::now_ms() / 1000
}

impl Monitor {
    /// Records `ms` for `event` if it reaches the threshold (Redis's
    /// `latencyAddSampleIfNeeded`).
    #[inline]
    pub fn sample_if_needed(&self, server: &Server, event: &str, ms: u64) {
        let threshold = server.hot.latency_threshold();
        if threshold > 0 && ms >= threshold {
            self.add(event, ms, unix_secs());
        }
    }

    fn add(&self, event: &str, ms: u64, now: u64) {
        let mut events = self.events.lock();
        let at = match events.iter().position(|(e, _)| e == event) {
            Some(i) => i,
            None => {
                events.push((
                    event.to_string(),
                    Box::new(Series {
                        samples: [(0, 0); SAMPLES],
                        idx: 0,
                        max: 0,
                    }),
                ));
                events.len() - 1
            }
        };
        let ts = &mut events[at].1;
        ts.max = ts.max.max(ms);
        // Within the same second only the worst sample is kept.
        let prev = (ts.idx + SAMPLES - 1) % SAMPLES;
        if ts.samples[prev].0 == now {
            ts.samples[prev].1 = ts.samples[prev].1.max(ms);
            return;
        }
        ts.samples[ts.idx] = (now, ms);
        ts.idx = (ts.idx + 1) % SAMPLES;
    }

    fn find(&self, event: &[u8]) -> Option<(String, Series)> {
        let events = self.events.lock();
        events
            .iter()
            .find(|(e, _)| e.as_bytes() == event)
            .map(|(e, s)| (e.clone(), (**s).clone()))
    }

    fn all(&self) -> Vec<(String, Series)> {
        let events = self.events.lock();
        events
            .iter()
            .map(|(e, s)| (e.clone(), (**s).clone()))
            .collect()
    }
}

/// LATENCY HISTORY event
fn history(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let event = args.arg();
    let samples: Vec<(u64, u64)> = ctx
        .server
        .latency
        .find(event)
        .map(|(_, s)| s.in_order().collect())
        .unwrap_or_default();
    ctx.out.array(samples.len());
    for (time, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(time as i64);
        ctx.out.int(ms as i64);
    }
    Ok(())
}

/// LATENCY LATEST
fn latest(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let all = ctx.server.latency.all();
    ctx.out.array(all.len());
    for (event, ts) in all {
        let (time, ms) = ts.last();
        ctx.out.array(4);
        ctx.out.bulk(event.as_bytes());
        ctx.out.int(time as i64);
        ctx.out.int(ms as i64);
        ctx.out.int(ts.max as i64);
    }
    Ok(())
}

/// LATENCY RESET [event [event ...]]
fn reset(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let names: Vec<&[u8]> = args.rest().iter().collect();
    let mut events = ctx.server.latency.events.lock();
    let before = events.len();
    if names.is_empty() {
        events.clear();
    } else {
        // Each name resets the events it names (case-insensitively).
        let mut resets = 0;
        for n in &names {
            let had = events.len();
            events.retain(|(e, _)| !e.as_bytes().eq_ignore_ascii_case(n));
            resets += had - events.len();
        }
        drop(events);
        ctx.out.int(resets as i64);
        return Ok(());
    }
    drop(events);
    ctx.out.int(before as i64);
    Ok(())
}

/// LATENCY GRAPH event
fn graph(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let event = args.arg();
    let Some((name, ts)) = ctx.server.latency.find(event) else {
        return Err(Error::from(format!(
            "ERR No samples available for event '{}'",
            String::from_utf8_lossy(event)
        )));
    };
    let text = sparkline_graph(&name, &ts, unix_secs());
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// Redis's `latencyCommandGenSparkeline`: a title, a rule, and the
/// samples as a 4-row sparkline, each labelled with how long ago it was.
fn sparkline_graph(event: &str, ts: &Series, now: u64) -> String {
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for (time, ms) in ts.in_order() {
        let ago = now.saturating_sub(time);
        labels.push(match ago {
            a if a < 60 => format!("{a}s"),
            a if a < 3600 => format!("{}m", a / 60),
            a if a < 86400 => format!("{}h", a / 3600),
            a => format!("{}d", a / 86400),
        });
        values.push(ms);
    }
    let (min, max) = (
        values.iter().copied().min().unwrap_or(0),
        values.iter().copied().max().unwrap_or(0),
    );
    let mut out = format!(
        "{event} - high {max} ms, low {min} ms (all time high {} ms)\n",
        ts.max
    );
    out.push_str(&"-".repeat(80));
    out.push('\n');
    let values: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    let mut first = true;
    for (vals, labs) in values.chunks(80).zip(labels.chunks(80)) {
        if !first {
            out.push('\n');
        }
        first = false;
        sparkline_rows(&mut out, vals, labs, min as f64, max as f64);
    }
    out
}

/// Redis's `sparklineRenderRange` with SPARKLINE_FILL over 4 rows: the
/// value rows top down (`_o#`, `|` below the top of a bar), then the
/// labels written downwards, one character per row, after a blank row.
fn sparkline_rows(out: &mut String, values: &[f64], labels: &[String], min: f64, max: f64) {
    const ROWS: usize = 4;
    const FILL: &[u8] = b"_o#";
    let steps = (FILL.len() * ROWS) as i64;
    let relmax = if max - min == 0.0 { 1.0 } else { max - min };
    let mut row = 0;
    loop {
        let mut line = vec![b' '; values.len()];
        let mut more = false;
        for (j, v) in values.iter().enumerate() {
            let step = ((((v - min) * steps as f64) as i64) as f64 / relmax) as i64;
            let step = step.clamp(0, steps - 1);
            if row < ROWS {
                more = true;
                let idx = step - ((ROWS - row - 1) * FILL.len()) as i64;
                if (0..FILL.len() as i64).contains(&idx) {
                    line[j] = FILL[idx as usize];
                } else if idx >= FILL.len() as i64 {
                    line[j] = b'|';
                }
            } else {
                // One blank row between the graph and the labels.
                if row == ROWS {
                    more = true;
                    break;
                }
                let at = row - ROWS - 1;
                if let Some(&c) = labels[j].as_bytes().get(at) {
                    more = true;
                    line[j] = c;
                }
            }
        }
        if !more {
            break;
        }
        row += 1;
        out.push_str(&String::from_utf8_lossy(&line));
        out.push('\n');
    }
}

/// LATENCY HISTOGRAM [command [command ...]]
fn histogram(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let workers = ctx.server.workers.lock().clone();
    let names: Vec<&[u8]> = args.rest().iter().collect();
    let mut chosen: Vec<&'static Command> = Vec::new();
    if names.is_empty() {
        for c in super::super::all_commands() {
            chosen.push(c);
            chosen.extend(c.subcommands.iter());
        }
    } else {
        for n in names {
            // Unknown names are skipped; a container brings its
            // subcommands.
            if let Some(c) = lookup_full(n) {
                chosen.push(c);
                chosen.extend(c.subcommands.iter());
            }
        }
    }
    let at = ctx.out.defer();
    let mut n = 0;
    for cmd in chosen {
        let Some(h) = crate::stats::merged_latency(&workers, super::super::index_of(cmd)) else {
            continue;
        };
        ctx.out.bulk(cmd.name.as_bytes());
        cdf(ctx.out, &h);
        n += 1;
    }
    ctx.out.finish(at, Aggregate::Map, n);
    Ok(())
}

/// Redis's `fillCommandCDF`: calls, and the cumulative count at each
/// power-of-two bucket from 1024 ns, in microseconds, where it grew.
fn cdf(out: &mut Reply, h: &hdrhistogram::Histogram<u64>) {
    out.map(2);
    out.bulk(b"calls");
    out.int(h.len() as i64);
    out.bulk(b"histogram_usec");
    let at = out.defer();
    let (mut n, mut cumulative, mut previous) = (0, 0u64, 0u64);
    for step in h.iter_log(1024, 2.0) {
        cumulative += step.count_since_last_iteration();
        if cumulative > previous {
            out.int((step.value_iterated_to() / 1000) as i64);
            out.int(cumulative as i64);
            n += 1;
        }
        previous = cumulative;
    }
    out.finish(at, Aggregate::Map, n);
}

const HELP: &[&str] = &[
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
];

/// LATENCY HELP
fn help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::super::help(ctx, args, HELP)
}

/// LATENCY DOCTOR
fn doctor(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    let server = ctx.server;
    let config = server.config.read().clone();
    let report = doctor_report(
        &server.latency.all(),
        config.latency_monitor_threshold,
        config.slowlog_log_slower_than,
        config.hz,
        huge_pages(),
        unix_secs(),
    );
    ctx.out.verbatim(b"txt", report.as_bytes());
    Ok(())
}

/// AnonHugePages in this process's smaps (Redis's THP check).
fn huge_pages() -> bool {
    std::fs::read_to_string("/proc/self/smaps").is_ok_and(|s| {
        s.lines()
            .filter_map(|l| l.strip_prefix("AnonHugePages:"))
            .any(|v| v.trim().trim_end_matches("kB").trim() != "0")
    })
}

const DISABLED: &str = "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";
const NO_SPIKES: &str = "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n";
const NO_ADVICE: &str = "\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n";
const SCHEDULER: &str = "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n";
const SLOWLOG_INSPECT: &str = "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n";
const HZ: &str = "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n";
const LARGE_OBJECTS: &str = "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n";
const THP: &str = "- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n";

/// Redis's `createLatencyReport`, for the events rudis records.
fn doctor_report(
    events: &[(String, Series)],
    threshold: u64,
    slowlog_slower_than: i64,
    hz: u32,
    thp: bool,
    now: u64,
) -> String {
    if events.is_empty() && threshold == 0 {
        return DISABLED.to_string();
    }
    let mut report = String::new();
    let (mut slowlog_enabled, mut slowlog_tuning, mut slowlog_inspect) = (false, false, false);
    let (mut scheduler, mut hz_advice, mut large_objects) = (false, false, false);
    let mut advices = 0;
    for (n, (event, ts)) in events.iter().enumerate() {
        if n == 0 {
            report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let samples: Vec<(u64, u64)> = ts.in_order().collect();
        let count = samples.len() as u64;
        // An event always has a sample: it is created by its first one.
        let n_samples = count.max(1);
        let avg = samples.iter().map(|s| s.1).sum::<u64>() / n_samples;
        let oldest = samples.iter().map(|s| s.0).min().unwrap_or(now);
        let period = now.saturating_sub(oldest).max(1);
        let mad = samples
            .iter()
            .map(|s| (avg as i64 - s.1 as i64).unsigned_abs())
            .sum::<u64>()
            / n_samples;
        report.push_str(&format!(
            "{}. {event}: {count} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all time event {}ms.",
            n + 1,
            period as f64 / n_samples as f64,
            ts.max
        ));
        match event.as_str() {
            "command" => {
                if slowlog_slower_than < 0 {
                    slowlog_enabled = true;
                    advices += 1;
                } else if (slowlog_slower_than / 1000) as u64 > threshold {
                    slowlog_tuning = true;
                    advices += 1;
                }
                slowlog_inspect = true;
                large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                scheduler = true;
                advices += 1;
            }
            "expire-cycle" => {
                hz_advice = true;
                large_objects = true;
                advices += 2;
            }
            _ => {}
        }
        report.push('\n');
    }
    if thp {
        advices += 1;
    }
    if events.is_empty() && advices == 0 {
        report.push_str(NO_SPIKES);
    } else if !events.is_empty() && advices == 0 {
        report.push_str(NO_ADVICE);
    } else {
        report.push_str("\nI have a few advices for you:\n\n");
        if slowlog_enabled {
            report.push_str(&format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n", threshold * 1000));
        }
        if slowlog_tuning {
            report.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.\n", threshold * 1000));
        }
        if slowlog_inspect {
            report.push_str(SLOWLOG_INSPECT);
        }
        if scheduler {
            report.push_str(SCHEDULER);
        }
        if hz_advice && hz < 100 {
            report.push_str(HZ);
        }
        if large_objects {
            report.push_str(LARGE_OBJECTS);
        }
        if thp {
            report.push_str(THP);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(samples: &[(u64, u64)]) -> Series {
        let m = Monitor::default();
        for &(t, ms) in samples {
            m.add("command", ms, t);
        }
        m.all().remove(0).1
    }

    #[test]
    fn one_sample_per_second_the_worst() {
        let ts = series(&[(100, 5), (100, 9), (100, 7), (101, 3)]);
        assert_eq!(ts.in_order().collect::<Vec<_>>(), [(100, 9), (101, 3)]);
        assert_eq!(ts.max, 9);
        let many: Vec<(u64, u64)> = (1..=200).map(|t| (t, t)).collect();
        let ts = series(&many);
        let kept: Vec<_> = ts.in_order().collect();
        assert_eq!(kept.len(), SAMPLES);
        assert_eq!(kept[0], (41, 41));
        assert_eq!(ts.last(), (200, 200));
    }

    #[test]
    fn graph_is_redis_sparkline() {
        // Redis 7.0.15's LATENCY GRAPH command after DEBUG SLEEP 0.3, 0.4
        // and 0.5 (samples at 150, 153 and 155), read at 156.
        let ts = series(&[(150, 300), (153, 400), (155, 500)]);
        let g = sparkline_graph("command", &ts, 156);
        let want = format!(
            "command - high 500 ms, low 300 ms (all time high 500 ms)\n{}\n  #\n _|\n ||\n_||\n   \n631\nsss\n",
            "-".repeat(80)
        );
        assert_eq!(g, want);
    }

    #[test]
    fn doctor_texts() {
        assert_eq!(doctor_report(&[], 0, 10000, 10, false, 0), DISABLED);
        assert_eq!(doctor_report(&[], 100, 10000, 10, false, 0), NO_SPIKES);
        // Redis 7.0.15's report for the samples of the graph test.
        let ts = series(&[(150, 300), (153, 400), (155, 500)]);
        let r = doctor_report(&[("command".into(), ts)], 100, 10000, 10, false, 156);
        assert_eq!(r, format!("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n1. command: 3 latency spikes (average 400ms, mean deviation 66ms, period 2.00 sec). Worst all time event 500ms.\n\nI have a few advices for you:\n\n{SLOWLOG_INSPECT}{LARGE_OBJECTS}"));
    }
}
