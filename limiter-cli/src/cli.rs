//! The dispatch: where the manifest comes from, then the chosen command.

use crate::args::{Cli, Command};
use crate::error::CliError;
use crate::output::write_out;
use crate::{app, clear, config, limits};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let color = cli.color.enabled();
    let source = match (cli.source.manifest, cli.source.app) {
        (Some(file), _) => app::Source::Manifest(file),
        (None, Some(binary)) => app::Source::App(binary),
        (None, None) => return Err(CliError::NoApp),
    };
    let manifest = app::load(&source).await?;
    match cli.command {
        Command::Limits(args) => limits::run(&manifest, &args, color).await,
        Command::Config => {
            let text = config::run(&manifest).await;
            write_out(&text)
        }
        Command::Clear(args) => clear::run(&manifest, &args, color).await,
    }
}
