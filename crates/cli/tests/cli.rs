//! The zicht command as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

fn zicht(args: &[&str], data_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zicht"))
        .args(args)
        .env("XDG_DATA_HOME", data_home)
        .env_remove("ZICHT_DATA_DIR")
        .env_remove("ZICHT_CATALOG_DIR")
        .env_remove("ZICHT_SECRET_KEY")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_default_dataset_is_generated_on_first_use_and_answers() {
    let home = tempfile::tempdir().unwrap();
    let first = zicht(&["query", "SELECT count(*) AS n FROM regio.buurt"], home.path());
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains("14574"), "{}", text(&first.stdout));
    assert!(text(&first.stderr).contains("generating the default dataset"), "{}", text(&first.stderr));
    let second = zicht(&["query", "--format", "csv", "SELECT count(*) AS n FROM regio.gemeente"], home.path());
    assert!(second.status.success());
    assert_eq!(text(&second.stdout), "n\n342\n");
    assert!(!text(&second.stderr).contains("generating"), "generated once");

    let json = zicht(
        &["query", "--format", "json", "SELECT gm_code FROM regio.gemeente WHERE gm_code = 'GM0917'"],
        home.path(),
    );
    assert_eq!(text(&json.stdout).trim(), r#"{"gm_code":"GM0917"}"#);

    let refused = zicht(&["query", "SELECT * FROM basis.persoon"], home.path());
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("SQLSTATE 42501") && stderr.contains("rule: row-level"), "{stderr}");

    let syntax = zicht(&["query", "SELEC 1"], home.path());
    assert_eq!(syntax.status.code(), Some(1));
    assert!(text(&syntax.stderr).contains("42601"), "{}", text(&syntax.stderr));

    let missing = zicht(&["query", "SELECT * FROM regio.bestaat_niet"], home.path());
    assert!(text(&missing.stderr).contains("42P01"), "{}", text(&missing.stderr));

    // Saved theme queries: listed, and run through their views, limited to one gemeente.
    let list = zicht(&["queries", "list", "--format", "csv"], home.path());
    assert!(list.status.success(), "{}", text(&list.stderr));
    let list = text(&list.stdout);
    assert!(list.starts_with("query,title,unit,granularity,years,deviation\n"), "{list}");
    assert!(list.lines().count() > 30 && list.contains("\nvastgoed/doorsluiswoningen,"), "{list}");
    let run = zicht(&["run", "drugs/verdachten_inwoners", "--gemeente", "GM0363", "--format", "csv"], home.path());
    assert!(run.status.success(), "{}", text(&run.stderr));
    let rows: Vec<String> = text(&run.stdout).lines().map(str::to_string).collect();
    assert!(rows[0].starts_with("gm_code,gm_naam,") && rows[0].ends_with(",klasse"), "{rows:?}");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[1].starts_with("GM0363,Amsterdam,"), "{rows:?}");
    let unknown = zicht(&["run", "drugs/bestaat_niet"], home.path());
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no saved query drugs/bestaat_niet"), "{}", text(&unknown.stderr));
    let injected = zicht(&["run", "drugs/verdachten_inwoners", "--gemeente", "GM0363' OR '1'='1"], home.path());
    assert_eq!(injected.status.code(), Some(1));
}

/// An analyst's own indicator, written as queries/README.md shows, is shown and run like a saved one.
#[test]
fn a_new_indicator_from_the_queries_readme_is_shown_and_runs() {
    let show = zicht(&["queries", "show", "drugs/verdachten_inwoners"], Path::new("/nonexistent"));
    assert!(show.status.success(), "{}", text(&show.stderr));
    let shown = text(&show.stdout);
    assert!(shown.starts_with("# queries/drugs/verdachten_inwoners.toml\n"), "{shown}");
    assert!(shown.contains("\n[teller]\n") && shown.contains("\n-- the SQL it runs\nWITH teller AS ("), "{shown}");
    // --sql: only the SQL, as the benchmark hands it to DuckDB and PostgreSQL.
    let sql = zicht(&["queries", "show", "--sql", "drugs/verdachten_inwoners"], Path::new("/nonexistent"));
    assert!(sql.status.success(), "{}", text(&sql.stderr));
    let sql = text(&sql.stdout);
    assert!(sql.starts_with("WITH teller AS (") && sql.ends_with(";\n"), "{sql}");
    assert!(shown.ends_with(&sql), "the SQL shown with the definition: {sql}");

    let home = tempfile::tempdir().unwrap();
    let readme = include_str!("../../../queries/README.md");
    let example = readme.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
    let queries = home.path().join("my-queries");
    std::fs::create_dir_all(queries.join("jongeren")).unwrap();
    std::fs::write(queries.join("jongeren/geen_inkomen.toml"), example).unwrap();
    let queries = queries.to_str().unwrap();
    let run = zicht(&["run", "jongeren/geen_inkomen", "--queries", queries, "--format", "csv"], home.path());
    assert!(run.status.success(), "{}", text(&run.stderr));
    let output = text(&run.stdout);
    let header = "gm_code,gm_naam,jongeren_geen_inkomen,jongeren,aandeel_geen_inkomen,nl_aandeel_geen_inkomen,\
                  verwacht,index,wilson_onder,wilson_boven,z,klasse";
    assert_eq!(output.lines().next(), Some(header), "{output}");
    assert!(output.lines().count() > 300, "every gemeente with jongeren is a row: {output}");

    std::fs::write(
        home.path().join("my-queries/jongeren/geen_inkomen.toml"),
        example.replace("score = \"share\"", "score = \"share\"\nper = 100"),
    )
    .unwrap();
    let broken = zicht(&["queries", "show", "jongeren/geen_inkomen", "--queries", queries], home.path());
    assert_eq!(broken.status.code(), Some(1));
    let stderr = text(&broken.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("queries/jongeren/geen_inkomen.toml: per belongs to a rate"), "{stderr}");
}

