//! The analyzer rule: validates every plan that touches protected rows and rewrites each aggregate
//! over them into a protecting aggregate.
//!
//! It walks the plan bottom-up and gives every node a lineage: `Public` (reference data),
//! `Released` (computed from protected rows, but only through a protecting aggregate) or
//! `Protected` (unit-level rows, with the columns that hold unit ids). Only filters, projections,
//! aliases and the allowed joins may sit on protected rows; an aggregate turns them into released
//! cells; anything else, or protected rows reaching the root, is refused.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, ScalarValue, TableReference};
use datafusion::error::Result;
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams, TryCast};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    Aggregate, AggregateUDF, BinaryExpr, Expr, ExprSchemable, Filter, Join, JoinType, LogicalPlan, Operator,
    Projection, SubqueryAlias, lit,
};
use datafusion::optimizer::AnalyzerRule;
use zicht_catalog::{EntityType, SuppressionParams, TableDef};

use crate::aggregate::{Measure, ProtectAggregate};
use crate::error::reject;
use crate::noise::CellKeyer;
use crate::table::ProtectedTable;

/// Name of the hidden column that says whether a group may be shown.
const CELL_COLUMN: &str = "__zicht_cell";
/// Prefix of the hidden columns that carry unit ids through projections that drop them.
const UNIT_COLUMN_PREFIX: &str = "__zicht_unit_";

#[derive(Debug)]
pub struct ProtectRule {
    keyer: CellKeyer,
}

impl ProtectRule {
    pub fn new(keyer: CellKeyer) -> ProtectRule {
        ProtectRule { keyer }
    }
}

impl AnalyzerRule for ProtectRule {
    fn name(&self) -> &str {
        "zicht_protect"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let (plan, lineage) = self.visit(plan)?;
        if let Lineage::Protected(rows) = lineage {
            return reject(
                "row-level",
                format!(
                    "rows of {} cannot leave the engine; aggregate them (count, sum, avg, median) per region",
                    rows.table_names()
                ),
            );
        }
        Ok(plan)
    }
}

#[derive(Debug, Clone)]
enum Lineage {
    Public,
    Released,
    Protected(Rows),
}

/// Unit-level rows: where their unit ids are, and which tables they come from.
#[derive(Debug, Clone)]
struct Rows {
    units: Vec<Unit>,
    tables: Vec<Arc<TableDef>>,
}

#[derive(Debug, Clone)]
struct Unit {
    entity: EntityType,
    column: Column,
}

impl Rows {
    fn table_names(&self) -> String {
        let mut names: Vec<String> = self.tables.iter().map(|t| t.qualified_name()).collect();
        names.dedup();
        names.join(", ")
    }

    /// The unit whose id `column` holds, resolved through `schema` so spelling does not matter.
    fn unit_of(&self, schema: &DFSchema, column: &Column) -> Option<(usize, &Unit)> {
        let index = schema.maybe_index_of_column(column)?;
        self.units.iter().enumerate().find(|(_, u)| schema.maybe_index_of_column(&u.column) == Some(index))
    }

    fn unit_of_expr(&self, schema: &DFSchema, expr: &Expr) -> Option<(usize, &Unit)> {
        match strip_casts(expr) {
            Expr::Column(column) => self.unit_of(schema, column),
            _ => None,
        }
    }

    /// The strictest parameters of all tables involved.
    fn params(&self) -> SuppressionParams {
        let mut params = self.tables[0].suppression;
        for table in &self.tables[1..] {
            let p = table.suppression;
            params.k = params.k.max(p.k);
            params.dominance_n = params.dominance_n.max(p.dominance_n);
            params.dominance_k = params.dominance_k.min(p.dominance_k);
            params.p_percent = params.p_percent.max(p.p_percent);
            params.rounding_base = params.rounding_base.max(p.rounding_base);
        }
        params
    }
}

