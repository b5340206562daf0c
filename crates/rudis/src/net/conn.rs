//! One connection's loop: read, parse every complete request in the
//! buffer, execute each on this thread, then write all replies at once.

use std::ops::Range;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use resp::{Limits, Parsed, Parser, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::Client;
use crate::cmd::{self, Argv};
use crate::db::now_ms;
use crate::errors;
use crate::server::Server;
use crate::stats::WorkerStats;

const READ_CHUNK: usize = 16 * 1024;
/// Output buffers above this are released after being written, so one
/// large reply does not pin memory for the connection's life.
const KEEP_OUTPUT: usize = 64 * 1024;

struct Conn {
    rbuf: BytesMut,
    out: Reply,
    parser: Parser,
    ranges: Vec<Range<usize>>,
}

pub async fn serve(server: Arc<Server>, stats: Arc<WorkerStats>, stream: std::net::TcpStream) {
    if let Ok(stream) = TcpStream::from_std(stream) {
        run(&server, stats, stream).await;
    }
    server.stats.connected_clients.fetch_sub(1, Relaxed);
}

async fn run(server: &Server, stats: Arc<WorkerStats>, mut stream: TcpStream) {
    let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let mut client = Client::new(
        server.next_client_id(),
        peer,
        local,
        !server.hot.auth_required(),
        stats.clone(),
    );
    let mut conn = Conn {
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        out: Reply::new(),
        parser: Parser::new(),
        ranges: Vec::new(),
    };
    // One shutdown future for the connection's life: registered once,
    // not once per read.
    let mut shutdown = server.shutdown.subscribe();
    let stop = shutdown.wait_for(|stop| *stop);
    tokio::pin!(stop);
    loop {
        // Grow for a large payload in step with what has arrived, never
        // by what the client merely declared.
        let missing = conn.parser.missing(conn.rbuf.len());
        let want = missing.min(conn.rbuf.len().max(READ_CHUNK)).max(READ_CHUNK);
        if conn.rbuf.capacity() - conn.rbuf.len() < want / 2 {
            conn.rbuf.reserve(want);
        }
        let idle = server.hot.timeout();
        let read = stream.read_buf(&mut conn.rbuf);
        let n = tokio::select! {
            biased;
            _ = &mut stop => break,
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
        let close = process(server, &mut client, &mut conn);
        if !conn.out.is_empty() {
            if stream.write_all(conn.out.as_bytes()).await.is_err() {
                break;
            }
            stats.writes.fetch_add(1, Relaxed);
            stats.net_output.fetch_add(conn.out.len() as u64, Relaxed);
            conn.out.clear();
            conn.out.shrink(KEEP_OUTPUT);
        }
        if close {
            break;
        }
    }
}

/// Executes every complete request in the read buffer. Returns true when
/// the connection must close after its replies are written.
fn process(server: &Server, client: &mut Client, conn: &mut Conn) -> bool {
    let limits = Limits {
        max_bulk_len: server.hot.proto_max_bulk_len(),
        unauthenticated: client.must_auth(server.hot.auth_required()),
    };
    let mut pos = 0;
    let mut close = false;
    let now = now_ms();
    loop {
        match conn
            .parser
            .parse(&mut conn.rbuf[pos..], &mut conn.ranges, &limits)
        {
            Ok(Parsed::Command(n)) => {
                if !conn.ranges.is_empty() {
                    let argv = Argv::new(&conn.rbuf[pos..pos + n], &conn.ranges);
                    cmd::execute(server, client, &mut conn.out, argv, now);
                }
                pos += n;
                if client.close_after_reply {
                    close = true;
                    break;
                }
            }
            Ok(Parsed::Incomplete) => break,
            Err(e) => {
                let e = errors::protocol(e);
                client.stats.count_error(e.as_bytes());
                conn.out.error(e.as_bytes());
                close = true;
                break;
            }
        }
    }
    conn.rbuf.advance(pos);
    if conn.rbuf.len() as u64 > server.hot.query_buffer_limit() {
        // Redis closes such a client without a reply.
        tracing::warn!(
            "Closing client {} that reached max query buffer length",
            client.addr
        );
        close = true;
    }
    close
}