#[test]
fn gen_writes_a_dataset_that_query_and_catalog_check_accept() {
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("data");
    let out = out.to_str().unwrap();
    let generated = zicht(&["gen", "--scale", "0.01", "--seed", "3", "--out", out], home.path());
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    assert!(text(&generated.stdout).contains("inwoners"), "the calibration report is printed");
    let check = zicht(&["catalog", "check", "--data", out], home.path());
    assert!(check.status.success(), "{}", text(&check.stderr));
    let count =
        zicht(&["query", "--data", out, "--format", "csv", "SELECT count(*) % 5 AS r FROM basis.persoon"], home.path());
    assert_eq!(text(&count.stdout), "r\n0\n", "{}", text(&count.stderr));
    let bad = zicht(&["gen", "--scale", "0", "--out", out], home.path());
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(text(&bad.stderr).lines().count(), 1);
}

#[test]
fn catalog_list_and_check_report_problems_in_one_line() {
    let home = tempfile::tempdir().unwrap();
    let list = zicht(&["catalog", "list", "--columns"], home.path());
    let stdout = text(&list.stdout);
    assert!(stdout.contains("basis.persoon") && stdout.contains("protected (persoon=persoon_id"), "{stdout}");
    assert!(stdout.contains("regio.buurt") && stdout.contains("public"));
    let broken = home.path().join("catalog");
    std::fs::create_dir_all(broken.join("regio")).unwrap();
    std::fs::write(broken.join("warehouse.toml"), "name = \"x\"\n").unwrap();
    std::fs::write(broken.join("regio/buurt.toml"), "description = 1\n").unwrap();
    let check = zicht(&["catalog", "check", "--catalog", broken.to_str().unwrap()], home.path());
    assert_eq!(check.status.code(), Some(1));
    let stderr = text(&check.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("regio/buurt.toml"), "{stderr}");
}

#[test]
fn a_secret_is_made_on_first_use_and_levels_are_chosen_by_the_caller() {
    let home = tempfile::tempdir().unwrap();
    let first = zicht(&["query", "SELECT count(*) FROM regio.gemeente"], home.path());
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stderr).contains("created a random one"), "{}", text(&first.stderr));
    let key = home.path().join("zicht/secret-key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let second = zicht(&["query", "SELECT count(*) FROM regio.gemeente"], home.path());
    assert!(!text(&second.stderr).contains("created"), "made once: {}", text(&second.stderr));

    // Untrusted unless asked: an expression inside an aggregate needs --trusted.
    let sql = "SELECT sum(inkomen * 2) FROM basis.persoon";
    let untrusted = zicht(&["query", sql], home.path());
    assert_eq!(untrusted.status.code(), Some(1));
    assert!(text(&untrusted.stderr).contains("rule: untrusted-measure"), "{}", text(&untrusted.stderr));
    let trusted = zicht(&["query", "--trusted", sql], home.path());
    assert!(trusted.status.success(), "{}", text(&trusted.stderr));
}

#[test]
fn serving_beyond_loopback_needs_a_configured_secret() {
    let home = tempfile::tempdir().unwrap();
    let serve = zicht(&["serve", "--listen", "0.0.0.0", "--port", "0"], home.path());
    assert_eq!(serve.status.code(), Some(1));
    let stderr = text(&serve.stderr);
    assert!(stderr.contains("without a configured secret key"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
