//! Saved theme queries: the Zicht op indicators.
//!
//! An indicator is a definition (`queries/<theme>/<name>.toml`, see [`crate::indicator`]) that
//! states what it counts per what, where, and how it is scored; the SELECT is generated. A query
//! the standard scores do not fit is a SQL file (`queries/<theme>/<name>.sql`) with a header of
//! `-- key: value` lines (title, description, unit, granularity, years, deviation) and one
//! SELECT. The engine serves each as the view `<theme>.<name>`; it passes the suppression layer
//! like any other SQL.

use std::path::Path;

use crate::indicator::Indicator;
use crate::{CatalogError, Problem, Result};

/// The ten Zicht op themes; a saved query lives in one of them.
pub const THEMES: [&str; 10] = [
    "vastgoed",
    "drugs",
    "vakantieparken",
    "zorgfraude",
    "branches",
    "jongeren",
    "transacties",
    "logistiek",
    "digitaal",
    "schulden",
];

const HEADER_KEYS: [&str; 6] = ["title", "description", "unit", "granularity", "years", "deviation"];

static EMBEDDED: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/../../queries");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedQuery {
    pub theme: String,
    pub name: String,
    pub title: String,
    pub description: String,
    pub unit: String,
    pub granularity: String,
    pub years: String,
    /// Output columns that are deviation scores.
    pub deviation: Vec<String>,
    /// The SELECT, without the header (for an indicator: the SELECT generated from it).
    pub sql: String,
    /// An indicator's definition as written; `None` for a SQL file.
    pub definition: Option<String>,
    /// `vastgoed/onverklaarbare_aankopen.toml`
    pub file: String,
}

impl SavedQuery {
    /// `theme/name`, as `zicht run` takes it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.theme, self.name)
    }
}

/// The saved queries compiled into this build (the repository's `queries/` folder).
pub fn embedded() -> Result<Vec<SavedQuery>> {
    let mut files = Vec::new();
    for dir in EMBEDDED.dirs() {
        for file in dir.files() {
            let path = file.path().to_string_lossy().replace('\\', "/");
            if is_query_file(&path) {
                files.push((path, file.contents_utf8().unwrap_or_default().to_string()));
            }
        }
    }
    from_files(files)
}

/// Loads and validates the saved queries in `dir`.
pub fn load_dir(dir: &Path) -> Result<Vec<SavedQuery>> {
    let io = |source| CatalogError::Io { path: dir.to_path_buf(), source };
    let mut files = Vec::new();
    for theme in std::fs::read_dir(dir).map_err(io)? {
        let theme = theme.map_err(io)?.path();
        if !theme.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&theme).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if is_query_file(&path.to_string_lossy()) {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                let relative = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                files.push((relative, text));
            }
        }
    }
    from_files(files)
}

fn from_files(mut files: Vec<(String, String)>) -> Result<Vec<SavedQuery>> {
    files.sort();
    let mut problems = Vec::new();
    let queries: Vec<SavedQuery> = files.iter().filter_map(|(path, text)| parse(path, text, &mut problems)).collect();
    for pair in queries.windows(2) {
        if pair[0].id() == pair[1].id() {
            let file = format!("queries/{}", pair[1].file);
            problems.push(Problem { file, message: format!("{} is also defined by {}", pair[1].id(), pair[0].file) });
        }
    }
    if problems.is_empty() { Ok(queries) } else { Err(CatalogError::Invalid(problems)) }
}

fn is_query_file(path: &str) -> bool {
    path.ends_with(".sql") || path.ends_with(".toml")
}

fn parse(path: &str, text: &str, problems: &mut Vec<Problem>) -> Option<SavedQuery> {
    let mut problem = |message: String| problems.push(Problem { file: format!("queries/{path}"), message });
    let (theme, file_name) = path.split_once('/')?;
    let (name, is_indicator) = match file_name.strip_suffix(".toml") {
        Some(name) => (name, true),
        None => (file_name.strip_suffix(".sql")?, false),
    };
    if !THEMES.contains(&theme) {
        problem(format!("{theme} is not a theme (one of {})", THEMES.join(", ")));
        return None;
    }
    if !is_identifier(name) {
        problem(format!("{name} is not a view name: use lower case letters, digits and _"));
        return None;
    }
    if is_indicator {
        return match Indicator::parse(text).and_then(|indicator| from_indicator(theme, name, path, text, &indicator)) {
            Ok(query) => Some(query),
            Err(message) => {
                problem(message);
                None
            }
        };
    }
    // The header: `-- key: value` lines (and blank lines) up to the first other line.
    let mut header = std::collections::BTreeMap::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((number, line)) = lines.peek() {
        if line.trim().is_empty() {
            lines.next();
            continue;
        }
        let Some((key, value)) = line.strip_prefix("-- ").and_then(|l| l.split_once(':')) else { break };
        let key = key.trim();
        if !HEADER_KEYS.contains(&key) {
            if header.len() == HEADER_KEYS.len() {
                break;
            }
            problem(format!("line {}: {key} is not a header key ({})", number + 1, HEADER_KEYS.join(", ")));
            return None;
        }
        header.insert(key.to_string(), value.trim().to_string());
        lines.next();
    }
    let body: Vec<&str> = lines.map(|(_, line)| line).collect();
    let missing: Vec<&str> =
        HEADER_KEYS.iter().filter(|k| header.get(**k).is_none_or(|v| v.is_empty())).copied().collect();
    if !missing.is_empty() {
        problem(format!("header lacks {}", missing.join(", ")));
        return None;
    }
    let sql = body.join("\n").trim().trim_end_matches(';').trim().to_string();
    if sql.is_empty() {
        problem("no query after the header".into());
        return None;
    }
    let field = |key: &str| header[key].clone();
    Some(SavedQuery {
        theme: theme.to_string(),
        name: name.to_string(),
        title: field("title"),
        description: field("description"),
        unit: field("unit"),
        granularity: field("granularity"),
        years: field("years"),
        deviation: field("deviation").split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect(),
        sql,
        definition: None,
        file: path.to_string(),
    })
}

