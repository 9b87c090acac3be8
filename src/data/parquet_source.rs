//! The Parquet reader: arrow record batches, cast to the few types mlgate checks.
//!
//! Columns are cast once per batch (all integers to Int64, floats to Float64, strings and
//! dictionaries to Utf8, dates to Date32, timestamps to UTC microseconds) so the row loop sees
//! six shapes instead of arrow's dozens. Types with no tabular meaning (lists, structs, binary)
//! are refused up front, naming the column, rather than read as something they are not.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use super::{Cell, DataError, ReadOptions, RowSink};

/// Where the Parquet bytes come from.
pub(super) enum Input {
    /// A file on disk.
    File(std::fs::File),
    /// A blob in memory (from git).
    Bytes(bytes::Bytes),
}

/// The arrow type each column is cast to before the row loop.
fn target_type(data_type: &DataType) -> Option<DataType> {
    use DataType as D;
    Some(match data_type {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => {
            D::Int64
        }
        D::Float16 | D::Float32 | D::Float64 | D::Decimal128(..) | D::Decimal256(..) => D::Float64,
        D::Boolean => D::Boolean,
        D::Utf8 | D::LargeUtf8 | D::Utf8View => D::Utf8,
        D::Dictionary(_, value) if target_type(value) == Some(D::Utf8) => D::Utf8,
        D::Date32 | D::Date64 => D::Date32,
        D::Timestamp(_, tz) => D::Timestamp(TimeUnit::Microsecond, tz.clone()),
        D::Null => D::Null,
        _ => return None,
    })
}

/// Streams a Parquet file into `sink`; returns the number of rows.
pub(super) fn scan<S: RowSink>(
    label: &str,
    input: Input,
    options: &ReadOptions,
    sink: &mut S,
) -> anyhow::Result<u64> {
    let open_error = |err: parquet::errors::ParquetError| {
        DataError::file(label, format!("not a readable Parquet file: {err}"))
    };
    match input {
        Input::File(file) => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(open_error)?;
            read_batches(label, builder, options, sink)
        }
        Input::Bytes(bytes) => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(open_error)?;
            read_batches(label, builder, options, sink)
        }
    }
}

/// Projects the wanted columns, refuses unsupported types, and feeds every row to `sink`.
fn read_batches<S: RowSink, T: parquet::file::reader::ChunkReader + 'static>(
    label: &str,
    builder: ParquetRecordBatchReaderBuilder<T>,
    options: &ReadOptions,
    sink: &mut S,
) -> anyhow::Result<u64> {
    let schema = builder.schema().clone();
    let mut roots = Vec::new();
    let mut names = Vec::new();
    let mut targets = Vec::new();
    for (index, field) in schema.fields().iter().enumerate() {
        if options.exclude.contains(field.name()) {
            continue;
        }
        let Some(target) = target_type(field.data_type()) else {
            return Err(DataError {
                file: label.into(),
                row: None,
                line: None,
                column: Some(field.name().clone()),
                message: format!(
                    "the Parquet column has type `{}`, which mlgate cannot check",
                    field.data_type()
                ),
                hint: Some(
                    "list the column under `data.exclude` in mlgate.yml, or flatten it".into(),
                ),
            }
            .into());
        };
        roots.push(index);
        names.push(field.name().clone());
        targets.push(target);
    }
    if names.is_empty() {
        return Err(DataError::file(label, "the Parquet file has no columns to read").into());
    }
    sink.begin(&names)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|err| DataError::file(label, format!("cannot read: {err}")))?;
    let mut row = 0u64;
    let mut spare: Vec<Cell<'static>> = Vec::with_capacity(names.len());
    for batch in reader {
        let batch = batch.map_err(|err| DataError {
            file: label.into(),
            row: Some(row + 1),
            line: None,
            column: None,
            message: format!("cannot decode the row group: {err}"),
            hint: None,
        })?;
        let columns = cast_columns(label, &batch, &names, &targets)?;
        for i in 0..batch.num_rows() {
            row += 1;
            let mut cells = super::recycle(std::mem::take(&mut spare));
            cells.extend(columns.iter().map(|column| cell_at(column, i)));
            sink.row(row, &cells);
            spare = super::recycle(cells);
        }
    }
    Ok(row)
}

/// Casts each column of a batch to its target type.
fn cast_columns(
    label: &str,
    batch: &RecordBatch,
    names: &[String],
    targets: &[DataType],
) -> anyhow::Result<Vec<ArrayRef>> {
    batch
        .columns()
        .iter()
        .zip(targets)
        .zip(names)
        .map(|((column, target), name)| {
            if column.data_type() == target {
                return Ok(Arc::clone(column));
            }
            arrow_cast::cast(column, target).map_err(|err| {
                DataError {
                    file: label.into(),
                    row: None,
                    line: None,
                    column: Some(name.clone()),
                    message: format!("cannot convert `{}` values: {err}", column.data_type()),
                    hint: None,
                }
                .into()
            })
        })
        .collect()
}

/// The cell at row `i` of a column already cast by [`cast_columns`].
fn cell_at(column: &ArrayRef, i: usize) -> Cell<'_> {
    if column.is_null(i) {
        return Cell::Null;
    }
    match column.data_type() {
        DataType::Int64 => Cell::Int(column.as_primitive::<Int64Type>().value(i)),
        DataType::Float64 => {
            let v = column.as_primitive::<Float64Type>().value(i);
            if v.is_nan() {
                Cell::Null
            } else {
                Cell::Float(v)
            }
        }
        DataType::Boolean => Cell::Bool(column.as_boolean().value(i)),
        DataType::Utf8 => Cell::Text(column.as_string::<i32>().value(i)),
        DataType::Date32 => Cell::Date(column.as_primitive::<Date32Type>().value(i)),
        DataType::Timestamp(..) => {
            Cell::Datetime(column.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        _ => Cell::Null,
    }
}
