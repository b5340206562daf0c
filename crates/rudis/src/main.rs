use std::process::ExitCode;

use rudis::config::{Config, Invocation, LogLevel, HELP, REDIS_VERSION, VERSION};

#[global_allocator]
static GLOBAL: rudis::alloc::Counting = rudis::alloc::Counting;

fn level(l: LogLevel) -> tracing::level_filters::LevelFilter {
    use tracing::level_filters::LevelFilter;
    match l {
        LogLevel::Debug => LevelFilter::TRACE,
        LogLevel::Verbose => LevelFilter::DEBUG,
        LogLevel::Notice => LevelFilter::INFO,
        LogLevel::Warning => LevelFilter::WARN,
    }
}

/// Installs the logger; CONFIG SET loglevel changes its level through a
/// reload handle.
fn init_logging(config: &Config) -> Result<(), String> {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{fmt, reload};
    let (filter, handle) = reload::Layer::new(level(config.loglevel));
    let _ = rudis::config::SET_LOG_LEVEL.set(Box::new(move |l| {
        let _ = handle.modify(|f| *f = level(l));
    }));
    let registry = tracing_subscriber::registry().with(filter);
    if config.logfile.is_empty() {
        registry.with(fmt::layer().with_target(false)).init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.logfile)
            .map_err(|e| format!("Can't open the log file {}: {e}", config.logfile))?;
        registry
            .with(
                fmt::layer()
                    .with_target(false)
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(file)),
            )
            .init();
    }
    Ok(())
}

/// `rudis --ping [port]`: the container health check. Exits 0 when a
/// server answers PING on 127.0.0.1 (NOAUTH also proves it is serving).
fn ping(port: Option<&String>) -> ExitCode {
    use std::io::{Read, Write};
    use std::time::Duration;
    let port: u16 = port.and_then(|p| p.parse().ok()).unwrap_or(6379);
    let alive = (|| -> std::io::Result<bool> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"PING\r\n")?;
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf)?;
        Ok(&buf == b"+PONG\r\n" || &buf == b"-NOAUTH")
    })();
    match alive {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// The container image's entry point (this binary, installed as
/// `docker-entrypoint`): runs `rudis` as PID 1 with protected mode off, as
/// the official Redis image does, since clients reach a container through
/// Docker's network and never from its loopback. Arguments pass through; a
/// config file stays first; a later `--protected-mode yes` still wins.
fn container_entry(mut args: Vec<String>) -> ExitCode {
    use std::os::unix::process::CommandExt;
    if args.first().is_some_and(|a| a == "rudis") {
        args.remove(0);
    }
    let at = match args.first() {
        Some(first) if !first.starts_with('-') => 1,
        _ => 0,
    };
    args.splice(at..at, ["--protected-mode".to_string(), "no".to_string()]);
    let err = std::process::Command::new("/usr/local/bin/rudis")
        .args(&args)
        .exec();
    eprintln!("cannot start rudis: {err}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_default();
    let args: Vec<String> = argv.collect();
    if argv0.ends_with("docker-entrypoint") {
        return container_entry(args);
    }
    if args.first().is_some_and(|a| a == "--ping") {
        return ping(args.get(1));
    }
    let config = match Config::from_args(&args) {
        Ok(Invocation::Run(c)) => *c,
        Ok(Invocation::Version) => {
            println!("rudis v={VERSION} redis_compat={REDIS_VERSION}");
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Help) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Before anything starts a thread: a fork keeps only the caller.
    if config.daemonize {
        if let Err(e) = rudis::daemon::detach() {
            eprintln!("Can't run in the background: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = init_logging(&config) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    match rudis::net::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
