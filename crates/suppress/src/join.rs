//! Joins over protected rows: which are allowed, and what units and conditions the result carries.
//!
//! Protected rows may be joined to public tables and to other protected rows on unit ids of the same
//! type. At the untrusted level a join may not repeat rows (repetition weights units, so that a
//! dominant unit no longer looks dominant): a public table is joined on its declared key, and of
//! two protected tables one is joined on its key (one row per unit).

use datafusion::common::DFSchema;
use datafusion::error::Result;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, Join, JoinType, LogicalPlan, Operator};

use crate::access::AccessLevel;
use crate::error::reject;
use crate::expression::strip_casts;
use crate::lineage::{Kind, Lineage, Origin, Rows, origin_of};
use crate::table::CatalogTable;

/// The rows a join of `inputs` outputs, or its refusal.
pub(crate) fn join_rows(join: &Join, inputs: &[Lineage], level: AccessLevel) -> Result<Rows> {
    let (keys, rest) = equi_keys(join);
    let untrusted = level == AccessLevel::Untrusted;
    if untrusted && !rest.is_empty() {
        return reject(
            "untrusted-join",
            "at the untrusted level a join over protected rows is an equality of key columns (ON a.x = b.x); \
             put other conditions in WHERE",
        );
    }
    let sides = Sides { join, left: &inputs[0], right: &inputs[1] };
    match (&inputs[0].kind, &inputs[1].kind) {
        (Kind::Protected(left), Kind::Protected(right)) => sides.protected(&keys, left, right, untrusted),
        (Kind::Protected(rows), Kind::Public) => sides.public(&keys, rows, Side::Left, untrusted),
        (Kind::Public, Kind::Protected(rows)) => sides.public(&keys, rows, Side::Right, untrusted),
        _ => reject(
            "join-released",
            "protected rows may only be joined to public tables, or to protected tables on unit ids",
        ),
    }
}

/// The conditions of a join's filter that are not equalities of one column from each side.
pub(crate) fn non_equi_conditions(join: &Join) -> Vec<Expr> {
    equi_keys(join).1
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Left,
    Right,
}

struct Sides<'a> {
    join: &'a Join,
    left: &'a Lineage,
    right: &'a Lineage,
}

