//! Zicht's PostgreSQL wire-protocol server, on pgwire.
//!
//! Analysts reach the warehouse through psql and their BI tools; this crate makes the engine look
//! like PostgreSQL 16 to them: simple and extended query protocol, prepared statements, portals,
//! cursors, `COPY ... TO STDOUT`, `SET`/`SHOW`, transactions, a `pg_catalog`. Each connection gets
//! its own engine [`Session`](zicht_engine::Session), so every result passes the suppression layer
//! and one client's settings never touch another's.
//!
//! Security and robustness: SCRAM-SHA-256 against stored verifiers ([`scram`]), TLS that fails
//! closed when required, a connection limit (53300), a login deadline, per-statement cancel and
//! `statement_timeout` over planning and execution (57014), and graceful shutdown that tells every
//! client why (57P01, 57P03; [`Server::run`]). Every message is checked before pgwire decodes it
//! ([`frames`]): a malformed one gets FATAL 08P01 and closes only its own connection. Statements
//! are parsed and planned within the engine's `StatementLimits`. Errors carry the engine's
//! SQLSTATE or the protocol's ([`error`]).
//!
//! ```no_run
//! # async fn demo(engine: zicht_engine::Engine) -> Result<(), zicht_pgwire::ServeError> {
//! let server = zicht_pgwire::Server::bind(engine, zicht_pgwire::ServerConfig::default()).await?;
//! server.run(async { tokio::signal::ctrl_c().await.ok(); }).await;
//! # Ok(()) }
//! ```

mod any_lookups;
mod backends;
mod catalog;
mod command;
mod compat;
pub mod config;
mod connection;
mod connection_tables;
mod conversation;
mod copy;
mod domain_bases;
pub mod error;
mod execute;
mod format;
pub mod frames;
mod handler;
mod json_build_object;
mod names;
mod oid_arrays;
mod parameters;
mod pg_catalog_schema;
mod pg_description;
mod pg_proc;
mod pg_regproc;
mod pg_roles;
mod pg_settings;
mod pg_stat_activity;
mod pg_vectors;
mod privileges;
mod reg_cast;
mod running;
pub mod scram;
mod server;
mod settings;
mod sizes;
mod startup;
mod table_oids;
mod type_names;

pub use catalog::version_string;
pub use config::{ServerConfig, TlsConfig, UserConfig};
pub use server::{ServeError, Server};
pub use startup::DATABASE;
