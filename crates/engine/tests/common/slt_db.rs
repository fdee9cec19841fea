//! The in-process sqllogictest database: a session of an engine, with results formatted as the
//! wire runner sees them. Shared by the in-process runner (crates/engine/tests/slt.rs) and the
//! cluster runner (crates/cli/tests/cluster.rs).

use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use zicht_engine::datafusion::arrow::datatypes::DataType;
use zicht_engine::datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use zicht_engine::{EngineError, Session};

pub struct Zicht {
    pub session: Session,
}

#[async_trait::async_trait]
impl AsyncDB for Zicht {
    type Error = EngineError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        let released = self.session.sql(sql).await?;
        let schema = released.schema();
        let batches = released.collect().await?;
        let types = schema.fields().iter().map(|f| column_type(f.data_type())).collect();
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters: Vec<_> =
                batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
            for row in 0..batch.num_rows() {
                rows.push(formatters.iter().map(|f| same_as_wire(f.value(row).to_string())).collect());
            }
        }
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "zicht"
    }
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    if data_type.is_integer() {
        DefaultColumnType::Integer
    } else if data_type.is_floating() {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

/// Floats as Rust (and the wire test's client) print them: `15` rather than Arrow's `15.0`, so
/// that one expected output serves both runners.
fn same_as_wire(value: String) -> String {
    match value.parse::<f64>() {
        Ok(float) if value.contains('.') || value.contains('e') => float.to_string(),
        _ => value,
    }
}