fn strip_casts(expr: &Expr) -> &Expr {
    match expr {
        Expr::Cast(cast) => strip_casts(&cast.expr),
        Expr::TryCast(cast) => strip_casts(&cast.expr),
        Expr::Alias(alias) => strip_casts(&alias.expr),
        other => other,
    }
}

impl ProtectRule {
    fn visit(&self, plan: LogicalPlan) -> Result<(LogicalPlan, Lineage)> {
        if let LogicalPlan::Analyze(analyze) = &plan {
            if reads_protected(&analyze.input)? {
                return reject(
                    "explain-analyze",
                    "EXPLAIN ANALYZE is not allowed on protected data: its row counts would reveal units; use EXPLAIN",
                );
            }
            return Ok((plan, Lineage::Public));
        }
        // protect_subquery always reports a change, so `transformed` says whether there were any.
        let mapped = plan.map_subqueries(|subquery| self.protect_subquery(subquery))?;
        let (had_subqueries, plan) = (mapped.transformed, mapped.data);
        let inputs: Vec<LogicalPlan> = plan.inputs().into_iter().cloned().collect();
        let mut children = Vec::with_capacity(inputs.len());
        let mut lineages = Vec::with_capacity(inputs.len());
        for input in inputs {
            let (child, lineage) = self.visit(input)?;
            children.push(child);
            lineages.push(lineage);
        }
        let plan = if children.is_empty() { plan } else { plan.with_new_exprs(plan.expressions(), children)? };
        let protected: Vec<&Rows> = lineages
            .iter()
            .filter_map(|l| match l {
                Lineage::Protected(rows) => Some(rows),
                _ => None,
            })
            .collect();
        if protected.is_empty() {
            return Ok(free_node(plan, &lineages));
        }
        if had_subqueries && !matches!(plan, LogicalPlan::Subquery(_)) {
            return reject(
                "subquery-below",
                "subqueries (EXISTS, IN, scalar) cannot be combined with protected rows; join public tables instead",
            );
        }
        let rows = protected[0].clone();
        match plan {
            LogicalPlan::Projection(projection) => project(projection, rows),
            LogicalPlan::Filter(filter) => filter_rows(filter, rows),
            LogicalPlan::SubqueryAlias(alias) => Ok(requalify(alias, rows)),
            LogicalPlan::Join(join) => join_rows(join, &lineages),
            LogicalPlan::Aggregate(aggregate) => self.protect_aggregate(aggregate, rows),
            LogicalPlan::Subquery(_) | LogicalPlan::Repartition(_) => Ok((plan, Lineage::Protected(rows))),
            LogicalPlan::Explain(_) | LogicalPlan::DescribeTable(_) => Ok((plan, Lineage::Public)),
            other => refuse_node(&other),
        }
    }

    /// A subquery is a query of its own: it may not return protected rows.
    fn protect_subquery(&self, subquery: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
        let (plan, lineage) = self.visit(subquery)?;
        if let Lineage::Protected(rows) = lineage {
            return reject(
                "subquery-rows",
                format!("a subquery may not select rows of {}; aggregate them first", rows.table_names()),
            );
        }
        Ok(Transformed::yes(plan))
    }

