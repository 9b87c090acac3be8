//! Parquet input: typed columns are read as their own types, and nested types are refused with
//! the column named.

mod common;

use std::sync::Arc;

use arrow_array::builder::{Int32Builder, ListBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use common::Project;
use parquet::arrow::ArrowWriter;

/// Writes a batch as a Parquet file.
fn write_parquet(path: &std::path::Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// A typed batch of `n` rows with a null in every column.
fn typed_batch(n: usize) -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n as i64));
    let x: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..n).map(|i| (i % 7 != 3).then_some(i as f64 / 10.0)),
    ));
    let flag: ArrayRef = Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 2 == 0))));
    let kind: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|i| Some(["a", "b", "c"][i % 3])),
    ));
    let day: ArrayRef = Arc::new(Date32Array::from_iter_values(
        (0..n).map(|i| 19_000 + i as i32 % 30),
    ));
    let at: ArrayRef = Arc::new(TimestampMicrosecondArray::from_iter_values(
        (0..n).map(|i| 1_700_000_000_000_000 + i as i64),
    ));
    RecordBatch::try_from_iter([
        ("id", ids),
        ("x", x),
        ("flag", flag),
        ("kind", kind),
        ("day", day),
        ("at", at),
    ])
    .unwrap()
}

#[test]
fn typed_parquet_infers_native_types_and_validates() {
    let project = Project::new();
    write_parquet(&project.path().join("d.parquet"), &typed_batch(500));
    project.write(
        "mlgate.yml",
        "data:\n  path: d.parquet\n  id: id\n  target: kind\n",
    );
    let run = project.mlgate(&["validate", "--infer"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let schema = project.read("mlgate.schema.yml");
    for expected in [
        "name: id\n  type: int",
        "name: x\n  type: float",
        "name: flag\n  type: bool",
        "name: kind\n  type: categorical",
        "name: day\n  type: date",
        "name: at\n  type: datetime",
        "unique: true",
        "2022-01-08",
    ] {
        assert!(
            schema.contains(expected),
            "missing {expected:?} in\n{schema}"
        );
    }
    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = project.json(".mlgate/validation.json");
    assert_eq!(report["data"]["format"], "parquet");
    assert_eq!(report["data"]["rows"], 500);
}

#[test]
fn nested_parquet_column_is_refused_by_name() {
    let project = Project::new();
    let mut list = ListBuilder::new(Int32Builder::new());
    for i in 0..4 {
        list.values().append_value(i);
        list.append(true);
    }
    let tags: ArrayRef = Arc::new(list.finish());
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..4));
    let batch = RecordBatch::try_from_iter([("id", ids), ("tags", tags)]).unwrap();
    write_parquet(&project.path().join("d.parquet"), &batch);
    project.write("mlgate.yml", "data:\n  path: d.parquet\n");
    let run = project.mlgate(&["validate", "--infer"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("column `tags`: the Parquet column has type `List"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("data.exclude"), "{}", run.stderr);
    project.write(
        "mlgate.yml",
        "data:\n  path: d.parquet\n  exclude: [tags]\n",
    );
    assert_eq!(project.mlgate(&["validate", "--infer"]).code, 0);
}

#[test]
fn not_parquet_at_all_is_a_clear_error() {
    let project = Project::new();
    project.write("d.parquet", "a,b\n1,2\n");
    project.write("mlgate.yml", "data:\n  path: d.parquet\n");
    let run = project.mlgate(&["validate", "--infer"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not a readable Parquet file"),
        "{}",
        run.stderr
    );
}
