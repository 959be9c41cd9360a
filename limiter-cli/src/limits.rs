//! `limiter limits`: the trees of routes and limits, optionally with one key's state, once or
//! redrawn with `--watch`.

use crate::args::{Format, LimitsArgs};
use crate::error::CliError;
use crate::json;
use crate::limit_trees::{render, trees, KeyState};
use crate::output::{clear_screen, write_out};
use crate::select::select;
use crate::state;
use limiter_core::manifest::Manifest;
use std::io::IsTerminal;
use std::time::Duration;

/// How often `--watch` redraws.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// Runs `limiter limits`.
pub async fn run(manifest: &Manifest, args: &LimitsArgs) -> Result<(), CliError> {
    let selection = select(manifest, &args.filter)?;
    let mut store = match &args.key {
        Some(_) => {
            state::warn_if_memory(manifest);
            Some(state::connect(manifest).await)
        }
        None => None,
    };
    loop {
        let key = args.key.as_deref().map(|key| KeyState {
            key,
            store: store.as_ref().and_then(|store| store.as_ref().ok()),
        });
        let text = match args.format {
            Format::Text => render(&trees(manifest, &selection, key.as_ref()).await),
            Format::Json => json::limits_document(manifest, &selection, key.as_ref()).await,
        };
        if !args.watch {
            write_out(&text)?;
            return match store {
                Some(Err(error)) => Err(error),
                _ => Ok(()),
            };
        }
        if std::io::stdout().is_terminal() && args.format == Format::Text {
            // Straight to the terminal: the styled stream may strip escape codes.
            clear_screen()?;
            write_out(&text)?;
        } else {
            write_out(&format!("{text}\n"))?;
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
        // A storage that was down may be back.
        if let Some(Err(_)) = &store {
            store = Some(state::connect(manifest).await);
        }
    }
}
