//! `mlgate validate --infer`: a schema proposed from the data, for the user to edit and commit.
//!
//! Two passes: the first decides each column's type from what every value parses as (and
//! counts distinct values up to a cap to spot categoricals); the second is the ordinary
//! validation pass with those types, whose profile supplies ranges, null shares and allowed
//! sets. Inferred bounds that describe today's data rather than a real constraint (ranges, the
//! row count) are written with `warn` severity so that tomorrow's new data does not fail the
//! gate until a person decides it should.

use std::collections::{BTreeMap, HashSet};

use crate::config::{DataConfig, Severity};
use crate::data::types::{self, Cell, ColumnType};
use crate::data::RowSink;

use super::profile::{ColumnProfile, Profile};
use super::schema::{
    Bound, CheckKind, ColumnPolicy, ColumnSchema, DuplicateRule, RowBounds, Schema, SCHEMA_VERSION,
};

/// At most this many distinct values make a string column categorical.
pub const MAX_CATEGORIES: usize = 50;

/// What the first pass learns about one column.
#[derive(Debug, Clone)]
struct Candidates {
    /// Every value so far parses as an int.
    int: bool,
    /// ... as a float.
    float: bool,
    /// ... as a bool.
    boolean: bool,
    /// ... as a date.
    date: bool,
    /// ... as a datetime.
    datetime: bool,
    /// A typed (Parquet) column's own type.
    native: Option<ColumnType>,
    /// Non-missing values.
    count: u64,
    /// Distinct texts, up to [`MAX_CATEGORIES`] + 1.
    distinct: HashSet<String>,
}

impl Default for Candidates {
    fn default() -> Self {
        Candidates {
            int: true,
            float: true,
            boolean: true,
            date: true,
            datetime: true,
            native: None,
            count: 0,
            distinct: HashSet::new(),
        }
    }
}

impl Candidates {
    /// Narrows the candidates by one cell.
    fn observe(&mut self, cell: Cell<'_>) {
        match cell {
            Cell::Null => return,
            Cell::Text(text) => {
                self.int = self.int && types::parse_int(text).is_some();
                self.float = self.float && (self.int || types::parse_float(text).is_some());
                self.boolean = self.boolean && types::parse_bool(text).is_some();
                self.date = self.date && types::parse_date(text).is_some();
                self.datetime =
                    self.datetime && (self.date || types::parse_datetime(text).is_some());
                if self.distinct.len() <= MAX_CATEGORIES && !self.distinct.contains(text) {
                    self.distinct.insert(text.to_string());
                }
            }
            typed => self.native = types::native_type(typed),
        }
        self.count += 1;
    }

    /// Adds another block's candidates.
    fn absorb(&mut self, other: Candidates) {
        self.int &= other.int;
        self.float &= other.float;
        self.boolean &= other.boolean;
        self.date &= other.date;
        self.datetime &= other.datetime;
        self.native = self.native.or(other.native);
        self.count += other.count;
        let mut extra: Vec<String> = other.distinct.into_iter().collect();
        extra.sort();
        for value in extra {
            if self.distinct.len() > MAX_CATEGORIES {
                break;
            }
            self.distinct.insert(value);
        }
    }

    /// The narrowest type every value fits.
    fn decide(&self) -> ColumnType {
        if let Some(native) = self.native {
            return native;
        }
        if self.count == 0 {
            return ColumnType::String;
        }
        let categorical = self.distinct.len() <= MAX_CATEGORIES
            && (self.distinct.len() as u64) * 10 <= self.count.max(20);
        match self {
            c if c.boolean => ColumnType::Bool,
            c if c.int => ColumnType::Int,
            c if c.float => ColumnType::Float,
            c if c.date => ColumnType::Date,
            c if c.datetime => ColumnType::Datetime,
            _ if categorical => ColumnType::Categorical,
            _ => ColumnType::String,
        }
    }
}

/// The first pass: type candidates per column.
#[derive(Debug, Default)]
pub struct TypeSniffer {
    /// Column names in data order.
    names: Vec<String>,
    /// Candidates per column.
    candidates: Vec<Candidates>,
}

impl RowSink for TypeSniffer {
    fn begin(&mut self, columns: &[String]) -> anyhow::Result<()> {
        self.names = columns.to_vec();
        self.candidates = vec![Candidates::default(); columns.len()];
        Ok(())
    }

