//! Checking declared limits against what the storage can represent, at start-up.

use crate::decl::Limit;
use crate::error::BuildError;
use limiter_core::Storage;

/// The first of `limits` (declared at `place`) that `storage` cannot represent, as an error.
/// Dynamic limits are only known per request and are not checked here.
pub(crate) fn check(storage: &Storage, place: &str, limits: &[Limit]) -> Result<(), BuildError> {
    for rate in limits.iter().flat_map(Limit::rate_limits) {
        storage
            .check_limit(rate)
            .map_err(|error| BuildError::LimitTooLarge {
                place: place.to_owned(),
                error,
            })?;
    }
    Ok(())
}
