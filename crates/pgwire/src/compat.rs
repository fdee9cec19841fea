//! PostgreSQL text as statements DataFusion plans the way PostgreSQL would.
//!
//! datafusion-pg-catalog's compatibility parser rewrites what DataFusion cannot plan (client
//! tools' catalog queries, oid-alias casts, PostgreSQL operators) and substitutes whole catalog
//! queries of known clients. Its treatment of subqueries in select lists gives wrong answers
//! outside the catalog, so those are kept from it; oid-alias casts of unknown names are checked
//! ([`crate::reg_cast`]); LIKE with another escape character is rewritten to the backslash one.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, DataType, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    Ident, ObjectName, OrderBy, OrderByKind, Query, SelectItem, SetExpr, Statement, Subscript, TableAliasColumnDef,
    TableFactor, Value, VisitMut, VisitorMut, visit_expressions_mut, visit_relations,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use crate::error::{WireError, WireResult};

/// Parses a query string (one or more statements) with the PostgreSQL compatibility rewrites.
/// Recurses as deep as the statements nest: call it through `command::parse_bounded`.
pub fn parse_statements(sql: &str) -> WireResult<Vec<Statement>> {
    let compatibility = PostgresCompatibilityParser::new();
    let mut plain = Parser::parse_sql(&PostgreSqlDialect {}, sql);
    let prepared = plain.as_mut().is_ok_and(|statements| {
        let kept = !reads_only_the_catalog(statements) && keep_select_list_subqueries(statements);
        // Sizes first: the relation names they cast to regclass are then checked as any such cast.
        let sized = crate::sizes::name_size_arguments(statements);
        kept | sized | crate::reg_cast::check_reg_casts(statements)
    });
    let mut statements = match plain {
        Ok(statements) if prepared => {
            statements.into_iter().map(|statement| compatibility.rewrite(statement)).collect()
        }
        plain => match compatibility.parse(sql) {
            Ok(statements) => statements,
            // The rewrites only ever help; report errors as plain PostgreSQL parsing sees them.
            Err(_) => plain.map_err(|e| WireError::Engine(zicht_engine::EngineError::Syntax(e.to_string())))?,
        },
    };
    rewrite_like_escapes(&mut statements);
    rewrite_postgres_spellings(&mut statements);
    crate::type_names::rewrite_type_names(&mut statements);
    crate::reg_cast::resolve_computed_regclass(&mut statements);
    crate::connection_tables::read_connection_tables(&mut statements);
    crate::oid_arrays::type_asyncpg_oid_arrays(&mut statements);
    crate::domain_bases::look_up_domain_bases_directly(&mut statements);
    crate::table_oids::resolve_table_oids(&mut statements);
    crate::pg_vectors::compare_with_array_literals(&mut statements);
    Ok(statements)
}

/// True when the statements read tables, all of them in pg_catalog or information_schema: client
/// tools' catalog queries. Their subqueries in select lists keep the compatibility parser's
/// treatment, because DataFusion cannot plan some of them as PostgreSQL does (psql's `\d` looks up
/// a column's default `WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef`, a
/// condition on the outer row alone), and what they look up (defaults, collations) this
/// warehouse does not have: NULL is the answer there.
fn reads_only_the_catalog(statements: &[Statement]) -> bool {
    let mut tables = 0;
    let mut in_catalog = |name: &ObjectName| {
        tables += 1;
        let parts = zicht_engine::name_parts(name);
        let inside = is_pg_catalog_table(&parts)
            || matches!(parts.as_slice(), [.., schema, _] if schema == "information_schema");
        if inside { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
    };
    let inside = statements.iter().all(|statement| visit_relations(statement, &mut in_catalog).is_continue());
    inside && tables > 0
}

/// The compatibility parser replaces a correlated subquery in a select list with NULL (and
/// counts a `$1` in it as a correlation) and cuts an uncorrelated one to its first row: wrong
/// answers where PostgreSQL gives the value or SQLSTATE 21000. The engine plans both as
/// PostgreSQL does, so each such subquery is put in parentheses, which that rewrite leaves alone.
/// True when there was one: the statements then skip the parser's substitutions of whole client
/// catalog queries, none of which has one (nor a cast [`crate::reg_cast`] checks).
fn keep_select_list_subqueries(statements: &mut [Statement]) -> bool {
    let mut visitor = SelectListSubqueries { found: false };
    for statement in statements.iter_mut() {
        let _ = statement.visit(&mut visitor);
    }
    visitor.found
}

struct SelectListSubqueries {
    found: bool,
}

impl VisitorMut for SelectListSubqueries {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let SetExpr::Select(select) = query.body.as_mut() else { return ControlFlow::Continue(()) };
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } = item
                && matches!(expr, Expr::Subquery(_))
            {
                let subquery = std::mem::replace(expr, Expr::Value(Value::Null.into()));
                *expr = Expr::Nested(Box::new(subquery));
                self.found = true;
            }
        }
        ControlFlow::Continue(())
    }
}

