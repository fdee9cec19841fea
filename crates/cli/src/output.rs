//! Writing released batches as a table, CSV or JSON. CSV and JSON stream; a table needs every row
//! to size its columns.

use std::io::Write;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::Failure;
use crate::args::Format;

pub struct Output {
    format: Format,
    schema: SchemaRef,
    held: Vec<RecordBatch>,
    csv: Option<arrow::csv::Writer<std::io::Stdout>>,
    json: Option<arrow::json::LineDelimitedWriter<std::io::Stdout>>,
}

fn failure(e: impl std::fmt::Display) -> Failure {
    Failure::new(format!("cannot write the result: {e}"))
}

/// Streams a released result to stdout in `format`.
pub async fn print(mut released: zicht_engine::Released, format: Format) -> Result<(), Failure> {
    let mut output = Output::new(format, released.schema());
    while let Some(batch) = futures::StreamExt::next(&mut released).await {
        output.write(&batch?)?;
    }
    output.finish()
}

impl Output {
    pub fn new(format: Format, schema: SchemaRef) -> Output {
        let csv = (format == Format::Csv)
            .then(|| arrow::csv::WriterBuilder::new().with_header(true).build(std::io::stdout()));
        let json = (format == Format::Json).then(|| arrow::json::LineDelimitedWriter::new(std::io::stdout()));
        Output { format, schema, held: Vec::new(), csv, json }
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), Failure> {
        match (&mut self.csv, &mut self.json) {
            (Some(csv), _) => csv.write(batch).map_err(failure),
            (_, Some(json)) => json.write(batch).map_err(failure),
            _ => {
                self.held.push(batch.clone());
                Ok(())
            }
        }
    }

    pub fn finish(mut self) -> Result<(), Failure> {
        if let Some(csv) = self.csv.as_mut() {
            // The header alone, for an empty result: an empty batch writes nothing else.
            csv.write(&RecordBatch::new_empty(self.schema.clone())).map_err(failure)?;
        }
        if let Some(json) = self.json.as_mut() {
            json.finish().map_err(failure)?;
        }
        if self.format == Format::Table {
            let table = if self.held.is_empty() {
                arrow::util::pretty::pretty_format_batches(&[RecordBatch::new_empty(self.schema.clone())])
            } else {
                arrow::util::pretty::pretty_format_batches(&self.held)
            };
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{}", table.map_err(failure)?).map_err(failure)?;
        }
        Ok(())
    }
}
