//! The RESP codec of rudis: an incremental, zero-copy request parser
//! (multibulk and inline) and a reply writer that speaks RESP2 or RESP3.
//! Protocol only: nothing here knows about commands or data.

pub mod num;
pub mod parse;
pub mod write;

pub use parse::{Limits, Parsed, Parser, ProtoError};
pub use write::Reply;