/// PostgreSQL spellings DataFusion knows under another: a field of a composite value,
/// `(expr).field`, is DataFusion's `(expr)['field']` (pgjdbc's `(_pg_expandarray(i.indkey)).n`);
/// the type `name` (an identifier) is text here (psqlODBC's `'zicht'::name`); a subscript of
/// pg_index's vectors counts from 0 ([`subscripts_a_vector`]); a set-returning
/// `generate_series(a, b)` or `_pg_expandarray(array)` in a select list (psqlODBC's and pgjdbc's
/// key queries) is an `unnest` of the list DataFusion's `generate_series` or
/// `zicht_expand_array` gives, which yields the same rows (several in one select list in step,
/// as PostgreSQL runs them); `pg_get_viewdef(oid)` reads the view's text
/// ([`view_definition`]), `pg_get_indexdef(oid, column, pretty)` an index column's name
/// ([`index_column`]), `obj_description` and `col_description` a description
/// ([`description`]), `ARRAY(subquery)` an aggregate ([`array_of_rows`]), and
/// `generate_subscripts` is [`subscripts`].
fn rewrite_postgres_spellings(statements: &mut Vec<Statement>) {
    for statement in statements.iter_mut() {
        let _ = statement.visit(&mut NamedAsFunctions);
        let _ = statement.visit(&mut UnnestColumnNamedAsAlias);
    }
    let _ = visit_expressions_mut(statements, |expr| {
        match expr {
            Expr::CompoundFieldAccess { root, access_chain } if matches!(root.as_ref(), Expr::Nested(_)) => {
                for access in access_chain.iter_mut() {
                    if let AccessExpr::Dot(Expr::Identifier(field)) = access {
                        *access = AccessExpr::Dot(Expr::Value(Value::SingleQuotedString(field.value.clone()).into()));
                    }
                }
            }
            Expr::CompoundFieldAccess { root, access_chain } => {
                if let Some((AccessExpr::Subscript(Subscript::Index { index }), before)) = access_chain.split_last_mut()
                    && subscripts_a_vector(root, before)
                {
                    *index = Expr::BinaryOp {
                        left: Box::new(Expr::Nested(Box::new(index.clone()))),
                        op: BinaryOperator::Plus,
                        right: Box::new(Expr::Value(Value::Number("1".into(), false).into())),
                    };
                }
            }
            Expr::Cast { data_type, .. } if is_pg_type(data_type, "name") => *data_type = DataType::Text,
            Expr::Function(function) => {
                let name = zicht_engine::name_parts(&function.name);
                match name.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                    // Set-returning functions in a select list: a row per element, as unnest gives.
                    ["generate_series"] => *expr = call("unnest", expr.clone()),
                    ["_pg_expandarray"] => {
                        function.name = ObjectName::from(vec![Ident::new(crate::pg_vectors::EXPAND_ARRAY)]);
                        *expr = call("unnest", expr.clone());
                    }
                    ["pg_get_viewdef"] => {
                        if let Some(definition) = arguments(function).first().and_then(|oid| view_definition(oid)) {
                            *expr = definition;
                        }
                    }
                    ["generate_subscripts"] => {
                        if let [array, _dimension] = arguments(function).as_slice()
                            && let Some(subscripts) = subscripts(array)
                        {
                            *expr = subscripts;
                        }
                    }
                    ["pg_get_indexdef"] => {
                        if let [index, column, _pretty] = arguments(function).as_slice()
                            && let Some(name) = index_column(index, column)
                        {
                            *expr = name;
                        }
                    }
                    ["obj_description"] => {
                        if let Some(oid) = arguments(function).first()
                            && let Some(text) = description(oid, &Expr::Value(Value::Number("0".into(), false).into()))
                        {
                            *expr = text;
                        }
                    }
                    ["col_description"] => {
                        if let [oid, column] = arguments(function).as_slice()
                            && let Some(text) = description(oid, column)
                        {
                            *expr = text;
                        }
                    }
                    ["array"] => {
                        if let FunctionArguments::Subquery(rows) = &function.args
                            && let Some(array) = array_of_rows(rows)
                        {
                            *expr = array;
                        }
                    }
                    // Descriptions of databases and roles: there are none.
                    ["shobj_description"] => {
                        if let Some(null) = parse_expression("CAST(NULL AS TEXT)") {
                            *expr = null;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Names a select list's unnamed calls of the functions that become subqueries after their
/// function, as PostgreSQL names the column (DataFusion would name each `(<subquery>)`, and
/// refuse two in one list).
struct NamedAsFunctions;

impl VisitorMut for NamedAsFunctions {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let SetExpr::Select(select) = query.body.as_mut() else { return ControlFlow::Continue(()) };
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(Expr::Function(function)) = item
                && let [name] = zicht_engine::name_parts(&function.name).as_slice()
                && matches!(
                    name.as_str(),
                    "pg_get_viewdef" | "pg_get_indexdef" | "obj_description" | "col_description" | "shobj_description"
                )
            {
                let alias = Ident::new(name.as_str());
                let expr = Expr::Function(function.clone());
                *item = SelectItem::ExprWithAlias { expr, alias };
            }
        }
        ControlFlow::Continue(())
    }
}

/// `unnest(array) AS x` in a FROM clause: PostgreSQL names the column after the alias (psql's
/// `\d+`: `select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x`), which DataFusion does
/// only for a bare `unnest`, not for `pg_catalog.unnest`; an unnest of `reloptions` is of NULL
/// ([`is_storage_options`]).
struct UnnestColumnNamedAsAlias;

impl VisitorMut for UnnestColumnNamedAsAlias {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, args: Some(args), alias, .. } = factor
            && zicht_engine::name_parts(name).last().is_some_and(|last| last == "unnest")
            && let Some(arrays) = args.args.iter().map(plain_argument).collect::<Option<Vec<_>>>()
        {
            // A qualified `pg_catalog.unnest(...)` is a table function to DataFusion, which has
            // none of that name: it knows only the bare UNNEST.
            *factor = TableFactor::UNNEST {
                alias: alias.take(),
                array_exprs: arrays.into_iter().cloned().collect(),
                with_offset: false,
                with_offset_alias: None,
                with_ordinality: false,
            };
        }
        let TableFactor::UNNEST { alias: Some(alias), array_exprs, .. } = factor else {
            return ControlFlow::Continue(());
        };
        for array in array_exprs.iter_mut() {
            if is_storage_options(array)
                && let Some(null) = parse_expression("CAST(NULL AS TEXT[])")
            {
                *array = null;
            }
        }
        if array_exprs.len() == 1 && alias.columns.is_empty() {
            alias.columns = vec![TableAliasColumnDef::from_name(alias.name.value.clone())];
        }
        ControlFlow::Continue(())
    }
}

/// A relation's `reloptions` (NULL for every relation, see [`crate::pg_catalog_schema`]). Its
/// unnest is that of a NULL constant: no rows, and no outer reference, which DataFusion cannot
/// plan in a FROM clause of a subquery inside an expression (psql's `\d+`:
/// `c.reloptions || array(select ... from pg_catalog.unnest(tc.reloptions) x)`).
fn is_storage_options(expr: &Expr) -> bool {
    column_name(expr).is_some_and(|column| column.value == "reloptions")
}

/// The column a (possibly qualified) column reference names: `c` of `c`, `t.c` or `s.t.c`.
pub(crate) fn column_name(expr: &Expr) -> Option<&Ident> {
    match expr {
        Expr::Identifier(column) => Some(column),
        Expr::CompoundIdentifier(parts) => parts.last(),
        _ => None,
    }
}

/// A function call's arguments, when they are all plain expressions.
/// A call's arguments, when all are plain (unnamed) expressions; none otherwise.
pub(crate) fn arguments(function: &Function) -> Vec<&Expr> {
    let FunctionArguments::List(list) = &function.args else { return Vec::new() };
    list.args.iter().map(plain_argument).collect::<Option<Vec<_>>>().unwrap_or_default()
}

fn plain_argument(arg: &FunctionArg) -> Option<&Expr> {
    match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Some(expr),
        _ => None,
    }
}

/// `pg_get_indexdef(index oid, column, pretty)`: the name of the table column that column
/// `column` (from 1) of the index is on (pgjdbc's `getIndexInfo`), NULL for an expression or a
/// position past the index's columns. The conditions on the outer query's values are equalities,
/// so that the subquery becomes a join.
fn index_column(index: &Expr, column: &Expr) -> Option<Expr> {
    let text = format!(
        "(SELECT zicht_attribute.attname FROM (SELECT zicht_index.indexrelid, zicht_index.indrelid, \
         unnest(zicht_index.indkey) AS zicht_attnum, \
         unnest(range(1, CAST(array_length(zicht_index.indkey) AS BIGINT) + 1)) AS zicht_position \
         FROM pg_catalog.pg_index zicht_index) zicht_keys \
         JOIN pg_catalog.pg_attribute zicht_attribute ON zicht_attribute.attrelid = zicht_keys.indrelid \
         AND zicht_attribute.attnum = zicht_keys.zicht_attnum \
         WHERE zicht_keys.indexrelid = {index} AND zicht_keys.zicht_position = {column})"
    );
    parse_expression(&text)
}

/// `pg_get_viewdef(oid [, pretty])`: the text of the view with that oid in pg_class, from
/// information_schema.views (NULL for an oid that is no view, as PostgreSQL's). The aliases are
/// the subquery's own, so that the oid expression still reads the outer query's table
/// (SQLAlchemy's `pg_catalog.pg_class.oid`, psql's `c.oid`).
fn view_definition(oid: &Expr) -> Option<Expr> {
    let text = format!(
        "(SELECT zicht_view.view_definition FROM information_schema.views zicht_view \
         JOIN pg_catalog.pg_namespace zicht_namespace ON zicht_namespace.nspname = zicht_view.table_schema \
         JOIN pg_catalog.pg_class zicht_class ON zicht_class.relnamespace = zicht_namespace.oid \
         AND zicht_class.relname = zicht_view.table_name WHERE zicht_class.oid = {oid})"
    );
    parse_expression(&text)
}

/// `obj_description(oid [, catalog])` (`column` 0) and `col_description(oid, column)`: the
/// description of a relation or of its column from pg_description ([`crate::pg_description`]),
/// NULL when it has none. An oid names one object here, whatever its catalog. The oid of a
/// computed name (Metabase's `CAST(format('%I.%I', s, t) AS regclass)`) is found by that name in
/// the same subquery, which DataFusion plans where a lookup inside the lookup it cannot.
fn description(oid: &Expr, column: &Expr) -> Option<Expr> {
    if let Some(name) = crate::reg_cast::computed_regclass_name(oid) {
        let text = format!(
            "(SELECT zicht_description.description FROM pg_catalog.pg_description zicht_description \
             JOIN pg_catalog.pg_class zicht_rel ON zicht_rel.oid = zicht_description.objoid \
             JOIN pg_catalog.pg_namespace zicht_ns ON zicht_ns.oid = zicht_rel.relnamespace \
             WHERE {} AND zicht_description.objsubid = {column})",
            crate::reg_cast::relation_named(name)
        );
        return parse_expression(&text);
    }
    let text = format!(
        "(SELECT zicht_description.description FROM pg_catalog.pg_description zicht_description \
         WHERE zicht_description.objoid = {oid} AND zicht_description.objsubid = {column})"
    );
    parse_expression(&text)
}

/// `ARRAY(subquery)`, the subquery's one column as an array (psql's `\d+`:
/// `array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x)`): the subquery with
/// its column aggregated, `(SELECT array_agg(column) FROM ... WHERE ...)`, which DataFusion plans
/// even when the subquery reads the outer row. Only for a plain select (no grouping, DISTINCT,
/// LIMIT or WITH); ordered at most by its column (`ORDER BY 1`, psql's `\dp`), which orders the
/// aggregate. No rows give NULL here, where PostgreSQL gives an empty array.
fn array_of_rows(rows: &Query) -> Option<Expr> {
    let mut rows = rows.clone();
    let direction = match rows.order_by.take() {
        None => None,
        Some(order_by) => Some(by_the_only_column(&order_by)?),
    };
    if rows.with.is_some() || rows.limit_clause.is_some() || rows.fetch.is_some() {
        return None;
    }
    let SetExpr::Select(select) = rows.body.as_mut() else { return None };
    let ungrouped = matches!(&select.group_by, GroupByExpr::Expressions(keys, modifiers) if keys.is_empty() && modifiers.is_empty());
    if select.distinct.is_some() || !ungrouped || select.having.is_some() {
        return None;
    }
    let value = match select.projection.as_slice() {
        [SelectItem::UnnamedExpr(value) | SelectItem::ExprWithAlias { expr: value, .. }] => value.clone(),
        _ => return None,
    };
    if let Some(lookup) = crate::any_lookups::rows_in_outer_list(select, &value, direction.as_deref()) {
        return Some(lookup);
    }
    let [item] = select.projection.as_mut_slice() else { return None };
    let order = direction.map(|direction| format!(" ORDER BY {value}{direction}")).unwrap_or_default();
    let aggregate = parse_expression(&format!("array_agg({value}{order})"))?;
    *item = SelectItem::ExprWithAlias { expr: aggregate, alias: Ident::new("array") };
    Some(Expr::Subquery(Box::new(rows)))
}

/// The direction of an ORDER BY 1 (psql's `\dp`: `ARRAY(SELECT rolname ... ORDER BY 1)`), which
/// orders by the subquery's only column; None for any other order.
fn by_the_only_column(order_by: &OrderBy) -> Option<String> {
    let OrderByKind::Expressions(expressions) = &order_by.kind else { return None };
    let [first] = expressions.as_slice() else { return None };
    let is_one = matches!(&first.expr, Expr::Value(value) if matches!(&value.value, Value::Number(n, _) if n == "1"));
    if !is_one || first.with_fill.is_some() {
        return None;
    }
    Some(first.options.to_string())
}

/// Whether the parts of a table's name (`zicht_engine::name_parts`) name a table of pg_catalog:
/// `pg_catalog.x`, or a bare name starting with `pg_` (found on the search path).
pub(crate) fn is_pg_catalog_table(parts: &[String]) -> bool {
    match parts {
        [table] => table.starts_with("pg_"),
        [.., schema, _] => schema == "pg_catalog",
        [] => false,
    }
}

/// `function(argument)`.
pub(crate) fn call(function: &str, argument: Expr) -> Expr {
    let mut call = parse_expression(&format!("{function}(NULL)")).expect("a call of one argument parses");
    if let Expr::Function(Function { args: FunctionArguments::List(list), .. }) = &mut call {
        list.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))];
    }
    call
}

