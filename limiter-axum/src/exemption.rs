//! [`ExemptionScope`]: which limits an exempt route or router skips.

use std::fmt;
use std::ops::BitOr;

/// Flags for `#[exempt(flags = …)]`, [`MethodRouter::exempt_with`] and
/// [`Router::exempt_with`], as Flask-Limiter's `ExemptionScope`.
///
/// [`MethodRouter::exempt_with`]: crate::routing::MethodRouter::exempt_with
/// [`Router::exempt_with`]: crate::Router::exempt_with
///
/// ```
/// use limiter_axum::ExemptionScope;
/// let flags = ExemptionScope::DEFAULT | ExemptionScope::APPLICATION;
/// assert!(flags.contains(ExemptionScope::DEFAULT));
/// assert!(!flags.contains(ExemptionScope::META));
/// assert_eq!(ExemptionScope::DEFAULT_EXEMPTION, ExemptionScope::APPLICATION | ExemptionScope::DEFAULT | ExemptionScope::META);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExemptionScope(u8);

impl ExemptionScope {
    /// No exemption.
    pub const NONE: Self = ExemptionScope(0);
    /// Application limits are skipped.
    pub const APPLICATION: Self = ExemptionScope(1);
    /// Default limits are skipped.
    pub const DEFAULT: Self = ExemptionScope(2);
    /// The meta-limit pre-check is skipped.
    pub const META: Self = ExemptionScope(4);
    /// (Routers) nested routers inherit this exemption and not this router's limits.
    pub const DESCENDENTS: Self = ExemptionScope(8);
    /// (Routers) this router does not inherit limits from the routers it is nested in.
    pub const ANCESTORS: Self = ExemptionScope(16);
    /// What a bare `#[exempt]` / `.exempt()` means: `APPLICATION | DEFAULT | META`.
    pub const DEFAULT_EXEMPTION: Self = ExemptionScope(1 | 2 | 4);

    /// Both sets of flags.
    pub const fn union(self, other: Self) -> Self {
        ExemptionScope(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// These flags without those of `other`.
    pub const fn difference(self, other: Self) -> Self {
        ExemptionScope(self.0 & !other.0)
    }

    /// The names of the set flags, e.g. `["APPLICATION", "DEFAULT"]`.
    pub fn names(self) -> Vec<&'static str> {
        [
            (Self::APPLICATION, "APPLICATION"),
            (Self::DEFAULT, "DEFAULT"),
            (Self::META, "META"),
            (Self::DESCENDENTS, "DESCENDENTS"),
            (Self::ANCESTORS, "ANCESTORS"),
        ]
        .into_iter()
        .filter(|(flag, _)| self.contains(*flag))
        .map(|(_, name)| name)
        .collect()
    }
}

impl BitOr for ExemptionScope {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

impl fmt::Debug for ExemptionScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("NONE");
        }
        f.write_str(&self.names().join(" | "))
    }
}
