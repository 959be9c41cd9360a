//! The dispatch: where the manifest comes from, then the chosen command.

use crate::args::{Cli, Command};
use crate::error::CliError;
use crate::output::write_out;
use crate::{app, clear, config, limits};
use clap::CommandFactory;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Completions(args) = &cli.command {
        return write_out(&completions(args.shell));
    }
    cli.color.choice().write_global();
    let source = match (cli.source.manifest, cli.source.app) {
        (Some(file), _) => app::Source::Manifest(file),
        (None, Some(binary)) => app::Source::App(binary),
        (None, None) => return Err(CliError::NoApp),
    };
    let mut manifest = app::load(&source).await?;
    // The app masks its storage password in the manifest: then, and only then, the real URI
    // comes from our own flag or environment (an app may set its URI in code, ignoring both).
    if let Some(uri) = cli.source.storage_uri {
        if limiter_core::uri::is_masked(&manifest.config.storage_uri) {
            manifest.config.storage_uri = uri;
        }
    }
    match cli.command {
        Command::Limits(args) => limits::run(&manifest, &args).await,
        Command::Config(args) => {
            let text = config::run(&manifest, args.format).await;
            write_out(&text)
        }
        Command::Clear(args) => clear::run(&manifest, &args).await,
        Command::Completions(args) => write_out(&completions(args.shell)),
    }
}

/// The completion script of `limiter` for `shell`.
fn completions(shell: clap_complete::Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "limiter", &mut script);
    String::from_utf8_lossy(&script).into_owned()
}
