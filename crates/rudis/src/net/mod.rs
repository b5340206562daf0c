//! Listening, accepting, and the event-loop threads.
//!
//! One acceptor (on the main thread) hands each accepted socket to one of
//! N worker threads, round-robin. Each worker runs a single-threaded tokio
//! runtime; a connection stays on its worker for life and its commands run
//! right there, with no handoff per request (see `conn`).

pub(crate) mod conn;
#[allow(unsafe_code)]
pub mod fdlimit;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::{JoinSet, LocalSet};
use tracing::{info, warn};

use crate::config::{Config, REDIS_VERSION, VERSION};
use crate::db::expire::ExpireCycle;
use crate::errors;
use crate::server::Server;

/// A connection the acceptor hands to an event-loop thread: TCP, or the
/// Unix socket (with its path, which is what such a client's address is).
pub enum Accepted {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream, Arc<str>),
}

/// Runs the server until SIGINT or SIGTERM; returns once every connection
/// has written its last reply.
pub fn run(mut config: Config) -> io::Result<()> {
    match fdlimit::adjust(config.maxclients, config.threads, true) {
        fdlimit::Adjusted::Enough => {}
        fdlimit::Adjusted::Reduced(n) => config.maxclients = n,
        fdlimit::Adjusted::TooLow(_) => {
            return Err(io::Error::other("The open file limit is too low to start."))
        }
    }
    let listeners = bind_all(&config)?;
    let unix = match config.unixsocket.as_str() {
        "" => None,
        path => {
            let l = listen_unix(path, config.unixsocketperm).map_err(|e| {
                io::Error::other(format!(
                    "Failed opening Unix socket: bind: {}",
                    crate::config::os_error_text(&e)
                ))
            })?;
            Some((l, Arc::<str>::from(path)))
        }
    };
    let unix_path = unix.as_ref().map(|(_, p)| p.clone());
    if listeners.is_empty() && unix.is_none() {
        return Err(io::Error::other(
            "Configured to not listen anywhere, exiting.",
        ));
    }
    // Once listening, as Redis's createPidFile after initServer.
    let pid_path = config.pid_path().map(str::to_string);
    if let Some(p) = &pid_path {
        crate::daemon::write_pid(p);
    }
    let threads = config.threads;
    let port = config.port;
    if let Err(e) = crate::oom::apply(
        config.oom_score_adj,
        config.oom_score_adj_values,
        crate::oom::MASTER,
    ) {
        warn!("{e}");
    }
    let server = Arc::new(Server::new(config));
    if let Err(e) = server.acl.load_at_start(&server.config.read()) {
        return Err(io::Error::other(e));
    }
    // What the server holds before any data: INFO used_memory_startup.
    server.memory_startup.store(crate::alloc::used(), Relaxed);
    info!(
        "rudis {VERSION} (Redis {REDIS_VERSION} compatible) started: port={port} threads={threads} pid={}",
        std::process::id()
    );

    let mut senders = Vec::with_capacity(threads);
    let mut workers = Vec::with_capacity(threads);
    for i in 0..threads {
        let (tx, rx) = unbounded_channel();
        let srv = server.clone();
        workers.push(
            thread::Builder::new()
                .name(format!("rudis-io-{i}"))
                .spawn(move || worker(srv, rx))?,
        );
        senders.push(tx);
    }
    crate::script::start(server.clone())?;
    // Before any client is served (Redis's loadDataFromDisk).
    crate::persist::load_at_start(&server).map_err(io::Error::other)?;
    let srv = server.clone();
    let expirer = thread::Builder::new()
        .name("rudis-expire".into())
        .spawn(move || expire_loop(srv))?;
    let srv = server.clone();
    let evicter = thread::Builder::new()
        .name("rudis-evict".into())
        .spawn(move || crate::evict::background(srv))?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(accept_until_signal(
        server.clone(),
        listeners,
        unix,
        senders,
    ))?;
    drop(rt); // closes the listening sockets
    if let Some(p) = unix_path {
        // As Redis at shutdown.
        let _ = std::fs::remove_file(&*p);
    }
    for w in workers {
        let _ = w.join();
    }
    let _ = expirer.join();
    let _ = evicter.join();
    if let Some(p) = &pid_path {
        crate::daemon::remove_pid(p);
    }
    info!("rudis is now ready to exit, bye bye...");
    Ok(())
}

