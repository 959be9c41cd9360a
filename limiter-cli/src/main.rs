//! `limiter`: inspect and clear the rate limits of a compiled axum app, as `flask limiter` does
//! for a Flask app. See `limiter --help`.
//!
//! The app is not imported but asked: run with `LIMITER_INSPECT=manifest`, it prints a JSON
//! [manifest](limiter_core::manifest) and exits. Counters are read and cleared on the app's
//! real storage.

mod app;
mod args;
mod clear;
mod cli;
mod config;
mod error;
mod json;
mod limit_trees;
mod limits;
mod output;
mod select;
mod state;
mod tree;

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
