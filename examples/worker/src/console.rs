//! The layer logs through `tracing`; in a Worker, events go to the runtime's console (visible
//! in `wrangler dev` and `wrangler tail`).

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

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

/// Installs the console subscriber once per isolate; `level` (the `LOG_LEVEL` variable, default
/// `info`) is only read then.
pub(crate) fn init(level: impl FnOnce() -> Option<String>) {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let level = level()
            .and_then(|l| l.parse().ok())
            .unwrap_or(tracing::Level::INFO);
        let _ = tracing_subscriber::fmt()
            .with_writer(Console)
            .with_max_level(level)
            .with_ansi(false)
            .without_time()
            .try_init();
    });
}
