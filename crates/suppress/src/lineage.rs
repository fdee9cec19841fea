//! Lineage: what each column of a plan node holds, traced back to the catalog.
//!
//! The analyzer rule judges columns by what they are, never by what they are called: a unit id
//! renamed by `SELECT persoon_id AS x` is still a unit id, and `p.inkomen` and `persoon.inkomen`
//! are the same measure with the same noise. Every node gets one [`Origin`] per output column, and
//! protected rows also carry their unit columns and the conditions that selected them.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema};
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan};
use zicht_catalog::{EntityType, SuppressionParams, TableDef};

use crate::table::CatalogTable;

/// What a column's values are.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A catalog column, unchanged.
    Catalog { table: Arc<TableDef>, column: String },
    /// A catalog column put into buckets (`floor(inkomen / 10000) * 10000`, `substr(bu_code, 1, 6)`):
    /// allowed wherever the column is, also at the untrusted level.
    Generalized,
    /// Anything else.
    Computed,
}

/// What one output column of a plan node holds.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// Canonical text: `basis.persoon.inkomen` for a catalog column, the expression over canonical
    /// column names otherwise. Noise seeds and budget fingerprints are made of it.
    pub canonical: String,
    pub value: Value,
    /// A unit id or row id, or computed from one: never a value, a key or a filter.
    pub identifying: bool,
    /// Holds values of protected rows (directly or computed from them).
    pub protected: bool,
}

impl Origin {
    fn opaque(name: &str) -> Origin {
        Origin { canonical: name.to_string(), value: Value::Computed, identifying: false, protected: false }
    }

    fn of_catalog(table: &Arc<TableDef>, column: &str) -> Origin {
        Origin {
            canonical: format!("{}.{column}", table.qualified_name()),
            value: Value::Catalog { table: Arc::clone(table), column: column.to_string() },
            identifying: table.is_identifying(column),
            protected: table.is_protected(),
        }
    }

    /// The catalog column this is, unchanged.
    pub fn catalog(&self) -> Option<(&Arc<TableDef>, &str)> {
        match &self.value {
            Value::Catalog { table, column } => Some((table, column)),
            _ => None,
        }
    }

    /// The unit entity, when this is a unit column unchanged.
    pub fn unit(&self) -> Option<EntityType> {
        self.catalog().and_then(|(table, column)| table.unit_of(column))
    }
}

/// Unit-level rows: their unit columns, the tables they come from, and the conditions that
/// selected them.
#[derive(Debug, Clone)]
pub(crate) struct Rows {
    pub units: Vec<Unit>,
    pub tables: Vec<Arc<TableDef>>,
    /// Canonical texts of the filter conditions applied so far (noise layers, budget fingerprint).
    pub conditions: Vec<String>,
    /// An operation that may not run below an aggregate (ORDER BY, LIMIT, DISTINCT, a window):
    /// refused with its rule if an aggregate follows, as row-level output if none does.
    pub pending: Option<Refusal>,
    /// Whether a join may have repeated a table's rows (a join to protected rows, or to a public
    /// table not on its key). Without one, a key unit column still holds one row per unit.
    pub repeats: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub entity: EntityType,
    pub column: Column,
}

#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub rule: &'static str,
    pub message: &'static str,
}

impl Rows {
    pub fn table_names(&self) -> String {
        let mut names: Vec<String> = self.tables.iter().map(|t| t.qualified_name()).collect();
        names.sort();
        names.dedup();
        names.join(", ")
    }

    /// The strictest parameters of all tables involved.
    pub fn params(&self) -> SuppressionParams {
        let mut params = self.tables[0].suppression;
        for table in &self.tables[1..] {
            let p = table.suppression;
            params.k = params.k.max(p.k);
            params.dominance_n = params.dominance_n.max(p.dominance_n);
            params.dominance_k = params.dominance_k.min(p.dominance_k);
            params.max_unit_share = params.max_unit_share.min(p.max_unit_share);
            params.p_percent = params.p_percent.max(p.p_percent);
            params.rounding_base = params.rounding_base.max(p.rounding_base);
        }
        params
    }

    /// The index of the unit whose id `column` holds, resolved through `schema` (spelling does
    /// not matter, and a column that is not the unit's own is no unit).
    pub fn unit_index(&self, schema: &DFSchema, column: &Column) -> Option<usize> {
        let index = schema.maybe_index_of_column(column)?;
        self.units.iter().position(|u| schema.maybe_index_of_column(&u.column) == Some(index))
    }
}

/// The lineage of a plan node.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// Reference data, or constants.
    Public,
    /// Computed from protected rows, but only through protecting aggregates.
    Released,
    Protected(Rows),
}

