//! One connection's loop: read, parse every complete request in the
//! buffer, execute each on this thread, then write all replies at once.

use std::ops::Range;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use resp::{Limits, Parsed, Parser, Reply};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use super::Accepted;
use crate::client::Addr;

use crate::client::{Client, ClientHandle};
use crate::cmd::{self, Argv, Ran};
use crate::db::now_ms;
use crate::errors;
use crate::server::Server;
use crate::stats::WorkerStats;

const READ_CHUNK: usize = 16 * 1024;
/// Output buffers above this are released after being written, so one
/// large reply does not pin memory for the connection's life.
const KEEP_OUTPUT: usize = 64 * 1024;
/// Argument ranges and input bytes a connection keeps between commands.
const KEEP_ARGS: usize = 1024;
const KEEP_INPUT: usize = 64 * 1024;
/// Script commands pipelined together that go to the script thread as
/// one job.
const SCRIPT_BATCH: usize = 64;

struct Conn {
    rbuf: BytesMut,
    out: Reply,
    /// Bytes of `out` taken from the outbox (pushes), counted there as
    /// pending until written.
    pushed: usize,
    parser: Parser,
    ranges: Vec<Range<usize>>,
}

/// What processing the buffered requests ended with.
enum Outcome {
    /// Everything complete was run; read more.
    Read,
    /// Close once the replies are written.
    Close,
    /// CLIENT PAUSE holds the next command back; resume once it ends.
    Paused,
    /// A blocking command is waiting (`Client::blocked`); the rest of the
    /// buffer runs once it has its reply.
    Blocked,
    /// These command lines (their bytes, and the argument count of each)
    /// run on the script thread (see `crate::script`); the rest of the
    /// buffer runs after them.
    Script(Bytes, Vec<usize>),
}

pub async fn serve(server: Arc<Server>, stats: Arc<WorkerStats>, accepted: Accepted) {
    let mut slot = Slot {
        server: &server,
        handle: None,
    };
    match accepted {
        Accepted::Tcp(s) => {
            let Ok(stream) = TcpStream::from_std(s) else {
                return;
            };
            let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
                return;
            };
            let fd = stream.as_raw_fd();
            let addrs = (Addr::Ip(peer), Addr::Ip(local));
            run(&server, stats, stream, addrs, fd, &mut slot).await;
        }
        Accepted::Unix(s, path) => {
            let Ok(stream) = UnixStream::from_std(s) else {
                return;
            };
            let fd = stream.as_raw_fd();
            let addrs = (Addr::Unix(path.clone()), Addr::Unix(path));
            run(&server, stats, stream, addrs, fd, &mut slot).await;
        }
    }
}

/// A connection's place in the server: its `connected_clients` count,
/// its registry entry, a MONITOR or blocked registration. Released on
/// drop, so however the connection ends (a panic included) nothing is
/// left behind to count against `maxclients` or to be served.
struct Slot<'a> {
    server: &'a Server,
    handle: Option<Arc<ClientHandle>>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.server.clients.lock().remove(&handle.id);
            crate::evict::client_gone(self.server, &handle);
            self.server.observers.remove_monitor(handle.id);
            self.server.watches.unwatch_all(&handle.watch);
            crate::cmd::pubsub::unsubscribe_all(self.server, &handle);
            self.server.tracking.disable(&handle);
            let waiter = handle.blocked.lock().take();
            if let Some(w) = waiter {
                self.server.blocking.claim(&w);
            }
        }
        self.server.stats.connected_clients.fetch_sub(1, Relaxed);
    }
}

