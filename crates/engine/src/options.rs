//! How an engine is opened.

use std::path::PathBuf;
use std::sync::Arc;

use crate::audit::AuditSink;
use crate::budget::BudgetPolicy;
use crate::cluster::ClusterOptions;
use crate::limits::StatementLimits;

use zicht_catalog::{Catalog, SavedQuery};

/// Whether the suppression layer is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtectionMode {
    /// Every result passes the suppression layer. The only mode a server or CLI offers.
    Protected,
    /// Raw microdata leave the engine. For in-process tests and benchmarks that measure the cost of
    /// protection; never reachable from the wire or the CLI.
    UnprotectedForTestsAndBenchmarksOnly,
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub catalog: Catalog,
    pub data_dir: PathBuf,
    pub protection: ProtectionMode,
    /// The secret of the cell-key perturbation. There is no built-in default: anyone who knows
    /// the secret can strip the noise, so an engine without one does not open.
    pub secret_key: Option<String>,
    /// Parallelism of query execution; defaults to the number of cores.
    pub target_partitions: Option<usize>,
    /// Upper bound of memory for query execution (sorts, joins, aggregates, the protecting
    /// aggregations' tallies), in bytes; half the machine's memory when unset
    /// ([`crate::default_memory_limit`]).
    pub memory_limit: Option<usize>,
    /// How many queries over protected data compute at once; the others wait their turn
    /// (statement_timeout and cancel cover the wait). Twice the cores when unset
    /// ([`crate::default_concurrent_queries`]); see `crate::admission` for why.
    pub max_concurrent_queries: Option<usize>,
    /// Batch size of execution; DataFusion's default when unset.
    pub batch_size: Option<usize>,
    /// Where each statement's audit record goes; none by default.
    pub audit: Option<Arc<dyn AuditSink>>,
    /// Saved theme queries, served as views `<theme>.<name>`; none by default.
    pub saved_queries: Vec<SavedQuery>,
    /// How many distinct questions an untrusted user may ask of one protected table per period.
    pub budget: BudgetPolicy,
    /// How long and how deep one statement may be.
    pub limits: StatementLimits,
    /// Workers that run queries over protected data; none by default (everything runs in this
    /// process). See [`crate::cluster`].
    pub cluster: Option<ClusterOptions>,
}

impl EngineOptions {
    pub fn new(catalog: Catalog, data_dir: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            catalog,
            data_dir: data_dir.into(),
            protection: ProtectionMode::Protected,
            secret_key: None,
            target_partitions: None,
            memory_limit: None,
            max_concurrent_queries: None,
            batch_size: None,
            audit: None,
            saved_queries: Vec::new(),
            budget: BudgetPolicy::default(),
            limits: StatementLimits::default(),
            cluster: None,
        }
    }

    /// The secret of the cell-key perturbation. Anyone who knows it can strip the noise from
    /// released values, so a deployment sets its own and keeps it out of the repository (see
    /// [`crate::secret::load_or_create`] for a key file made on first use).
    pub fn with_secret_key(mut self, secret_key: impl Into<String>) -> EngineOptions {
        self.secret_key = Some(secret_key.into());
        self
    }

    /// See [`ProtectionMode::UnprotectedForTestsAndBenchmarksOnly`].
    pub fn unprotected_for_tests_and_benchmarks_only(mut self) -> EngineOptions {
        self.protection = ProtectionMode::UnprotectedForTestsAndBenchmarksOnly;
        self
    }

    pub fn with_target_partitions(mut self, partitions: usize) -> EngineOptions {
        self.target_partitions = Some(partitions.max(1));
        self
    }

    pub fn with_audit(mut self, sink: Arc<dyn AuditSink>) -> EngineOptions {
        self.audit = Some(sink);
        self
    }

    /// Serves each saved query as the view `<theme>.<name>` (see [`zicht_catalog::queries`]).
    pub fn with_saved_queries(mut self, queries: Vec<SavedQuery>) -> EngineOptions {
        self.saved_queries = queries;
        self
    }

    pub fn with_memory_limit(mut self, bytes: usize) -> EngineOptions {
        self.memory_limit = Some(bytes);
        self
    }

    /// See [`EngineOptions::max_concurrent_queries`]; 0 counts as 1.
    pub fn with_max_concurrent_queries(mut self, queries: usize) -> EngineOptions {
        self.max_concurrent_queries = Some(queries);
        self
    }

    pub fn with_budget(mut self, budget: BudgetPolicy) -> EngineOptions {
        self.budget = budget;
        self
    }

    /// Makes this engine the coordinator of `cluster`.
    pub fn with_cluster(mut self, cluster: ClusterOptions) -> EngineOptions {
        self.cluster = Some(cluster);
        self
    }

    pub fn with_limits(mut self, limits: StatementLimits) -> EngineOptions {
        self.limits = limits;
        self
    }
}
