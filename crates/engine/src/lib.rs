//! The embeddable Zicht query engine.
//!
//! Open a [catalog](zicht_catalog::Catalog) and a data directory, get an [`Engine`]; every
//! connection or caller gets its own [`Session`] (its own settings and [`AccessLevel`]: untrusted
//! unless the caller says otherwise), runs SQL and streams Arrow record batches. The engine holds no runtime, reads no environment and parses no command line:
//! call it from inside your own tokio runtime, like one embeds DuckDB.
//!
//! Every result leaves the engine as [`Released`], which only the protected path constructs: the
//! suppression layer (`zicht-suppress`) is installed in the one place session state is built
//! ([`Engine::open`]), its analyzer rule rewrites every aggregate over protected rows into a
//! protecting aggregate, and its guard verifies each physical plan before it runs.
//!
//! At most [`EngineOptions::max_concurrent_queries`] queries over protected data compute at once
//! (twice the cores by default); the others wait their turn when their result is first polled,
//! and a query gives its slot back with its first rows. Poll a result to its first batch before
//! waiting on another of the same engine.
//!
//! ```no_run
//! # async fn demo() -> Result<(), zicht_engine::EngineError> {
//! use futures::TryStreamExt;
//! use zicht_engine::{Engine, EngineOptions};
//!
//! let options = EngineOptions::new(zicht_catalog::Catalog::embedded()?, "/var/lib/zicht/data")
//!     .with_secret_key("a long random secret from your configuration");
//! let engine = Engine::open(options).await?;
//! let session = engine.session("analist");
//! let batches: Vec<_> = session
//!     .sql("SELECT gm_code, count(*) AS personen FROM basis.persoon JOIN regio.buurt USING (bu_code) GROUP BY gm_code")
//!     .await?
//!     .try_collect()
//!     .await?;
//! # Ok(()) }
//! ```

mod admission;
mod audit;
mod boolean_literals;
mod bounded_strings;
mod budget;
mod checked_arithmetic;
mod checked_constants;
pub mod cluster;
mod engine;
mod error;
mod information_schema;
mod integer_results;
pub mod limits;
mod options;
mod released;
mod scalar_subqueries;
pub mod secret;
mod session;
mod subquery_value;
mod views;

pub use admission::default_concurrent_queries;
pub use audit::{AuditEvent, AuditSink, JsonLinesAudit, Outcome, fingerprint, restore_budget};
pub use budget::{BudgetPolicy, QueryBudget};
pub use engine::{Engine, default_memory_limit};
pub use error::{EngineError, Result};
pub use information_schema::name_parts;
pub use limits::StatementLimits;
pub use options::{EngineOptions, ProtectionMode};
pub use released::{Released, StopReason};
pub use session::{Session, refuse_writing_statements};
pub use views::SavedView;
pub use zicht_suppress::AccessLevel;

/// Re-exported so embedders use the same DataFusion and Arrow versions as the engine.
pub use datafusion;