async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    server: &Server,
    stats: Arc<WorkerStats>,
    mut stream: S,
    (peer, local): (Addr, Addr),
    fd: i32,
    slot: &mut Slot<'_>,
) {
    let handle = Arc::new(ClientHandle::new(server.next_client_id(), peer, local, fd));
    server.clients.lock().insert(handle.id, handle.clone());
    slot.handle = Some(handle.clone());
    let user = crate::acl::ClientUser::new(&server.acl, server.acl.default_user());
    let mut client = Client::new(handle.clone(), !server.acl.auth_required(), user);
    let mut conn = Conn {
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        out: Reply::new(),
        pushed: 0,
        parser: Parser::new(),
        ranges: Vec::new(),
    };
    // One future each for shutdown and CLIENT KILL, registered once for the
    // connection's life, not once per read.
    let mut shutdown = server.shutdown.subscribe();
    let stop = shutdown.wait_for(|stop| *stop);
    tokio::pin!(stop);
    let killed = handle.kill_signal.notified();
    tokio::pin!(killed);
    // Kept armed across reads: re-creating it each time would register a
    // waiter anew for every batch.
    let pushed = handle.outbox.notified();
    tokio::pin!(pushed);
    'conn: loop {
        // Grow for a large payload in step with what has arrived, never
        // by what the client merely declared.
        let missing = conn.parser.missing(conn.rbuf.len());
        let want = missing.min(conn.rbuf.len().max(READ_CHUNK)).max(READ_CHUNK);
        if conn.rbuf.capacity() - conn.rbuf.len() < want / 2 && !conn.rbuf.try_reclaim(want) {
            // Exact growth rather than Vec's doubling: the last step of a
            // large request then leaves the buffer just big enough for the
            // request, which can be handed off whole (see `process`).
            let mut bigger = BytesMut::with_capacity(conn.rbuf.len() + want);
            bigger.extend_from_slice(&conn.rbuf);
            conn.rbuf = bigger;
        }
        let idle = server.hot.timeout();
        let read = stream.read_buf(&mut conn.rbuf);
        let n = tokio::select! {
            biased;
            _ = &mut stop => break,
            // CLIENT KILL wakes this one too (see ClientHandle::kill): one
            // future fewer to poll for every read.
            _ = &mut pushed => {
                pushed.set(handle.outbox.notified());
                if handle.killed.load(Relaxed) {
                    break;
                }
                // Pushed by other threads (pub/sub, MONITOR): written
                // between batches, in the order queued.
                let bytes = handle.outbox.take();
                tokio::select! {
                    biased;
                    r = stream.write_all(&bytes) => if r.is_err() { break },
                    _ = &mut stop => break,
                    _ = &mut killed => break,
                }
                handle.outbox.written(bytes.len());
                continue;
            }
            r = async {
                if idle == 0 {
                    read.await
                } else {
                    tokio::time::timeout(Duration::from_secs(idle), read)
                        .await
                        .unwrap_or(Ok(0))
                }
            } => r,
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                stats.reads.fetch_add(1, Relaxed);
                stats.net_input.fetch_add(n as u64, Relaxed);
            }
        }
        loop {
            let outcome = process(server, &stats, &mut client, &mut conn);
            if !conn.parser.in_progress() {
                // A large command's buffers do not stay with the
                // connection (Redis frees a big argv and trims the query
                // buffer): memory is back once its keys are freed.
                if conn.ranges.capacity() > KEEP_ARGS {
                    conn.ranges.clear();
                    conn.ranges.shrink_to(KEEP_ARGS);
                }
                if conn.rbuf.is_empty() && conn.rbuf.capacity() > KEEP_INPUT {
                    conn.rbuf = BytesMut::with_capacity(READ_CHUNK);
                }
            }
            handle.query_buffer.store(conn.rbuf.len(), Relaxed);
            handle.query_capacity.store(conn.rbuf.capacity(), Relaxed);
            crate::evict::client_memory_changed(server, &handle);
            if !conn.out.is_empty() {
                // Usually one piece; a large stored value goes out from
                // where it is stored, between the pieces around it.
                for part in conn.out.segments() {
                    // A client that does not read holds up neither
                    // shutdown nor CLIENT KILL.
                    tokio::select! {
                        biased;
                        r = stream.write_all(part) => if r.is_err() { break 'conn },
                        _ = &mut stop => break 'conn,
                        _ = &mut killed => break 'conn,
                    }
                }
                stats.writes.fetch_add(1, Relaxed);
                stats.net_output.fetch_add(conn.out.len() as u64, Relaxed);
                handle.outbox.written(std::mem::take(&mut conn.pushed));
                conn.out.clear();
                conn.out.shrink(KEEP_OUTPUT);
                handle.output_buffer.store(0, Relaxed);
                crate::evict::client_memory_changed(server, &handle);
            }
            match outcome {
                Outcome::Read => break,
                Outcome::Close => break 'conn,
                Outcome::Script(line, commands) => {
                    // The client state and the output go to the script
                    // thread with the command and come back with its
                    // reply; this thread serves its other connections
                    // meanwhile.
                    let work = crate::script::Work {
                        client,
                        out: std::mem::take(&mut conn.out),
                        line,
                        ranges: std::mem::take(&mut conn.ranges),
                        commands,
                        now: now_ms(),
                    };
                    let work = crate::script::run_on_script_thread(server, work).await;
                    client = work.client;
                    conn.out = work.out;
                    conn.ranges = work.ranges;
                    if client.close_after_reply {
                        for part in conn.out.segments() {
                            if stream.write_all(part).await.is_err() {
                                break;
                            }
                        }
                        break 'conn;
                    }
                }
                Outcome::Paused => {
                    // Counted as blocked while held, as Redis counts them.
                    let _held = Held::new(server, &handle);
                    tokio::select! {
                        _ = &mut stop => break 'conn,
                        _ = &mut killed => break 'conn,
                        _ = server.pause_ended() => {}
                    }
                }
                Outcome::Blocked => {
                    let Some(mut blocked) = client.blocked.take() else {
                        continue;
                    };
                    let waiter = blocked.waiter.clone();
                    let slow = blocked.slow.take();
                    let reply = tokio::select! {
                        r = wait_blocked(
                            server,
                            &handle,
                            blocked,
                            &mut stream,
                            &mut conn.rbuf,
                            pushed.as_mut(),
                        ) => r,
                        _ = &mut stop => None,
                        _ = &mut killed => None,
                    };
                    *handle.blocked.lock() = None;
                    // Logged when served or ended in an error (CLIENT UNBLOCK
                    // ERROR), not on a timeout's null, as Redis's
                    // updateStatsOnUnblock.
                    let timed_out = |b: &[u8]| matches!(b, b"*-1\r\n" | b"$-1\r\n" | b"_\r\n");
                    if let (Some(slow), Some(bytes)) = (slow, &reply) {
                        if !timed_out(bytes) {
                            server.observers.log_pending_slow(
                                slow,
                                &client,
                                server.hot.slowlog_max_len(),
                            );
                        }
                    }
                    match reply {
                        Some(bytes) => {
                            // A blocked command that ends in an error counts
                            // as failed, as Redis's updateStatsOnUnblock.
                            if let Some(err) = bytes.strip_prefix(b"-") {
                                stats.count_error(err);
                                let cmd = handle.last_cmd.load(Relaxed);
                                if let Some(c) =
                                    cmd.checked_sub(1).and_then(|i| stats.per_command.get(i))
                                {
                                    c.failed.fetch_add(1, Relaxed);
                                }
                            }
                            conn.out.encoded(&bytes)
                        }
                        None => {
                            // Gone before an answer: leave no waiter behind.
                            server.blocking.claim(&waiter);
                            break 'conn;
                        }
                    }
                }
            }
        }
        if handle.killed.load(Relaxed) {
            break;
        }
    }
}

