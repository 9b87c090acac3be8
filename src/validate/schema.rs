//! The schema file (`mlgate.schema.yml`): what the data must look like, per column and overall.
//!
//! Written by `mlgate validate --infer`, then edited and committed by the user, so it is YAML
//! with the same located errors as `mlgate.yml`. Columns are a list, not a map, so the file keeps
//! the data's column order and diffs stay readable.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError, Severity};
use crate::data::types::{self, ColumnType};

/// The current schema format.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole schema file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Format version; this build reads version 1.
    pub version: u32,
    /// Row-count bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<RowBounds>,
    /// The share of rows that repeat an earlier row exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<DuplicateRule>,
    /// What to do about data columns the schema does not list.
    #[serde(default)]
    pub unexpected_columns: ColumnPolicy,
    /// The columns, in order.
    pub columns: Vec<ColumnSchema>,
}

/// Minimum and maximum number of data rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowBounds {
    /// At least this many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    /// At most this many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Severity of a bound broken.
    #[serde(default)]
    pub severity: Severity,
}

/// The duplicate-row rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuplicateRule {
    /// The largest allowed share of rows that repeat an earlier row.
    pub max_fraction: f64,
    /// Severity when the share is larger.
    #[serde(default)]
    pub severity: Severity,
}

/// What to do about columns in the data that the schema does not list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnPolicy {
    /// Fail the gate.
    #[default]
    Error,
    /// Report only.
    Warn,
    /// Say nothing.
    Allow,
}

/// The checks a column can have, named so that severities can be set per check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// A schema column is missing from the data.
    Required,
    /// A data column is missing from the schema.
    Unexpected,
    /// Values that do not parse as the declared type.
    Type,
    /// Missing values (with `nullable: false`, or above `max_null_fraction`).
    Nulls,
    /// Values outside `min` / `max`.
    Range,
    /// Values outside `allowed`.
    Allowed,
    /// Values that do not match `pattern`.
    Pattern,
    /// Repeated values in a `unique` column.
    Unique,
    /// Allowed values (target classes) that never occur, with `require_all: true`.
    Classes,
    /// Row count outside `rows`.
    RowCount,
    /// Too many duplicate rows.
    Duplicates,
}

impl CheckKind {
    /// The name used in the schema, JSON and reports.
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::Required => "required",
            CheckKind::Unexpected => "unexpected",
            CheckKind::Type => "type",
            CheckKind::Nulls => "nulls",
            CheckKind::Range => "range",
            CheckKind::Allowed => "allowed",
            CheckKind::Pattern => "pattern",
            CheckKind::Unique => "unique",
            CheckKind::Classes => "classes",
            CheckKind::RowCount => "row_count",
            CheckKind::Duplicates => "duplicates",
        }
    }
}

/// A bound in the schema: a number, or a date / datetime in ISO 8601.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    /// A whole number (written without a decimal point).
    Integer(i64),
    /// A number.
    Number(f64),
    /// A date or datetime.
    Text(String),
}

/// One column's rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSchema {
    /// The column name, exactly as in the header.
    pub name: String,
    /// The logical type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether the column may be missing from the data.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub required: bool,
    /// Whether missing values are allowed at all.
    #[serde(default = "yes")]
    pub nullable: bool,
    /// The largest allowed share of missing values (with `nullable: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_null_fraction: Option<f64>,
    /// Smallest allowed value (numbers, dates, datetimes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Bound>,
    /// Largest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Bound>,
    /// The closed set of values (categorical, string, int, bool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    /// Every allowed value must occur at least once (target classes).
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_all: bool,
    /// A regular expression every string value must match in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// No value may repeat.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// Severity of this column's checks.
    #[serde(default)]
    pub severity: Severity,
    /// Per-check severities that override `severity`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severities: BTreeMap<CheckKind, Severity>,
}

