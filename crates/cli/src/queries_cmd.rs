//! `zicht queries list`: the indicator catalogue, in any of the output formats; `zicht queries
//! show`: one indicator as written and the SQL it runs.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use zicht_catalog::SavedQuery;

use crate::Failure;
use crate::args::{QueriesAction, QueriesArgs};
use crate::data::load_saved_queries;
use crate::output::Output;

pub async fn run(args: QueriesArgs) -> Result<(), Failure> {
    match args.action {
        QueriesAction::List { queries, format } => {
            let queries = load_saved_queries(queries.as_deref())?;
            let batch = listing(&queries).map_err(|e| Failure::new(e.to_string()))?;
            let mut output = Output::new(format, batch.schema());
            output.write(&batch)?;
            output.finish()
        }
        QueriesAction::Show { query, queries, sql } => {
            let queries = load_saved_queries(queries.as_deref())?;
            let saved = queries
                .iter()
                .find(|q| q.id() == query)
                .ok_or_else(|| Failure::new(format!("no saved query {query} (see `zicht queries list`)")))?;
            match sql {
                true => println!("{};", saved.sql),
                false => print!("{}", showing(saved)),
            }
            Ok(())
        }
    }
}

/// An indicator's definition followed by the SQL generated from it; a SQL query's header and SQL.
fn showing(query: &SavedQuery) -> String {
    match &query.definition {
        Some(definition) => {
            format!("# queries/{}\n{}\n\n-- the SQL it runs\n{};\n", query.file, definition.trim_end(), query.sql)
        }
        None => format!(
            "-- queries/{}\n-- title: {}\n-- description: {}\n-- unit: {}\n-- granularity: {}\n-- years: {}\n-- deviation: {}\n\n{};\n",
            query.file,
            query.title,
            query.description,
            query.unit,
            query.granularity,
            query.years,
            query.deviation.join(", "),
            query.sql
        ),
    }
}

fn listing(queries: &[SavedQuery]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let column = |value: fn(&SavedQuery) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(queries.iter().map(value)))
    };
    let names = ["query", "title", "unit", "granularity", "years", "deviation"];
    let schema = Schema::new(names.map(|name| Field::new(name, DataType::Utf8, false)).to_vec());
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            column(|q| q.id()),
            column(|q| q.title.clone()),
            column(|q| q.unit.clone()),
            column(|q| q.granularity.clone()),
            column(|q| q.years.clone()),
            column(|q| q.deviation.join(", ")),
        ],
    )
}
