//! The command line: options, subcommands and help texts (clap's definitions, nothing run here).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const ABOUT: &str = "Limiter maintenance & utility commands: inspect and clear the rate limits \
                     of an axum app built with limiter-axum";

const LONG_ABOUT: &str = "\
Limiter maintenance & utility commands: inspect and clear the rate limits of an axum app built
with limiter-axum.

A compiled app cannot be imported, so `limiter` asks it: it runs the app binary given with --app
with the environment variable LIMITER_INSPECT=manifest, and the app prints a JSON manifest of its
routes, limits and limiter configuration on stdout and exits without binding a port (production
runs, without that variable, are unchanged). A saved manifest can be given with --manifest
instead. Counters are read and cleared on the app's real storage (its storage URI), with its key
prefix.

The app runs with `limiter`'s environment: give `limiter` the configuration the app gets from its
environment (RATELIMIT_STORAGE_URI, RATELIMIT_KEY_PREFIX…) so that both use the same storage and
keys. With memory:// the counters live inside the serving app process and cannot be read.";

const MAIN_EXAMPLES: &str = "\
Examples:
  limiter --app target/debug/quickstart limits
  LIMITER_APP=target/debug/myapp limiter limits --key 127.0.0.1
  RATELIMIT_STORAGE_URI=redis://db:6379 limiter --app target/debug/myapp limits --key 10.0.0.7
  limiter --app target/debug/myapp config
  limiter --app target/debug/myapp clear --key 127.0.0.1 --endpoint fast -y
  LIMITER_INSPECT=manifest target/debug/myapp > app.json && limiter --manifest app.json limits

Exit status: 0 success; 1 the app or its manifest could not be read; 2 usage error (no app,
unknown endpoint, path or method); 3 the storage is not available; 4 `clear` was not confirmed.";

const LIMITS_EXAMPLES: &str = "\
Output: one tree per group (the app's own routes under the app label, then one per blueprint),
routes sorted by path, each `endpoint: path` with its default, blueprint and route limits;
per-method limits end in `(METHOD)`, exempt routes show `Exempt`. The \"Meta Limits\" and
\"Application Limits\" trees come first when there is no filter. With --key each limit line ends
in `: Pass (R out of N remaining)`, `: Fail (R out of N remaining)` or `: Storage not available`
(then the exit status is 3); an empty key shows `: Skipped (empty key, not limited)`, as the app
does not limit requests whose key is empty.

Examples:
  limiter --app target/debug/myapp limits
  limiter --app target/debug/myapp limits --endpoint fast
  limiter --app target/debug/myapp limits --path /users/42 --method POST
  limiter --app target/debug/myapp limits --key 127.0.0.1 --watch";

const CONFIG_EXAMPLES: &str = "\
Shows: enabled, key function and prefix, strategy, storage URI (password masked) and whether
the storage answers, default/application/meta limits, fallback limits, headers, fail-on-first-
breach and what happens on storage errors. The storage status is information, not an error:
the exit status is 0 either way.

Examples:
  limiter --app target/debug/myapp config
  limiter --manifest app.json config";

const CLEAR_EXAMPLES: &str = "\
Without -y, shows the limits and their state for the key, then asks `Proceed with resetting
limits for key: K? [y/n]`; anything but `y` (or no input) clears nothing and exits with status
4. Without a filter, the application and meta limits are cleared too. Per-method limits are
cleared for every method of the route, or only --method's.

Examples:
  limiter --app target/debug/myapp clear --key 127.0.0.1
  limiter --app target/debug/myapp clear --key 127.0.0.1 --endpoint fast -y
  limiter --app target/debug/myapp clear --key 10.0.0.7 --path /pm --method GET -y";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  source <(limiter completions bash)
  limiter completions zsh > ~/.zfunc/_limiter
  limiter completions fish > ~/.config/fish/completions/limiter.fish";

/// `limiter`: the command line.
#[derive(Debug, Parser)]
#[command(name = "limiter", version, about = ABOUT, long_about = LONG_ABOUT, after_help = MAIN_EXAMPLES)]
pub struct Cli {
    /// Where the app's manifest comes from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `--app` or `--manifest`.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// The app binary: run with LIMITER_INSPECT=manifest (and `limiter`'s environment), it
    /// prints its manifest and exits.
    #[arg(long, env = "LIMITER_APP", value_name = "PATH", global = true)]
    pub app: Option<PathBuf>,
    /// A saved manifest (JSON) instead of running the app; `-` reads it from stdin.
    #[arg(long, value_name = "FILE", conflicts_with = "app", global = true)]
    pub manifest: Option<PathBuf>,
    /// The storage URI with its password, used in place of the manifest's when the app masked
    /// the password there (the URI the app gets).
    #[arg(
        long,
        env = "RATELIMIT_STORAGE_URI",
        hide_env_values = true,
        value_name = "URI",
        global = true
    )]
    pub storage_uri: Option<String>,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour when stdout is a terminal that takes colour (NO_COLOR, CLICOLOR,
    /// CLICOLOR_FORCE and TERM=dumb are honoured).
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl Color {
    /// The choice the styled stdout stream applies.
    pub fn choice(self) -> anstream::ColorChoice {
        match self {
            Color::Auto => anstream::ColorChoice::Auto,
            Color::Always => anstream::ColorChoice::Always,
            Color::Never => anstream::ColorChoice::Never,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enumerate details about all routes with rate limits.
    #[command(after_help = LIMITS_EXAMPLES)]
    Limits(LimitsArgs),
    /// View the limiter configuration.
    #[command(after_help = CONFIG_EXAMPLES)]
    Config(ConfigArgs),
    /// Clear limits for a specific key.
    #[command(after_help = CLEAR_EXAMPLES)]
    Clear(ClearArgs),
    /// Print the shell completion script of `limiter` (needs no app).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
}

/// `limiter completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Which routes: `--endpoint`, or `--path` with an optional `--method`.
#[derive(Debug, Clone, Default, Args)]
pub struct Filter {
    /// Only this endpoint (e.g. `fast`, `bp.child.childb`).
    #[arg(long, value_name = "ENDPOINT", conflicts_with = "path")]
    pub endpoint: Option<String>,
    /// Only the routes that match this request path (e.g. `/users/42`).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// With --path: only routes serving this HTTP method (and only its per-method limits).
    #[arg(long, value_name = "METHOD", requires = "path")]
    pub method: Option<String>,
}

/// `limiter limits`.
#[derive(Debug, Args)]
pub struct LimitsArgs {
    /// Which routes.
    #[command(flatten)]
    pub filter: Filter,
    /// Show each limit's state for this client key (e.g. `127.0.0.1`), read from the storage.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Redraw every half second until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// The output: text trees, or a JSON document (schema `limiter.limits`, version 1).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `limiter config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The output: a text table, or a JSON document (schema `limiter.config`, version 1).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people.
    Text,
    /// JSON for programs: a versioned document, see the command's help.
    Json,
}

/// `limiter clear`.
#[derive(Debug, Args)]
pub struct ClearArgs {
    /// The client key whose counters to clear (e.g. `127.0.0.1`).
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// Which routes.
    #[command(flatten)]
    pub filter: Filter,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
}
