use clap::Parser;
use seedgate::cli::{run, Cli};

/// mimalloc rather than the system's allocator: a request allocates and frees dozens of small
/// buffers (headers, JSON, cache entries) across the runtime's threads, which glibc's malloc
/// served with a tenth of the server's CPU in the poll profile; polls went up by about a tenth
/// (docs/performance.md). Built without transparent huge pages (`no_thp`): with them the idle
/// process held 57-60 MB instead of 35.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let settings = match cli.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("seedgate: {e:#}");
            std::process::exit(2);
        }
    };
    // Log lines, and spans over OTLP when a collector is configured.
    let telemetry = match seedgate::telemetry::init(&settings.log, &settings.telemetry) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("seedgate: {e:#}");
            std::process::exit(2);
        }
    };
    // A panic is a bug: one log line says where, and the route's guard answers the client.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "panic: {message}");
    }));
    let code = match run(cli, settings).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("seedgate: {e:#}");
            1
        }
    };
    // The exporter's last batch is sent before exiting (its flush blocks, so off the runtime).
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    std::process::exit(code);
}
