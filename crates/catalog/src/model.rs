//! The validated catalog: what the rest of Zicht reads.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};

/// The whole warehouse: settings and every table, sorted by schema and name.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub warehouse: Warehouse,
    pub tables: Vec<TableDef>,
}

#[derive(Debug, Clone)]
pub struct Warehouse {
    pub name: String,
    pub description: String,
    pub suppression: SuppressionParams,
}

/// Parameters of the disclosure-control rules (see docs/suppression.md).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SuppressionParams {
    /// Minimum distinct units of every unit type in a released cell.
    pub k: u32,
    /// (n,k) dominance: the `dominance_n` largest units ...
    pub dominance_n: u32,
    /// ... may hold at most this percentage of a magnitude.
    pub dominance_k: f64,
    /// No single unit may hold more than this percentage of a cell (stricter than the (n,k) rule
    /// alone, which lets one unit hold up to k% when n = 2).
    pub max_unit_share: f64,
    /// p% rule: the second-largest contributor must not be able to estimate the largest to
    /// within this percentage.
    pub p_percent: f64,
    /// Released counts are rounded to a multiple of this.
    pub rounding_base: u32,
}

impl Default for SuppressionParams {
    fn default() -> Self {
        SuppressionParams {
            k: 10,
            dominance_n: 2,
            dominance_k: 85.0,
            max_unit_share: 50.0,
            p_percent: 10.0,
            rounding_base: 5,
        }
    }
}

/// The kinds of unit whose identity must never be revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityType {
    Persoon,
    Huishouden,
    Woning,
    Vestiging,
    Onderneming,
}

impl EntityType {
    pub const ALL: [EntityType; 5] = [
        EntityType::Persoon,
        EntityType::Huishouden,
        EntityType::Woning,
        EntityType::Vestiging,
        EntityType::Onderneming,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EntityType::Persoon => "persoon",
            EntityType::Huishouden => "huishouden",
            EntityType::Woning => "woning",
            EntityType::Vestiging => "vestiging",
            EntityType::Onderneming => "onderneming",
        }
    }

    pub fn parse(name: &str) -> Option<EntityType> {
        EntityType::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl std::fmt::Display for EntityType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a table may leave the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Protection {
    /// Reference and dimension data, served as is.
    Public,
    /// Unit-level microdata: only protected aggregates leave the engine. Each unit column with the
    /// entity type whose ids it holds (an entity type may have several columns: buyer and seller).
    Protected { units: Vec<(EntityType, String)> },
}

/// What a column's values are, beyond its type. Unit columns are named by the table's `units`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRole {
    /// An ordinary value: may be grouped, filtered and aggregated.
    Attribute,
    /// The id of a row (a transaction, a registration): it identifies one event of one unit, so it
    /// is never grouped, filtered or computed on.
    RowId,
    /// An id of something public (a holiday park): it identifies no person, address or company.
    Reference,
}

#[derive(Debug, Clone)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub description: String,
    pub unit: Option<String>,
    pub nullable: bool,
    pub role: ColumnRole,
}

#[derive(Debug, Clone)]
pub struct TableDef {
    pub schema: String,
    pub name: String,
    pub description: String,
    pub protection: Protection,
    /// Path of the data (a Parquet file or a folder of them), relative to the data directory.
    pub source: String,
    pub columns: Vec<ColumnDef>,
    /// The column with one distinct value per row: a public table's join key, or the unit column
    /// of a protected table that holds one row per unit (`basis.persoon.persoon_id`).
    pub key: Option<String>,
    /// The warehouse defaults with this table's overrides applied.
    pub suppression: SuppressionParams,
    /// The catalog file this table came from, for messages.
    pub file: String,
}

impl TableDef {
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    pub fn is_protected(&self) -> bool {
        matches!(self.protection, Protection::Protected { .. })
    }

    /// The unit columns with their entity types; empty for public tables.
    pub fn units(&self) -> impl Iterator<Item = (EntityType, &str)> {
        let units = match &self.protection {
            Protection::Protected { units } => Some(units),
            Protection::Public => None,
        };
        units.into_iter().flatten().map(|(e, c)| (*e, c.as_str()))
    }

    /// The entity type whose ids `column` holds, if it is a unit column.
    pub fn unit_of(&self, column: &str) -> Option<EntityType> {
        self.units().find(|(_, c)| *c == column).map(|(e, _)| e)
    }

    /// Whether `column` singles out a unit or one of its rows: a unit column or a row id.
    pub fn is_identifying(&self, column: &str) -> bool {
        self.unit_of(column).is_some() || self.column(column).is_some_and(|c| c.role == ColumnRole::RowId)
    }

    /// The key column (one distinct value per row), if the catalog declares one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The Arrow schema of the table, with descriptions and units as field metadata.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields = self.columns.iter().map(|c| {
            let mut metadata = std::collections::HashMap::new();
            metadata.insert("description".to_string(), c.description.clone());
            if let Some(unit) = &c.unit {
                metadata.insert("unit".to_string(), unit.clone());
            }
            Field::new(&c.name, c.data_type.clone(), c.nullable).with_metadata(metadata)
        });
        Arc::new(Schema::new(fields.collect::<Vec<_>>()))
    }
}

impl Catalog {
    pub fn table(&self, schema: &str, name: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.schema == schema && t.name == name)
    }

    /// Schema names in order of first appearance (tables are sorted, so alphabetical).
    pub fn schemas(&self) -> Vec<&str> {
        let mut schemas: Vec<&str> = self.tables.iter().map(|t| t.schema.as_str()).collect();
        schemas.dedup();
        schemas
    }
}
