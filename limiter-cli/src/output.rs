//! Writing the output.

use crate::error::CliError;
use std::io::Write;

/// Writes to stdout through `anstream`, which strips styles when stdout should not get them
/// (`--color`, NO_COLOR, CLICOLOR_FORCE, TERM=dumb, not a terminal); a closed pipe
/// (`limiter limits | head`) is not an error.
pub fn write_out(text: &str) -> Result<(), CliError> {
    let mut stdout = anstream::stdout().lock();
    ignore_broken_pipe(
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush()),
    )
}

/// Clears the terminal (`--watch`), written raw: only call it when stdout is a terminal.
pub fn clear_screen() -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    ignore_broken_pipe(
        stdout
            .write_all(b"\x1b[H\x1b[2J")
            .and_then(|()| stdout.flush()),
    )
}

fn ignore_broken_pipe(result: std::io::Result<()>) -> Result<(), CliError> {
    match result {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
