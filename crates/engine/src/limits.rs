//! Bounds on what one statement may cost before it is planned: its length, its number of tokens
//! and the nesting depth of its syntax tree.
//!
//! Parsing, rewriting, planning and dropping a syntax tree all recurse over it, and much of that
//! recursion (derived `Clone`, `Drop`, `PartialEq`, visitors) is not protected against stack
//! overflow: `SELECT 1+1+...` with ten thousand terms is twenty kilobytes of SQL and a tree ten
//! thousand levels deep, enough to overflow a thread's stack and abort the whole process. So a
//! statement is tokenized first (iteratively: no recursion), refused beyond [`StatementLimits`]'
//! size, then parsed and measured on a thread whose stack holds the deepest tree that many tokens
//! can build ([`on_parser_stack`]); a tree deeper than the depth limit is refused there and dropped
//! there. What leaves is shallow enough for every ordinary thread.

use std::future::Future;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Query, SetExpr, Statement, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{EngineError, Result};

/// How large and how deep one statement may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementLimits {
    /// Length of the SQL text in bytes (SQLSTATE 54000 beyond it).
    pub max_bytes: usize,
    /// Tokens of the SQL text, whitespace and comments not counted (54001 beyond it). A syntax
    /// tree is never deeper than its number of tokens, so this bounds the stack parsing needs.
    pub max_tokens: usize,
    /// Nesting depth of the syntax tree: nested expressions, subqueries, set operations (a chain
    /// of `UNION`s nests), and the common table expressions of one `WITH` (each may build on the
    /// one before) (54001 beyond it).
    pub max_depth: usize,
    /// Nesting of parentheses and brackets in the text (54001 beyond it). Parsing and planning
    /// take time exponential in how deeply function calls and subqueries nest (about twice as long
    /// for each level: sqlparser retries alternatives, DataFusion's analyzers revisit subqueries),
    /// so this bound is what keeps the worst statement's planning to a second or so.
    pub max_nesting: usize,
}

impl Default for StatementLimits {
    /// One mebibyte, 100,000 tokens (an `IN` list of 50,000 values), depth 256, parentheses 16
    /// deep: far beyond what a person or a BI tool writes (the saved queries nest 4 deep), well
    /// inside what every thread's stack survives.
    fn default() -> Self {
        StatementLimits { max_bytes: 1 << 20, max_tokens: 100_000, max_depth: 256, max_nesting: 16 }
    }
}

/// Stack of the thread a statement is parsed and measured on: room for a tree as deep as
/// [`StatementLimits::max_tokens`] allows, with a wide margin (debug builds use far larger frames
/// than release builds). Only the pages a statement touches are ever mapped.
const PARSER_STACK_BYTES: usize = 1 << 30;

/// Stack of the thread a statement is planned on (see [`on_planner_stack`]).
const PLANNER_STACK_BYTES: usize = 256 << 20;

impl StatementLimits {
    /// Refuses SQL text that is too long, has too many tokens or nests too deeply, before anything
    /// recurses over it.
    pub fn check_text(&self, sql: &str) -> Result<()> {
        if sql.len() > self.max_bytes {
            return Err(EngineError::TooLong(format!(
                "the statement is {} bytes long; the limit is {} bytes",
                sql.len(),
                self.max_bytes
            )));
        }
        // Tokenizing is a loop, not a recursion. A text that does not tokenize is left for the
        // parser to report with its own message.
        let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else { return Ok(()) };
        let counted = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_))).count();
        if counted > self.max_tokens {
            return Err(EngineError::TooComplex(format!(
                "the statement has {counted} tokens; the limit is {}",
                self.max_tokens
            )));
        }
        let nesting = nesting(&tokens);
        if nesting > self.max_nesting {
            return Err(EngineError::TooComplex(format!(
                "the statement nests parentheses {nesting} deep; the limit is {}",
                self.max_nesting
            )));
        }
        Ok(())
    }

    /// Refuses a statement whose syntax tree nests deeper than the limit. Call it on the parser
    /// stack ([`on_parser_stack`]): measuring recurses as deep as the tree.
    pub fn check_depth(&self, statement: &Statement) -> Result<()> {
        let mut depth = Depth::default();
        let _ = statement.visit(&mut depth);
        self.refuse_deeper(depth)
    }

    /// [`StatementLimits::check_depth`] for a query alone (`COPY (query) TO`).
    pub fn check_query_depth(&self, query: &Query) -> Result<()> {
        let mut depth = Depth::default();
        let _ = query.visit(&mut depth);
        self.refuse_deeper(depth)
    }

    fn refuse_deeper(&self, depth: Depth) -> Result<()> {
        if depth.deepest > self.max_depth {
            return Err(EngineError::TooComplex(format!(
                "the statement nests {} levels deep; the limit is {}",
                depth.deepest, self.max_depth
            )));
        }
        Ok(())
    }
}