impl Sides<'_> {
    fn origin(&self, side: Side, expr: &Expr) -> Option<&Origin> {
        let (schema, lineage): (&DFSchema, _) = match side {
            Side::Left => (self.join.left.schema(), self.left),
            Side::Right => (self.join.right.schema(), self.right),
        };
        match strip_casts(expr) {
            Expr::Column(column) => origin_of(schema, &lineage.origins, column),
            _ => None,
        }
    }

    fn protected(&self, keys: &[(Expr, Expr)], left: &Rows, right: &Rows, untrusted: bool) -> Result<Rows> {
        let mut on_units = false;
        let mut on_a_key = false;
        let mut on_values = false;
        for (l, r) in keys {
            let (lo, ro) = (self.origin(Side::Left, l), self.origin(Side::Right, r));
            let identifying = |o: Option<&Origin>| o.is_some_and(|o| o.identifying);
            match (lo.and_then(Origin::unit), ro.and_then(Origin::unit)) {
                (Some(a), Some(b)) if a == b => {
                    on_units = true;
                    on_a_key |= is_table_key(lo) || is_table_key(ro);
                }
                (None, None) if !identifying(lo) && !identifying(ro) => on_values = true,
                _ => return reject("join-unit-mismatch", "a unit id can only be joined to a unit id of the same type"),
            }
        }
        if untrusted && on_values {
            on_units = false;
        }
        if !on_units {
            return reject(
                "join-protected",
                "protected tables can only be joined to each other on unit ids (e.g. ON a.persoon_id = b.persoon_id)",
            );
        }
        let Some((left_out, right_out)) = outputs(self.join.join_type) else {
            return reject("unsupported", "this join type is not supported on protected rows");
        };
        if untrusted && (!(on_a_key && left_out && right_out) || self.join.join_type == JoinType::Full) {
            return reject(
                "untrusted-join",
                "at the untrusted level two protected tables are joined (INNER, LEFT or RIGHT) on a unit id \
                 that is the key of one of them (basis.persoon.persoon_id, basis.woning.woning_id, ...), \
                 so that no row is repeated",
            );
        }
        let mut rows =
            Rows { units: Vec::new(), tables: Vec::new(), conditions: Vec::new(), pending: None, repeats: true };
        for (out, input) in [(left_out, left), (right_out, right)] {
            if out {
                rows.units.extend(input.units.iter().cloned());
                rows.tables.extend(input.tables.iter().cloned());
            }
            rows.conditions.extend(input.conditions.iter().cloned());
            rows.pending = rows.pending.or_else(|| input.pending.clone());
        }
        Ok(rows)
    }

    fn public(&self, keys: &[(Expr, Expr)], rows: &Rows, side: Side, untrusted: bool) -> Result<Rows> {
        let other = if side == Side::Left { Side::Right } else { Side::Left };
        for (left, right) in keys {
            let (mine, theirs) = if side == Side::Left { (left, right) } else { (right, left) };
            if self.origin(side, mine).is_some_and(|o| o.identifying) {
                return reject("join-unit-public", "unit ids cannot be joined to public tables");
            }
            if untrusted && !is_table_key(self.origin(other, theirs)) {
                return reject(
                    "untrusted-join",
                    "at the untrusted level a public table is joined on its key (regio.buurt.bu_code, \
                     regio.gemeente.gm_code, ...), so that no protected row is repeated",
                );
            }
        }
        if untrusted && keys.is_empty() {
            return reject("untrusted-join", "at the untrusted level a public table is joined on its key");
        }
        let on_key = !keys.is_empty()
            && keys.iter().any(|(left, right)| {
                let theirs = if side == Side::Left { right } else { left };
                is_table_key(self.origin(other, theirs))
            });
        // A key is one row per value only in the table as it is: a subquery that filters the
        // table, joins it or multiplies it keeps the key's name, not its uniqueness (and its
        // filters would select protected rows without being conditions of the cell).
        let public_plan = if side == Side::Left { &self.join.right } else { &self.join.left };
        let as_it_is = plain_scan(public_plan);
        if untrusted && !as_it_is {
            return reject(
                "untrusted-join",
                "at the untrusted level a public table is joined as it is (no subquery that filters, joins or \
                 repeats it); put conditions on its columns in WHERE",
            );
        }
        let (left_out, right_out) = outputs(self.join.join_type).unwrap_or((false, false));
        let protected_out = if side == Side::Left { left_out } else { right_out };
        if !protected_out {
            return reject(
                "semi-join",
                "public rows cannot be filtered by the existence of protected rows (EXISTS/IN/semi joins)",
            );
        }
        let public_kept = if side == Side::Left { right_out } else { left_out };
        let preserves_public = matches!(
            (self.join.join_type, side),
            (JoinType::Full, _) | (JoinType::Left, Side::Right) | (JoinType::Right, Side::Left)
        );
        if untrusted && public_kept && preserves_public {
            return reject("untrusted-join", "at the untrusted level a join keeps the protected rows (INNER or LEFT)");
        }
        // A join on the public table's key matches each protected row at most once; any other
        // join, or extra conditions, may repeat it.
        let repeats = rows.repeats || !on_key || !as_it_is || !non_equi_conditions(self.join).is_empty();
        Ok(Rows { repeats, ..rows.clone() })
    }
}

/// Whether `plan` is a catalog table as it is: its scan (without pushed-down filters), under
/// aliases and projections of plain columns only.
fn plain_scan(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let provider = datafusion::catalog::default_table_source::source_as_provider(&scan.source).ok();
            scan.filters.is_empty() && scan.fetch.is_none() && provider.as_ref().and_then(CatalogTable::of).is_some()
        }
        LogicalPlan::SubqueryAlias(alias) => plain_scan(&alias.input),
        LogicalPlan::Projection(projection) => {
            projection.expr.iter().all(|e| matches!(crate::lineage::strip_alias(e), Expr::Column(_)))
                && plain_scan(&projection.input)
        }
        _ => false,
    }
}

/// Whether `origin` is a catalog column that its table declares as key.
fn is_table_key(origin: Option<&Origin>) -> bool {
    origin.and_then(Origin::catalog).is_some_and(|(table, column)| table.key() == Some(column))
}

/// The equi-join keys as (left, right) pairs: `on`, plus the equalities of one column from each
/// side in the join filter (the SQL planner leaves `JOIN ... ON a = b` there; an optimizer rule only
/// moves them to `on` later); and the filter's other conditions.
fn equi_keys(join: &Join) -> (Vec<(Expr, Expr)>, Vec<Expr>) {
    let mut keys = join.on.clone();
    let mut rest = Vec::new();
    let atoms = join.filter.as_ref().map(split_conjunction).unwrap_or_default();
    for atom in atoms {
        let side = |e: &Expr| match strip_casts(e) {
            Expr::Column(c) if join.left.schema().has_column(c) => Some(Side::Left),
            Expr::Column(c) if join.right.schema().has_column(c) => Some(Side::Right),
            _ => None,
        };
        match atom {
            Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => match (side(left), side(right)) {
                (Some(Side::Left), Some(Side::Right)) => keys.push(((**left).clone(), (**right).clone())),
                (Some(Side::Right), Some(Side::Left)) => keys.push(((**right).clone(), (**left).clone())),
                _ => rest.push(atom.clone()),
            },
            other => rest.push(other.clone()),
        }
    }
    (keys, rest)
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