/// Whether a subscript after `root` and the accesses `before` it reads one of pg_index's
/// int2vector and oidvector columns, whose subscripts start at 0 in PostgreSQL (psqlODBC's
/// `i.indkey[ia.attnum - 1]`); they are lists here, whose subscripts start at 1.
fn subscripts_a_vector(root: &Expr, before: &[AccessExpr]) -> bool {
    match before.last() {
        Some(AccessExpr::Dot(Expr::Identifier(ident))) => is_vector(ident),
        Some(_) => false,
        None => is_vector_column(root),
    }
}

fn is_vector_column(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(ident) => is_vector(ident),
        Expr::CompoundIdentifier(idents) => idents.last().is_some_and(is_vector),
        _ => false,
    }
}

fn is_vector(column: &Ident) -> bool {
    matches!(column.value.to_ascii_lowercase().as_str(), "indkey" | "indclass" | "indoption" | "indcollation")
}

/// `generate_subscripts(array, 1)` in a select list: a row per subscript, from 0 for pg_index's
/// vectors and from 1 for arrays, as PostgreSQL's (SQLAlchemy orders an index's columns by it).
fn subscripts(array: &Expr) -> Option<Expr> {
    let lower = if is_vector_column(array) { 0 } else { 1 };
    let text = format!("unnest(range({lower}, CAST(array_length({array}) AS BIGINT) + {lower}))");
    parse_expression(&text)
}

