//! The layer logs through `tracing`; in a Worker, events go to the runtime's console (visible
//! in `wrangler dev` and `wrangler tail`).

use std::io::{self, Write};

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// Collects one formatted event and hands it to `console.log` when done.
#[derive(Default)]
pub(crate) struct ConsoleLine(Vec<u8>);

impl Write for ConsoleLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ConsoleLine {
    fn drop(&mut self) {
        let line = String::from_utf8_lossy(&self.0);
        let line = line.trim_end();
        if !line.is_empty() {
            worker::console_log!("{line}");
        }
    }
}

struct Console;

impl<'a> MakeWriter<'a> for Console {
    type Writer = ConsoleLine;

    fn make_writer(&'a self) -> ConsoleLine {
        ConsoleLine::default()
    }
}

/// What is logged unless `LOG_LEVEL` says otherwise. rmcp serves one request per service here,
/// so its lifecycle lines at `info` ("Service initialized as server", "input stream
/// terminated", "serve finished") would be three console lines, formatted and written, per
/// request.
const DEFAULT_FILTER: &str = "info,rmcp=warn";

/// Installs the console subscriber once per isolate; `filter` (the `LOG_LEVEL` variable: a
/// level, or `target=level` directives such as `debug,rmcp=info`; default
/// [`DEFAULT_FILTER`]) is only read then.
pub(crate) fn init(filter: impl FnOnce() -> Option<String>) {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let targets: Targets = filter()
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| DEFAULT_FILTER.parse().expect("a valid filter"));
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(Console)
                    .with_ansi(false)
                    .without_time(),
            )
            .with(targets)
            .try_init();
    });
}