    fn protect_aggregate(&self, aggregate: Aggregate, rows: Rows) -> Result<(LogicalPlan, Lineage)> {
        let input_schema = Arc::clone(aggregate.input.schema());
        let group_count = aggregate.group_expr.len();
        let mut group_expr = Vec::with_capacity(group_count);
        for (i, expr) in aggregate.group_expr.iter().enumerate() {
            if matches!(expr, Expr::GroupingSet(_)) {
                return reject("grouping-sets", "GROUPING SETS, ROLLUP and CUBE are not supported on protected rows");
            }
            check_value(expr, &rows, &input_schema, "group-by-unit")?;
            let (qualifier, field) = aggregate.schema.qualified_field(i);
            group_expr.push(keep_name(neutralize(expr.clone(), &input_schema)?, qualifier, field.name()));
        }
        let call = CallContext { rows: &rows, schema: &input_schema, params: rows.params(), keyer: &self.keyer };
        let mut aggr_expr = Vec::with_capacity(aggregate.aggr_expr.len() + 1);
        for (i, expr) in aggregate.aggr_expr.iter().enumerate() {
            let (qualifier, field) = aggregate.schema.qualified_field(group_count + i);
            let protected = call.protect_call(expr, field.data_type())?;
            aggr_expr.push(keep_name(protected, qualifier, field.name()));
        }
        let grouped = group_count > 0;
        if grouped {
            aggr_expr.push(call.cell_expr().alias(CELL_COLUMN));
        }
        let rewritten = LogicalPlan::Aggregate(Aggregate::try_new(aggregate.input, group_expr, aggr_expr)?);
        if !grouped {
            return Ok((rewritten, Lineage::Released));
        }
        // Groups that fail the threshold are dropped whole: their keys alone could single out a unit.
        let schema = Arc::clone(rewritten.schema());
        let shown = Filter::try_new(Expr::Column(Column::from_name(CELL_COLUMN)), Arc::new(rewritten))?;
        let columns = schema
            .iter()
            .take(schema.fields().len() - 1)
            .map(|(qualifier, field)| Expr::Column(Column::from((qualifier, field))))
            .collect();
        let projection = Projection::try_new(columns, Arc::new(LogicalPlan::Filter(shown)))?;
        Ok((LogicalPlan::Projection(projection), Lineage::Released))
    }
}

/// Nodes with no protected input: free, their lineage the most sensitive of their inputs.
fn free_node(plan: LogicalPlan, lineages: &[Lineage]) -> (LogicalPlan, Lineage) {
    if let LogicalPlan::TableScan(scan) = &plan {
        let provider = datafusion::catalog::default_table_source::source_as_provider(&scan.source).ok();
        if let Some(table) = provider.as_ref().and_then(ProtectedTable::of) {
            let definition = Arc::clone(table.definition());
            let units = definition
                .units()
                .map(|(entity, column)| Unit { entity, column: Column::new(Some(scan.table_name.clone()), column) })
                .collect();
            return (plan, Lineage::Protected(Rows { units, tables: vec![definition] }));
        }
        return (plan, Lineage::Public);
    }
    let released = lineages.iter().any(|l| matches!(l, Lineage::Released));
    (plan, if released { Lineage::Released } else { Lineage::Public })
}

fn refuse_node(plan: &LogicalPlan) -> Result<(LogicalPlan, Lineage)> {
    match plan {
        LogicalPlan::Window(_) => reject(
            "window-below",
            "window functions cannot run over protected rows; apply them to aggregated results instead",
        ),
        LogicalPlan::Sort(_) | LogicalPlan::Limit(_) => reject(
            "order-limit-below",
            "ORDER BY and LIMIT cannot be applied to protected rows before aggregating them",
        ),
        LogicalPlan::Distinct(_) => {
            reject("distinct-below", "DISTINCT over protected rows is not allowed; count distinct units instead")
        }
        LogicalPlan::Union(_) => reject("set-operation", "UNION, INTERSECT and EXCEPT cannot combine protected rows"),
        LogicalPlan::Dml(_) | LogicalPlan::Copy(_) | LogicalPlan::Ddl(_) => {
            reject("read-only", "the warehouse is read-only")
        }
        other => reject(
            "unsupported",
            format!(
                "{} is not supported on protected rows",
                other.display().to_string().split(':').next().unwrap_or("this operation")
            ),
        ),
    }
}

/// Whether any scan under `plan` (subqueries included) reads a protected table.
pub(crate) fn reads_protected(plan: &LogicalPlan) -> Result<bool> {
    let mut found = false;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let provider = datafusion::catalog::default_table_source::source_as_provider(&scan.source).ok();
            found |= provider.as_ref().and_then(ProtectedTable::of).is_some();
        }
        Ok(if found { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    })?;
    Ok(found)
}

