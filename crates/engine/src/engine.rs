//! Opening an engine: session state built in one place, every catalog table registered.

use std::sync::Arc;

use datafusion::catalog::{MemorySchemaProvider, TableProvider};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use zicht_catalog::{Catalog, TableDef};
use zicht_suppress::{AccessLevel, SuppressionLayer};

use crate::admission::{Admission, default_concurrent_queries};
use crate::boolean_literals::BooleanLiterals;
use crate::budget::QueryBudget;
use crate::checked_arithmetic::CheckedArithmetic;
use crate::checked_constants::CheckedConstants;
use crate::error::{EngineError, Result};
use crate::options::{EngineOptions, ProtectionMode};
use crate::scalar_subqueries::ScalarSubqueries;
use crate::session::{Session, Shared};
use crate::views::SavedView;

/// The name clients see as the database (PostgreSQL's current_database()).
pub(crate) const CATALOG_NAME: &str = "zicht";

/// An open warehouse. Cheap to share; hand each caller its own [`Session`].
#[derive(Clone)]
pub struct Engine {
    /// Session state per access level: the same tables and functions, each with the suppression
    /// layer of its level (the same state twice when unprotected).
    untrusted: SessionState,
    trusted: SessionState,
    catalog: Arc<Catalog>,
    saved_views: Arc<Vec<SavedView>>,
    budget: Arc<QueryBudget>,
    shared: Shared,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("tables", &self.catalog.tables.len())
            .field("protected", &self.shared.protected)
            .finish()
    }
}

impl Engine {
    /// Opens the catalog's tables in `options.data_dir`, checking that every source exists and has
    /// the catalog's columns. A protected engine needs a secret key ([`EngineOptions::with_secret_key`]).
    pub async fn open(options: EngineOptions) -> Result<Engine> {
        check_data_dir(&options)?;
        let protected = options.protection == ProtectionMode::Protected;
        let secret = match (&options.protection, &options.secret_key) {
            (ProtectionMode::Protected, Some(secret)) => Some(secret.clone()),
            (ProtectionMode::Protected, None) => return Err(EngineError::NoSecret),
            (ProtectionMode::UnprotectedForTestsAndBenchmarksOnly, _) => None,
        };
        let ctx = SessionContext::new_with_state(build_state(&options)?);
        // Added to DataFusion's built-ins (the builder's with_*_functions would replace them).
        zicht_udf::register(&ctx);
        crate::bounded_strings::register(&ctx);
        let zicht = ctx.catalog(CATALOG_NAME).ok_or_else(|| EngineError::Data {
            dir: options.data_dir.display().to_string(),
            message: "the session has no zicht catalog".into(),
        })?;
        for schema in options.catalog.schemas() {
            zicht.register_schema(schema, Arc::new(MemorySchemaProvider::new())).map_err(EngineError::from_planning)?;
        }
        for table in &options.catalog.tables {
            let provider = open_table(&ctx, &options, table).await?;
            let schema = zicht.schema(&table.schema).expect("registered above");
            schema.register_table(table.name.clone(), provider).map_err(EngineError::from_planning)?;
        }
        let base = match &options.cluster {
            Some(cluster) => crate::cluster::coordinate(ctx.state(), cluster).map_err(EngineError::from_planning)?,
            None => ctx.state(),
        };
        let (untrusted, trusted) = match &secret {
            Some(secret) => {
                (protect(&base, secret, AccessLevel::Untrusted), protect(&base, secret, AccessLevel::Trusted))
            }
            None => {
                let unprotected =
                    SessionStateBuilder::new_from_existing(base).with_analyzer_rule(Arc::new(ScalarSubqueries)).build();
                (unprotected.clone(), unprotected)
            }
        };
        let saved_views = crate::views::register(&trusted, zicht.as_ref(), options.saved_queries).await?;
        Ok(Engine {
            untrusted,
            trusted,
            catalog: Arc::new(options.catalog),
            saved_views: Arc::new(saved_views),
            budget: Arc::new(QueryBudget::new(options.budget)),
            shared: Shared {
                protected,
                audit: options.audit,
                limits: options.limits,
                admission: Admission::new(options.max_concurrent_queries.unwrap_or_else(default_concurrent_queries)),
            },
        })
    }

    /// A new session for `user` at the untrusted level, with its own settings, sharing the
    /// engine's tables and memory. Untrusted is the default everywhere; see [`Engine::session_at`].
    pub fn session(&self, user: &str) -> Session {
        self.session_at(user, AccessLevel::Untrusted)
    }

    /// A new session for `user` at `level`. Only the embedding program or the server configuration
    /// decides that a user is trusted; an analyst never can.
    pub fn session_at(&self, user: &str, level: AccessLevel) -> Session {
        let state = match level {
            AccessLevel::Untrusted => &self.untrusted,
            AccessLevel::Trusted => &self.trusted,
        };
        let state = SessionStateBuilder::new_from_existing(state.clone())
            .with_session_id(format!("{user}-{}", next_session_number()))
            .build();
        let budget = (self.shared.protected && level == AccessLevel::Untrusted).then(|| Arc::clone(&self.budget));
        let context = SessionContext::new_with_state(state);
        Session::new(context, user, level, budget, self.shared.clone())
    }

    /// Lets a front end add what its clients need (a `pg_catalog` schema, compatibility functions)
    /// to every future session. The suppression layer stays installed: it is part of the states
    /// being extended, and tables added here are public metadata, never microdata.
    pub fn extend(mut self, install: impl Fn(&SessionContext) -> datafusion::error::Result<()>) -> Result<Engine> {
        for state in [&mut self.untrusted, &mut self.trusted] {
            let ctx = SessionContext::new_with_state(state.clone());
            install(&ctx).map_err(EngineError::from_planning)?;
            *state = ctx.state();
        }
        Ok(self)
    }

