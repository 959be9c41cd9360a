//! What a request asks of a storage: hits to count, and the decisions that come back.

use crate::notation::RateLimit;
use crate::strategy::Decision;
use smallvec::SmallVec;

/// One hit to count: `cost` against `limit` for the client and scope named by `identifiers`.
///
/// The storage key is `limit.key_for(identifiers)`, e.g. `LIMITER/127.0.0.1/fast/2/1/minute`.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// The limit to count against.
    pub limit: &'a RateLimit,
    /// The parts of the key between the namespace and the limit, usually `[client, scope]`.
    pub identifiers: &'a [&'a str],
    /// How much this request deducts (1 for most requests).
    pub cost: u64,
}

/// How exact the reset time of an admitted hit must be, for
/// [`Storage::acquire_with`](super::Storage::acquire_with).
///
/// A rejected hit's reset time is always exact (it is what a 429 reports, and what the
/// over-limit cache keeps), and `remaining` is exact either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AdmittedReset {
    /// The exact reset time: what response headers report. The default.
    #[default]
    Exact,
    /// A reset time no earlier than the exact one: at most one window from now. For callers
    /// that only need the admission, as Flask-Limiter without headers. It saves one read per hit
    /// where the backend must ask for the time (Redis, fixed window: `PTTL`); the others report
    /// the exact time anyway.
    UpperBound,
}

/// The decisions of a batch, in the order of its hits. Inline for up to four limits, so checking a
/// request does not allocate.
pub type Decisions = SmallVec<[Decision; 4]>;
