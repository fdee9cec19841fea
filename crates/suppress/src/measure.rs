//! The aggregate calls of one aggregation over protected rows: which measures are allowed, what each
//! measures in canonical form, and the protecting aggregates they are rewritten into.
//!
//! The canonical text of a measure (`sum(basis.persoon.inkomen) over basis.persoon`) and of the
//! conditions that selected its rows seed its noise layers; together with the grouping they are
//! the question an untrusted analyst's budget is charged for.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams, TryCast};
use datafusion::logical_expr::{AggregateUDF, Expr, ExprSchemable, SortExpr, lit};
use zicht_catalog::SuppressionParams;

use crate::access::AccessLevel;
use crate::aggregate::{Measure, MeasureSpec, ProtectAggregate, Question};
use crate::error::reject;
use crate::expression::{check_value, is_literal, make_safe, make_safe_predicate, strip_casts};
use crate::lineage::{Origin, Rows, canonical_text, origin_of, strip_alias};
use crate::noise::{NoiseSeeds, text_hash};
use crate::rule::{ProtectRule, VALUE_TYPE, refuse_identifying};
use crate::untrusted;

/// A group key of the aggregation, in canonical form.
pub(crate) struct GroupKey {
    pub canonical: String,
}

/// What one aggregate call measures, validated.
struct Described {
    measure: Measure,
    /// The value to aggregate, as Float64.
    value: Expr,
    /// Whether a row is included (FILTER clause, non-NULL argument of count).
    include: Expr,
    /// Whether `include` can leave rows out (a FILTER, or a count of a value that can be NULL).
    conditional: bool,
    /// Canonical text of the measure; for an average, of its sum.
    text: String,
    /// Canonical text of the row count an average divides by; of a quantile's window noise.
    count_text: String,
    /// Canonical texts of every condition that selected the measured rows.
    conditions: Vec<String>,
}

/// The validated aggregate calls of one aggregation, ready to be rewritten.
pub(crate) struct AggregateCalls<'a> {
    rule: &'a ProtectRule,
    rows: &'a Rows,
    params: SuppressionParams,
    tables: String,
    described: Vec<Described>,
    question: Option<Question>,
    /// Per unit column: whether it holds one row per unit (the table's key, no repeating join).
    streamed: Vec<bool>,
}

impl<'a> AggregateCalls<'a> {
    pub fn new(
        rule: &'a ProtectRule,
        rows: &'a Rows,
        schema: &DFSchema,
        origins: &[Origin],
        keys: Vec<GroupKey>,
        calls: &[Expr],
    ) -> Result<AggregateCalls<'a>> {
        let context = Context { rule, rows, schema, origins, tables: rows.table_names() };
        let described = calls.iter().map(|call| context.describe(call)).collect::<Result<Vec<_>>>()?;
        let question =
            (rule.level() == AccessLevel::Untrusted).then(|| question(rows, &context.tables, &keys, &described));
        let streamed = rows.units.iter().map(|u| !rows.repeats && is_key(schema, origins, &u.column)).collect();
        Ok(AggregateCalls { rule, rows, params: rows.params(), tables: context.tables, described, question, streamed })
    }

    /// The one protecting aggregation of all calls (with `return_types`), and when `grouped` the
    /// hidden flag that says whether a group may be shown, as its last field.
    pub fn protect(&self, return_types: &[DataType], grouped: bool) -> Expr {
        let cell = grouped.then(|| Described {
            measure: Measure::Cell,
            value: lit(1.0),
            include: lit(true),
            conditional: false,
            text: format!("cell over {}", self.tables),
            count_text: String::new(),
            conditions: self.rows.conditions.clone(),
        });
        let types = return_types.iter().cloned().chain(cell.is_some().then_some(DataType::Boolean));
        let mut inputs: Vec<(&Expr, &Expr)> = Vec::new();
        let measures: Vec<MeasureSpec> = self
            .described
            .iter()
            .chain(&cell)
            .zip(types)
            .map(|(described, return_type)| described.spec(shared_input(&mut inputs, described), return_type))
            .collect();
        let mut args: Vec<Expr> =
            inputs.iter().flat_map(|(value, include)| [(*value).clone(), (*include).clone()]).collect();
        let entities = self.rows.units.iter().map(|u| u.entity).collect();
        let mut udaf =
            ProtectAggregate::new(measures, entities, self.streamed.clone(), self.params, self.rule.keyer().clone());
        if let Some(question) = &self.question {
            udaf = udaf.with_question(question.clone());
        }
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
}