    /// The query budget of untrusted users, for restoring it from an audit log.
    pub fn budget(&self) -> &QueryBudget {
        &self.budget
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The saved theme queries this engine serves as views.
    pub fn saved_views(&self) -> &[SavedView] {
        &self.saved_views
    }

    /// False only for [`ProtectionMode::UnprotectedForTestsAndBenchmarksOnly`].
    pub fn is_protected(&self) -> bool {
        self.shared.protected
    }
}

fn next_session_number() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn check_data_dir(options: &EngineOptions) -> Result<()> {
    let dir = options.data_dir.display().to_string();
    if !options.data_dir.is_dir() {
        return Err(EngineError::Data { dir, message: "not a directory".into() });
    }
    let missing = options.catalog.missing_sources(&options.data_dir);
    if !missing.is_empty() {
        let list = missing.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ");
        return Err(EngineError::Data { dir, message: format!("missing data: {list} (run `zicht gen`)") });
    }
    Ok(())
}

/// The one place session state is built: configuration and functions; the suppression layer is
/// added per access level by [`protect`].
fn build_state(options: &EngineOptions) -> Result<SessionState> {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(CATALOG_NAME, "public")
        .with_create_default_catalog_and_schema(true)
        .with_information_schema(true);
    if let Some(partitions) = options.target_partitions {
        config = config.with_target_partitions(partitions);
    }
    if let Some(batch_size) = options.batch_size {
        config = config.with_batch_size(batch_size);
    }
    let limit = options.memory_limit.unwrap_or_else(default_memory_limit);
    let runtime = RuntimeEnvBuilder::new().with_memory_limit(limit, 1.0);
    let runtime = runtime.build_arc().map_err(EngineError::from_planning)?;
    let state =
        SessionStateBuilder::new().with_config(config).with_runtime_env(runtime).with_default_features().build();
    // After the default analyzer rules (a fresh builder's first rule would replace them).
    let mut state =
        SessionStateBuilder::new_from_existing(state).with_analyzer_rule(Arc::new(CheckedConstants)).build();
    datafusion::execution::FunctionRegistry::register_expr_planner(&mut state, Arc::new(BooleanLiterals))
        .map_err(EngineError::from_planning)?;
    Ok(state)
}

/// Half the machine's memory (`MemTotal` of /proc/meminfo), or 4 GiB where that cannot be read:
/// what sorts, joins and aggregates may take when nothing else is configured, so that one query
/// gets a clear "out of memory" (SQLSTATE 53200) instead of the process being killed.
pub fn default_memory_limit() -> usize {
    const FALLBACK: usize = 4 << 30;
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    total.map_or(FALLBACK, |bytes| bytes / 2)
}

/// `base` with the suppression layer of `level`: its analyzer rule after type coercion, its guard
/// after every other physical optimizer rule. Integer arithmetic of plans that read no protected
/// table is checked first, while it is still in the planner's projections and filters (DataFusion
/// then moves projections into the scans).
fn protect(base: &SessionState, secret: &str, level: AccessLevel) -> SessionState {
    let layer = SuppressionLayer::new(secret.as_bytes(), level);
    let mut physical_rules = base.physical_optimizers().to_vec();
    physical_rules.insert(0, Arc::new(CheckedArithmetic));
    SessionStateBuilder::new_from_existing(base.clone())
        .with_analyzer_rule(layer.analyzer_rule())
        // After the layer's rule, which refuses subqueries that select protected rows.
        .with_analyzer_rule(Arc::new(ScalarSubqueries))
        .with_physical_optimizer_rules(physical_rules)
        .with_physical_optimizer_rule(layer.single_stage())
        .with_physical_optimizer_rule(layer.physical_guard())
        .build()
}

async fn open_table(ctx: &SessionContext, options: &EngineOptions, table: &TableDef) -> Result<Arc<dyn TableProvider>> {
    let data_error = |message: String| EngineError::Data { dir: options.data_dir.display().to_string(), message };
    let path = options.data_dir.join(&table.source);
    let path = path.canonicalize().map_err(|e| data_error(format!("{}: {e}", path.display())))?;
    let url = ListingTableUrl::parse(path.to_string_lossy()).map_err(|e| data_error(e.to_string()))?;
    let listing = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let found =
        listing.infer_schema(&ctx.state(), &url).await.map_err(|e| data_error(format!("{}: {e}", table.source)))?;
    let expected = scan_schema(table);
    for field in expected.fields() {
        match found.field_with_name(field.name()) {
            Ok(actual) if actual.data_type() == field.data_type() => {}
            Ok(actual) => {
                return Err(data_error(format!(
                    "{}: column {} is {} in the data but {} in the catalog ({})",
                    table.source,
                    field.name(),
                    actual.data_type(),
                    field.data_type(),
                    table.file
                )));
            }
            Err(_) => {
                return Err(data_error(format!(
                    "{}: column {} of {} is missing",
                    table.source,
                    field.name(),
                    table.file
                )));
            }
        }
    }
    let config = ListingTableConfig::new(url).with_listing_options(listing).with_schema(expected);
    let listing_table: Arc<dyn TableProvider> =
        Arc::new(ListingTable::try_new(config).map_err(EngineError::from_planning)?);
    Ok(Arc::new(zicht_suppress::CatalogTable::new(listing_table, Arc::new(table.clone()))))
}

/// The catalog schema as DataFusion scans it: Parquet strings are read as `Utf8View`, so the table
/// exposes them that way rather than casting every batch.
fn scan_schema(table: &TableDef) -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let schema = table.arrow_schema();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Utf8View),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}