fn listen(addr: SocketAddr, backlog: i32) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&addr.into())?;
    s.listen(backlog)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Binds every `bind` address. A leading `-` marks an address that may be
/// unavailable on this machine (Redis's convention): it is skipped then.
fn bind_all(config: &Config) -> io::Result<Vec<std::net::TcpListener>> {
    if config.port == 0 {
        return Ok(Vec::new());
    }
    bind_addresses(&config.bind, config.port, config.tcp_backlog)
}

/// What CONFIG SET port / bind asks of the acceptor: listen on `port`
/// and `bind` instead, or go back to `previous` when that fails (Redis's
/// changeListenPort / changeBindAddr and the rollback of a failed CONFIG
/// SET). Port 0 listens nowhere, as in Redis.
pub struct Relisten {
    pub port: u16,
    pub bind: Vec<String>,
    pub previous: (u16, Vec<String>),
    pub backlog: i32,
    pub done: std::sync::mpsc::Sender<Result<(), ()>>,
}

/// Asks the acceptor to listen on what `next` says, and waits for it
/// (a few system calls: the old sockets are closed first, as Redis does,
/// so an address can move between `bind` forms of the same port).
/// False when that failed (the acceptor went back to `current`).
pub fn relisten(server: &Server, next: &Config, current: &Config) -> bool {
    let (done, answer) = std::sync::mpsc::channel();
    let request = Relisten {
        port: next.port,
        bind: next.bind.clone(),
        previous: (current.port, current.bind.clone()),
        backlog: next.tcp_backlog,
        done,
    };
    let sent = server
        .relisten
        .lock()
        .as_ref()
        .is_some_and(|tx| tx.send(request).is_ok());
    sent && answer.recv().is_ok_and(|r| r.is_ok())
}

fn listen_on(bind: &[String], port: u16, backlog: i32) -> io::Result<Vec<std::net::TcpListener>> {
    if port == 0 {
        return Ok(Vec::new());
    }
    bind_addresses(bind, port, backlog)
}

fn bind_addresses(
    bind: &[String],
    port: u16,
    backlog: i32,
) -> io::Result<Vec<std::net::TcpListener>> {
    let mut out = Vec::new();
    for spec in bind {
        let (optional, addr) = match spec.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, spec.as_str()),
        };
        let ip: IpAddr = match addr {
            "*" => Ipv4Addr::UNSPECIFIED.into(),
            "::*" => Ipv6Addr::UNSPECIFIED.into(),
            a => a.parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("Invalid bind address '{a}'"),
                )
            })?,
        };
        match listen(SocketAddr::new(ip, port), backlog) {
            Ok(l) => out.push(l),
            Err(e)
                if optional
                    && matches!(
                        e.raw_os_error(),
                        Some(
                            libc::EADDRNOTAVAIL
                                | libc::EAFNOSUPPORT
                                | libc::EPROTONOSUPPORT
                                | libc::EINVAL
                        )
                    ) =>
            {
                warn!("Skipping optional bind address {addr}: {e}");
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("Could not create server TCP listening socket {addr}:{port}: {e}"),
                ))
            }
        }
    }
    Ok(out)
}

