//! The benchmark program end to end at the smallest scale: one saved query in every mode, a
//! concurrency level, then the results page with its charts.

use std::path::Path;
use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_zicht-bench")).args(args).output().expect("zicht-bench runs");
    assert!(output.status.success(), "zicht-bench {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn runs_the_suite_and_writes_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let results = format!("{root}/results");
    bench(&[
        "run",
        "--scale",
        "0.01",
        "--iterations",
        "2",
        "--filter",
        "drugs/hennep_risico",
        "--mode",
        "protected",
        "--mode",
        "unprotected",
        "--mode",
        "wire",
        "--clients",
        "2",
        "--concurrency-seconds",
        "0.5",
        "--data-root",
        root,
        "--output",
        &results,
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{results}/scale-0.01.json")).unwrap()).unwrap();
    let runs = json["queries"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "one query in three modes: {json}");
    for run in runs {
        assert!(run.get("error").is_none(), "{run}");
        assert_eq!(run["iterations"].as_array().unwrap().len(), 2);
        assert!(run["iterations"][0]["row_count"].as_u64().unwrap() > 0);
    }
    assert_eq!(json["concurrency"][0]["clients"], 2);
    assert!(json["concurrency"][0]["completed"].as_u64().unwrap() > 0);
    assert!(json["context"]["peak_rss_bytes"].as_u64().unwrap() > 0);

    let page = format!("{root}/README.md");
    bench(&["report", "--results", &results, "--output", &page]);
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(text.contains("## Targets (issue 14) at scale 0.01"), "{text}");
    assert!(text.contains("| drugs/hennep_risico | 342 |"), "{text}");
    for chart in ["geomean.svg", "queries-scale-0.01.svg", "concurrency.svg"] {
        let svg = std::fs::read_to_string(Path::new(root).join("charts").join(chart)).unwrap();
        assert!(svg.starts_with("<svg"), "{chart}");
    }
}

#[test]
fn a_missing_results_directory_is_one_line_and_a_non_zero_exit() {
    let output = Command::new(env!("CARGO_BIN_EXE_zicht-bench"))
        .args(["report", "--results", "/nonexistent/zicht-results"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: /nonexistent/zicht-results"), "{stderr}");
}