/// Whether `data_type` is PostgreSQL's type `pg_type` (`name`, `oid`), bare or in pg_catalog,
/// which the SQL parser knows as a custom type.
pub(crate) fn is_pg_type(data_type: &DataType, pg_type: &str) -> bool {
    let DataType::Custom(name, modifiers) = data_type else { return false };
    let parts = zicht_engine::name_parts(name);
    modifiers.is_empty()
        && match parts.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            [bare] | ["pg_catalog", bare] => *bare == pg_type,
            _ => false,
        }
}

/// A cast's type as written, lower case, without `pg_catalog.` (`regtype`, `text[]`).
pub(crate) fn cast_type_name(data_type: &DataType) -> String {
    let name = data_type.to_string().to_ascii_lowercase();
    name.strip_prefix("pg_catalog.").unwrap_or(&name).to_string()
}

/// DataFusion's LIKE escapes with a backslash only; SQLAlchemy's inspector writes
/// `LIKE 'pg/_' || '%' ESCAPE '/'`. The pattern is rewritten to the backslash form it means:
/// backslashes doubled, `//` a literal slash, `/x` an escaped x.
fn rewrite_like_escapes(statements: &mut Vec<Statement>) {
    let _ = visit_expressions_mut(statements, |expr| {
        if let Expr::Like { pattern, escape_char, .. } | Expr::ILike { pattern, escape_char, .. } = expr
            && let Some(escape) = escape_char.as_ref().and_then(|v| v.value.clone().into_string())
            && escape != "\\"
            && let Some(rewritten) = backslash_pattern(pattern, &escape)
        {
            **pattern = rewritten;
            *escape_char = None;
        }
        ControlFlow::<()>::Continue(())
    });
}

