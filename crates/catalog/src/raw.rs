//! The catalog files as written, and their validation into the model.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use arrow_schema::DataType;
use serde::Deserialize;

use crate::Problem;
use crate::model::{ColumnDef, ColumnRole, EntityType, Protection, SuppressionParams, TableDef, Warehouse};

/// Arrow types a column may have: those the generator writes and the wire encodes.
const SUPPORTED_TYPES: &[DataType] = &[
    DataType::Boolean,
    DataType::Int16,
    DataType::Int32,
    DataType::Int64,
    DataType::Float64,
    DataType::Utf8,
    DataType::Date32,
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWarehouse {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    suppression: RawSuppression,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSuppression {
    k: Option<u32>,
    dominance_n: Option<u32>,
    dominance_k: Option<f64>,
    max_unit_share: Option<f64>,
    p_percent: Option<f64>,
    rounding_base: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    description: String,
    class: String,
    source: String,
    #[serde(default)]
    units: BTreeMap<String, OneOrMany>,
    key: Option<String>,
    #[serde(default)]
    suppression: RawSuppression,
    columns: Vec<RawColumn>,
}

/// A unit entry names one column or several (`persoon = ["koper_id", "verkoper_id"]`).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn columns(&self) -> Vec<&String> {
        match self {
            OneOrMany::One(column) => vec![column],
            OneOrMany::Many(columns) => columns.iter().collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    data_type: String,
    description: String,
    unit: Option<String>,
    #[serde(default = "default_nullable")]
    nullable: bool,
    role: Option<String>,
}

fn default_nullable() -> bool {
    true
}

/// Collects the problems of one file.
struct Findings<'a> {
    file: &'a str,
    problems: &'a mut Vec<Problem>,
    found: bool,
}

impl Findings<'_> {
    fn report(&mut self, message: impl Into<String>) {
        self.found = true;
        self.problems.push(Problem { file: self.file.to_string(), message: message.into() });
    }
}

pub(crate) fn parse_warehouse(file: &str, text: &str, problems: &mut Vec<Problem>) -> Option<Warehouse> {
    let mut findings = Findings { file, problems, found: false };
    let raw: RawWarehouse = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            findings.report(one_line(text, &e));
            return None;
        }
    };
    let suppression = apply_suppression(&SuppressionParams::default(), &raw.suppression, &mut findings);
    (!findings.found).then_some(Warehouse { name: raw.name, description: raw.description, suppression })
}

pub(crate) fn parse_table(
    file: &str,
    text: &str,
    defaults: &SuppressionParams,
    problems: &mut Vec<Problem>,
) -> Option<TableDef> {
    let mut findings = Findings { file, problems, found: false };
    let Some((schema, name)) = schema_and_name(file) else {
        findings.report("a table file must be <schema>/<table>.toml, both lower-case identifiers");
        return None;
    };
    let raw: RawTable = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            findings.report(one_line(text, &e));
            return None;
        }
    };
    let columns = validate_columns(&raw.columns, &mut findings);
    let protection = validate_protection(&raw, &columns, &mut findings);
    if let Some(Protection::Protected { units }) = &protection {
        check_identifying_columns(&columns, units, &mut findings);
    }
    validate_key(raw.key.as_deref(), &columns, protection.as_ref(), &mut findings);
    let suppression = apply_suppression(defaults, &raw.suppression, &mut findings);
    if raw.source.is_empty() || raw.source.starts_with('/') || raw.source.contains("..") {
        findings.report(format!("source {:?} must be a relative path inside the data directory", raw.source));
    }
    (!findings.found).then(|| TableDef {
        schema,
        name,
        description: raw.description,
        protection: protection.expect("validated"),
        source: raw.source,
        columns,
        key: raw.key,
        suppression,
        file: file.to_string(),
    })
}

fn schema_and_name(file: &str) -> Option<(String, String)> {
    let (schema, table_file) = file.split_once('/')?;
    let name = table_file.strip_suffix(".toml")?;
    (is_identifier(schema) && is_identifier(name)).then(|| (schema.to_string(), name.to_string()))
}

