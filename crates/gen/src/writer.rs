//! Writing a table as one Parquet file with exactly the catalog's schema.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;
use zicht_catalog::TableDef;

use crate::{GenError, TableSummary};

/// Rows per row group: large enough for fast scans, small enough to prune.
const ROW_GROUP_SIZE: usize = 1 << 20;

/// The columns of one batch, by name; assembled in the catalog's order when written.
#[derive(Default)]
pub struct Columns {
    columns: Vec<(&'static str, ArrayRef)>,
}

impl Columns {
    pub fn new() -> Columns {
        Columns::default()
    }

    fn push(mut self, name: &'static str, array: ArrayRef) -> Columns {
        self.columns.push((name, array));
        self
    }

    pub fn int64(self, name: &'static str, values: Vec<i64>) -> Columns {
        self.push(name, Arc::new(Int64Array::from(values)))
    }

    pub fn opt_int64(self, name: &'static str, values: Vec<Option<i64>>) -> Columns {
        self.push(name, Arc::new(Int64Array::from(values)))
    }

    pub fn int32(self, name: &'static str, values: Vec<i32>) -> Columns {
        self.push(name, Arc::new(Int32Array::from(values)))
    }

    pub fn float64(self, name: &'static str, values: Vec<f64>) -> Columns {
        self.push(name, Arc::new(Float64Array::from(values)))
    }

    pub fn boolean(self, name: &'static str, values: Vec<bool>) -> Columns {
        self.push(name, Arc::new(BooleanArray::from(values)))
    }

    pub fn date32(self, name: &'static str, values: Vec<i32>) -> Columns {
        self.push(name, Arc::new(Date32Array::from(values)))
    }

    pub fn text<S: AsRef<str>>(self, name: &'static str, values: impl IntoIterator<Item = S>) -> Columns {
        self.push(name, Arc::new(StringArray::from_iter_values(values)))
    }

    pub fn opt_text(self, name: &'static str, values: Vec<Option<String>>) -> Columns {
        self.push(name, Arc::new(StringArray::from(values)))
    }

    fn into_batch(mut self, schema: &SchemaRef, table: &str) -> Result<RecordBatch, GenError> {
        let mut arrays = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let at = self.columns.iter().position(|(name, _)| *name == field.name()).ok_or_else(|| {
                GenError::Schema(format!("{table}: the generator does not produce column {}", field.name()))
            })?;
            arrays.push(self.columns.swap_remove(at).1);
        }
        if let Some((name, _)) = self.columns.first() {
            return Err(GenError::Schema(format!("{table}: column {name} is not in the catalog")));
        }
        RecordBatch::try_new(schema.clone(), arrays).map_err(|e| GenError::Schema(format!("{table}: {e}")))
    }
}

/// Writes the integer id columns (unit columns and the table's key) delta-encoded instead of
/// through a dictionary.
///
/// Only the protected answers read these columns, for every row: `basis.persoon.persoon_id` and
/// `huishouden_id` are ascending, so their deltas take 0-1 bits a value, where the dictionary
/// (abandoned for millions of distinct values) fell back to 8 plain bytes that zstd then had to
/// unpack. The inhabitant count at scale 1 spent an eighth of its time decompressing them.
fn delta_encode_ids(mut properties: WriterPropertiesBuilder, definition: &TableDef) -> WriterPropertiesBuilder {
    let ids = definition.units().map(|(_, column)| column).chain(definition.key.as_deref());
    for name in ids {
        let integer = definition
            .columns
            .iter()
            .any(|c| c.name == name && matches!(c.data_type, DataType::Int32 | DataType::Int64));
        if integer {
            let path = ColumnPath::from(name);
            properties = properties
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
        }
    }
    properties
}

/// One table being written.
pub struct TableWriter {
    table: String,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    rows: u64,
    path: std::path::PathBuf,
}

impl TableWriter {
    pub fn create(out: &Path, definition: &TableDef) -> Result<TableWriter, GenError> {
        let path = out.join(&definition.source);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 is valid")))
            .set_max_row_group_row_count(Some(ROW_GROUP_SIZE));
        let properties = delta_encode_ids(properties, definition).build();
        let schema = definition.arrow_schema();
        let writer = ArrowWriter::try_new(File::create(&path)?, schema.clone(), Some(properties))?;
        Ok(TableWriter { table: definition.qualified_name(), schema, writer, rows: 0, path })
    }

    pub fn write(&mut self, columns: Columns) -> Result<(), GenError> {
        let batch = columns.into_batch(&self.schema, &self.table)?;
        self.rows += batch.num_rows() as u64;
        self.writer.write(&batch)?;
        Ok(())
    }

    pub fn finish(self) -> Result<TableSummary, GenError> {
        self.writer.close()?;
        let bytes = std::fs::metadata(&self.path)?.len();
        Ok(TableSummary { table: self.table, rows: self.rows, bytes })
    }
}