fn backslash_pattern(pattern: &Expr, escape: &str) -> Option<Expr> {
    let doubled = format!("replace(({pattern}), '\\', '\\\\')");
    let text = match escape.chars().collect::<Vec<_>>().as_slice() {
        [] => doubled,
        ['\''] => return None,
        [e] => format!("replace(replace(replace({doubled}, '{e}{e}', chr(1)), '{e}', '\\'), chr(1), '{e}')"),
        _ => return None,
    };
    parse_expression(&text)
}

/// One SQL expression, as PostgreSQL's dialect reads it.
pub(crate) fn parse_expression(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {}).try_with_sql(text).and_then(|mut parser| parser.parse_expr()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pg_get_indexdef over a pg_index and pg_attribute of one index on columns 2 and 1.
    #[tokio::test]
    async fn pg_get_indexdef_names_the_columns_of_an_index_in_its_order() {
        use datafusion::prelude::SessionContext;
        let ctx = SessionContext::new();
        for sql in [
            "CREATE SCHEMA pg_catalog",
            "CREATE TABLE pg_catalog.pg_index AS SELECT 10 AS indexrelid, 20 AS indrelid, \
             [arrow_cast(2, 'Int16'), arrow_cast(1, 'Int16')] AS indkey",
            "CREATE TABLE pg_catalog.pg_attribute AS SELECT * FROM (VALUES (20, arrow_cast(1, 'Int16'), 'a'), \
             (20, arrow_cast(2, 'Int16'), 'b'), (21, arrow_cast(1, 'Int16'), NULL)) AS t(attrelid, attnum, attname)",
        ] {
            ctx.sql(sql).await.unwrap().collect().await.unwrap();
        }
        let statement = parse_statements(
            "SELECT pg_get_indexdef(10, 1, false) AS one, pg_get_indexdef(10, 2, false) AS two, \
             pg_get_indexdef(10, 3, false) AS three, pg_get_indexdef(11, 1, false) AS other",
        )
        .unwrap()
        .remove(0);
        let state = ctx.state();
        let plan = state.statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(statement)));
        let batches = ctx.execute_logical_plan(plan.await.unwrap()).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        assert!(text.contains("| b   | a   |       |       |"), "{text}");
    }

    #[test]
    fn composite_fields_and_names_are_spelled_as_datafusion_plans_them() {
        let mut statements = Parser::parse_sql(
            &PostgreSqlDialect {},
            "SELECT (_pg_expandarray(i.indkey)).n, (r.keys).x, 'zicht'::name, CAST(c AS pg_catalog.name), t.a.b, \
             generate_series(1, 3) AS i, i.indkey[a.attnum - 1], conkey[2], generate_subscripts(x.indkey, 1), \
             generate_subscripts(conkey, 1) FROM t, generate_series(1, 2)",
        )
        .unwrap();
        rewrite_postgres_spellings(&mut statements);
        assert_eq!(
            statements[0].to_string(),
            "SELECT (unnest(zicht_expand_array(i.indkey))).'n', (r.keys).'x', 'zicht'::TEXT, CAST(c AS TEXT), t.a.b, \
             unnest(generate_series(1, 3)) AS i, i.indkey[(a.attnum - 1) + 1], conkey[2], \
             unnest(range(0, CAST(array_length(x.indkey) AS BIGINT) + 0)), \
             unnest(range(1, CAST(array_length(conkey) AS BIGINT) + 1)) FROM t, generate_series(1, 2)"
        );
    }
}
