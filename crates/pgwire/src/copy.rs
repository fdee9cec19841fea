//! `COPY (query) TO STDOUT` in PostgreSQL's text and CSV formats, streamed a row at a time
//! (psql's `\copy ... to` uses this).

use std::sync::Arc;

use arrow_pg::encoder::{Encoder, encode_value};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use pgwire::api::portal::Format;
use pgwire::api::results::{CopyCsvOptions, CopyEncoder, CopyResponse, CopyTextOptions, FieldInfo};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;

use crate::command::CopyFormat;
use crate::error::{WireError, WireResult};

pub fn copy_out(
    schema: SchemaRef,
    batches: BoxStream<'static, WireResult<RecordBatch>>,
    format: &CopyFormat,
) -> WireResult<CopyResponse> {
    let fields = Arc::new(
        crate::names::pg_fields(&schema, &Format::UnifiedText).map_err(|e| WireError::Unsupported(e.to_string()))?,
    );
    let columns = fields.len();
    let header = format.header.then(|| header_line(&fields, format));
    let format = format.clone();
    let rows = batches.flat_map(move |batch| match batch {
        Ok(batch) => stream::iter(encode_batch(&batch, &fields, &format)).left_stream(),
        Err(error) => stream::iter(vec![Err(PgWireError::from(error))]).right_stream(),
    });
    let data = stream::iter(header.map(|h| Ok(CopyData::new(h.into())))).chain(rows);
    Ok(CopyResponse::new(0, columns, data))
}

fn encoder(fields: &Arc<Vec<FieldInfo>>, format: &CopyFormat) -> CopyEncoder {
    if format.csv {
        let mut options = CopyCsvOptions::default();
        if let Some(delimiter) = format.delimiter {
            options.delimiter = delimiter.to_string().into();
        }
        if let Some(null) = &format.null {
            options.null_string = null.as_str().into();
        }
        CopyEncoder::new_csv(Arc::clone(fields), options)
    } else {
        let mut options = CopyTextOptions::default();
        if let Some(delimiter) = format.delimiter {
            options.delimiter = delimiter.to_string().into();
        }
        if let Some(null) = &format.null {
            options.null_string = null.as_str().into();
        }
        CopyEncoder::new_text(Arc::clone(fields), options)
    }
}

fn encode_batch(batch: &RecordBatch, fields: &Arc<Vec<FieldInfo>>, format: &CopyFormat) -> Vec<PgWireResult<CopyData>> {
    let mut encoder = encoder(fields, format);
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|row| {
            for (column, pg_field) in fields.iter().enumerate() {
                encode_value(&mut encoder, batch.column(column), row, schema.field(column), pg_field)?;
            }
            Ok(Encoder::take_row(&mut encoder))
        })
        .collect()
}

fn header_line(fields: &[FieldInfo], format: &CopyFormat) -> String {
    let delimiter = format.delimiter.unwrap_or(if format.csv { ',' } else { '\t' });
    let names: Vec<String> = fields
        .iter()
        .map(|f| {
            let name = f.name();
            let needs_quotes = name.contains(delimiter) || name.contains('"') || name.contains('\n');
            if format.csv && needs_quotes { format!("\"{}\"", name.replace('"', "\"\"")) } else { name.to_string() }
        })
        .collect();
    format!("{}\n", names.join(&delimiter.to_string()))
}