impl ColumnSchema {
    /// The severity of one of this column's checks.
    pub fn severity_of(&self, check: CheckKind) -> Severity {
        self.severities
            .get(&check)
            .copied()
            .unwrap_or(self.severity)
    }

    /// A bound as a number on the column's scale (days for dates, seconds for datetimes).
    pub fn bound_value(&self, bound: &Bound) -> Option<f64> {
        match (bound, self.ty) {
            (Bound::Integer(v), _) => Some(*v as f64),
            (Bound::Number(v), _) => Some(*v),
            (Bound::Text(t), ColumnType::Date) => types::parse_date(t).map(f64::from),
            (Bound::Text(t), ColumnType::Datetime) => {
                types::parse_datetime(t).map(|us| us as f64 / 1e6)
            }
            _ => None,
        }
    }
}

/// serde default for flags that start on.
fn yes() -> bool {
    true
}

/// serde skip test.
fn is_true(v: &bool) -> bool {
    *v
}

/// serde skip test.
fn is_false(v: &bool) -> bool {
    !*v
}

impl Schema {
    /// Reads and checks a schema file.
    pub fn load(path: &Path) -> anyhow::Result<Schema> {
        let source = fs_err::read_to_string(path).map_err(|err| {
            anyhow::anyhow!(err)
                .context(format!("cannot read schema `{}`", path.display()))
                .context("hint: write one with `mlgate validate --infer`")
        })?;
        Ok(parse(path, &source)?)
    }

    /// The schema of a column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The schema as YAML, with a comment header.
    pub fn to_yaml(&self) -> anyhow::Result<String> {
        let body = serde_norway::to_string(self)?;
        Ok(format!(
            "# mlgate schema: inferred by `mlgate validate --infer`; edit and commit it.\n\
             # Keys are documented in docs/schema.md.\n{body}"
        ))
    }
}

