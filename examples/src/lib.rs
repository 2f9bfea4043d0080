//! Shared plumbing for the example programs: a stderr logger and the
//! "first argument is the listen address" convention.

use std::io::Write;

/// The address a server example listens on when none is given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:4040";

/// A logger that writes `level: message` to stderr; `PANTS_LOG=debug` for more.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let _ = writeln!(
                std::io::stderr(),
                "{}: {}",
                record.level().as_str().to_lowercase(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the stderr logger (level from `PANTS_LOG`, default `warn`).
pub fn init_logging() {
    let level = match std::env::var("PANTS_LOG").as_deref() {
        Ok("error") => log::LevelFilter::Error,
        Ok("info") => log::LevelFilter::Info,
        Ok("debug") => log::LevelFilter::Debug,
        Ok("trace") => log::LevelFilter::Trace,
        Ok("off") => log::LevelFilter::Off,
        _ => log::LevelFilter::Warn,
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

/// The listen address: the first argument, or [`DEFAULT_ADDR`].
pub fn listen_addr() -> String {
    std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
}

/// Prints `error: MESSAGE` and exits with status 1.
pub fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}

/// Runs a one-protocol server the way every example does: listen on the
/// first argument (default [`DEFAULT_ADDR`]), print `listening on ADDR` with
/// the bound address, stop cleanly on SIGINT/SIGTERM, and exit 1 with a
/// clear message on a bad or busy address.
pub fn serve<C>()
where
    C: pants::Channel<App = C> + pants::App + Default,
{
    serve_at::<C>(&listen_addr());
}

/// [`serve`] on a given address (a Unix socket path, say).
pub fn serve_at<C>(addr: &str)
where
    C: pants::Channel<App = C> + pants::App + Default,
{
    serve_with::<C>(|engine| engine.listen::<C>(addr));
}

/// [`serve`] with TLS: `listen_tls` on `addr` with `tls`.
pub fn serve_tls_at<C>(addr: &str, tls: pants::tls::ServerTls)
where
    C: pants::Channel<App = C> + pants::App + Default,
{
    serve_with::<C>(|engine| engine.listen_tls::<C>(addr, tls));
}

/// The body of every server example: `listen` makes the server.
fn serve_with<C>(listen: impl FnOnce(&mut pants::Engine<C>) -> pants::Result<pants::ServerId>)
where
    C: pants::Channel<App = C> + pants::App + Default,
{
    init_logging();
    let run = || -> pants::Result<()> {
        let mut engine = pants::Engine::<C>::new()?;
        let server = listen(&mut engine)?;
        let local = engine
            .server(server)
            .and_then(|s| s.local_addr())
            .ok_or(pants::Error::Closed)?;
        // Signals first: once `listening on` is out, a SIGTERM is a
        // graceful shutdown, never the default action.
        engine.stop_on_signals()?;
        println!("listening on {local}");
        let _ = std::io::stdout().flush();
        engine.start()
    };
    if let Err(e) = run() {
        fail(e);
    }
}