fn from_indicator(
    theme: &str,
    name: &str,
    path: &str,
    text: &str,
    indicator: &Indicator,
) -> std::result::Result<SavedQuery, String> {
    Ok(SavedQuery {
        theme: theme.to_string(),
        name: name.to_string(),
        title: indicator.title.clone(),
        description: indicator.description.clone(),
        unit: indicator.unit.clone(),
        granularity: indicator.granularity.clone(),
        years: indicator.years.clone(),
        deviation: indicator.deviation(),
        sql: indicator.sql()?,
        definition: Some(text.to_string()),
        file: path.to_string(),
    })
}

fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "-- title: T\n-- description: D\n-- unit: persoon\n-- granularity: gemeente\n-- years: 2024\n-- deviation: index, z\n\nSELECT 1 AS index, 2 AS z;\n";

    #[test]
    fn a_header_and_a_query_parse() {
        let queries = from_files(vec![("drugs/x.sql".into(), GOOD.into())]).unwrap();
        assert_eq!(queries[0].id(), "drugs/x");
        assert_eq!(queries[0].deviation, vec!["index", "z"]);
        assert_eq!(queries[0].sql, "SELECT 1 AS index, 2 AS z");
    }

    #[test]
    fn bad_files_are_reported_with_their_path() {
        let missing = GOOD.replace("-- years: 2024\n", "");
        let error = from_files(vec![
            ("drugs/x.sql".into(), missing),
            ("sport/y.sql".into(), GOOD.into()),
            ("drugs/Bad-Name.sql".into(), GOOD.into()),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("queries/drugs/x.sql: header lacks years"), "{error}");
        assert!(error.contains("sport is not a theme"), "{error}");
        assert!(error.contains("Bad-Name is not a view name"), "{error}");
        let unknown = GOOD.replace("-- unit:", "-- eenheid:");
        let error = from_files(vec![("drugs/x.sql".into(), unknown)]).unwrap_err().to_string();
        assert!(error.contains("queries/drugs/x.sql: line 3: eenheid is not a header key"), "{error}");
    }

    const INDICATOR: &str = "title = \"T\"\ndescription = \"D\"\nunit = \"woning\"\ngranularity = \"gemeente\"\nyears = \"2024\"\nlevel = \"gemeente\"\nscore = \"share\"\nratio = \"aandeel\"\n[teller]\nname = \"huur\"\nfilter = \"w.huur\"\n[noemer]\nname = \"woningen\"\nmeasure = \"count(*)\"\nfrom = \"basis.woning w\"\nbuurt = \"w.bu_code\"\n";

    #[test]
    fn an_indicator_definition_becomes_a_saved_query() {
        let queries = from_files(vec![("vastgoed/huur.toml".into(), INDICATOR.into())]).unwrap();
        assert_eq!(queries[0].id(), "vastgoed/huur");
        assert_eq!(queries[0].deviation, vec!["index", "wilson_onder", "wilson_boven", "z", "klasse"]);
        assert_eq!(queries[0].definition.as_deref(), Some(INDICATOR));
        assert!(queries[0].sql.starts_with("WITH bron AS"), "{}", queries[0].sql);
        let twice = vec![("drugs/x.sql".into(), GOOD.into()), ("drugs/x.toml".into(), INDICATOR.into())];
        let error = from_files(twice).unwrap_err().to_string();
        assert!(error.contains("queries/drugs/x.toml: drugs/x is also defined by drugs/x.sql"), "{error}");
        let broken = INDICATOR.replace("ratio", "rate");
        let error = from_files(vec![("vastgoed/huur.toml".into(), broken)]).unwrap_err().to_string();
        assert!(error.contains("queries/vastgoed/huur.toml: line 8: unknown field `rate`"), "{error}");
    }

    #[test]
    fn the_embedded_queries_are_valid() {
        let queries = embedded().unwrap();
        for theme in THEMES {
            let count = queries.iter().filter(|q| q.theme == theme).count();
            assert!(count >= 3, "{theme} has {count} saved queries");
        }
    }
}
