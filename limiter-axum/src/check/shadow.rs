//! Shadow mode (dry run): a limit that would refuse a request lets it pass, and the breach is
//! reported here — the one place the check knows of a shadow breach.

use limiter_core::RateLimit;

/// Whether the item of `entry` is in shadow mode: the limiter's, or the limit's own.
#[inline]
pub(crate) fn is_shadow(shadow_mode: bool, limit: &crate::decl::Limit) -> bool {
    shadow_mode || limit.shadow
}

/// A shadow limit (`rate`, checked for `endpoint`) would have refused a request, which passes.
///
/// Logged as a warning with the limit and the endpoint; the client's key (possibly an IP
/// address, personal data) only at debug level.
#[cold]
pub(crate) fn shadow_breach(endpoint: &str, rate: &RateLimit, key: &str) {
    tracing::warn!(
        limit = %rate,
        endpoint,
        "rate limit exceeded in shadow mode; the request is let through"
    );
    tracing::debug!(limit = %rate, endpoint, key, "shadow breach key");
}