/// A client held back by CLIENT PAUSE, for INFO blocked_clients and the
/// `b` flag of CLIENT LIST.
struct Held<'a> {
    server: &'a Server,
    handle: &'a ClientHandle,
}

impl<'a> Held<'a> {
    fn new(server: &'a Server, handle: &'a ClientHandle) -> Held<'a> {
        server.stats.paused_clients.fetch_add(1, Relaxed);
        handle.paused.store(true, Relaxed);
        Held { server, handle }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.handle.paused.store(false, Relaxed);
        self.server.stats.paused_clients.fetch_sub(1, Relaxed);
    }
}

/// Waits for a blocked command's reply: a server's, or the timeout's
/// (or CLIENT UNBLOCK's). Meanwhile it keeps reading, so a disconnect is
/// noticed (`None`) and pipelined requests wait in the buffer.
async fn wait_blocked<'h, S: AsyncRead + AsyncWrite + Unpin>(
    server: &Server,
    handle: &'h ClientHandle,
    blocked: crate::client::Blocked,
    stream: &mut S,
    rbuf: &mut BytesMut,
    // The connection's own wake-up for pushes: a second one would split
    // the wake-ups between them.
    mut pushed: std::pin::Pin<&mut tokio::sync::futures::Notified<'h>>,
) -> Option<Vec<u8>> {
    let crate::client::Blocked {
        waiter,
        mut reply,
        deadline,
        ..
    } = blocked;
    let timeout = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(timeout);
    loop {
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
            rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            // The reply first: what its command left for this client in
            // the outbox (its own invalidations) must follow it.
            biased;
            r = &mut reply => return r.ok(),
            _ = &mut timeout => {
                if server.blocking.claim(&waiter) {
                    return Some(waiter.timeout_reply());
                }
                // A server claimed it first: its reply is on the way.
                return reply.await.ok();
            }
            n = stream.read_buf(rbuf) => {
                if !matches!(n, Ok(n) if n > 0) {
                    return None;
                }
            }
            // A blocked RESP3 client may be subscribed too.
            _ = pushed.as_mut() => {
                pushed.set(handle.outbox.notified());
                let bytes = handle.outbox.take();
                if stream.write_all(&bytes).await.is_err() {
                    return None;
                }
                handle.outbox.written(bytes.len());
            }
        }
    }
}