fn project(projection: Projection, rows: Rows) -> Result<(LogicalPlan, Lineage)> {
    let input_schema = Arc::clone(projection.input.schema());
    let mut exprs = Vec::with_capacity(projection.expr.len());
    let mut carried = vec![None; rows.units.len()];
    for (i, expr) in projection.expr.iter().enumerate() {
        let (qualifier, field) = projection.schema.qualified_field(i);
        if let Some((index, _)) = rows.unit_of_expr(&input_schema, expr).filter(|_| is_plain_column(expr)) {
            carried[index] = Some(Column::from((qualifier, field)));
            exprs.push(expr.clone());
        } else {
            check_value(expr, &rows, &input_schema, "unit-expression")?;
            exprs.push(keep_name(neutralize(expr.clone(), &input_schema)?, qualifier, field.name()));
        }
    }
    // Unit ids the query does not select still travel up, hidden, to the protecting aggregate.
    let mut units = Vec::with_capacity(rows.units.len());
    for (index, unit) in rows.units.iter().enumerate() {
        let column = match carried[index].take() {
            Some(column) => column,
            None => {
                let name = format!("{UNIT_COLUMN_PREFIX}{index}");
                exprs.push(Expr::Column(unit.column.clone()).alias(&name));
                Column::from_name(name)
            }
        };
        units.push(Unit { entity: unit.entity, column });
    }
    let projection = Projection::try_new(exprs, projection.input)?;
    Ok((LogicalPlan::Projection(projection), Lineage::Protected(Rows { units, tables: rows.tables })))
}

fn is_plain_column(expr: &Expr) -> bool {
    match expr {
        Expr::Column(_) => true,
        Expr::Alias(alias) => is_plain_column(&alias.expr),
        _ => false,
    }
}

fn filter_rows(filter: Filter, rows: Rows) -> Result<(LogicalPlan, Lineage)> {
    let schema = Arc::clone(filter.input.schema());
    check_predicate(&filter.predicate, &rows, &schema)?;
    let predicate = neutralize(filter.predicate, &schema)?;
    let filter = Filter::try_new(predicate, filter.input)?;
    Ok((LogicalPlan::Filter(filter), Lineage::Protected(rows)))
}

fn requalify(alias: SubqueryAlias, rows: Rows) -> (LogicalPlan, Lineage) {
    let input_schema = Arc::clone(alias.input.schema());
    let units = rows
        .units
        .iter()
        .map(|unit| {
            let index = input_schema.index_of_column(&unit.column).expect("unit columns are in their schema");
            let name = input_schema.field(index).name();
            Unit { entity: unit.entity, column: Column::new(Some(alias.alias.clone()), name) }
        })
        .collect();
    (LogicalPlan::SubqueryAlias(alias), Lineage::Protected(Rows { units, tables: rows.tables }))
}

fn join_rows(join: Join, lineages: &[Lineage]) -> Result<(LogicalPlan, Lineage)> {
    let schema = Arc::clone(&join.schema);
    let keys = equi_keys(&join);
    let rows = match (&lineages[0], &lineages[1]) {
        (Lineage::Protected(left), Lineage::Protected(right)) => join_protected(&join, &keys, left, right)?,
        (Lineage::Protected(rows), Lineage::Public) => join_public(&join, &keys, rows, JoinSide::Left)?,
        (Lineage::Public, Lineage::Protected(rows)) => join_public(&join, &keys, rows, JoinSide::Right)?,
        _ => {
            return reject(
                "join-released",
                "protected rows may only be joined to public tables, or to protected tables on unit ids",
            );
        }
    };
    if let Some(filter) = &join.filter {
        let all_units = all_protected_rows(lineages);
        check_predicate(filter, &all_units, &schema)?;
    }
    Ok((LogicalPlan::Join(join), Lineage::Protected(rows)))
}

