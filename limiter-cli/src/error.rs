//! The errors of the `limiter` command and their exit statuses.

use limiter_core::manifest::ManifestError;

/// Everything that makes `limiter` exit with a non-zero status.
///
/// Exit statuses: 1 the app or its manifest could not be read, 2 usage (no app given, unknown
/// endpoint, path or method), 3 the storage is not available, 4 `clear` was not confirmed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Neither `--app` (nor `LIMITER_APP`) nor `--manifest`.
    #[error("no app given: pass --app <PATH> (or set LIMITER_APP) or --manifest <FILE>")]
    NoApp,
    /// The app binary could not be started.
    #[error("cannot run the app {path}: {source}")]
    AppSpawn {
        /// The binary.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The app did not exit in time.
    #[error(
        "the app {path} did not print its manifest within {seconds} s (LIMITER_INSPECT=manifest)"
    )]
    AppTimeout {
        /// The binary.
        path: String,
        /// The time limit.
        seconds: u64,
    },
    /// The app exited with a failure status.
    #[error(
        "the app {path} {status} when asked for its manifest (LIMITER_INSPECT=manifest){stderr}"
    )]
    AppFailed {
        /// The binary.
        path: String,
        /// How it exited.
        status: String,
        /// The end of its stderr, prefixed with a newline, or empty.
        stderr: String,
    },
    /// The app exited with success but printed nothing.
    #[error(
        "the app {path} printed no manifest with LIMITER_INSPECT=manifest (does it call \
         limiter-axum's inspection hook before binding its port?)"
    )]
    NoManifest {
        /// The binary.
        path: String,
    },
    /// A manifest file could not be read.
    #[error("cannot read the manifest {path}: {source}")]
    ReadManifest {
        /// The file (`-` for stdin).
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The manifest is not valid JSON, or of another version.
    #[error("invalid manifest from {origin}: {source}")]
    InvalidManifest {
        /// Where it came from.
        origin: String,
        /// Why.
        source: ManifestError,
    },
    /// The manifest parses but contradicts itself or names unknown things.
    #[error("invalid manifest from {origin}: {detail}")]
    BadManifest {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        detail: String,
    },
    /// `--endpoint` names no route.
    #[error("{0} not found")]
    UnknownEndpoint(String),
    /// `--path` matches no route.
    #[error("{0} could not be matched to an endpoint")]
    UnknownPath(String),
    /// `--path` matches routes, none serving `--method`.
    #[error("{method}: {path} could not be matched to an endpoint")]
    UnknownMethod {
        /// The method asked for.
        method: String,
        /// The path asked for.
        path: String,
    },
    /// The storage cannot be reached (or is not built into this `limiter`).
    #[error("storage {uri} is not available: {reason}")]
    StorageUnavailable {
        /// The storage URI, password masked.
        uri: String,
        /// Why.
        reason: String,
    },
    /// `clear` without `-y` was not answered `y`.
    #[error("not confirmed: nothing was cleared")]
    NotConfirmed,
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::NoApp
            | CliError::UnknownEndpoint(_)
            | CliError::UnknownPath(_)
            | CliError::UnknownMethod { .. } => 2,
            CliError::StorageUnavailable { .. } => 3,
            CliError::NotConfirmed => 4,
            CliError::AppSpawn { .. }
            | CliError::AppTimeout { .. }
            | CliError::AppFailed { .. }
            | CliError::NoManifest { .. }
            | CliError::ReadManifest { .. }
            | CliError::InvalidManifest { .. }
            | CliError::BadManifest { .. }
            | CliError::Output(_) => 1,
        }
    }
}