/// The input that reads `described`'s value and inclusion: an earlier measure's with the same
/// arguments, or a new one. Volatile arguments are never shared.
fn shared_input<'e>(inputs: &mut Vec<(&'e Expr, &'e Expr)>, described: &'e Described) -> usize {
    let pair = (&described.value, &described.include);
    let volatile = pair.0.is_volatile() || pair.1.is_volatile();
    match inputs.iter().position(|&known| !volatile && known == pair) {
        Some(input) => input,
        None => {
            inputs.push(pair);
            inputs.len() - 1
        }
    }
}

impl Described {
    fn spec(&self, input: usize, return_type: DataType) -> MeasureSpec {
        MeasureSpec {
            measure: self.measure,
            input,
            return_type,
            conditional: self.conditional,
            seeds: NoiseSeeds::from_texts(&self.text, &self.conditions),
            count_seeds: NoiseSeeds::from_texts(&self.count_text, &self.conditions),
        }
    }
}

/// Whether `column` is its table's key (one distinct value per row).
fn is_key(schema: &DFSchema, origins: &[Origin], column: &datafusion::common::Column) -> bool {
    origin_of(schema, origins, column).and_then(Origin::catalog).is_some_and(|(table, name)| table.key() == Some(name))
}

/// The question an aggregation asks, for the untrusted user's budget.
fn question(rows: &Rows, tables: &str, keys: &[GroupKey], described: &[Described]) -> Question {
    let mut conditions: Vec<&str> = described.iter().flat_map(|d| d.conditions.iter().map(String::as_str)).collect();
    conditions.extend(rows.conditions.iter().map(String::as_str));
    conditions.sort_unstable();
    conditions.dedup();
    let keys: Vec<&str> = keys.iter().map(|k| k.canonical.as_str()).collect();
    let measures: Vec<&str> = described.iter().map(|d| d.text.as_str()).collect();
    let text = format!("{tables}|{}|{}|{}", keys.join(","), conditions.join(" AND "), measures.join(","));
    let mut names: Vec<String> = rows.tables.iter().map(|t| t.qualified_name()).collect();
    names.sort();
    names.dedup();
    Question { tables: names, fingerprint: text_hash(&text) }
}

struct Context<'a> {
    rule: &'a ProtectRule,
    rows: &'a Rows,
    schema: &'a DFSchema,
    origins: &'a [Origin],
    tables: String,
}