    fn row(&mut self, _row: u64, cells: &[Cell<'_>]) {
        for (c, &cell) in self.candidates.iter_mut().zip(cells) {
            c.observe(cell);
        }
    }

    fn split(&self) -> Self {
        TypeSniffer {
            names: self.names.clone(),
            candidates: vec![Candidates::default(); self.names.len()],
        }
    }

    fn absorb(&mut self, later: Self, _rows_before: u64) {
        for (mine, theirs) in self.candidates.iter_mut().zip(later.candidates) {
            mine.absorb(theirs);
        }
    }
}

impl TypeSniffer {
    /// A schema with only the decided types, to drive the second pass.
    pub fn provisional_schema(&self, data: &DataConfig) -> Schema {
        let columns = self
            .names
            .iter()
            .zip(&self.candidates)
            .map(|(name, c)| {
                let mut ty = c.decide();
                // A low-cardinality target is a set of classes even when its labels are numbers.
                if data.target.as_deref() == Some(name) && ty == ColumnType::String {
                    ty = ColumnType::Categorical;
                }
                bare_column(name, ty)
            })
            .collect();
        Schema {
            version: SCHEMA_VERSION,
            rows: None,
            duplicates: Some(DuplicateRule {
                max_fraction: 1.0,
                severity: Severity::Warn,
            }),
            unexpected_columns: ColumnPolicy::Error,
            columns,
        }
    }
}

/// A column with a type and nothing else.
fn bare_column(name: &str, ty: ColumnType) -> ColumnSchema {
    ColumnSchema {
        name: name.to_string(),
        ty,
        required: true,
        nullable: true,
        max_null_fraction: None,
        min: None,
        max: None,
        allowed: None,
        require_all: false,
        pattern: None,
        unique: false,
        severity: Severity::Error,
        severities: BTreeMap::new(),
    }
}

/// Fills the provisional schema's rules from the second pass's profile.
pub fn finish_schema(
    mut schema: Schema,
    profile: &Profile,
    duplicate_fraction: f64,
    data: &DataConfig,
) -> Schema {
    let rows = profile.rows;
    schema.rows = Some(RowBounds {
        min: Some((rows / 2).max(1)),
        max: Some(rows.saturating_mul(10).max(10)),
        severity: Severity::Warn,
    });
    schema.duplicates = Some(DuplicateRule {
        max_fraction: round_up(duplicate_fraction + 0.01, 3).min(1.0),
        severity: Severity::Warn,
    });
    for column in &mut schema.columns {
        let Some(p) = profile.column(&column.name) else {
            continue;
        };
        infer_column(column, p, data);
    }
    schema
}

/// Rules for one column from its profile.
fn infer_column(column: &mut ColumnSchema, p: &ColumnProfile, data: &DataConfig) {
    let is_target = data.target.as_deref() == Some(column.name.as_str());
    let is_id = data.id.as_deref() == Some(column.name.as_str());
    if p.nulls == 0 {
        column.nullable = false;
    } else {
        let fraction = p.null_fraction();
        column.max_null_fraction =
            Some(round_up((fraction * 1.5).max(fraction + 0.01), 3).min(1.0));
    }
    if let Some(n) = &p.numeric {
        if !is_id {
            column.min = Some(bound(column.ty, n.min));
            column.max = Some(bound(column.ty, n.max));
            column.severities.insert(CheckKind::Range, Severity::Warn);
        }
    }
    let closed_set = matches!(column.ty, ColumnType::Categorical | ColumnType::Bool)
        || (is_target && column.ty == ColumnType::Int);
    if closed_set {
        if let Some(items) = p.frequencies.as_ref().filter(|f| f.is_exact()) {
            let mut values: Vec<String> = items.items().into_iter().map(|(v, _)| v).collect();
            values.sort();
            if values.len() <= MAX_CATEGORIES {
                column.allowed = Some(values);
                column.require_all = is_target;
            }
        }
    }
    if is_id {
        column.unique = true;
    }
}

/// A bound in the schema's notation for the type.
fn bound(ty: ColumnType, value: f64) -> Bound {
    match ty {
        ColumnType::Date => Bound::Text(types::format_date(value as i64)),
        ColumnType::Datetime => Bound::Text(types::format_datetime(value)),
        ColumnType::Int => Bound::Integer(value as i64),
        _ => Bound::Number(value),
    }
}

/// Rounds up to `digits` decimals, so a bound derived from a share is never below it. A value
/// that is already a round figure but for the last bits of its product (`0.1 * 1.5` is
/// `0.15000000000000002`) keeps it, rather than gaining a digit's step.
fn round_up(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    let scaled = value * scale;
    let nearest = scaled.round();
    if (scaled - nearest).abs() <= 1e-9 * nearest.abs().max(1.0) {
        nearest / scale
    } else {
        scaled.ceil() / scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decides a column's type from text values.
    fn decide(values: &[&str]) -> ColumnType {
        let mut c = Candidates::default();
        for v in values {
            c.observe(if v.is_empty() {
                Cell::Null
            } else {
                Cell::Text(v)
            });
        }
        c.decide()
    }

    #[test]
    fn types_are_the_narrowest_fit() {
        assert_eq!(decide(&["1", "2", ""]), ColumnType::Int);
        assert_eq!(decide(&["1", "2.5"]), ColumnType::Float);
        assert_eq!(decide(&["true", "FALSE"]), ColumnType::Bool);
        assert_eq!(decide(&["2020-01-01", "2021-02-03"]), ColumnType::Date);
        assert_eq!(
            decide(&["2020-01-01", "2021-02-03T04:05:06Z"]),
            ColumnType::Datetime
        );
        assert_eq!(decide(&["a", "b", "a", "a"]), ColumnType::Categorical);
        let many: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(decide(&many), ColumnType::String);
        assert_eq!(decide(&[]), ColumnType::String);
    }

    #[test]
    fn rounding_never_goes_below() {
        assert_eq!(round_up(0.0321, 3), 0.033);
        assert_eq!(round_up(0.5, 3), 0.5);
        assert_eq!(round_up(0.1 * 1.5, 3), 0.15);
        assert_eq!(round_up(0.0150001, 3), 0.016);
        for i in 0..=1000 {
            let value = i as f64 / 997.0;
            assert!(round_up(value, 3) >= value - 1e-12, "{value}");
        }
    }
}
