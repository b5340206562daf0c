//! Properties of the request parser: any split of a valid stream parses to
//! the same commands, and arbitrary bytes never panic.

use proptest::prelude::*;
use resp::{Limits, Parsed, Parser};

/// Feeds `chunks` one at a time, as partial reads would deliver them, and
/// collects the commands (or the first error).
fn feed(chunks: &[Vec<u8>]) -> Result<Vec<Vec<Vec<u8>>>, resp::ProtoError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut parser = Parser::new();
    let mut args = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Parsed::Command(n) = parser.parse(&mut buf, &mut args, &Limits::default())? {
            if !args.is_empty() {
                out.push(
                    args.iter()
                        .map(|r: &std::ops::Range<usize>| buf[r.clone()].to_vec())
                        .collect(),
                );
            }
            buf.drain(..n);
        }
    }
    Ok(out)
}

fn encode(cmds: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in cmds {
        out.extend_from_slice(format!("*{}\r\n", c.len()).as_bytes());
        for a in c {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(bytes[last..p].to_vec());
        last = p;
    }
    out.push(bytes[last..].to_vec());
    out
}

proptest! {
    #[test]
    fn any_split_gives_the_same_commands(
        cmds in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..8),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let bytes = encode(&cmds);
        let whole = feed(std::slice::from_ref(&bytes)).unwrap();
        prop_assert_eq!(&whole, &cmds);
        let parts = feed(&split(&bytes, &cuts)).unwrap();
        prop_assert_eq!(parts, cmds);
    }

    #[test]
    fn inline_any_split_gives_the_same_commands(
        words in prop::collection::vec("[a-z0-9]{1,8}", 1..6),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let line = format!("{}\r\n", words.join(" ")).into_bytes();
        let expected: Vec<Vec<Vec<u8>>> = vec![words.iter().map(|w| w.as_bytes().to_vec()).collect()];
        prop_assert_eq!(feed(&split(&line, &cuts)).unwrap(), expected);
    }

    #[test]
    fn random_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..5)) {
        let _ = feed(&chunks);
    }

    #[test]
    fn random_resp_like_bytes_never_panic(
        parts in prop::collection::vec(prop_oneof![
            Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()), Just(b"\"".to_vec()),
            Just(b"'".to_vec()), Just(b"\\x".to_vec()), Just(b"-1".to_vec()), Just(b"3".to_vec()),
            Just(b" ".to_vec()), Just(b"\0".to_vec()), Just(b"2147483648".to_vec()),
            prop::collection::vec(any::<u8>(), 0..4),
        ], 0..60)
    ) {
        let bytes: Vec<u8> = parts.concat();
        let _ = feed(&[bytes]);
    }
}