async fn accept_until_signal(
    server: Arc<Server>,
    listeners: Vec<std::net::TcpListener>,
    unix: Option<(std::os::unix::net::UnixListener, Arc<str>)>,
    workers: Vec<UnboundedSender<Accepted>>,
) -> io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let workers = Arc::new(workers);
    let next = Arc::new(AtomicUsize::new(0));
    // Apart from the TCP listeners, which CONFIG SET port / bind replace.
    let mut unix_accepting = JoinSet::new();
    if let Some((l, path)) = unix {
        let l = tokio::net::UnixListener::from_std(l)?;
        unix_accepting.spawn(accept_unix(
            server.clone(),
            l,
            path,
            workers.clone(),
            next.clone(),
        ));
    }
    let mut accepting = JoinSet::new();
    let spawn_all = |accepting: &mut JoinSet<()>, listeners: Vec<std::net::TcpListener>| {
        for l in listeners {
            match TcpListener::from_std(l) {
                Ok(l) => {
                    accepting.spawn(accept_loop(
                        server.clone(),
                        l,
                        workers.clone(),
                        next.clone(),
                    ));
                }
                Err(e) => warn!("Listening socket: {e}"),
            }
        }
    };
    spawn_all(&mut accepting, listeners);
    let (tx, mut requests) = unbounded_channel::<Relisten>();
    *server.relisten.lock() = Some(tx);
    let mut requested = server.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = term.recv() => {
                info!("Received SIGTERM scheduling shutdown...");
                let flags = server.config.read().shutdown_on_sigterm;
                if !crate::persist::save_on_signal(&server, flags) {
                    continue;
                }
            }
            _ = int.recv() => {
                info!("Received SIGINT scheduling shutdown...");
                let flags = server.config.read().shutdown_on_sigint;
                if !crate::persist::save_on_signal(&server, flags) {
                    continue;
                }
            }
            _ = requested.wait_for(|stop| *stop) => {}
            Some(r) = requests.recv() => {
                // The old sockets close before the new ones bind.
                accepting.shutdown().await;
                let result = match listen_on(&r.bind, r.port, r.backlog) {
                    Ok(ls) => {
                        spawn_all(&mut accepting, ls);
                        Ok(())
                    }
                    Err(e) => {
                        warn!("Failed to bind: {e}");
                        let (port, bind) = &r.previous;
                        match listen_on(bind, *port, r.backlog) {
                            Ok(ls) => spawn_all(&mut accepting, ls),
                            Err(e) => warn!("Failed applying configuration rollback: {e}"),
                        }
                        Err(())
                    }
                };
                let _ = r.done.send(result);
                continue;
            }
        }
        break;
    }
    *server.relisten.lock() = None;
    accepting.abort_all();
    server.shutdown.send_replace(true);
    Ok(())
}

fn is_loopback(ip: IpAddr) -> bool {
    // Redis compares the peer's address text with "127.0.0.1" and "::1".
    ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
}

async fn accept_loop(
    server: Arc<Server>,
    listener: TcpListener,
    workers: Arc<Vec<UnboundedSender<Accepted>>>,
    next: Arc<AtomicUsize>,
) {
    // One descriptor held back: out of descriptors, it is freed to take
    // the waiting connection and refuse it, instead of leaving the client
    // hanging in the accept queue.
    let mut spare = std::fs::File::open("/dev/null").ok();
    let mut warned: Option<std::time::Instant> = None;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                if warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    warn!("Accepting client connection: {e}");
                    warned = Some(std::time::Instant::now());
                }
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) && spare.is_some()
                {
                    drop(spare.take());
                    if let Ok((s, _)) = listener.accept().await {
                        let _ = s.try_write(format!("-{}\r\n", errors::MAX_CLIENTS).as_bytes());
                        server.stats.rejected_connections.fetch_add(1, Relaxed);
                    }
                    spare = std::fs::File::open("/dev/null").ok();
                } else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                continue;
            }
        };
        if !admitted(&server, |b| drop(stream.try_write(b))) {
            continue;
        }
        // Redis's rule: only while the default user has no password.
        if server.hot.protected_mode() && !server.acl.auth_required() && !is_loopback(peer.ip()) {
            let _ = stream.try_write(errors::DENIED.as_bytes());
            continue;
        }
        let _ = stream.set_nodelay(true);
        let keepalive = server.hot.tcp_keepalive();
        if keepalive > 0 {
            let ka = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(keepalive))
                .with_interval(Duration::from_secs((keepalive / 3).max(1)))
                .with_retries(3);
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
        }
        let Ok(std) = stream.into_std() else { continue };
        hand_over(&server, &workers, &next, Accepted::Tcp(std));
    }
}

/// Counts an accepted connection and whether `maxclients` leaves room for
/// it; when not, Redis's error is written to it (`write`) and it goes.
fn admitted(server: &Server, write: impl FnOnce(&[u8])) -> bool {
    server.stats.total_connections.fetch_add(1, Relaxed);
    let connected = server.stats.connected_clients.load(Relaxed);
    if connected >= server.hot.maxclients() as usize {
        write(format!("-{}\r\n", errors::MAX_CLIENTS).as_bytes());
        server.stats.rejected_connections.fetch_add(1, Relaxed);
        return false;
    }
    true
}