fn is_identifier(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn validate_columns(raw: &[RawColumn], findings: &mut Findings) -> Vec<ColumnDef> {
    if raw.is_empty() {
        findings.report("a table needs at least one column");
    }
    let mut seen = HashSet::new();
    let mut columns = Vec::new();
    for column in raw {
        if !is_identifier(&column.name) {
            findings.report(format!("column name {:?} is not a lower-case identifier", column.name));
        }
        if !seen.insert(column.name.as_str()) {
            findings.report(format!("column {} is defined twice", column.name));
        }
        let role = match column.role.as_deref() {
            None => ColumnRole::Attribute,
            Some("row-id") => ColumnRole::RowId,
            Some("reference") => ColumnRole::Reference,
            Some(other) => {
                findings.report(format!(
                    "column {} has role {other:?}; roles are \"row-id\" and \"reference\"",
                    column.name
                ));
                ColumnRole::Attribute
            }
        };
        match parse_type(&column.data_type) {
            Some(data_type) => columns.push(ColumnDef {
                name: column.name.clone(),
                data_type,
                description: column.description.clone(),
                unit: column.unit.clone(),
                nullable: column.nullable,
                role,
            }),
            None => findings.report(format!(
                "column {} has type {:?}; supported types are {}",
                column.name,
                column.data_type,
                SUPPORTED_TYPES.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
            )),
        }
    }
    columns
}

fn parse_type(name: &str) -> Option<DataType> {
    DataType::from_str(name).ok().filter(|t| SUPPORTED_TYPES.contains(t))
}

fn validate_protection(raw: &RawTable, columns: &[ColumnDef], findings: &mut Findings) -> Option<Protection> {
    match raw.class.as_str() {
        "public" => {
            if !raw.units.is_empty() {
                findings.report("a public table has no unit columns; make it protected or drop `units`");
            }
            Some(Protection::Public)
        }
        "protected" => {
            let mut units = Vec::new();
            for (entity, entry) in &raw.units {
                let Some(entity_type) = EntityType::parse(entity) else {
                    findings.report(format!(
                        "unknown entity type {entity:?} in units; known: persoon, huishouden, woning, vestiging, onderneming"
                    ));
                    continue;
                };
                for column in entry.columns() {
                    match columns.iter().find(|c| &c.name == column) {
                        None => {
                            findings.report(format!("unit column {column} ({entity}) is not a column of the table"))
                        }
                        Some(c) if !matches!(c.data_type, DataType::Int64 | DataType::Int32) => {
                            findings.report(format!("unit column {column} must be an integer id, not {}", c.data_type))
                        }
                        Some(c) if c.role != ColumnRole::Attribute => {
                            findings.report(format!("unit column {column} cannot also have a role"))
                        }
                        Some(_) if units.iter().any(|(_, u)| u == column) => {
                            findings.report(format!("unit column {column} is named twice"))
                        }
                        Some(_) => units.push((entity_type, column.clone())),
                    }
                }
            }
            if raw.units.is_empty() {
                findings.report("a protected table must name at least one unit column in `units`");
            }
            // In entity order, whatever the file's order: the protecting aggregate keys cells by it.
            units.sort();
            Some(Protection::Protected { units })
        }
        other => {
            findings.report(format!("class {other:?} is neither \"public\" nor \"protected\""));
            None
        }
    }
}

/// A column that looks like an identifier (`*_id`) in a protected table must say what it
/// identifies: a unit, a row, or something public. An undeclared id could be grouped or filtered
/// on, singling out the person, address or company it stands for.
fn check_identifying_columns(columns: &[ColumnDef], units: &[(EntityType, String)], findings: &mut Findings) {
    for column in columns.iter().filter(|c| c.name.ends_with("_id")) {
        let is_unit = units.iter().any(|(_, u)| *u == column.name);
        if !is_unit && column.role == ColumnRole::Attribute {
            findings.report(format!(
                "column {} looks like an identifier: name it in `units`, or give it role = \"row-id\" (it identifies a row) or role = \"reference\" (it identifies nothing personal)",
                column.name
            ));
        }
    }
}

/// A key is a column of the table; in a protected table it must be a unit column (one row per unit).
fn validate_key(key: Option<&str>, columns: &[ColumnDef], protection: Option<&Protection>, findings: &mut Findings) {
    let Some(key) = key else { return };
    if !columns.iter().any(|c| c.name == key) {
        findings.report(format!("key {key} is not a column of the table"));
        return;
    }
    if let Some(Protection::Protected { units }) = protection
        && !units.iter().any(|(_, u)| u == key)
    {
        findings.report(format!("key {key} of a protected table must be one of its unit columns"));
    }
}

fn apply_suppression(base: &SuppressionParams, raw: &RawSuppression, findings: &mut Findings) -> SuppressionParams {
    let params = SuppressionParams {
        k: raw.k.unwrap_or(base.k),
        dominance_n: raw.dominance_n.unwrap_or(base.dominance_n),
        dominance_k: raw.dominance_k.unwrap_or(base.dominance_k),
        max_unit_share: raw.max_unit_share.unwrap_or(base.max_unit_share),
        p_percent: raw.p_percent.unwrap_or(base.p_percent),
        rounding_base: raw.rounding_base.unwrap_or(base.rounding_base),
    };
    // These floors keep a misconfigured table from silently weakening protection.
    if params.k < 2 {
        findings.report(format!("suppression.k = {} is below the floor of 2", params.k));
    }
    if params.dominance_n < 1 {
        findings.report("suppression.dominance_n must be at least 1");
    }
    if !(params.dominance_k > 0.0 && params.dominance_k <= 100.0) {
        findings.report(format!("suppression.dominance_k = {} must lie in (0, 100]", params.dominance_k));
    }
    if !(params.max_unit_share > 0.0 && params.max_unit_share <= 100.0) {
        findings.report(format!("suppression.max_unit_share = {} must lie in (0, 100]", params.max_unit_share));
    }
    if !(params.p_percent >= 0.0 && params.p_percent <= 100.0) {
        findings.report(format!("suppression.p_percent = {} must lie in [0, 100]", params.p_percent));
    }
    if params.rounding_base < 1 {
        findings.report("suppression.rounding_base must be at least 1");
    }
    params
}

/// toml's errors span several lines with a source excerpt; a catalog report wants one line.
pub(crate) fn one_line(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().to_string();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}