/// The equi-join keys as (left, right) pairs: `on`, plus the equalities in the join filter (the SQL
/// planner leaves `JOIN ... ON a = b` there; an optimizer rule only moves them to `on` later).
fn equi_keys(join: &Join) -> Vec<(Expr, Expr)> {
    let mut keys = join.on.clone();
    let atoms = join.filter.as_ref().map(split_conjunction).unwrap_or_default();
    for atom in atoms {
        if let Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) = atom {
            let side = |e: &Expr| match strip_casts(e) {
                Expr::Column(c) if join.left.schema().has_column(c) => Some(JoinSide::Left),
                Expr::Column(c) if join.right.schema().has_column(c) => Some(JoinSide::Right),
                _ => None,
            };
            match (side(left), side(right)) {
                (Some(JoinSide::Left), Some(JoinSide::Right)) => keys.push(((**left).clone(), (**right).clone())),
                (Some(JoinSide::Right), Some(JoinSide::Left)) => keys.push(((**right).clone(), (**left).clone())),
                _ => {}
            }
        }
    }
    keys
}

#[derive(PartialEq)]
enum JoinSide {
    Left,
    Right,
}

/// The units of every protected input, for checks on a join's own expressions.
fn all_protected_rows(lineages: &[Lineage]) -> Rows {
    let mut rows = Rows { units: Vec::new(), tables: Vec::new() };
    for lineage in lineages {
        if let Lineage::Protected(input) = lineage {
            rows.units.extend(input.units.iter().cloned());
            rows.tables.extend(input.tables.iter().cloned());
        }
    }
    rows
}

/// Which inputs' rows a join type outputs.
fn outputs(join_type: JoinType) -> Option<(bool, bool)> {
    match join_type {
        JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => Some((true, true)),
        JoinType::LeftSemi | JoinType::LeftAnti => Some((true, false)),
        JoinType::RightSemi | JoinType::RightAnti => Some((false, true)),
        JoinType::LeftMark | JoinType::RightMark => None,
    }
}

fn join_public(join: &Join, keys: &[(Expr, Expr)], rows: &Rows, side: JoinSide) -> Result<Rows> {
    let protected_side_schema = if side == JoinSide::Left { join.left.schema() } else { join.right.schema() };
    for (left, right) in keys {
        let key = if side == JoinSide::Left { left } else { right };
        if rows.unit_of_expr(protected_side_schema, key).is_some() {
            return reject("join-unit-public", "unit ids cannot be joined to public tables");
        }
    }
    let (left_out, right_out) = outputs(join.join_type).unwrap_or((false, false));
    let protected_out = if side == JoinSide::Left { left_out } else { right_out };
    if !protected_out {
        return reject(
            "semi-join",
            "public rows cannot be filtered by the existence of protected rows (EXISTS/IN/semi joins)",
        );
    }
    Ok(rows.clone())
}

fn join_protected(join: &Join, keys: &[(Expr, Expr)], left: &Rows, right: &Rows) -> Result<Rows> {
    let mut on_units = false;
    for (l, r) in keys {
        match (left.unit_of_expr(join.left.schema(), l), right.unit_of_expr(join.right.schema(), r)) {
            (Some((_, a)), Some((_, b))) if a.entity == b.entity => on_units = true,
            (None, None) => {}
            _ => return reject("join-unit-mismatch", "a unit id can only be joined to a unit id of the same type"),
        }
    }
    if !on_units {
        return reject(
            "join-protected",
            "protected tables can only be joined to each other on unit ids (e.g. ON a.persoon_id = b.persoon_id)",
        );
    }
    let Some((left_out, right_out)) = outputs(join.join_type) else {
        return reject("unsupported", "this join type is not supported on protected rows");
    };
    let mut units = Vec::new();
    let mut tables = Vec::new();
    if left_out {
        units.extend(left.units.iter().cloned());
        tables.extend(left.tables.iter().cloned());
    }
    if right_out {
        units.extend(right.units.iter().cloned());
        tables.extend(right.tables.iter().cloned());
    }
    Ok(Rows { units, tables })
}