/// Gives a connection to the next event-loop thread, counted.
fn hand_over(
    server: &Server,
    workers: &[UnboundedSender<Accepted>],
    next: &AtomicUsize,
    conn: Accepted,
) {
    server.stats.connected_clients.fetch_add(1, Relaxed);
    let i = next.fetch_add(1, Relaxed) % workers.len();
    if workers[i].send(conn).is_err() {
        server.stats.connected_clients.fetch_sub(1, Relaxed);
    }
}

/// The Unix socket's accept loop (`unixsocket`): as TCP's, without the
/// protected-mode check (its clients are local) and socket options.
async fn accept_unix(
    server: Arc<Server>,
    listener: tokio::net::UnixListener,
    path: Arc<str>,
    workers: Arc<Vec<UnboundedSender<Accepted>>>,
    next: Arc<AtomicUsize>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                warn!("Accepting client connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if !admitted(&server, |b| drop(stream.try_write(b))) {
            continue;
        }
        let Ok(std) = stream.into_std() else { continue };
        hand_over(&server, &workers, &next, Accepted::Unix(std, path.clone()));
    }
}

/// The Unix socket, as Redis makes it: a stale file is removed first,
/// and `unixsocketperm` (when not 0) becomes its mode.
pub fn listen_unix(path: &str, perm: u32) -> io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let l = std::os::unix::net::UnixListener::bind(path)?;
    if perm != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm))?;
    }
    l.set_nonblocking(true)?;
    Ok(l)
}

fn worker(server: Arc<Server>, mut incoming: UnboundedReceiver<Accepted>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("Cannot start an event loop: {e}");
            std::process::exit(1);
        }
    };
    let local = LocalSet::new();
    let stats = server.register_worker();
    local.block_on(&rt, async move {
        let mut shutdown = server.shutdown.subscribe();
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                s = incoming.recv() => match s {
                    Some(s) => { conns.spawn_local(conn::serve(server.clone(), stats.clone(), s)); }
                    None => break,
                },
                _ = shutdown.wait_for(|stop| *stop) => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        // Each connection finishes the batch it is running and writes its
        // replies; give stragglers a bounded time.
        let drain = async { while conns.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
    });
}

fn expire_loop(server: Arc<Server>) {
    let mut cycle = ExpireCycle::default();
    while !server.shutting_down() {
        let clients = server.stats.connected_clients.load(Relaxed);
        let period = Duration::from_millis(1000 / server.hot.adapt_hz(clients) as u64);
        // DEBUG PAUSE-CRON: Redis's serverCron returns at once.
        if server.cron_paused.load(Relaxed) {
            thread::sleep(period);
            continue;
        }
        crate::persist::cron(&server);
        server.migrate.close_idle();
        // Redis's serverCron keeps the tracking table within its limit
        // even when no command runs.
        server
            .tracking
            .limit(&server, server.hot.tracking_table_max_keys());
        // Redis's ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC: 25% of the period.
        if !server.active_expire.load(Relaxed) {
            thread::sleep(period);
            continue;
        }
        let start = std::time::Instant::now();
        // Redis's ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC of each period,
        // raised by active-expire-effort.
        let effort = crate::db::expire::Effort::new(server.hot.active_expire_effort());
        // Reclaimed keys touch their watchers while their shard is
        // locked; their notifications go out after the cycle.
        let mut fx = crate::effects::Effects::default();
        let report = cycle.run(
            &server.store,
            period * effort.cycle_share / 100,
            effort,
            &server.active_expire,
            &mut |db, t| fx.drain_table(&server, None, db, t),
        );
        crate::pubsub::publish_notes(&server, fx.notes);
        server.tracking.broadcast(&server);
        server.latency.sample_if_needed(
            &server,
            "expire-cycle",
            start.elapsed().as_millis() as u64,
        );
        server.record_expire_cycle(report);
        server.sample_ops();
        thread::sleep(period);
    }
}
