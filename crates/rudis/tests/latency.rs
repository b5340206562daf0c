//! The latency monitor: events past latency-monitor-threshold, LATENCY's
//! views of them, and per-command histograms. Texts are Redis 7.0.15's.

mod common;

use common::rudis;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn slow_commands_become_latency_events() {
    let s = rudis(&[
        "--latency-monitor-threshold",
        "100",
        "--enable-debug-command",
        "yes",
    ]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"LATENCY", b"LATEST"]), b"*0\r\n");
    assert_eq!(
        text(&c.cmd(&[b"LATENCY", b"DOCTOR"])),
        "$196\r\nDave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n\r\n"
    );
    assert_eq!(c.cmd(&[b"DEBUG", b"SLEEP", b"0.25"]), b"+OK\r\n");
    // A fast command under the threshold leaves no event.
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    // The expire cycle, which waited for the locks DEBUG SLEEP held, may
    // have an event of its own; the command's is what is checked.
    let latest = text(&c.cmd(&[b"LATENCY", b"LATEST"]));
    let at = latest.find("$7\r\ncommand\r\n:").expect("a command event");
    let ms: Vec<i64> = latest[at..]
        .split("\r\n")
        .skip(2)
        .take(3)
        .map(|l| l.trim_start_matches(':').parse().unwrap())
        .collect();
    // [time, latest, max]
    let ms = [ms[0], ms[1], ms[2]];
    assert!(ms[1] >= 250 && ms[2] == ms[1], "{latest}");
    let history = text(&c.cmd(&[b"LATENCY", b"HISTORY", b"command"]));
    assert!(history.starts_with("*1\r\n*2\r\n:"), "{history}");
    let graph = text(&c.cmd(&[b"LATENCY", b"GRAPH", b"command"]));
    assert!(
        graph.contains(&format!(
            "command - high {0} ms, low {0} ms (all time high {0} ms)\n{1}\n",
            ms[1],
            "-".repeat(80)
        )),
        "{graph}"
    );
    let doctor = text(&c.cmd(&[b"LATENCY", b"DOCTOR"]));
    assert!(
        doctor.contains(&format!(
            "1. command: 1 latency spikes (average {0}ms, mean deviation 0ms, period ",
            ms[1]
        )),
        "{doctor}"
    );
    assert!(
        doctor.contains("- Check your Slow Log to understand"),
        "{doctor}"
    );
    assert_eq!(
        c.cmd(&[b"LATENCY", b"GRAPH", b"nosuch"]),
        b"-ERR No samples available for event 'nosuch'\r\n"
    );
    assert_eq!(c.cmd(&[b"LATENCY", b"RESET", b"nosuch"]), b":0\r\n");
    let resets = text(&c.cmd(&[b"LATENCY", b"RESET"]));
    assert!(resets == ":1\r\n" || resets == ":2\r\n", "{resets}");
    assert_eq!(c.cmd(&[b"LATENCY", b"LATEST"]), b"*0\r\n");
}

#[test]
fn latency_histogram_per_command() {
    let s = rudis(&[]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&[b"CONFIG", b"RESETSTAT"]), b"+OK\r\n");
    // Only the reset itself has been timed since.
    let all = text(&c.cmd(&[b"LATENCY", b"HISTOGRAM"]));
    assert!(all.starts_with("*2\r\n$16\r\nconfig|resetstat\r\n*4\r\n$5\r\ncalls\r\n:1\r\n$14\r\nhistogram_usec\r\n*"), "{all}");
    c.cmd(&[b"SET", b"a", b"b"]);
    c.cmd(&[b"SET", b"c", b"d"]);
    c.cmd(&[b"CLIENT", b"ID"]);
    let set = text(&c.cmd(&[b"LATENCY", b"HISTOGRAM", b"set", b"nosuch"]));
    assert!(
        set.starts_with("*2\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:2\r\n$14\r\nhistogram_usec\r\n*"),
        "{set}"
    );
    // Buckets are cumulative: the last one counts every call.
    assert!(set.ends_with(":2\r\n"), "{set}");
    // A container brings its subcommands.
    let client = text(&c.cmd(&[b"LATENCY", b"HISTOGRAM", b"client"]));
    assert!(client.starts_with("*2\r\n$9\r\nclient|id\r\n"), "{client}");
    assert_eq!(c.cmd(&[b"LATENCY", b"HISTOGRAM", b"get"]), b"*0\r\n");
    c.cmd(&[b"HELLO", b"3"]);
    let set = c.cmd(&[b"LATENCY", b"HISTOGRAM", b"set"]);
    assert!(set.starts_with(b"%1\r\n$3\r\nset\r\n%2\r\n"), "{set:?}");
}
