//! Statistical disclosure control for the Zicht warehouse.
//!
//! Whatever SQL an analyst sends, no result may be traceable to a person, address or company.
//! This crate makes that so inside the engine, for every path a result can take:
//!
//! - [`CatalogTable`] wraps each table of the catalog; scans of protected (unit-level) tables
//!   carry a marker, and the definitions give units and keys to the analyzer rule.
//! - The analyzer rule ([`SuppressionLayer::analyzer_rule`]) validates every plan over protected
//!   rows at the session's [`AccessLevel`] (a canonical SQL subset for untrusted users, free but
//!   error-safe SQL for trusted ones) and rewrites each aggregate into a protecting aggregate that
//!   applies the threshold, dominance, p%, group-disclosure and layered cell-key noise rules (see
//!   `docs/suppression.md` and `docs/threat-model.md`).
//! - The physical guard ([`SuppressionLayer::physical_guard`], [`verify_released`]) fails closed
//!   when a protected scan reaches the output without passing a protecting aggregate.
//! - [`questions`] lists what an untrusted query asks, for the engine's query budget.
//!
//! Refusals are [`SuppressionError`]s that name the rule; the engine maps them to SQLSTATE 42501.

mod access;
mod aggregate;
mod batch;
mod blueprint;
mod cell;
mod error;
mod expression;
mod guard;
mod join;
mod judge;
mod lineage;
mod measure;
mod noise;
mod released;
mod rule;
mod safe_expr;
mod schema_only;
mod segments;
mod single_stage;
mod state;
mod summary;
mod table;
mod tallies;
mod unit_keys;
mod untrusted;

use std::sync::Arc;

use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_optimizer::PhysicalOptimizerRule;

pub use access::AccessLevel;
pub use aggregate::{CellCounters, Measure, MeasureSpec, NAME as PROTECT_AGGREGATE, ProtectAggregate, Question};
pub use blueprint::{Blueprint, blueprints, name_for_workers};
pub use error::SuppressionError;
pub use guard::{ProtectionGuard, cell_counts, questions, reads_protected, verify_released};
pub use noise::{CellKeyer, NoiseSeeds};
pub use released::released_function;
pub use rule::ProtectRule;
pub use single_stage::SingleStage;
pub use table::{CatalogTable, ProtectedScanExec};

/// Checks a statement before DataFusion runs it: EXPLAIN VERBOSE and EXPLAIN ANALYZE over protected
/// data are refused (their statistics and row counts describe units). DataFusion's analyzer sees
/// only the plan inside an EXPLAIN, so the engine calls this on every statement.
pub fn check_statement(plan: &datafusion::logical_expr::LogicalPlan) -> Result<(), SuppressionError> {
    rule::refuse_metadata(plan).map_err(|e| match e {
        datafusion::error::DataFusionError::External(inner) => match inner.downcast::<SuppressionError>() {
            Ok(refusal) => *refusal,
            Err(other) => SuppressionError::rejected("guard", other.to_string()),
        },
        other => SuppressionError::rejected("guard", other.to_string()),
    })
}

/// The suppression layer as installed in a session: one secret, one access level, two rules.
#[derive(Debug, Clone)]
pub struct SuppressionLayer {
    keyer: CellKeyer,
    level: AccessLevel,
}

impl SuppressionLayer {
    /// `secret` keys the cell-key perturbation; keep it out of reach of analysts.
    pub fn new(secret: &[u8], level: AccessLevel) -> SuppressionLayer {
        SuppressionLayer { keyer: CellKeyer::new(secret), level }
    }

    /// Runs after DataFusion's type coercion: validates and rewrites aggregates over protected rows.
    pub fn analyzer_rule(&self) -> Arc<dyn AnalyzerRule + Send + Sync> {
        Arc::new(ProtectRule::new(self.keyer.clone(), self.level))
    }

    /// Runs after DataFusion's physical optimizer rules: each protecting aggregation in one stage.
    pub fn single_stage(&self) -> Arc<dyn PhysicalOptimizerRule + Send + Sync> {
        Arc::new(SingleStage)
    }

    /// Runs last among the physical optimizer rules: fails closed on unprotected scans.
    pub fn physical_guard(&self) -> Arc<dyn PhysicalOptimizerRule + Send + Sync> {
        Arc::new(ProtectionGuard)
    }
}
