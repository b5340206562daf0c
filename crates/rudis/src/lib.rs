//! rudis: a Redis-compatible in-memory database server.
//!
//! `net` accepts connections and runs one event loop per thread; each
//! connection parses requests (`resp`), dispatches them through the command
//! table (`cmd`), whose handlers work on the sharded keyspace (`db`).

#![deny(unsafe_code)]

pub mod acl;
#[allow(unsafe_code)]
pub mod alloc;
pub mod blocking;
pub mod client;
pub mod cmd;
pub mod config;
#[allow(unsafe_code)]
pub mod daemon;
pub mod db;
pub mod double;
pub mod effects;
pub mod errors;
pub mod evict;
#[allow(unsafe_code)]
pub mod fork;
pub mod geohash;
pub mod glob;
pub mod ldouble;
pub mod lzf;
pub mod net;
pub mod oom;
pub mod persist;
pub mod pubsub;
pub mod push;
pub mod rdb;
pub mod script;
pub mod server;
pub mod stats;
pub mod tracking;
