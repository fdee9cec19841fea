//! The results page: benches/README.md with the summary per scale (geometric means, ratios against
//! the peers, overheads, throughput, memory), the targets of issue 14 checked against the largest
//! scale, a per-query table and SVG charts. Everything on it is computed from the JSON results.

use std::fmt::Write as _;
use std::path::Path;

use crate::ReportArgs;
use crate::charts;
use crate::results::{QueryRun, Results, Throughput};
use crate::suite::BenchResult;

/// The engines and modes on the page, in column order: (mode in the JSON, label).
pub const ENGINES: [(&str, &str); 5] = [
    ("protected", "Zicht"),
    ("unprotected", "Zicht, protection off"),
    ("wire", "Zicht over the wire"),
    ("duckdb", "DuckDB"),
    ("postgres", "PostgreSQL"),
];

/// Which queries a figure is over: the saved theme queries, or the ad-hoc analyst queries of
/// benches/adhoc (run as written, at the untrusted level when protected).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QuerySet {
    Saved,
    Adhoc,
}

impl QuerySet {
    fn holds(self, query: &str) -> bool {
        query.starts_with("adhoc/") == (self == QuerySet::Adhoc)
    }
}

/// Everything measured at one scale.
pub struct ScaleResults {
    pub scale: f64,
    pub zicht: Results,
    pub peers: Option<Results>,
}

impl ScaleResults {
    fn runs(&self) -> impl Iterator<Item = &QueryRun> {
        self.zicht.queries.iter().chain(self.peers.iter().flat_map(|p| p.queries.iter()))
    }