/// CLIENT REPLY OFF / SKIP: drops the reply of the command just run if
/// the flags say so once it has run (CLIENT REPLY ON clears them before
/// its own reply), then moves the flags on to the next command. `mark` is
/// where the command's reply starts.
pub(crate) fn apply_reply_mode(client: &mut Client, out: &mut Reply, mark: usize) {
    if client.reply_mode.silent() {
        // Pushes (pub/sub confirmations) are sent all the same.
        let kept: Vec<u8> = match client.kept.is_empty() {
            true => Vec::new(),
            false => client
                .kept
                .iter()
                .flat_map(|r| out.as_bytes()[r.clone()].to_vec())
                .collect(),
        };
        out.truncate(mark);
        out.encoded(&kept);
    }
    client.kept.clear();
    client.reply_mode.next();
}

/// Whether a batch's output of `len` bytes (with what is still queued
/// for the client) puts it over `client-output-buffer-limit` for its
/// class, as Redis checks its reply list after each command.
fn over_output_limit(server: &Server, handle: &ClientHandle, len: usize) -> bool {
    let class = if handle.subscriptions() > 0 {
        crate::push::Class::Pubsub
    } else {
        crate::push::Class::Normal
    };
    let limit = server.hot.obuf_limit(class);
    (limit.hard > 0 || limit.soft > 0) && handle.outbox.weigh(len, limit)
}

/// Moves what other threads queued for this client into its output.
fn take_pushes(client: &Client, conn: &mut Conn) {
    let bytes = client.handle.outbox.take();
    conn.pushed += bytes.len();
    conn.out.encoded(&bytes);
}

