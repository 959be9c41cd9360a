//! [`ExemptionScope`]: which limits an exempt route or router skips.

use std::fmt;
use std::ops::BitOr;

/// Which limits an exempt route or router skips, as Flask-Limiter's `ExemptionScope`: the flags
/// of limiter-axum's `#[exempt(flags = …)]` and `exempt_with`, and of
/// [`RouteInfo::exemption`](super::RouteInfo::exemption).
///
/// ```
/// use limiter_core::model::ExemptionScope;
/// let flags = ExemptionScope::DEFAULT | ExemptionScope::APPLICATION;
/// assert!(flags.contains(ExemptionScope::DEFAULT));
/// assert!(!flags.contains(ExemptionScope::META));
/// assert_eq!(ExemptionScope::DEFAULT_EXEMPTION, ExemptionScope::APPLICATION | ExemptionScope::DEFAULT | ExemptionScope::META);
/// assert_eq!(flags.names(), ["APPLICATION", "DEFAULT"]);
/// ```
///
/// In a manifest the flags are the list of their [names](Self::names).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExemptionScope(u8);

/// Every flag with its name, in the order [`ExemptionScope::names`] lists them.
const NAMED: [(ExemptionScope, &str); 5] = [
    (ExemptionScope::APPLICATION, "APPLICATION"),
    (ExemptionScope::DEFAULT, "DEFAULT"),
    (ExemptionScope::META, "META"),
    (ExemptionScope::DESCENDENTS, "DESCENDENTS"),
    (ExemptionScope::ANCESTORS, "ANCESTORS"),
];

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
        NAMED
            .into_iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| name)
            .collect()
    }

    /// The flag called `name` (as [`names`](Self::names) spells it), if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        NAMED
            .into_iter()
            .find(|(_, known)| *known == name)
            .map(|(flag, _)| flag)
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

#[cfg(feature = "manifest")]
impl serde::Serialize for ExemptionScope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

#[cfg(feature = "manifest")]
impl<'de> serde::Deserialize<'de> for ExemptionScope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        names.iter().try_fold(ExemptionScope::NONE, |flags, name| {
            ExemptionScope::from_name(name)
                .map(|flag| flags.union(flag))
                .ok_or_else(|| serde::de::Error::custom(format!("unknown exemption flag {name:?}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let flags = ExemptionScope::META | ExemptionScope::ANCESTORS;
        let back = flags
            .names()
            .into_iter()
            .map(|name| ExemptionScope::from_name(name).unwrap())
            .fold(ExemptionScope::NONE, ExemptionScope::union);
        assert_eq!(back, flags);
        assert_eq!(format!("{flags:?}"), "META | ANCESTORS");
        assert_eq!(format!("{:?}", ExemptionScope::NONE), "NONE");
        assert_eq!(ExemptionScope::from_name("SOMETIMES"), None);
    }
}
