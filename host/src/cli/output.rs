//! Writing results to stdout: human text or one JSON document. A closed
//! pipe (`baton ... | head`) is not an error.

use std::io::Write;

use serde::Serialize;

/// `--output` choices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

/// Writes `text` to stdout, ignoring a closed pipe.
pub fn print(text: &str) {
    let text = crate::secret::redact_all(text);
    let mut out = std::io::stdout().lock();
    let result = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    if let Err(e) = result
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write to stdout: {e}");
    }
}

/// Writes `value` as pretty JSON and a newline.
pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(mut text) => {
            text.push('\n');
            print(&text);
        }
        Err(e) => eprintln!("error: cannot serialise output: {e}"),
    }
}

/// Writes one progress or narrative line to stderr.
pub fn progress(line: &str) {
    eprintln!("{}", crate::secret::redact_all(line));
}

/// Standard error for `tracing`, with every known token redacted.
pub struct RedactedStderr;

impl Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::secret::redact_all(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