/// Scalar functions that may run on protected values: deterministic, and unable to fail on a
/// value (an error that depends on one row is a side channel).
const FREE_FUNCTIONS: &[&str] = &[
    "abs",
    "ceil",
    "floor",
    "signum",
    "sqrt",
    "cbrt",
    "ln",
    "log10",
    "log2",
    "exp",
    "greatest",
    "least",
    "coalesce",
    "nullif",
    "nvl",
    "ifnull",
    "lower",
    "upper",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "btrim",
    "trim",
    "ltrim",
    "rtrim",
    "concat",
    "concat_ws",
    "isnan",
    "iszero",
    "starts_with",
    "ends_with",
    "strpos",
];
/// Functions that are safe as long as at most one argument comes from the data (the others
/// literals): a data-dependent length or precision could fail on one row.
const ONE_DATA_ARGUMENT_FUNCTIONS: &[&str] = &[
    "round",
    "trunc",
    "power",
    "pow",
    "log",
    "substr",
    "substring",
    "left",
    "right",
    "date_part",
    "datepart",
    "date_trunc",
    "datetrunc",
    "replace",
];

/// Checks an expression evaluated on protected rows: no unit ids, no subqueries, only
/// whitelisted functions. `unit_rule` names the rule a unit id breaks here.
fn check_value(expr: &Expr, rows: &Rows, schema: &DFSchema, unit_rule: &'static str) -> Result<()> {
    let mut verdict = Ok(());
    expr.apply(|e| {
        verdict = check_node(e, rows, schema, unit_rule);
        Ok(if verdict.is_ok() { TreeNodeRecursion::Continue } else { TreeNodeRecursion::Stop })
    })?;
    verdict
}

fn check_node(expr: &Expr, rows: &Rows, schema: &DFSchema, unit_rule: &'static str) -> Result<()> {
    match expr {
        Expr::Column(column) if rows.unit_of(schema, column).is_some() => reject(
            unit_rule,
            format!(
                "unit id column {} may only be counted with count(DISTINCT {}) or used as a join key",
                column.name, column.name
            ),
        ),
        Expr::ScalarFunction(function) => check_function(function.name(), &function.args),
        Expr::Exists(_) | Expr::InSubquery(_) | Expr::ScalarSubquery(_) | Expr::SetComparison(_) => reject(
            "subquery-below",
            "subqueries (EXISTS, IN, scalar) cannot be combined with protected rows; join public tables instead",
        ),
        Expr::AggregateFunction(_) | Expr::WindowFunction(_) => {
            reject("nested-aggregate", "aggregates cannot be nested inside expressions on protected rows")
        }
        Expr::Column(_)
        | Expr::Literal(..)
        | Expr::OuterReferenceColumn(..)
        | Expr::Placeholder(_)
        | Expr::ScalarVariable(..)
        | Expr::Alias(_)
        | Expr::BinaryExpr(_)
        | Expr::Like(_)
        | Expr::SimilarTo(_)
        | Expr::Not(_)
        | Expr::IsNotNull(_)
        | Expr::IsNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsUnknown(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::IsNotUnknown(_)
        | Expr::Negative(_)
        | Expr::Between(_)
        | Expr::Case(_)
        | Expr::Cast(_)
        | Expr::TryCast(_)
        | Expr::InList(_) => Ok(()),
        other => reject("expression", format!("{} is not allowed on protected rows", other.variant_name())),
    }
}

fn check_function(name: &str, args: &[Expr]) -> Result<()> {
    let name = name.to_ascii_lowercase();
    if FREE_FUNCTIONS.contains(&name.as_str()) {
        return Ok(());
    }
    if ONE_DATA_ARGUMENT_FUNCTIONS.contains(&name.as_str()) {
        let data_arguments = args.iter().filter(|a| !matches!(strip_casts(a), Expr::Literal(..))).count();
        if data_arguments <= 1 {
            return Ok(());
        }
        return reject("function", format!("{name} on protected rows takes literals for all but one argument"));
    }
    reject("function", format!("function {name} is not allowed on protected rows"))
}

/// A filter on protected rows: a conjunction of comparisons on non-unit columns (an equality
/// between two unit ids of one type is allowed too: it is a join condition).
fn check_predicate(predicate: &Expr, rows: &Rows, schema: &DFSchema) -> Result<()> {
    for atom in split_conjunction(predicate) {
        match atom {
            Expr::BinaryExpr(BinaryExpr { op: Operator::Or, .. }) => {
                return reject(
                    "filter-or",
                    "filters on protected rows must be conjunctions (AND) of comparisons; use IN (...) instead of OR",
                );
            }
            Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right })
                if unit_equality(left, right, rows, schema) => {}
            other => check_value(other, rows, schema, "filter-unit")?,
        }
    }
    Ok(())
}

