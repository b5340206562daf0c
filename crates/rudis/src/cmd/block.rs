//! What every blocking command shares before it waits: its timeout
//! argument and its registration with `crate::blocking`.

use std::time::{Duration, Instant};

use super::Ctx;
use crate::blocking::{BlockOp, Waiter};
use crate::client::Blocked;
use crate::db::Blob;
use crate::errors::{self, Error};
use crate::ldouble::LongDouble;

/// Redis's `getTimeoutFromObjectOrReply` in seconds: a long double
/// times 1000, truncated to an integer as x86 does (out of range gives
/// the most negative value, so "timeout is negative"). `None`: forever.
pub fn parse_timeout(a: &[u8]) -> Result<Option<Duration>, Error> {
    let secs = LongDouble::parse(a).ok_or(Error::Static(errors::TIMEOUT_NOT_FLOAT))?;
    let ms = secs.to_f64() * 1000.0;
    let ms = if ms.is_finite() && ms > -9.2e18 && ms < 9.2e18 {
        ms as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        return Err(errors::TIMEOUT_NEGATIVE.into());
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// Registers the client as blocked on `keys`. Inside EXEC nothing
/// blocks: the command answers at once as if it had timed out (a move
/// with a null, as Redis).
pub fn block(ctx: &mut Ctx, keys: Vec<Blob>, op: BlockOp, timeout: Option<Duration>) {
    if ctx.in_exec {
        match op {
            BlockOp::Move { .. } => ctx.out.null(),
            BlockOp::Pop { .. } | BlockOp::ZPop { .. } | BlockOp::XRead { .. } => {
                ctx.out.null_array()
            }
        }
        return;
    }
    let (waiter, reply) = Waiter::new(
        ctx.client.id,
        timeout.is_some(),
        ctx.db,
        keys,
        op,
        ctx.out.resp3(),
    );
    ctx.server.blocking.register(waiter.clone());
    *ctx.client.handle.blocked.lock() = Some(waiter.clone());
    ctx.client.blocked = Some(Blocked {
        waiter,
        reply,
        deadline: timeout.map(|t| Instant::now() + t),
        slow: None,
    });
}
