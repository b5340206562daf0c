//! The pub/sub group: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
//! SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB. The registry
//! and delivery are `crate::pubsub`.
//!
//! Confirmations ((un)subscribe replies) are pushes in Redis's sense
//! (CLIENT_PUSHING): they reach the client even under CLIENT REPLY OFF,
//! so each is marked with `Ctx::keep_reply`.

use std::sync::atomic::Ordering::Relaxed;

use super::flags::*;
use super::{acl, row, Args, Begin, Command, Ctx, Find, KeySpec};
use crate::errors::{self, CmdResult};
use crate::pubsub::{self, Kind};

const SHARD_KEYS: &[KeySpec] = &[KeySpec::new(
    &["not_key"],
    Begin::Index(1),
    Find::Range(-1, 1, 0),
)];

pub static COMMANDS: &[Command] = &[
    row(
        "subscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        subscribe,
    )
    .acl(acl::SLOW),
    row(
        "unsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        unsubscribe,
    )
    .acl(acl::SLOW),
    row(
        "psubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        psubscribe,
    )
    .acl(acl::SLOW),
    row(
        "punsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        punsubscribe,
    )
    .acl(acl::SLOW),
    row(
        "ssubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        ssubscribe,
    )
    .acl(acl::SLOW)
    .keys(SHARD_KEYS),
    row(
        "sunsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        sunsubscribe,
    )
    .acl(acl::SLOW)
    .keys(SHARD_KEYS),
    row(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        publish,
    ),
    row(
        "spublish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        spublish,
    )
    .keys(&[KeySpec::new(
        &["not_key"],
        Begin::Index(1),
        Find::Range(0, 1, 0),
    )]),
    row("pubsub", -2, 0, |_, _| Ok(())).subs(PUBSUB_SUBS),
];

static PUBSUB_SUBS: &[Command] = &[
    row("pubsub|channels", -2, PUBSUB | LOADING | STALE, channels).acl(acl::SLOW),
    row("pubsub|numsub", -2, PUBSUB | LOADING | STALE, numsub).acl(acl::SLOW),
    row("pubsub|numpat", 2, PUBSUB | LOADING | STALE, numpat).acl(acl::SLOW),
    row(
        "pubsub|shardchannels",
        -2,
        PUBSUB | LOADING | STALE,
        shardchannels,
    )
    .acl(acl::SLOW),
    row(
        "pubsub|shardnumsub",
        -2,
        PUBSUB | LOADING | STALE,
        shardnumsub,
    )
    .acl(acl::SLOW),
    row("pubsub|help", 2, LOADING | STALE, help).acl(acl::SLOW),
];

/// Which set of the client's subscriptions a command works on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Set {
    Channels,
    Patterns,
    Shard,
}

impl Set {
    fn words(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Set::Channels => (b"subscribe", b"unsubscribe"),
            Set::Patterns => (b"psubscribe", b"punsubscribe"),
            Set::Shard => (b"ssubscribe", b"sunsubscribe"),
        }
    }
}

/// The count a confirmation carries: plain channels and patterns
/// together, shard channels apart (Redis's two subscription counts).
fn count(ctx: &Ctx, set: Set) -> usize {
    let subs = ctx.client.handle.subs.lock();
    match set {
        Set::Shard => subs.shard.len(),
        _ => subs.channels.len() + subs.patterns.len(),
    }
}

fn confirm(ctx: &mut Ctx, word: &[u8], name: Option<&[u8]>, n: usize) {
    let start = ctx.out.len();
    ctx.out.push(3);
    ctx.out.bulk(word);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(n as i64);
    ctx.keep_reply(start);
}

fn subscribe_generic(ctx: &mut Ctx, args: &mut Args, set: Set) -> CmdResult {
    let handle = ctx.client.handle.clone();
    let ps = &ctx.server.pubsub;
    for name in args.rest().iter() {
        let added = {
            let mut subs = handle.subs.lock();
            let added = subs.add(set_of(set), name);
            handle.sub_count.store(subs.total(), Relaxed);
            added
        };
        if added {
            match set {
                Set::Channels => ps.subscribe(Kind::Plain, name, &handle),
                Set::Shard => ps.subscribe(Kind::Shard, name, &handle),
                Set::Patterns => ps.psubscribe(name, &handle),
            }
        }
        let n = count(ctx, set);
        confirm(ctx, set.words().0, Some(name), n);
    }
    Ok(())
}

fn set_of(set: Set) -> crate::client::SubSet {
    match set {
        Set::Channels => crate::client::SubSet::Channels,
        Set::Patterns => crate::client::SubSet::Patterns,
        Set::Shard => crate::client::SubSet::Shard,
    }
}