impl Context<'_> {
    fn untrusted(&self) -> bool {
        self.rule.level() == AccessLevel::Untrusted
    }

    fn describe(&self, expr: &Expr) -> Result<Described> {
        let Expr::AggregateFunction(AggregateFunction { func, params }) = strip_alias(expr) else {
            return reject("aggregate-function", "only aggregate functions may stand in an aggregate");
        };
        let AggregateFunctionParams { args, distinct, filter, order_by, .. } = params;
        let name = func.name().to_ascii_lowercase();
        let (measure, argument) = match name.as_str() {
            "count" if *distinct => (Measure::CountUnits(self.distinct_unit(args)?), args.first()),
            "count" => (Measure::Count, args.first().filter(|a| !is_literal(a))),
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
        let (mut include, mut conditions) = match filter {
            Some(filter) => self.filter(filter)?,
            None => (lit(true), Vec::new()),
        };
        // Fail closed: a counted value whose nullability is unknown may be NULL.
        let counted_nullable = matches!(measure, Measure::Count | Measure::CountUnits(_))
            && argument.is_some_and(|a| a.nullable(self.schema).unwrap_or(true));
        let conditional = filter.is_some() || counted_nullable;
        conditions.extend(self.rows.conditions.iter().cloned());
        let (value, argument_text) = match (measure, argument) {
            (Measure::Count, Some(argument)) => {
                let (safe, text) = self.counted(argument)?;
                include = include.and(safe.is_not_null());
                (lit(1.0), text)
            }
            (Measure::Count, None) => (lit(1.0), "*".to_string()),
            (Measure::CountUnits(_), _) => (lit(1.0), "*".to_string()),
            (_, Some(argument)) => self.measured(argument)?,
            (_, None) => return reject("aggregate-function", format!("{name} needs an argument")),
        };
        let over = |what: &str| format!("{what} over {}", self.tables);
        // Every count is seeded alike: its noise also depends on its value (see
        // CellKeyer::count_noise), so spellings of one count agree and different counts differ.
        let (text, count_text) = match measure {
            Measure::Sum | Measure::Avg => (over(&format!("sum({argument_text})")), over("count")),
            // The fraction names the question (and its budget); the noise is seeded by the
            // window it lands on (the second text), which fractions may share.
            Measure::Quantile(p) => {
                (over(&format!("quantile({p}, {argument_text})")), over(&format!("quantile({argument_text})")))
            }
            _ => (over("count"), String::new()),
        };
        Ok(Described { measure, value, include, conditional, text, count_text, conditions })
    }

    /// A FILTER clause: what it includes, and its conditions.
    fn filter(&self, filter: &Expr) -> Result<(Expr, Vec<String>)> {
        let conditions = self.rule.conditions(filter, self.schema, self.origins)?;
        let include = make_safe_predicate(filter.clone(), self.schema)?;
        Ok((include, conditions))
    }

    /// The argument of count(x): counted where not NULL. Identifying columns may be counted.
    fn counted(&self, argument: &Expr) -> Result<(Expr, String)> {
        if let Expr::Column(column) = strip_casts(argument)
            && origin_of(self.schema, self.origins, column).is_some_and(|o| o.identifying)
        {
            return Ok((argument.clone(), self.text(argument)));
        }
        refuse_identifying(argument, self.schema, self.origins, "unit-expression")?;
        if self.untrusted() {
            let text = untrusted::measured_column(argument, self.schema, self.origins)?;
            return Ok((make_safe(argument.clone(), self.schema)?, text));
        }
        check_value(argument, self.schema, self.origins, "unit-expression")?;
        Ok((make_safe(argument.clone(), self.schema)?, self.text(argument)))
    }

    /// The argument of sum, avg or a quantile, as the Float64 value the protecting aggregate takes.
    fn measured(&self, argument: &Expr) -> Result<(Expr, String)> {
        refuse_identifying(argument, self.schema, self.origins, "unit-expression")?;
        let (safe, text) = if self.untrusted() {
            (
                make_safe(argument.clone(), self.schema)?,
                untrusted::measured_column(argument, self.schema, self.origins)?,
            )
        } else {
            check_value(argument, self.schema, self.origins, "unit-expression")?;
            (make_safe(argument.clone(), self.schema)?, self.text(argument))
        };
        Ok((Expr::TryCast(TryCast::new(Box::new(safe), VALUE_TYPE)), text))
    }

    fn text(&self, expr: &Expr) -> String {
        canonical_text(expr, self.schema, self.origins)
    }

    fn distinct_unit(&self, args: &[Expr]) -> Result<usize> {
        let unit = match args {
            [Expr::Column(column)] => self.rows.unit_index(self.schema, column),
            [other] => match strip_casts(other) {
                Expr::Column(column) => self.rows.unit_index(self.schema, column),
                _ => None,
            },
            _ => None,
        };
        unit.map_or_else(
            || reject("count-distinct", "count(DISTINCT ...) on protected rows is only allowed on a unit id column"),
            Ok,
        )
    }

    fn percentile<'e>(&self, args: &'e [Expr], order_by: &'e [SortExpr]) -> Result<(Measure, Option<&'e Expr>)> {
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
        let value = order_by.first().map(|sort| &sort.expr).or_else(|| args.iter().find(|a| !is_literal(a)));
        let Some(value) = value else {
            return reject("percentile", "percentile_cont needs a value to order");
        };
        let Some(fraction) = fraction else {
            return reject("percentile", "percentile_cont on protected rows needs a literal fraction between 0 and 1");
        };
        let fraction = if self.untrusted() { untrusted::percentile_fraction(fraction)? } else { fraction };
        Ok((Measure::Quantile(fraction), Some(value)))
    }
}