#[derive(Debug, Clone)]
pub(crate) struct Lineage {
    pub kind: Kind,
    /// One per output column of the node.
    pub origins: Vec<Origin>,
}

impl Lineage {
    pub fn rows(&self) -> Option<&Rows> {
        match &self.kind {
            Kind::Protected(rows) => Some(rows),
            _ => None,
        }
    }
}

/// The origin of the column `column` of `schema`, given the origins of its fields.
pub(crate) fn origin_of<'a>(schema: &DFSchema, origins: &'a [Origin], column: &Column) -> Option<&'a Origin> {
    schema.maybe_index_of_column(column).and_then(|i| origins.get(i))
}

/// The origin of an expression over a node with `schema` and `origins`: a plain column keeps
/// its origin; anything else is computed, with a canonical text over canonical column names.
pub(crate) fn origin_of_expr(expr: &Expr, schema: &DFSchema, origins: &[Origin]) -> Origin {
    if let Expr::Column(column) = strip_alias(expr)
        && let Some(origin) = origin_of(schema, origins, column)
    {
        return origin.clone();
    }
    let mut identifying = false;
    let mut protected = false;
    for column in expr.column_refs() {
        if let Some(origin) = origin_of(schema, origins, column) {
            identifying |= origin.identifying;
            protected |= origin.protected;
        }
    }
    Origin { canonical: canonical_text(expr, schema, origins), value: Value::Computed, identifying, protected }
}

/// The expression as text with every column replaced by its canonical name and aliases removed:
/// the same computation over the same columns reads the same however the tables were aliased.
pub(crate) fn canonical_text(expr: &Expr, schema: &DFSchema, origins: &[Origin]) -> String {
    let canonical = expr
        .clone()
        .transform_up(|e| match e {
            Expr::Alias(alias) => Ok(Transformed::yes(*alias.expr)),
            Expr::Column(column) => {
                let name = origin_of(schema, origins, &column).map_or(column.name.clone(), |o| o.canonical.clone());
                Ok(Transformed::yes(Expr::Column(Column::from_name(name))))
            }
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
        .unwrap_or_else(|_| expr.clone());
    canonical.to_string()
}

pub(crate) fn strip_alias(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(alias) => strip_alias(&alias.expr),
        other => other,
    }
}

/// The origins of a plan node's outputs from its inputs' lineages, for nodes that only pass,
/// rename or combine columns; other nodes' outputs are opaque (they are refused over protected
/// rows or sit above an aggregate, where origins no longer matter).
pub(crate) fn origins_of(plan: &LogicalPlan, inputs: &[Lineage]) -> Vec<Origin> {
    let input = |i: usize| inputs.get(i).map(|l| l.origins.clone()).unwrap_or_default();
    let same_as_input = || {
        let origins = input(0);
        if origins.len() == plan.schema().fields().len() { origins } else { opaque(plan) }
    };
    match plan {
        LogicalPlan::TableScan(scan) => scan_origins(scan),
        LogicalPlan::Projection(projection) => {
            let schema = projection.input.schema();
            let origins = input(0);
            projection.expr.iter().map(|e| origin_of_expr(e, schema, &origins)).collect()
        }
        LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::Repartition(_)
        | LogicalPlan::Subquery(_) => same_as_input(),
        LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(_)) => same_as_input(),
        LogicalPlan::Join(join) => {
            let (left, right) = (input(0), input(1));
            let origins = match join.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti => left,
                JoinType::RightSemi | JoinType::RightAnti => right,
                _ => left.into_iter().chain(right).collect(),
            };
            if origins.len() == plan.schema().fields().len() { origins } else { opaque(plan) }
        }
        _ => opaque(plan),
    }
}

fn opaque(plan: &LogicalPlan) -> Vec<Origin> {
    plan.schema().fields().iter().map(|f| Origin::opaque(f.name())).collect()
}

fn scan_origins(scan: &datafusion::logical_expr::TableScan) -> Vec<Origin> {
    let provider = datafusion::catalog::default_table_source::source_as_provider(&scan.source).ok();
    let definition = provider.as_ref().and_then(CatalogTable::of).map(|t| Arc::clone(t.definition()));
    let schema = scan.projected_schema.as_ref();
    schema
        .fields()
        .iter()
        .map(|field| match definition.as_ref() {
            Some(table) if table.column(field.name()).is_some() => Origin::of_catalog(table, field.name()),
            _ => Origin::opaque(&format!("{}.{}", scan.table_name, field.name())),
        })
        .collect()
}
