//! Fuzzes the request parser: arbitrary bytes, delivered in arbitrary
//! pieces, must never panic, and must parse to the same commands (or the
//! same error) however they are split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use resp::{Limits, Parsed, Parser};

type Outcome = (Vec<Vec<Vec<u8>>>, Option<resp::ProtoError>);

fn feed(data: &[u8], cut_every: usize) -> Outcome {
    let mut buf = Vec::new();
    let mut parser = Parser::new();
    let mut args = Vec::new();
    let mut cmds = Vec::new();
    for chunk in data.chunks(cut_every.max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            match parser.parse(&mut buf, &mut args, &Limits::default()) {
                Ok(Parsed::Command(n)) => {
                    if !args.is_empty() {
                        cmds.push(args.iter().map(|r: &std::ops::Range<usize>| buf[r.clone()].to_vec()).collect());
                    }
                    buf.drain(..n);
                }
                Ok(Parsed::Incomplete) => break,
                Err(e) => return (cmds, Some(e)),
            }
        }
    }
    (cmds, None)
}

fuzz_target!(|input: &[u8]| {
    let Some((&cut, data)) = input.split_first() else { return };
    let whole = feed(data, data.len());
    let split = feed(data, cut as usize % 7 + 1);
    // An inline request is only looked at once its line is complete, and
    // "too big" limits depend on how much is buffered, so compare only
    // when the whole input parsed without error.
    if whole.1.is_none() && split.1.is_none() {
        assert_eq!(whole.0, split.0);
    }
});