/// How deeply parentheses and brackets nest in a token stream.
fn nesting(tokens: &[Token]) -> usize {
    let mut open = 0usize;
    let mut deepest = 0;
    for token in tokens {
        match token {
            Token::LParen | Token::LBracket => {
                open += 1;
                deepest = deepest.max(open);
            }
            Token::RParen | Token::RBracket => open = open.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The deepest nesting seen while visiting a statement.
#[derive(Default)]
struct Depth {
    /// Open expressions and queries on the path being visited, with what each query adds.
    open: Vec<usize>,
    current: usize,
    deepest: usize,
}

impl Depth {
    fn enter(&mut self, weight: usize) {
        self.open.push(weight);
        self.current += weight;
        self.deepest = self.deepest.max(self.current);
    }

    fn leave(&mut self) {
        self.current -= self.open.pop().unwrap_or(0);
    }
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let ctes = query.with.as_ref().map_or(0, |with| with.cte_tables.len());
        self.enter(1 + ctes + set_operation_depth(&query.body));
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.leave();
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, _expr: &datafusion::sql::sqlparser::ast::Expr) -> ControlFlow<()> {
        self.enter(1);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _expr: &datafusion::sql::sqlparser::ast::Expr) -> ControlFlow<()> {
        self.leave();
        ControlFlow::Continue(())
    }
}

/// How deeply set operations nest in a query body (`a UNION b UNION c` nests two deep).
fn set_operation_depth(body: &SetExpr) -> usize {
    match body {
        SetExpr::SetOperation { left, right, .. } => 1 + set_operation_depth(left).max(set_operation_depth(right)),
        _ => 0,
    }
}

/// Runs `work` (parsing, rewriting and measuring SQL) on a thread of its own with a stack large
/// enough for any statement within the token limit, and waits for it without blocking the
/// caller's runtime. Whatever `work` drops (a refused tree) is dropped on that thread too.
pub async fn on_parser_stack<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    on_stack("zicht-parser", PARSER_STACK_BYTES, work).await
}

/// Runs `planning` (SQL to logical plan, optimisation, physical planning: everything that
/// recurses over a statement within the depth limit) on a thread with a stack of its own, large
/// enough for the deepest statement the limits allow even in a debug build, where one level of a
/// derived `Clone` of a query can take kilobytes. The future may use the caller's tokio runtime.
pub async fn on_planner_stack<F>(planning: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let runtime = tokio::runtime::Handle::try_current().ok();
    on_stack("zicht-planner", PLANNER_STACK_BYTES, move || match runtime {
        Some(runtime) => runtime.block_on(planning),
        None => futures::executor::block_on(planning),
    })
    .await
}

async fn on_stack<T: Send + 'static>(name: &str, bytes: usize, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let (sender, receiver) = futures::channel::oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(bytes)
        .spawn(move || {
            let _ = sender.send(work());
        })
        .map_err(|e| EngineError::Execution(format!("cannot start a {name} thread: {e}")))?;
    // The sender is dropped unsent only when `work` panicked.
    receiver.await.map_err(|_| EngineError::Execution(format!("internal error in the {name} thread")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::parser::Parser;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().remove(0)
    }

    fn depth(sql: &str) -> usize {
        let mut depth = Depth::default();
        let _ = parse(sql).visit(&mut depth);
        depth.deepest
    }

    #[test]
    fn depth_counts_nested_expressions_queries_set_operations_and_ctes() {
        let flat = depth("SELECT a, b FROM t");
        assert_eq!(depth("SELECT 1+1+1+1 FROM t"), flat + 3);
        assert_eq!(depth("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3"), 1 + 2 + 1);
        assert!(depth("WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b") >= 3);
        assert!(depth("SELECT (SELECT (SELECT 1))") >= 5);
    }

    #[test]
    fn limits_refuse_long_many_token_and_deep_statements() {
        let limits = StatementLimits { max_bytes: 100, max_tokens: 20, max_depth: 5, max_nesting: 3 };
        assert_eq!(limits.check_text(&"x".repeat(101)).unwrap_err().sqlstate(), "54000");
        assert_eq!(limits.check_text("SELECT 1,2,3,4,5,6,7,8,9,10,11").unwrap_err().sqlstate(), "54001");
        assert!(limits.check_text("SELECT 1 + 2").is_ok());
        assert!(limits.check_text("SELECT abs(abs(abs(1)))").is_ok());
        assert_eq!(limits.check_text("SELECT abs(abs(abs(abs(1))))").unwrap_err().sqlstate(), "54001");
        assert_eq!(limits.check_depth(&parse("SELECT 1+1+1+1+1+1+1")).unwrap_err().sqlstate(), "54001");
        assert!(limits.check_depth(&parse("SELECT 1+1")).is_ok());
    }

    #[tokio::test]
    async fn a_chain_as_long_as_the_token_limit_allows_is_measured_and_dropped_safely() {
        let limits = StatementLimits::default();
        let sql = format!("SELECT 1{}", "+1".repeat(limits.max_tokens / 2 - 2));
        limits.check_text(&sql).unwrap();
        let refused = on_parser_stack(move || {
            let statement = Parser::parse_sql(&PostgreSqlDialect {}, &sql).unwrap().remove(0);
            limits.check_depth(&statement).map_err(|e| e.sqlstate())
        })
        .await
        .unwrap();
        assert_eq!(refused, Err("54001"));
    }
}
