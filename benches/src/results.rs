//! The JSON results of a run, written by `zicht-bench run` and by benches/peers/peers.py (same
//! shape, `mode` naming the engine), read back by `zicht-bench report`.

use serde::{Deserialize, Serialize};

/// One results file: `scale-<s>.json` (Zicht) or `peers-scale-<s>.json` (DuckDB, PostgreSQL).
#[derive(Serialize, Deserialize)]
pub struct Results {
    /// Versions, CPU count, scale, seed, iterations, peak memory: free-form per writer.
    pub context: serde_json::Value,
    pub queries: Vec<QueryRun>,
    /// Throughput over the wire with 1, 4, 16 clients (Zicht's file only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concurrency: Vec<Throughput>,
}

/// Every timed iteration of one saved query in one mode, or the error that stopped it.
#[derive(Serialize, Deserialize)]
pub struct QueryRun {
    /// `theme/name`.
    pub query: String,
    /// protected, unprotected, wire (Zicht); duckdb, postgres (peers).
    pub mode: String,
    pub iterations: Vec<Iteration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct Iteration {
    pub elapsed_ms: f64,
    pub row_count: usize,
}

/// Saved queries completed per second by `clients` concurrent wire connections.
#[derive(Serialize, Deserialize, Clone)]
pub struct Throughput {
    pub clients: usize,
    /// Wall time from the first query sent to the last answer received.
    pub seconds: f64,
    pub completed: usize,
    pub errors: usize,
    pub queries_per_second: f64,
}

impl QueryRun {
    /// The median iteration time; None when the query failed.
    pub fn median_ms(&self) -> Option<f64> {
        let mut times: Vec<f64> = self.iterations.iter().map(|i| i.elapsed_ms).collect();
        times.sort_by(f64::total_cmp);
        times.get(times.len() / 2).copied()
    }

    pub fn row_count(&self) -> Option<usize> {
        self.iterations.first().map(|i| i.row_count)
    }
}