fn unit_equality(left: &Expr, right: &Expr, rows: &Rows, schema: &DFSchema) -> bool {
    match (rows.unit_of_expr(schema, left), rows.unit_of_expr(schema, right)) {
        (Some((_, a)), Some((_, b))) => a.entity == b.entity,
        _ => false,
    }
}

/// Removes the error side channels of expressions on protected rows: a division by a value that
/// is zero for one unit, or a cast that fails on one value, would otherwise answer "does such a
/// unit exist?" through an error. Divisions divide by NULLIF(divisor, 0); casts become TRY_CAST.
fn neutralize(expr: Expr, schema: &DFSchema) -> Result<Expr> {
    expr.transform_up(|e| match e {
        Expr::BinaryExpr(BinaryExpr { left, op: op @ (Operator::Divide | Operator::Modulo), right }) => {
            let zero = ScalarValue::new_zero(&right.get_type(schema)?)?;
            let divisor = datafusion::functions::expr_fn::nullif(*right, lit(zero));
            Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(left, op, Box::new(divisor)))))
        }
        Expr::Cast(cast) => Ok(Transformed::yes(Expr::TryCast(TryCast { expr: cast.expr, field: cast.field }))),
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

/// Keeps the output name an expression had, so the nodes above still find it.
fn keep_name(expr: Expr, qualifier: Option<&TableReference>, name: &str) -> Expr {
    if expr.schema_name().to_string() == name && qualifier.is_none() {
        return expr;
    }
    match expr {
        Expr::Alias(alias) if alias.name == name && alias.relation.as_ref() == qualifier => Expr::Alias(alias),
        Expr::Alias(alias) => alias.expr.alias_qualified(qualifier.cloned(), name),
        other => other.alias_qualified(qualifier.cloned(), name),
    }
}

/// What building protecting aggregate calls needs.
struct CallContext<'a> {
    rows: &'a Rows,
    schema: &'a DFSchema,
    params: SuppressionParams,
    keyer: &'a CellKeyer,
}

