//! The app describing itself to the `limiter` CLI.
//!
//! A compiled app cannot be imported the way `flask limiter` imports a Flask app, so the CLI runs
//! the app binary with `LIMITER_INSPECT=manifest`: [`Router::with_limiter`](crate::Router::with_limiter)
//! then prints the app's [`Manifest`] (every route with its resolved limits, and the limiter's
//! configuration) as JSON on stdout and exits with status 0, before the app binds a port. Without
//! that variable nothing changes.

use crate::Limiter;
use limiter_core::manifest::{self, Manifest};

impl Limiter {
    /// This app's routes, limits and configuration ([`Limiter::routes`], [`Limiter::config`]) in
    /// the versioned format the `limiter` CLI reads (`limiter limits`, `limiter config`,
    /// `limiter clear`).
    pub fn manifest(&self) -> Manifest {
        Manifest::new(self.config(), self.routes())
    }
}

/// Prints the manifest and ends the process if the CLI asked for it (`LIMITER_INSPECT=manifest`).
pub(crate) fn exit_if_inspecting(limiter: &Limiter) {
    if manifest::inspect_requested() {
        println!("{}", limiter.manifest().to_json());
        std::process::exit(0);
    }
}