/// Executes every complete request in the read buffer.
fn process(server: &Server, stats: &WorkerStats, client: &mut Client, conn: &mut Conn) -> Outcome {
    let max_bulk_len = server.hot.proto_max_bulk_len();
    // While the batch runs its commands are in the query buffer, as in
    // Redis, which trims the buffer only after the batch.
    client.handle.query_buffer.store(conn.rbuf.len(), Relaxed);
    let mut pos = 0;
    let mut outcome = Outcome::Read;
    let now = now_ms();
    client.handle.touch(now);
    // Pushes queued before this batch go before its replies.
    take_pushes(client, conn);
    loop {
        // Each request is held to the limits of the state it finds: one
        // pipelined behind a successful AUTH is an authenticated client's.
        let limits = Limits {
            max_bulk_len,
            unauthenticated: client.must_auth(server.acl.auth_required()),
        };
        match conn
            .parser
            .parse(&mut conn.rbuf[pos..], &mut conn.ranges, &limits)
        {
            Ok(Parsed::Command(n)) => {
                if !conn.ranges.is_empty() {
                    let argv = Argv::new(&conn.rbuf[pos..pos + n], &conn.ranges);
                    if server.pause_holds(argv, client) {
                        // Not run yet: it is parsed again after the pause.
                        outcome = Outcome::Paused;
                        break;
                    }
                    let mark = conn.out.len();
                    // What CLIENT LIST / INFO show for this client while
                    // its command runs: the replies queued before it.
                    client.handle.output_buffer.store(mark, Relaxed);
                    let capacity = conn.rbuf.capacity();
                    if n >= cmd::BIG_VALUE && capacity <= (pos + n) / 7 * 8 {
                        // A large command that fills its buffer: hand the
                        // buffer to the command, so a value stored from it
                        // is not copied, and read on in a new buffer of the
                        // same size (which this client has just filled).
                        let head = conn.rbuf.split_to(pos + n).freeze().slice(pos..);
                        let mut fresh = BytesMut::with_capacity(capacity);
                        fresh.extend_from_slice(&conn.rbuf);
                        conn.rbuf = fresh;
                        pos = 0;
                        let argv = Argv::new_shared(&head, &conn.ranges);
                        if cmd::execute(server, stats, client, &mut conn.out, argv, now, false)
                            == Ran::OnScriptThread
                        {
                            outcome = Outcome::Script(head, vec![conn.ranges.len()]);
                            break;
                        }
                        apply_reply_mode(client, &mut conn.out, mark);
                        if client.blocked.is_some() {
                            outcome = Outcome::Blocked;
                            break;
                        }
                        if client.close_after_reply {
                            outcome = Outcome::Close;
                            break;
                        }
                        continue;
                    }
                    if cmd::execute(server, stats, client, &mut conn.out, argv, now, false)
                        == Ran::OnScriptThread
                    {
                        // Its bytes go with it, with the script commands
                        // pipelined right behind it (one trip to the
                        // script thread for them all); what follows stays.
                        let mut batch = vec![conn.ranges.len()];
                        let mut end = pos + n;
                        let mut more = Vec::new();
                        while batch.len() < SCRIPT_BATCH {
                            let Ok(Parsed::Command(m)) =
                                conn.parser.parse(&mut conn.rbuf[end..], &mut more, &limits)
                            else {
                                // A partial parse keeps its progress in
                                // `more`, which is not the list the next
                                // parse gets: start that request afresh.
                                conn.parser = Parser::new();
                                break;
                            };
                            let next = Argv::new(&conn.rbuf[end..end + m], &more);
                            if more.is_empty()
                                || cmd::resolve(next)
                                    .is_none_or(|(c, _)| c.flags & cmd::flags::SCRIPT_THREAD == 0)
                                || server.pause_holds(next, client)
                            {
                                break;
                            }
                            let shift = end - pos;
                            conn.ranges
                                .extend(more.iter().map(|r| r.start + shift..r.end + shift));
                            batch.push(more.len());
                            end += m;
                        }
                        let line = conn.rbuf.split_to(end).freeze().slice(pos..);
                        pos = 0;
                        outcome = Outcome::Script(line, batch);
                        break;
                    }
                    apply_reply_mode(client, &mut conn.out, mark);
                    if client.blocked.is_some() {
                        pos += n;
                        outcome = Outcome::Blocked;
                        break;
                    }
                }
                pos += n;
                if client.close_after_reply {
                    outcome = Outcome::Close;
                    break;
                }
            }
            Ok(Parsed::Incomplete) => break,
            Err(e) => {
                let e = errors::protocol(e);
                stats.count_error(e.as_bytes());
                conn.out.error(e.as_bytes());
                outcome = Outcome::Close;
                break;
            }
        }
    }
    conn.rbuf.advance(pos);
    take_pushes(client, conn);
    client.handle.output_buffer.store(conn.out.len(), Relaxed);
    if over_output_limit(server, &client.handle, conn.out.len() - conn.pushed) {
        // Redis frees such a client without sending what it built.
        crate::pubsub::close_over_limit(server, &client.handle);
        conn.out.clear();
        return Outcome::Close;
    }
    if conn.rbuf.len() as u64 > server.hot.query_buffer_limit() {
        // Redis closes such a client without a reply.
        tracing::warn!(
            "Closing client {} that reached max query buffer length",
            client.addr
        );
        outcome = Outcome::Close;
    }
    outcome
}
