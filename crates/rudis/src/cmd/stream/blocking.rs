//! Serving a blocked XREAD or XREADGROUP (see `crate::blocking`): the
//! key holds a stream with an entry past what the reader waits after.

use super::{group::read_group, reply_range_from};
use crate::blocking::{GroupRead, Outcome, Serving};
use crate::db::stream::StreamId;
use crate::db::Blob;

const GROUP_GONE: &str = "NOGROUP the consumer group this client was blocked on no longer exists";

/// Replies `[[key, entries]]` (RESP3: `{key: entries}`), the entries
/// after `after`, or for a group its new ones, delivered to the consumer.
pub fn serve(
    s: &mut Serving,
    key: &Blob,
    after: StreamId,
    count: u64,
    group: Option<&GroupRead>,
) -> Outcome {
    let clock = s.clock;
    let resp3 = s.reply.resp3();
    let t = s.tables.get(key.as_slice());
    let Some(i) = t.find(key.as_slice(), clock) else {
        return Outcome::Served(None);
    };
    let Some(st) = t.at_mut(i).value.as_stream_mut() else {
        return Outcome::Served(None);
    };
    if let Some(g) = group {
        if !st.groups.contains_key(g.group.as_slice()) {
            return Outcome::Refused(GROUP_GONE);
        }
    }
    let reply = &mut s.reply;
    if resp3 {
        reply.map(1);
    } else {
        reply.array(1);
        reply.array(2);
    }
    reply.bulk(key.as_slice());
    match group {
        None => reply_range_from(reply, st, after, count),
        Some(g) => {
            read_group(
                reply,
                st,
                g.group.as_slice(),
                g.consumer.as_slice(),
                None,
                count,
                g.noack,
                clock.ms,
            );
            s.fx.dirty += 1;
        }
    }
    Outcome::Served(None)
}