impl CallContext<'_> {
    fn protect_call(&self, expr: &Expr, return_type: &DataType) -> Result<Expr> {
        let Expr::AggregateFunction(AggregateFunction { func, params }) = strip_alias(expr) else {
            return reject("aggregate-function", "only aggregate functions may stand in an aggregate");
        };
        let AggregateFunctionParams { args, distinct, filter, order_by, .. } = params;
        let name = func.name().to_ascii_lowercase();
        let (measure, value) = match name.as_str() {
            "count" if *distinct => (Measure::CountUnits(self.distinct_unit(args)?), None),
            "count" => (Measure::Count, None),
            "sum" | "avg" | "mean" if *distinct => {
                return reject("distinct-aggregate", format!("{name}(DISTINCT ...) is not allowed on protected rows"));
            }
            "sum" => (Measure::Sum, args.first()),
            "avg" | "mean" => (Measure::Avg, args.first()),
            "median" | "approx_median" => (Measure::Quantile(0.5), args.first()),
            "percentile_cont" | "approx_percentile_cont" | "quantile_cont" => self.percentile(args, order_by)?,
            "min" | "max" => {
                return reject(
                    "min-max",
                    "min and max of protected values are never released: each is one unit's value",
                );
            }
            other => {
                return reject(
                    "aggregate-function",
                    format!("{other} is not allowed on protected rows; use count, sum, avg, median or percentile_cont"),
                );
            }
        };
        if !order_by.is_empty() && !matches!(measure, Measure::Quantile(_)) {
            return reject("aggregate-order", "ORDER BY inside an aggregate is not allowed on protected rows");
        }
        let mut include = match filter {
            Some(filter) => {
                check_predicate(filter, self.rows, self.schema)?;
                neutralize((**filter).clone(), self.schema)?
            }
            None => lit(true),
        };
        let value = match (measure, value) {
            (Measure::Count, _) => {
                if let Some(arg) = args.first().filter(|a| !matches!(a, Expr::Literal(..))) {
                    if self.rows.unit_of_expr(self.schema, arg).is_none() {
                        check_value(arg, self.rows, self.schema, "unit-expression")?;
                    }
                    include = include.and(neutralize(arg.clone(), self.schema)?.is_not_null());
                }
                lit(1.0)
            }
            (_, Some(arg)) => {
                check_value(arg, self.rows, self.schema, "unit-expression")?;
                Expr::TryCast(TryCast::new(Box::new(neutralize(arg.clone(), self.schema)?), DataType::Float64))
            }
            (_, None) => lit(1.0),
        };
        Ok(self.call(measure, value, include, return_type))
    }

    fn cell_expr(&self) -> Expr {
        self.call(Measure::Cell, lit(1.0), lit(true), &DataType::Boolean)
    }

    fn call(&self, measure: Measure, value: Expr, include: Expr, return_type: &DataType) -> Expr {
        let entities = self.rows.units.iter().map(|u| u.entity).collect();
        let udaf = ProtectAggregate::new(measure, entities, self.params, self.keyer.clone(), return_type.clone());
        let mut args = vec![value, include];
        args.extend(
            self.rows
                .units
                .iter()
                .map(|u| Expr::TryCast(TryCast::new(Box::new(Expr::Column(u.column.clone())), DataType::Int64))),
        );
        Expr::AggregateFunction(AggregateFunction::new_udf(
            Arc::new(AggregateUDF::new_from_impl(udaf)),
            args,
            false,
            None,
            vec![],
            None,
        ))
    }

    fn distinct_unit(&self, args: &[Expr]) -> Result<usize> {
        match args {
            [arg] => self.rows.unit_of_expr(self.schema, arg).map(|(index, _)| index).map_or_else(
                || {
                    reject(
                        "count-distinct",
                        "count(DISTINCT ...) on protected rows is only allowed on a unit id column",
                    )
                },
                Ok,
            ),
            _ => reject("count-distinct", "count(DISTINCT ...) takes one unit id column"),
        }
    }

    fn percentile<'e>(
        &self,
        args: &'e [Expr],
        order_by: &'e [datafusion::logical_expr::SortExpr],
    ) -> Result<(Measure, Option<&'e Expr>)> {
        let literal_fraction = |e: &Expr| match strip_casts(e) {
            Expr::Literal(value, _) => value.clone().cast_to(&DataType::Float64).ok().and_then(|v| match v {
                ScalarValue::Float64(Some(f)) if (0.0..=1.0).contains(&f) => Some(f),
                _ => None,
            }),
            _ => None,
        };
        // WITHIN GROUP (ORDER BY x) puts the value in the ordering; the older spelling passes
        // (x, fraction). Either way the fraction is the literal argument.
        let fraction = args.iter().find_map(literal_fraction);
        let value = order_by
            .first()
            .map(|sort| &sort.expr)
            .or_else(|| args.iter().find(|a| !matches!(strip_casts(a), Expr::Literal(..))));
        let Some(value) = value else {
            return reject("percentile", "percentile_cont needs a value to order");
        };
        match fraction {
            Some(fraction) => Ok((Measure::Quantile(fraction), Some(value))),
            None => reject("percentile", "percentile_cont on protected rows needs a literal fraction between 0 and 1"),
        }
    }
}

fn strip_alias(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(alias) => strip_alias(&alias.expr),
        other => other,
    }
}