/// Parses and checks schema text; `path` only labels errors.
pub fn parse(path: &Path, source: &str) -> Result<Schema, ConfigError> {
    let schema: Schema =
        serde_norway::from_str(source).map_err(|err| config::yaml_error(path, source, &err))?;
    let fail = |column: Option<&str>, key: &str, message: String| {
        let location = match column {
            Some(name) => locate_column_key(source, name, key),
            None => config::locate_key(source, &[key]),
        };
        ConfigError {
            path: path.to_path_buf(),
            location,
            message,
            hint: None,
            source_line: location
                .and_then(|(line, _)| source.lines().nth(line - 1))
                .map(str::to_string),
        }
    };
    if schema.version != SCHEMA_VERSION {
        return Err(fail(
            None,
            "version",
            format!(
            "schema version {} is not supported by this mlgate (it reads version {SCHEMA_VERSION})",
            schema.version
        ),
        ));
    }
    if let Some(rule) = &schema.duplicates {
        if !(0.0..=1.0).contains(&rule.max_fraction) {
            return Err(fail(
                None,
                "duplicates",
                "`max_fraction` must be between 0 and 1".into(),
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for column in &schema.columns {
        let name = column.name.as_str();
        if !seen.insert(name) {
            return Err(fail(
                Some(name),
                "name",
                format!("column `{name}` is listed twice"),
            ));
        }
        if let Some(fraction) = column.max_null_fraction {
            if !(0.0..=1.0).contains(&fraction) {
                return Err(fail(
                    Some(name),
                    "max_null_fraction",
                    format!(
                    "column `{name}`: `max_null_fraction` must be between 0 and 1, not {fraction}"
                ),
                ));
            }
        }
        for (key, bound) in [("min", &column.min), ("max", &column.max)] {
            let Some(bound) = bound else { continue };
            if !column.ty.is_numeric() {
                return Err(fail(
                    Some(name),
                    key,
                    format!(
                    "column `{name}`: `{key}` applies to numbers, dates and datetimes, not `{}`",
                    column.ty.name()
                ),
                ));
            }
            if column.bound_value(bound).is_none() {
                return Err(fail(Some(name), key, format!(
                    "column `{name}`: `{key}` must be a number or an ISO 8601 date/datetime, not {bound:?}"
                )));
            }
        }
        if let Some(pattern) = &column.pattern {
            if let Err(err) = regex::Regex::new(pattern) {
                return Err(fail(
                    Some(name),
                    "pattern",
                    format!("column `{name}`: invalid `pattern`: {err}"),
                ));
            }
        }
        if column.require_all && column.allowed.is_none() {
            return Err(fail(
                Some(name),
                "require_all",
                format!("column `{name}`: `require_all` needs an `allowed` list"),
            ));
        }
    }
    Ok(schema)
}

/// Finds `key` inside the list item whose `name:` is `column`.
fn locate_column_key(source: &str, column: &str, key: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = source.lines().collect();
    let start = lines.iter().position(|line| {
        let t = line.trim_start().trim_start_matches("- ").trim();
        t.strip_prefix("name:")
            .map(|v| v.trim().trim_matches(['"', '\'']))
            == Some(column)
    })?;
    let item_indent = lines[start].len() - lines[start].trim_start().len();
    for (offset, line) in lines.iter().enumerate().skip(start) {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if offset > start && (trimmed.starts_with("- ") && indent <= item_indent) {
            break;
        }
        let bare = trimmed.trim_start_matches("- ");
        if bare.starts_with(&format!("{key}:")) {
            return Some((offset + 1, indent + (trimmed.len() - bare.len()) + 1));
        }
    }
    Some((start + 1, item_indent + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses schema text.
    fn parse_str(source: &str) -> Result<Schema, ConfigError> {
        parse(Path::new("s.yml"), source)
    }

    #[test]
    fn parses_columns_with_defaults() {
        let schema = parse_str(
            "version: 1\ncolumns:\n  - name: a\n    type: float\n    min: 0\n    severities: { range: warn }\n",
        )
        .unwrap();
        let a = schema.column("a").unwrap();
        assert!(a.nullable && a.required);
        assert_eq!(a.severity_of(CheckKind::Range), Severity::Warn);
        assert_eq!(a.severity_of(CheckKind::Type), Severity::Error);
        assert_eq!(schema.unexpected_columns, ColumnPolicy::Error);
    }

    #[test]
    fn errors_are_located_in_the_right_column() {
        let source = "version: 1\ncolumns:\n  - name: a\n    type: int\n  - name: b\n    type: string\n    pattern: '('\n";
        let err = parse_str(source).unwrap_err();
        assert_eq!(err.location, Some((7, 5)), "{err}");
        assert!(err.message.contains("column `b`"));
    }

    #[test]
    fn typos_get_suggestions() {
        let err = parse_str("version: 1\ncolumns:\n  - name: a\n    type: flaot\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean the value `float`?"));
        let err =
            parse_str("version: 1\ncolumns:\n  - name: a\n    type: int\n    nulable: true\n")
                .unwrap_err();
        assert_eq!(
            err.hint.as_deref(),
            Some("did you mean the key `nullable`?")
        );
    }

    #[test]
    fn date_bounds_and_bad_bounds() {
        let schema =
            parse_str("version: 1\ncolumns:\n  - name: d\n    type: date\n    min: '2020-01-01'\n")
                .unwrap();
        let d = schema.column("d").unwrap();
        assert_eq!(d.bound_value(d.min.as_ref().unwrap()), Some(18_262.0));
        assert!(
            parse_str("version: 1\ncolumns:\n  - name: d\n    type: date\n    min: soon\n")
                .is_err()
        );
        assert!(
            parse_str("version: 1\ncolumns:\n  - name: s\n    type: string\n    min: 1\n").is_err()
        );
        assert!(parse_str("version: 2\ncolumns: []\n")
            .unwrap_err()
            .message
            .contains("version 2"));
    }
}