fn unsubscribe_generic(ctx: &mut Ctx, args: &mut Args, set: Set) -> CmdResult {
    let handle = ctx.client.handle.clone();
    let names: Vec<Vec<u8>> = if args.remaining() == 0 {
        let all = handle.subs.lock().names(set_of(set));
        if all.is_empty() {
            let n = count(ctx, set);
            confirm(ctx, set.words().1, None, n);
            return Ok(());
        }
        all
    } else {
        args.rest().iter().map(<[u8]>::to_vec).collect()
    };
    for name in &names {
        let removed = {
            let mut subs = handle.subs.lock();
            let removed = subs.remove(set_of(set), name);
            handle.sub_count.store(subs.total(), Relaxed);
            removed
        };
        if removed {
            let ps = &ctx.server.pubsub;
            match set {
                Set::Channels => ps.unsubscribe(Kind::Plain, name, handle.id),
                Set::Shard => ps.unsubscribe(Kind::Shard, name, handle.id),
                Set::Patterns => ps.punsubscribe(name, handle.id),
            }
        }
        let n = count(ctx, set);
        confirm(ctx, set.words().1, Some(name), n);
    }
    Ok(())
}

/// SUBSCRIBE channel [channel ...]
fn subscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    subscribe_generic(ctx, args, Set::Channels)
}

/// UNSUBSCRIBE [channel [channel ...]]
fn unsubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    unsubscribe_generic(ctx, args, Set::Channels)
}

/// PSUBSCRIBE pattern [pattern ...]
fn psubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    subscribe_generic(ctx, args, Set::Patterns)
}

/// PUNSUBSCRIBE [pattern [pattern ...]]
fn punsubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    unsubscribe_generic(ctx, args, Set::Patterns)
}

/// SSUBSCRIBE shardchannel [shardchannel ...]
fn ssubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    // A client inside EXEC expects one reply per command (Redis's
    // CLIENT_DENY_BLOCKING, which SUBSCRIBE excuses for MULTI and
    // SSUBSCRIBE does not).
    if ctx.in_exec {
        return Err(errors::SSUBSCRIBE_DENY_BLOCKING.into());
    }
    subscribe_generic(ctx, args, Set::Shard)
}

/// SUNSUBSCRIBE [shardchannel [shardchannel ...]]
fn sunsubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    unsubscribe_generic(ctx, args, Set::Shard)
}

/// PUBLISH channel message
fn publish(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (channel, message) = (args.arg(), args.arg());
    let n = pubsub::publish(ctx.server, Kind::Plain, channel, message);
    ctx.out.int(n as i64);
    Ok(())
}

/// SPUBLISH shardchannel message
fn spublish(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    let (channel, message) = (args.arg(), args.arg());
    let n = pubsub::publish(ctx.server, Kind::Shard, channel, message);
    ctx.out.int(n as i64);
    Ok(())
}

fn list_channels(ctx: &mut Ctx, args: &mut Args, kind: Kind) -> CmdResult {
    if args.remaining() > 1 {
        return Err(errors::subcommand_syntax(
            args.argv().get(1).unwrap_or_default(),
            b"PUBSUB",
        ));
    }
    let pattern = args.next_arg();
    let names = ctx.server.pubsub.channels(kind, pattern);
    ctx.out.array(names.len());
    for n in &names {
        ctx.out.bulk(n.as_slice());
    }
    Ok(())
}

fn count_subscribers(ctx: &mut Ctx, args: &mut Args, kind: Kind) -> CmdResult {
    let names = args.rest();
    // A flat array, also in RESP3, as Redis 7.0.
    ctx.out.array(names.len() * 2);
    for n in names.iter() {
        ctx.out.bulk(n);
        ctx.out.int(ctx.server.pubsub.numsub(kind, n) as i64);
    }
    Ok(())
}

/// PUBSUB CHANNELS [pattern]
fn channels(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    list_channels(ctx, args, Kind::Plain)
}

/// PUBSUB SHARDCHANNELS [pattern]
fn shardchannels(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    list_channels(ctx, args, Kind::Shard)
}

/// PUBSUB NUMSUB [channel [channel ...]]
fn numsub(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    count_subscribers(ctx, args, Kind::Plain)
}

/// PUBSUB SHARDNUMSUB [shardchannel [shardchannel ...]]
fn shardnumsub(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    count_subscribers(ctx, args, Kind::Shard)
}

/// PUBSUB NUMPAT
fn numpat(ctx: &mut Ctx, _args: &mut Args) -> CmdResult {
    ctx.out.int(ctx.server.pubsub.numpat() as i64);
    Ok(())
}

/// PUBSUB HELP
fn help(ctx: &mut Ctx, args: &mut Args) -> CmdResult {
    super::help(
        ctx,
        args,
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    )
}

/// Drops every subscription of a client (RESET, a disconnect), without
/// confirmations.
pub fn unsubscribe_all(server: &crate::server::Server, handle: &crate::client::ClientHandle) {
    let subs = std::mem::take(&mut *handle.subs.lock());
    let ps = &server.pubsub;
    for c in subs.channels.iter() {
        ps.unsubscribe(Kind::Plain, c, handle.id);
    }
    for p in subs.patterns.iter() {
        ps.punsubscribe(p, handle.id);
    }
    for c in subs.shard.iter() {
        ps.unsubscribe(Kind::Shard, c, handle.id);
    }
    handle.sub_count.store(0, Relaxed);
}
