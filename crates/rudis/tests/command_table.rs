//! The command table against the reference: for every command rudis has,
//! COMMAND INFO (arity, flags, key positions, ACL categories, tips, key
//! specs) must equal what Redis 7.0.15 reported, as captured in
//! tests/data/command-info.txt by tools/capture-command-info.

mod common;

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn command_info_equals_the_reference() {
    let data = include_str!("data/command-info.txt");
    let server = common::rudis(&[]);
    let mut c = server.raw();
    let listed: Vec<Vec<u8>> = {
        let reply = c.cmd(&[b"COMMAND", b"LIST"]);
        reply
            .split(|&b| b == b'\n')
            .skip(2)
            .step_by(2)
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in data.lines() {
        let (name, escaped) = line.split_once('\t').expect("name<TAB>reply");
        checked += 1;
        if escaped == "-" {
            // Newer than Redis 7.0.15: no reference facts to compare.
            continue;
        }
        let expected = unescape(escaped);
        let got = c.cmd(&[b"COMMAND", b"INFO", name.as_bytes()]);
        if !got.starts_with(&expected) {
            failures.push(format!(
                "{name}\n  redis: {}\n  rudis: {}",
                expected.escape_ascii(),
                got.escape_ascii()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "differs from Redis 7.0.15:\n{}",
        failures.join("\n")
    );
    // Every command rudis has is in the data file, so none goes unchecked.
    assert_eq!(
        checked,
        listed.len(),
        "tests/data/command-info.txt is out of date"
    );
}

#[test]
fn command_count_and_getkeys() {
    let server = common::rudis(&[]);
    let mut c = server.raw();
    let lines = include_str!("data/command-info.txt").lines();
    let top = lines
        .filter(|l| !l.split('\t').next().unwrap().contains('|'))
        .count();
    assert_eq!(
        c.cmd(&[b"COMMAND", b"COUNT"]),
        format!(":{top}\r\n").into_bytes()
    );
    assert_eq!(
        c.cmd(&[b"COMMAND", b"GETKEYS", b"MSET", b"a", b"1", b"b", b"2"]),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        c.cmd(&[b"COMMAND", b"GETKEYS", b"ECHO", b"a"]),
        b"-ERR The command has no key arguments\r\n"
    );
    assert_eq!(
        c.cmd(&[b"COMMAND", b"GETKEYSANDFLAGS", b"COPY", b"a", b"b"]),
        b"*2\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nb\r\n*2\r\n+OW\r\n+update\r\n"
    );
}