    /// The queries in the order they ran.
    pub fn query_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for run in &self.zicht.queries {
            if !ids.contains(&run.query.as_str()) {
                ids.push(&run.query);
            }
        }
        ids
    }

    pub fn run(&self, query: &str, mode: &str) -> Option<&QueryRun> {
        self.runs().find(|r| r.query == query && r.mode == mode)
    }

    pub fn median(&self, query: &str, mode: &str) -> Option<f64> {
        self.run(query, mode).filter(|r| r.error.is_none()).and_then(QueryRun::median_ms)
    }

    /// The saved queries (`theme/name`) or the ad-hoc ones (`adhoc/name`), in the order they ran.
    pub fn query_set(&self, set: QuerySet) -> Vec<&str> {
        self.query_ids().into_iter().filter(|q| set.holds(q)).collect()
    }

    /// Geometric mean of `numerator / denominator` over the queries of `set` both completed.
    pub fn set_ratio(&self, numerator: &str, denominator: &str, set: QuerySet) -> Option<(f64, usize)> {
        self.ratio_over(numerator, denominator, &self.common_in(&[numerator, denominator], set))
    }

    /// The query of `set` with the largest `numerator / denominator`, and that ratio.
    pub fn worst_ratio(&self, numerator: &str, denominator: &str, set: QuerySet) -> Option<(&str, f64)> {
        self.common_in(&[numerator, denominator], set)
            .into_iter()
            .filter_map(|q| Some((q, self.median(q, numerator)? / self.median(q, denominator)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Modes with at least one result at this scale, in page order.
    pub fn modes(&self) -> Vec<(&'static str, &'static str)> {
        ENGINES.into_iter().filter(|(mode, _)| self.runs().any(|r| r.mode == *mode)).collect()
    }

    /// Queries every given mode completed.
    fn common(&self, modes: &[&str]) -> Vec<&str> {
        self.query_ids().into_iter().filter(|q| modes.iter().all(|m| self.median(q, m).is_some())).collect()
    }

    /// Queries of `set` every given mode completed.
    fn common_in(&self, modes: &[&str], set: QuerySet) -> Vec<&str> {
        self.common(modes).into_iter().filter(|q| set.holds(q)).collect()
    }

    /// Geometric mean of the medians of `mode` over `queries`.
    pub fn geomean(&self, mode: &str, queries: &[&str]) -> Option<f64> {
        let logs: Vec<f64> = queries.iter().map(|q| self.median(q, mode).map(f64::ln)).collect::<Option<_>>()?;
        (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
    }

    /// Geometric mean of the medians of `mode` over every query it completed, and how many.
    pub fn completed_geomean(&self, mode: &str) -> Option<(f64, usize)> {
        let done = self.common(&[mode]);
        Some((self.geomean(mode, &done)?, done.len()))
    }

    /// Geometric mean of `numerator / denominator` over the queries both completed, and how many.
    pub fn ratio(&self, numerator: &str, denominator: &str) -> Option<(f64, usize)> {
        self.ratio_over(numerator, denominator, &self.common(&[numerator, denominator]))
    }

    /// Geometric mean of `numerator / denominator` over `queries`, and how many.
    fn ratio_over(&self, numerator: &str, denominator: &str, queries: &[&str]) -> Option<(f64, usize)> {
        Some((self.geomean(numerator, queries)? / self.geomean(denominator, queries)?, queries.len()))
    }

    fn context_u64(&self, key: &str) -> Option<u64> {
        self.zicht.context.get(key).and_then(serde_json::Value::as_u64)
    }
}

pub fn write(args: &ReportArgs) -> BenchResult<()> {
    let scales = load(&args.results)?;
    if scales.is_empty() {
        return Err(format!("no scale-*.json in {} (run zicht-bench run first)", args.results.display()).into());
    }
    let chart_dir = args.output.parent().unwrap_or(Path::new(".")).join("charts");
    std::fs::create_dir_all(&chart_dir)?;
    let charts = charts::draw_all(&scales, &chart_dir)?;
    // The analysis of the figures is written by hand beside the page and kept across regenerations.
    let analysis_path = args.output.with_file_name("analysis.md");
    let analysis = std::fs::read_to_string(&analysis_path).ok();
    let page = page(&scales, &charts, analysis.as_deref());
    let staging = args.output.with_extension("md.tmp");
    std::fs::write(&staging, page)?;
    std::fs::rename(&staging, &args.output)?;
    eprintln!("wrote {} and {} charts in {}", args.output.display(), charts.len(), chart_dir.display());
    Ok(())
}

/// Every `scale-<s>.json` with its `peers-scale-<s>.json` when there is one, smallest scale first.
fn load(dir: &Path) -> BenchResult<Vec<ScaleResults>> {
    let mut scales = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry?.path();
        let Some(label) = file_scale(&path, "scale-") else { continue };
        let scale: f64 = label.parse().map_err(|_| format!("{}: not a scale", path.display()))?;
        let zicht = read_results(&path)?;
        let peers_path = dir.join(format!("peers-scale-{label}.json"));
        let peers = peers_path.exists().then(|| read_results(&peers_path)).transpose()?;
        scales.push(ScaleResults { scale, zicht, peers });
    }
    scales.sort_by(|a, b| a.scale.total_cmp(&b.scale));
    Ok(scales)
}

fn file_scale(path: &Path, prefix: &str) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    Some(name.strip_prefix(prefix)?.strip_suffix(".json")?.to_string())
}

fn read_results(path: &Path) -> BenchResult<Results> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn page(scales: &[ScaleResults], charts: &[(String, String)], analysis: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Zicht benchmarks: the saved-query suite against DuckDB and PostgreSQL\n");
    let _ = writeln!(
        out,
        "<!-- Generated by `zicht-bench report` from benches/results/*.json; edit benches/src/report.rs, \
         not this file. -->\n"
    );
    let _ = writeln!(out, "{}", intro(scales));
    let largest = scales.last().expect("at least one scale");
    let _ = writeln!(out, "{}", targets(largest));
    if let Some(analysis) = analysis {
        let _ = writeln!(out, "{}\n", analysis.trim_end());
    }
    let _ = writeln!(out, "## Summary per scale\n\n{}", summary(scales));
    for (title, file) in charts {
        let _ = writeln!(out, "![{title}](charts/{file})\n");
    }
    let _ = writeln!(out, "{}", throughput(scales));
    for scale in scales.iter().rev() {
        let _ = writeln!(out, "{}", per_query(scale));
    }
    out
}

fn intro(scales: &[ScaleResults]) -> String {
    let first = &scales[0];
    let cpus = first.context_u64("num_cpus").map_or("?".into(), |n| n.to_string());
    let datafusion = first.zicht.context.get("datafusion_version").and_then(|v| v.as_str()).unwrap_or("?");
    let versions = scales
        .iter()
        .find_map(|s| s.peers.as_ref())
        .and_then(|p| p.context.get("versions"))
        .and_then(|v| v.as_object())
        .map(|v| v.iter().map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?"))).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| "no peers run".into());
    format!(
        "Regenerate everything on this page with one command from a clean checkout: `benches/run.sh` \
         (installs the peers, builds in release mode, generates the data, runs Zicht, DuckDB and \
         PostgreSQL, then `zicht-bench report`). Machine: {cpus} CPUs. Zicht on DataFusion \
         {datafusion}; {versions}.\n\n\
         Each engine answers the {n} saved queries of `queries/` and the {m} ad-hoc analyst queries \
         of `benches/adhoc` (written as a new analyst would, run as written at the untrusted level) \
         on the same generated data (seed 42): \
         Zicht in-process through the suppression layer (**Zicht**, what analysts get), the same \
         without it (**protection off**), Zicht over the PostgreSQL wire protocol on loopback \
         (extended protocol, binary rows, the protected path), DuckDB reading the same Parquet \
         files through views, and PostgreSQL with the data loaded by COPY, indexed on join and \
         filter columns and analysed (benches/peers/peers.py). The peers run the unprotected query \
         text; Zicht's deviation UDFs are given to them as SQL functions. Times are medians of the \
         timed iterations after a warm-up run (how many per scale: the summary table), in \
         milliseconds, for planning, execution and receiving every row. Ratios are geometric means of per-query ratios over the queries \
         both sides completed; a ratio above 1 means Zicht is faster.\n",
        n = first.query_set(QuerySet::Saved).len(),
        m = first.query_set(QuerySet::Adhoc).len(),
    )
}

fn targets(scale: &ScaleResults) -> String {
    let mut out =
        format!("## Targets (issue 14) at scale {}\n\n| target | measured | met |\n|---|---|---|\n", scale.scale);
    let mut row = |target: &str, measured: Option<(f64, String)>, met: &dyn Fn(f64) -> bool| {
        let (cell, verdict) = match measured {
            Some((value, text)) => (text, if met(value) { "yes" } else { "**no**" }),
            None => ("not measured".to_string(), "?"),
        };
        let _ = writeln!(out, "| {target} | {cell} | {verdict} |");
    };
    let times = |r: Option<(f64, usize)>| r.map(|(v, n)| (v, format!("{v:.2}× ({n} queries)")));
    for (set, name) in [(QuerySet::Saved, "saved queries"), (QuerySet::Adhoc, "ad-hoc queries")] {
        let overhead = scale.set_ratio("protected", "unprotected", set);
        row(&format!("protection overhead, {name}: geomean ≤ 1.5×"), times(overhead), &|v| v <= 1.5);
        let worst = scale.worst_ratio("protected", "unprotected", set).map(|(q, r)| (r, format!("{r:.2}× ({q})")));
        row(&format!("protection overhead, {name}: no query above 3×"), worst, &|v| v <= 3.0);
        let duckdb = scale.set_ratio("duckdb", "protected", set);
        row(&format!("protected against DuckDB, {name}: ≥ 0.5×"), times(duckdb), &|v| v >= 0.5);
        let postgres = scale.set_ratio("postgres", "protected", set);
        row(&format!("protected against PostgreSQL, {name}: ≥ 3×"), times(postgres), &|v| v >= 3.0);
    }
    let overhead = |r: Option<(f64, usize)>| r.map(|(v, n)| (v, format!("{:+.1}% ({n} queries)", (v - 1.0) * 100.0)));
    row("wire overhead under 10%", overhead(scale.ratio("wire", "protected")), &|v| v < 1.10);
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let serial = scale.context_u64("peak_rss_bytes").map(|b| (gib(b), format!("{:.2} GiB", gib(b))));
    row("peak memory, one query at a time (the whole serial run): ≤ 2 GiB", serial, &|v| v <= 2.0);
    let concurrent = scale.context_u64("concurrency_peak_rss_bytes").map(|b| (gib(b), format!("{:.2} GiB", gib(b))));
    row("peak memory with 16 concurrent clients: ≤ 8 GiB", concurrent, &|v| v <= 8.0);
    let sixteen = scale.zicht.concurrency.iter().find(|t| t.clients == 16).map(|t| {
        let text = format!("{} errors in {} queries ({:.2} queries/s)", t.errors, t.completed, t.queries_per_second);
        (t.errors as f64, text)
    });
    row("16 concurrent clients: no failed queries", sixteen, &|v| v == 0.0);
    out
}

fn summary(scales: &[ScaleResults]) -> String {
    let mut out = String::from(
        "| scale | iterations | queries | Zicht (geomean ms) | protection off | over the wire | DuckDB | PostgreSQL | \
         DuckDB ÷ Zicht | PostgreSQL ÷ Zicht | DuckDB ÷ Zicht off | PostgreSQL ÷ Zicht off | protection overhead | wire overhead | peak memory |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for scale in scales {
        let all = scale.query_ids();
        let geo = |mode: &str| {
            scale.completed_geomean(mode).map_or("–".into(), |(g, done)| format!("{g:.1} ({done}/{})", all.len()))
        };
        let ratio = |a: &str, b: &str| scale.ratio(a, b).map_or("–".into(), |(r, _)| format!("{r:.2}×"));
        let overhead =
            |a: &str, b: &str| scale.ratio(a, b).map_or("–".into(), |(r, _)| format!("{:+.1}%", (r - 1.0) * 100.0));
        let mib = |b: u64| format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64);
        let memory = match (scale.context_u64("peak_rss_bytes"), scale.context_u64("concurrency_peak_rss_bytes")) {
            (Some(serial), Some(concurrent)) => format!("{} ({} with clients)", mib(serial), mib(concurrent)),
            (Some(serial), None) => mib(serial),
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            scale.scale,
            scale.context_u64("iterations").map_or("?".into(), |n| n.to_string()),
            all.len(),
            geo("protected"),
            geo("unprotected"),
            geo("wire"),
            geo("duckdb"),
            geo("postgres"),
            ratio("duckdb", "protected"),
            ratio("postgres", "protected"),
            ratio("duckdb", "unprotected"),
            ratio("postgres", "unprotected"),
            overhead("protected", "unprotected"),
            overhead("wire", "protected"),
            memory
        );
    }
    out.push_str(
        "\nGeometric means per engine are over the queries that engine completed (count in brackets); \
         ratios and overheads only over the queries both sides completed.\n",
    );
    out
}

fn throughput(scales: &[ScaleResults]) -> String {
    let measured: Vec<(&ScaleResults, &Vec<Throughput>)> =
        scales.iter().filter(|s| !s.zicht.concurrency.is_empty()).map(|s| (s, &s.zicht.concurrency)).collect();
    if measured.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "## Concurrency over the wire\n\nEach client has its own connection and runs the saved queries \
         (protected) in a loop from a different starting query until the time is up; queries in \
         flight then finish and count.\n\n| scale | clients | queries/s | vs 1 client | completed | errors | seconds |\n|---|---|---|---|---|---|---|\n",
    );
    for (scale, levels) in measured {
        let single = levels.iter().find(|t| t.clients == 1).map(|t| t.queries_per_second);
        for t in levels {
            let relative = single.map_or("–".into(), |s| format!("{:.2}×", t.queries_per_second / s));
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {relative} | {} | {} | {:.1} |",
                scale.scale, t.clients, t.queries_per_second, t.completed, t.errors, t.seconds
            );
        }
    }
    out
}

