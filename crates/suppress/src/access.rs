//! Access levels: who is asking decides which SQL may run over protected rows.
//!
//! As in pg_diffix (`anonymized_untrusted` / `anonymized_trusted`), one engine serves two kinds of
//! user. Both get only protected aggregates; they differ in how much SQL may sit below them.

use std::fmt;

/// How far a session's SQL is trusted. [`AccessLevel::Untrusted`] is the default everywhere: a
/// user is trusted only where the server configuration or the embedding program says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AccessLevel {
    /// A determined analyst who may attack. Below an aggregate only a restricted, canonical SQL
    /// subset is allowed: catalog columns (optionally generalized into buckets), equality filters,
    /// joins to public tables on their key and to protected tables on unit ids, and measures over
    /// catalog columns. Every disclosure mechanism we know of is impossible in that subset or
    /// bounded by noise and the query budget.
    #[default]
    Untrusted,
    /// A reviewed analyst or reviewed catalog code (the saved theme queries). Free SQL below the
    /// aggregate, still protected against accidental disclosure: noise that cannot cancel, no error
    /// side channels, quantiles by units, identifiers never used as values, no metadata leaks.
    Trusted,
}

impl AccessLevel {
    pub fn name(self) -> &'static str {
        match self {
            AccessLevel::Untrusted => "untrusted",
            AccessLevel::Trusted => "trusted",
        }
    }

    pub fn parse(name: &str) -> Option<AccessLevel> {
        match name {
            "untrusted" => Some(AccessLevel::Untrusted),
            "trusted" => Some(AccessLevel::Trusted),
            _ => None,
        }
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
