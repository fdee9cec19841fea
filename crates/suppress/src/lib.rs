//! Statistical disclosure control for the Zicht warehouse.
//!
//! Whatever SQL an analyst sends, no result may be traceable to a person, address or company.
//! This crate makes that so inside the engine, for every path a result can take:
//!
//! - [`ProtectedTable`] wraps each table of unit-level microdata; its scans carry a marker.
//! - The analyzer rule ([`SuppressionLayer::analyzer_rule`]) validates every plan over protected
//!   rows (only conjunctive filters, projections with whitelisted functions, joins to public tables
//!   and joins on unit ids may sit below an aggregate) and rewrites each aggregate into a
//!   protecting aggregate that applies the threshold, dominance, p%, group-disclosure and
//!   cell-key perturbation rules (see `docs/suppression.md`).
//! - The physical guard ([`SuppressionLayer::physical_guard`], [`verify_released`]) fails closed
//!   when a protected scan reaches the output without passing a protecting aggregate.
//!
//! Refusals are [`SuppressionError`]s that name the rule; the engine maps them to SQLSTATE 42501.

mod aggregate;
mod error;
mod guard;
mod noise;
mod rule;
mod table;

use std::sync::Arc;

use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_optimizer::PhysicalOptimizerRule;

pub use aggregate::{CellCounters, Measure, ProtectAggregate};
pub use error::SuppressionError;
pub use guard::{ProtectionGuard, cell_counts, reads_protected, verify_released};
pub use noise::CellKeyer;
pub use rule::ProtectRule;
pub use table::{ProtectedScanExec, ProtectedTable};

/// The suppression layer as installed in a session: one secret, two rules.
#[derive(Debug, Clone)]
pub struct SuppressionLayer {
    keyer: CellKeyer,
}

impl SuppressionLayer {
    /// `secret` keys the cell-key perturbation; keep it out of reach of analysts.
    pub fn new(secret: &[u8]) -> SuppressionLayer {
        SuppressionLayer { keyer: CellKeyer::new(secret) }
    }

    /// Runs after DataFusion's type coercion: validates and rewrites aggregates over protected rows.
    pub fn analyzer_rule(&self) -> Arc<dyn AnalyzerRule + Send + Sync> {
        Arc::new(ProtectRule::new(self.keyer.clone()))
    }

    /// Runs last among the physical optimizer rules: fails closed on unprotected scans.
    pub fn physical_guard(&self) -> Arc<dyn PhysicalOptimizerRule + Send + Sync> {
        Arc::new(ProtectionGuard)
    }
}
