//! Writing the output.

use crate::error::CliError;
use std::io::Write;

/// Writes to stdout; a closed pipe (`limiter limits | head`) is not an error.
pub fn write_out(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