fn per_query(scale: &ScaleResults) -> String {
    let modes = scale.modes();
    let mut out = format!(
        "## Per query at scale {}\n\nMedian milliseconds; rows as Zicht returns them with protection off.\n\n| query | rows |",
        scale.scale
    );
    for (_, label) in &modes {
        let _ = write!(out, " {label} |");
    }
    out.push_str(" DuckDB ÷ Zicht | PostgreSQL ÷ Zicht | protection overhead |\n|---|---|");
    out.push_str(&"---|".repeat(modes.len() + 3));
    out.push('\n');
    let mut errors: Vec<String> = Vec::new();
    for query in scale.query_ids() {
        let rows = scale.run(query, "unprotected").and_then(QueryRun::row_count);
        let _ = write!(out, "| {query} | {} |", rows.map_or("–".into(), |r| r.to_string()));
        for (mode, label) in &modes {
            let cell = match scale.run(query, mode) {
                Some(run) if run.error.is_some() => {
                    errors.push(format!("{label} on {query}: {}", run.error.as_deref().unwrap_or_default()));
                    format!("error [{}]", errors.len())
                }
                Some(run) => {
                    let mismatch = matches!(*mode, "duckdb" | "postgres") && rows.is_some() && run.row_count() != rows;
                    let mark =
                        if mismatch { format!(" ({} rows)", run.row_count().unwrap_or(0)) } else { String::new() };
                    format!("{:.1}{mark}", run.median_ms().unwrap_or(f64::NAN))
                }
                None => "–".into(),
            };
            let _ = write!(out, " {cell} |");
        }
        let ratio = |a: &str, b: &str| match (scale.median(query, a), scale.median(query, b)) {
            (Some(a), Some(b)) => format!("{:.2}×", a / b),
            _ => "–".into(),
        };
        let overhead = match (scale.median(query, "protected"), scale.median(query, "unprotected")) {
            (Some(p), Some(u)) => format!("{:+.0}%", (p / u - 1.0) * 100.0),
            _ => "–".into(),
        };
        let _ = writeln!(out, " {} | {} | {overhead} |", ratio("duckdb", "protected"), ratio("postgres", "protected"));
    }
    if !errors.is_empty() {
        out.push_str("\nErrors:\n\n");
        for (number, error) in errors.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", number + 1, error.replace('|', "\\|"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Iteration;

    fn run(query: &str, mode: &str, times: &[f64]) -> QueryRun {
        let iterations = times.iter().map(|&elapsed_ms| Iteration { elapsed_ms, row_count: 3 }).collect();
        QueryRun { query: query.into(), mode: mode.into(), iterations, error: None }
    }

    fn failed(query: &str, mode: &str) -> QueryRun {
        QueryRun { query: query.into(), mode: mode.into(), iterations: Vec::new(), error: Some("boom".into()) }
    }

    fn scale() -> ScaleResults {
        let zicht = Results {
            context: serde_json::json!({"num_cpus": 2, "iterations": 3, "peak_rss_bytes": 1u64 << 30}),
            queries: vec![
                run("a/one", "protected", &[30.0, 10.0, 20.0]),
                run("a/one", "unprotected", &[10.0, 10.0, 10.0]),
                run("a/two", "protected", &[40.0]),
                run("a/two", "unprotected", &[10.0]),
            ],
            concurrency: Vec::new(),
        };
        let peers = Results {
            context: serde_json::json!({"versions": {"duckdb": "2.0.1"}}),
            queries: vec![run("a/one", "duckdb", &[40.0]), failed("a/two", "duckdb")],
            concurrency: Vec::new(),
        };
        ScaleResults { scale: 1.0, zicht, peers: Some(peers) }
    }

    #[test]
    fn the_median_is_the_middle_iteration() {
        assert_eq!(scale().median("a/one", "protected"), Some(20.0));
    }

    #[test]
    fn ratios_are_geometric_means_over_queries_both_completed() {
        let scale = scale();
        // protected/unprotected: 2x and 4x, geometric mean sqrt(8).
        let (overhead, queries) = scale.ratio("protected", "unprotected").unwrap();
        assert!((overhead - 8f64.sqrt()).abs() < 1e-9);
        assert_eq!(queries, 2);
        // DuckDB failed a/two: the comparison uses a/one only (40 / 20).
        let (versus_duckdb, queries) = scale.ratio("duckdb", "protected").unwrap();
        assert!((versus_duckdb - 2.0).abs() < 1e-9 && queries == 1, "{versus_duckdb} over {queries}");
        assert_eq!(scale.ratio("postgres", "protected"), None);
    }

    #[test]
    fn saved_and_adhoc_queries_are_measured_apart() {
        let mut scale = scale();
        scale.zicht.queries.push(run("adhoc/three", "protected", &[100.0]));
        scale.zicht.queries.push(run("adhoc/three", "unprotected", &[10.0]));
        assert_eq!(scale.query_set(QuerySet::Saved), vec!["a/one", "a/two"]);
        assert_eq!(scale.query_set(QuerySet::Adhoc), vec!["adhoc/three"]);
        let (saved, _) = scale.set_ratio("protected", "unprotected", QuerySet::Saved).unwrap();
        assert!((saved - 8f64.sqrt()).abs() < 1e-9);
        let (adhoc, queries) = scale.set_ratio("protected", "unprotected", QuerySet::Adhoc).unwrap();
        assert!((adhoc - 10.0).abs() < 1e-9 && queries == 1, "{adhoc} over {queries}");
        assert_eq!(scale.worst_ratio("protected", "unprotected", QuerySet::Saved), Some(("a/two", 4.0)));
    }

    #[test]
    fn the_page_reports_targets_errors_and_missing_engines() {
        let page = page(&[scale()], &[], Some("## Why"));
        assert!(page.contains("## Why"));
        let overhead = "| protection overhead, saved queries: geomean ≤ 1.5× | 2.83× (2 queries) | **no** |";
        assert!(page.contains(overhead), "{page}");
        assert!(page.contains("| protection overhead, saved queries: no query above 3× | 4.00× (a/two) | **no** |"));
        assert!(page.contains("| protected against PostgreSQL, saved queries: ≥ 3× | not measured | ? |"), "{page}");
        assert!(page.contains("| peak memory, one query at a time (the whole serial run): ≤ 2 GiB | 1.00 GiB | yes |"));
        assert!(page.contains("error [1]") && page.contains("1. DuckDB on a/two: boom"), "{page}");
    }
}
