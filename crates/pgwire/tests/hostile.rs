//! The hostile-SQL suite: every case of tests/hostile/statements.txt (malformed, edge-case and
//! refused statements, each with the SQLSTATE PostgreSQL 15 gives and the one Zicht should give)
//! sent over the wire, one simple Query each.
//!
//! What must hold for every case: an answer within the statement timeout (no hang, no dropped
//! connection), a refusal wherever the target is 42501 (the read-only warehouse and the
//! suppression layer fail closed), and the server alive afterwards. Where Zicht's answer differs
//! from the target in any other way (XX000 included: an error nobody classified), the case must be
//! listed in tests/hostile/known-differences.txt with the answer Zicht gives; a listed case that
//! starts to match must leave the list. `ZICHT_HOSTILE_TRACE=1` prints each case as it is sent;
//! `ZICHT_HOSTILE_ONLY=text` runs only the cases whose name contains `text` (`a|b`: either).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

mod common;
use common::*;

const STATEMENTS: &str = include_str!("hostile/statements.txt");
const KNOWN_DIFFERENCES: &str = include_str!("hostile/known-differences.txt");
/// The server's statement_timeout for the suite; a case must be answered well within `HANG`.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// A case that must succeed gets time to (a saved query takes seconds in a debug build).
const SUCCESS_TIMEOUT: &str = "SET statement_timeout = '40s'";
const HANG: Duration = Duration::from_secs(60);

struct Case {
    name: String,
    zicht: String,
    sql: String,
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for line in STATEMENTS.lines() {
        if line.starts_with("## ") || line == "##" {
            continue;
        }
        if let Some(header) = line.strip_prefix("# ") {
            let parts: Vec<&str> = header.split(" | ").collect();
            let zicht = parts.iter().find_map(|p| p.strip_prefix("zicht=")).expect("zicht= in every header");
            cases.push(Case { name: parts[0].trim().to_string(), zicht: zicht.trim().to_string(), sql: String::new() });
        } else if let Some(case) = cases.last_mut() {
            case.sql.push_str(line);
            case.sql.push('\n');
        }
    }
    for case in &mut cases {
        case.sql = case.sql.trim().to_string();
    }
    cases
}

/// `name answer` per line: the answer Zicht gives where it differs from the target.
fn known_differences() -> BTreeMap<String, String> {
    KNOWN_DIFFERENCES
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, answer) = line.split_once(char::is_whitespace).expect("name and answer");
            (name.to_string(), answer.trim().to_string())
        })
        .collect()
}

/// Zicht's answer to one case (`ok`, a SQLSTATE, or `hang`/`closed`) and its error message.
async fn answer(client: &Client, sql: &str) -> (String, String) {
    let upper = sql.to_ascii_uppercase();
    if upper.starts_with("COPY") && upper.contains("TO STDOUT") {
        return copy_answer(client, sql).await;
    }
    match tokio::time::timeout(HANG, client.simple_query(sql)).await {
        Err(_) => ("hang".into(), String::new()),
        Ok(Ok(_)) => ("ok".into(), String::new()),
        Ok(Err(error)) => match (error.is_closed(), error.as_db_error()) {
            (false, Some(db)) => (db.code().code().to_string(), db.message().to_string()),
            _ => ("closed".into(), error.to_string()),
        },
    }
}

/// `COPY ... TO STDOUT` through the client's copy protocol (simple_query does not take it).
async fn copy_answer(client: &Client, sql: &str) -> (String, String) {
    use futures::TryStreamExt;
    let copied = async {
        let stream = client.copy_out(sql).await?;
        stream.try_collect::<Vec<_>>().await
    };
    match tokio::time::timeout(HANG, copied).await {
        Err(_) => ("hang".into(), String::new()),
        Ok(Ok(_)) => ("ok".into(), String::new()),
        Ok(Err(error)) => match error.as_db_error() {
            Some(db) => (db.code().code().to_string(), db.message().to_string()),
            None => ("closed".into(), error.to_string()),
        },
    }
}

/// Whether an answer meets a target (`ok`, `error`: any error but XX000, or an exact code).
fn meets(target: &str, answer: &str) -> bool {
    match target {
        "error" => !matches!(answer, "ok" | "XX000" | "hang" | "closed"),
        exact => answer == exact,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_statements_get_an_answer_and_the_server_lives() {
    let server = TestServer::start(|config| config.statement_timeout = Some(STATEMENT_TIMEOUT)).await;
    let known = known_differences();
    let cases = cases();
    assert!(cases.len() >= 200, "{} cases", cases.len());
    let all_cases = cases.len();
    let mut client = server.connect().await.unwrap();
    let mut failures = Vec::new();
    let mut differences = BTreeMap::new();
    let started = Instant::now();
    let trace = std::env::var_os("ZICHT_HOSTILE_TRACE").is_some();
    let only = std::env::var("ZICHT_HOSTILE_ONLY").ok();
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|o| o.split('|').any(|part| c.name.contains(part))))
        .collect();
    for case in &cases {
        if trace {
            eprintln!("case {}", case.name);
        }
        if case.zicht == "ok" {
            client.batch_execute(SUCCESS_TIMEOUT).await.unwrap();
        }
        let (answer, message) = answer(&client, &case.sql).await;
        if client.is_closed() || matches!(answer.as_str(), "hang" | "closed") {
            client = server.connect().await.expect("the server lives after a hostile statement");
        }
        // Each case starts afresh: no transaction (aborted or open) and no setting carries over.
        let _ = client.batch_execute("ROLLBACK").await;
        let _ = client.batch_execute("DISCARD ALL").await;
        if matches!(answer.as_str(), "hang" | "closed") {
            failures.push(format!("{}: {answer} (target {}) {message}", case.name, case.zicht));
        } else if case.zicht == "42501" && answer == "ok" {
            failures.push(format!("{}: answered, but must be refused (42501)", case.name));
        } else if !meets(&case.zicht, &answer) {
            differences.insert(case.name.clone(), (answer, message));
        }
    }
    for (name, (answer, message)) in &differences {
        match known.get(name) {
            None => failures.push(format!("{name}: {answer}, not the target and not a known difference: {message}")),
            Some(listed) if listed != answer => {
                failures.push(format!("{name}: {answer}, listed as {listed}: {message}"))
            }
            Some(_) => {}
        }
    }
    let complete = cases.len() == all_cases;
    for name in known.keys().filter(|name| complete && !differences.contains_key(*name)) {
        failures.push(format!("{name}: listed as a known difference, but meets its target now"));
    }
    println!(
        "{} hostile statements in {:.1} s: {} meet their target, {} known differences",
        cases.len(),
        started.elapsed().as_secs_f64(),
        cases.len() - differences.len(),
        differences.len()
    );
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    let alive = server.connect().await.unwrap();
    assert_eq!(alive.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0), 1);
    server.stop().await;
}
