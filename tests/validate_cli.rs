//! End-to-end tests of `mlgate validate` on real files: inference, passing and failing data,
//! and every kind of bad input getting one located message and exit code 2.

mod common;

use common::{penguins_csv, Project};

/// The config used by most tests.
const CONFIG: &str = "data:\n  path: data/penguins.csv\n  target: species\n";

/// A penguins project with an inferred schema.
fn inferred() -> Project {
    let project = Project::new();
    project.with_penguins();
    project.write("mlgate.yml", CONFIG);
    let run = project.mlgate(&["validate", "--infer"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    project
}

#[test]
fn infer_then_validate_passes_on_the_same_data() {
    let project = inferred();
    let schema = project.read("mlgate.schema.yml");
    assert!(
        schema.contains("name: species\n  type: categorical"),
        "{schema}"
    );
    assert!(schema.contains("require_all: true"), "{schema}");
    assert!(schema.contains("- Adelie"), "{schema}");
    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("validation passed: 344 rows, 0 errors"),
        "{}",
        run.stdout
    );
    let report = project.json(".mlgate/validation.json");
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["status"], "passed");
    assert_eq!(report["data"]["rows"], 344);
    let profile = project.json(".mlgate/profile.json");
    assert_eq!(profile["rows"], 344);
    assert!(project
        .read(".mlgate/validation.md")
        .contains("Data validation passed"));
}

#[test]
fn infer_refuses_to_overwrite_without_force() {
    let project = inferred();
    let run = project.mlgate(&["validate", "--infer"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(project.mlgate(&["validate", "--infer", "--force"]).code, 0);
}

#[test]
fn broken_rows_fail_with_row_numbers_and_values() {
    let project = inferred();
    let mut csv = penguins_csv();
    csv.push_str("Emperor,Torgersen,39.1,18.7,181,3750,male,2007\n");
    csv.push_str("Adelie,Torgersen,heavy,18.7,181,3750,male,2007\n");
    project.write("data/penguins.csv", csv);
    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = project.json(".mlgate/validation.json");
    assert_eq!(report["status"], "failed");
    let checks = report["checks"].as_array().unwrap();
    let failed = |check: &str, column: &str| {
        checks
            .iter()
            .find(|c| c["check"] == check && c["column"] == column && c["passed"] == false)
            .unwrap_or_else(|| panic!("no failed {check} on {column}: {report:#}"))
            .clone()
    };
    let allowed = failed("allowed", "species");
    assert_eq!(allowed["failing_rows"], 1);
    assert_eq!(allowed["examples"][0]["row"], 345);
    assert_eq!(allowed["examples"][0]["value"], "Emperor");
    let ty = failed("type", "bill_length_mm");
    assert_eq!(ty["examples"][0]["row"], 346);
    assert_eq!(ty["examples"][0]["value"], "heavy");
    assert!(run.stdout.contains("Emperor"), "{}", run.stdout);
}

#[test]
fn missing_and_unexpected_columns_and_absent_classes() {
    let project = inferred();
    let csv: String = penguins_csv()
        .lines()
        .enumerate()
        .filter(|(i, line)| *i == 0 || line.starts_with("Adelie"))
        .map(|(_, line)| line.replacen(",year", ",yr", 1) + "\n")
        .collect();
    project.write("data/penguins.csv", csv);
    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 1);
    let report = project.json(".mlgate/validation.json");
    let checks = report["checks"].as_array().unwrap();
    let find = |check: &str| checks.iter().find(|c| c["check"] == check).unwrap().clone();
    assert_eq!(find("required")["column"], "year");
    assert_eq!(find("unexpected")["column"], "yr");
    let classes = find("classes");
    assert_eq!(classes["passed"], false);
    assert!(classes["message"].as_str().unwrap().contains("`Chinstrap`"));
}

#[test]
fn github_outputs_summary_and_annotations() {
    let project = inferred();
    let mut csv = penguins_csv();
    csv.push_str("Emperor,Torgersen,39.1,18.7,181,3750,male,2007\n");
    project.write("data/penguins.csv", csv);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mlgate"))
        .args(["validate"])
        .current_dir(project.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", project.path().join("gh-output"))
        .env("GITHUB_STEP_SUMMARY", project.path().join("gh-summary"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout.contains(
            "::error file=data/penguins.csv,line=346,title=mlgate validate%3A allowed `species`::"
        ),
        "{stdout}"
    );
    let outputs = project.read("gh-output");
    assert!(
        outputs.contains("status<<MLGATE_EOF_0\nfailed\n"),
        "{outputs}"
    );
    assert!(project
        .read("gh-summary")
        .contains("Data validation failed"));

    // A record over two lines earlier in the file: row 346 is no longer on line 346, so the
    // annotation names the file alone rather than a wrong line.
    let mut csv = penguins_csv().replacen(",Torgersen,", ",\"Torger\nsen\",", 1);
    csv.push_str("Emperor,Torgersen,39.1,18.7,181,3750,male,2007\n");
    project.write("data/penguins.csv", csv);
    let run = project.mlgate_env(&["validate"], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "::error file=data/penguins.csv,title=mlgate validate%3A allowed `species`::"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_inputs_get_one_located_message_and_exit_2() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "ragged",
            b"a,b\n1,2\n3\n",
            "row 2 (line 3), column `b`: the row ends before this column: it has 1 fields but \
             the header has 2",
        ),
        (
            "too wide",
            b"a,b\n1,2\n3,4,5\n",
            "row 2 (line 3): the row has 3 fields but the header has 2: 1 past the last \
             column, `b`",
        ),
        (
            "bad utf-8",
            b"a,b\n1,caf\xe9\n",
            "row 1 (line 2), column `b`: invalid UTF-8",
        ),
        (
            "unterminated quote",
            b"a,b\n1,2\n3,\"open\n4,5\n",
            "row 2 (line 3), column `b`: a quoted field opens here and is never closed",
        ),
        (
            "stray quote",
            b"inches,n\n5\",1\n6,2\n",
            "row 1 (line 2), column `inches`: a quoted field opens here",
        ),
        ("empty", b"", "the file is empty"),
        (
            "duplicate header",
            b"a,b,a\n1,2,3\n",
            "repeated in columns 1 and 3",
        ),
    ];
    for (name, bytes, expected) in cases {
        let project = Project::new();
        project.write("d.csv", bytes);
        project.write("mlgate.yml", "data:\n  path: d.csv\n");
        let run = project.mlgate(&["validate", "--infer"]);
        assert_eq!(run.code, 2, "{name}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.starts_with("error: `d.csv`"),
            "{name}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(expected), "{name}: {}", run.stderr);
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("error"))
                .count(),
            1,
            "{name}"
        );
    }
}

#[test]
fn header_only_cannot_be_inferred_but_fails_row_bounds() {
    let project = inferred();
    let run = Project::new();
    run.write("d.csv", "a,b\n");
    run.write("mlgate.yml", "data:\n  path: d.csv\n");
    let out = run.mlgate(&["validate", "--infer"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no data rows"), "{}", out.stderr);
    let header = penguins_csv().lines().next().unwrap().to_string() + "\n";
    project.write("data/penguins.csv", header);
    let out = project.mlgate(&["validate"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("classes never seen"), "{}", out.stdout);
}

#[test]
fn config_errors_name_file_line_and_column() {
    let project = Project::new();
    project.write("mlgate.yml", "data:\n  path: d.csv\n  targt: y\n");
    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--> mlgate.yml:3:3"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean the key `target`?"),
        "{}",
        run.stderr
    );

    let run = project.mlgate(&["validate", "--config", "nowhere.yml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot read config `nowhere.yml`"),
        "{}",
        run.stderr
    );
}

#[test]
fn config_pointing_nowhere_names_the_data_path() {
    let project = Project::new();
    project.write("mlgate.yml", "data:\n  path: missing.csv\n");
    let run = project.mlgate(&["validate", "--infer"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("`missing.csv`: cannot open"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn target_typo_in_config_is_caught_against_the_schema() {
    let project = inferred();
    project.write(
        "mlgate.yml",
        "data:\n  path: data/penguins.csv\n  target: specis\n",
    );
    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--> mlgate.yml:3:3"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `species`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn duplicate_rows_are_found_however_they_are_written_across_blocks() {
    // Over 4 MiB of plain rows, so the file is read in several blocks, with repeats of earlier
    // rows: as they were, and with their empty cells written `NA` (in the first block, read
    // without quotes), then quoted (their block goes through the general reader). Each is a
    // duplicate; two rows whose cells hold the delimiter in different places are not, though
    // their cells joined read the same.
    let row = |i: usize| {
        let x = if i.is_multiple_of(3) {
            String::new()
        } else {
            format!("{}.5", i % 1000)
        };
        format!("{i},{x},note number {i} of the file")
    };
    let mut text = String::from("id,x,note\n");
    for i in 0..120_000 {
        text += &row(i);
        text.push('\n');
        if i == 60_000 {
            for i in (1_000..2_000).chain(2_000..2_100) {
                text += &row(i).replacen(",,", ",NA,", 1);
                text.push('\n');
            }
        }
    }
    for i in 0..1_000 {
        let [id, x, note] = [0, 1, 2].map(|n| row(i).split(',').nth(n).unwrap().to_string());
        text += &format!("{id},{x},\"{note}\"\n");
    }
    text += "7,\"a,b\",c\n7,a,\"b,c\"\n";
    assert!(text.len() > 4 * 1024 * 1024);
    let project = Project::new();
    project.write("data.csv", text);
    project.write("mlgate.yml", "data:\n  path: data.csv\nschema: s.yml\n");
    // With `unique`, the ids' runs spare most rows their keys until an id repeats: then the
    // file is read again, and both counts must come out the same.
    for unique in [false, true] {
        project.write(
            "s.yml",
            format!("version: 1\nduplicates: {{ max_fraction: 0 }}\ncolumns:\n  - {{ name: id, type: int, unique: {unique} }}\n  - {{ name: x, type: string }}\n  - {{ name: note, type: string }}\n"),
        );
        let run = project.mlgate(&["validate"]);
        let report = project.json(".mlgate/validation.json");
        let checks = report["checks"].as_array().unwrap();
        let duplicates = checks.iter().find(|c| c["check"] == "duplicates").unwrap();
        assert_eq!(
            duplicates["failing_rows"], 2_100,
            "{}{}",
            run.stdout, run.stderr
        );
        assert!(duplicates.get("sampling_rate").is_none(), "{duplicates}");
        let ids = checks.iter().find(|c| c["check"] == "unique");
        // The rows inserted in the middle, the quoted ones, and two more with id 7.
        assert_eq!(
            ids.map(|c| c["failing_rows"].clone()),
            unique.then(|| 2_102.into())
        );
    }
}

#[test]
fn ids_in_runs_count_duplicate_rows_in_one_pass() {
    // Ids counting up, with gaps, a few written `+n` or `0n`, and some missing: the rows with
    // missing ids repeat each other, and every other row is distinct by its id.
    let mut text = String::from("id,x\n");
    for i in 1..=150_000u32 {
        let id = match i % 10_007 {
            0 => String::new(),
            1 => format!("+{i}"),
            2 => format!("0{i}"),
            _ if i % 5_000 < 40 => continue,
            _ => i.to_string(),
        };
        text += &format!("{id},{}\n", if id.is_empty() { 1 } else { i % 100 });
    }
    let project = Project::new();
    project.write("data.csv", text);
    project.write("mlgate.yml", "data:\n  path: data.csv\nschema: s.yml\n");
    project.write(
        "s.yml",
        "version: 1\nduplicates: { max_fraction: 0 }\ncolumns:\n  - { name: id, type: int, nullable: true, unique: true }\n  - { name: x, type: int }\n",
    );
    let run = project.mlgate(&["validate"]);
    let report = project.json(".mlgate/validation.json");
    let checks = report["checks"].as_array().unwrap();
    let duplicates = checks.iter().find(|c| c["check"] == "duplicates").unwrap();
    // 14 rows with no id, all `,1`: the first is not a repeat.
    assert_eq!(
        duplicates["failing_rows"], 13,
        "{}{}",
        run.stdout, run.stderr
    );
    let ids = checks.iter().find(|c| c["check"] == "unique").unwrap();
    assert_eq!(ids["failing_rows"], 0, "{ids}");
}

/// 200 rows of every column type `--infer` tells apart, with every tenth `x` missing.
fn every_type_csv() -> String {
    let mut csv = String::from("id,n,x,flag,color,note,day,ts,label\n");
    for i in 1..=200 {
        let x = if i % 10 == 0 {
            String::new()
        } else {
            format!("{}", i as f64 * 0.5)
        };
        let color = ["red", "green", "blue"][i % 3];
        csv.push_str(&format!(
            "{i},{},{x},{},{color},note {i},2024-01-{:02},2024-03-01T{:02}:{:02}:00,{}\n",
            i as i64 % 17 - 5,
            i % 2 == 0,
            i % 28 + 1,
            i % 24,
            i % 60,
            i % 2
        ));
    }
    csv
}

#[test]
fn infer_writes_types_bounds_null_shares_and_row_bounds() {
    use mlgate::config::Severity;
    use mlgate::validate::schema::{Bound, CheckKind, Schema};

    let project = Project::new();
    project.write("d.csv", every_type_csv());
    project.write(
        "mlgate.yml",
        "data:\n  path: d.csv\n  target: label\n  id: id\n",
    );
    let run = project.mlgate(&["validate", "--infer"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let schema = Schema::load(&project.path().join("mlgate.schema.yml")).unwrap();
    let rows = schema.rows.as_ref().unwrap();
    assert_eq!(
        (rows.min, rows.max, rows.severity),
        (Some(100), Some(2000), Severity::Warn)
    );
    let duplicates = schema.duplicates.as_ref().unwrap();
    assert_eq!(
        (duplicates.max_fraction, duplicates.severity),
        (0.01, Severity::Warn)
    );
    let column = |name: &str| schema.column(name).unwrap().clone();
    let types: Vec<&str> = schema.columns.iter().map(|c| c.ty.name()).collect();
    assert_eq!(
        types.join(" "),
        "int int float bool categorical string date datetime int"
    );

    let id = column("id");
    assert!(id.unique && !id.nullable);
    assert_eq!((id.min, id.max), (None, None), "an id's range is no rule");
    let n = column("n");
    assert_eq!(
        (&n.min, &n.max),
        (&Some(Bound::Integer(-5)), &Some(Bound::Integer(11)))
    );
    assert_eq!(n.severity_of(CheckKind::Range), Severity::Warn);
    assert_eq!(n.severity_of(CheckKind::Type), Severity::Error);
    assert!(!n.nullable && n.max_null_fraction.is_none() && !n.unique);
    // 20 of 200 missing: half as much again, rounded up.
    let x = column("x");
    assert!(x.nullable);
    assert_eq!(x.max_null_fraction, Some(0.15));
    assert_eq!(
        (x.min, x.max),
        (Some(Bound::Number(0.5)), Some(Bound::Number(99.5)))
    );
    assert_eq!(column("flag").allowed.unwrap(), ["false", "true"]);
    let color = column("color");
    assert_eq!(color.allowed.unwrap(), ["blue", "green", "red"]);
    assert!(
        !color.require_all,
        "only the target's classes must all occur"
    );
    assert_eq!(
        column("note").allowed,
        None,
        "200 distinct values are free text"
    );
    let day = column("day");
    assert_eq!(
        (day.min, day.max),
        (
            Some(Bound::Text("2024-01-01".into())),
            Some(Bound::Text("2024-01-28".into()))
        )
    );
    let ts = column("ts");
    // Times without an offset are read as UTC, and written so.
    assert_eq!(ts.min, Some(Bound::Text("2024-03-01T00:00:00Z".into())));
    let label = column("label");
    assert_eq!(label.allowed.unwrap(), ["0", "1"]);
    assert!(label.require_all);

    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn pattern_null_and_row_count_failures_name_rows_and_values() {
    let project = Project::new();
    project.write("d.csv", every_type_csv());
    project.write("mlgate.yml", "data:\n  path: d.csv\n  id: id\n");
    assert_eq!(project.mlgate(&["validate", "--infer"]).code, 0);
    let schema = project
        .read("mlgate.schema.yml")
        .replace("  min: 100\n", "  min: 300\n")
        .replace(
            "- name: note\n  type: string\n",
            "- name: note\n  type: string\n  pattern: 'note [0-9]+'\n",
        );
    assert!(schema.contains("pattern:"), "{schema}");
    project.write("mlgate.schema.yml", schema);
    let csv = every_type_csv()
        .replace("\n7,2,", "\n7,,")
        .replace("note 42,", "note forty-two,");
    project.write("d.csv", csv);
    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = project.json(".mlgate/validation.json");
    let checks = report["checks"].as_array().unwrap();
    let find = |check: &str| {
        checks
            .iter()
            .find(|c| c["check"] == check && c["passed"] == false)
            .unwrap_or_else(|| panic!("no failed {check}: {report:#}"))
            .clone()
    };
    let pattern = find("pattern");
    assert_eq!(pattern["column"], "note");
    assert_eq!(pattern["failing_rows"], 1);
    assert_eq!(pattern["examples"][0]["row"], 42);
    assert_eq!(pattern["examples"][0]["value"], "note forty-two");
    let nulls = find("nulls");
    assert_eq!(nulls["column"], "n");
    assert_eq!(nulls["failing_rows"], 1);
    assert_eq!(nulls["examples"][0]["row"], 7);
    let rows = find("row_count");
    assert_eq!(rows["column"], serde_json::Value::Null);
    assert_eq!(rows["severity"], "warn");
    assert!(
        rows["message"]
            .as_str()
            .unwrap()
            .contains("200 rows, outside the expected 300..2000"),
        "{rows}"
    );
    for text in ["note forty-two", "row_count"] {
        assert!(run.stdout.contains(text), "{text}: {}", run.stdout);
    }
}

#[test]
fn bom_and_crlf_read_as_the_plain_file() {
    let plain = inferred();
    assert_eq!(plain.mlgate(&["validate"]).code, 0);
    let plain_report = plain.json(".mlgate/validation.json");
    let csv = penguins_csv();
    let crlf = format!("\u{feff}{}", csv.replace('\n', "\r\n"));
    let project = Project::new();
    project.with_penguins();
    project.write("data/penguins.csv", crlf);
    project.write("mlgate.yml", CONFIG);
    project.write("mlgate.schema.yml", plain.read("mlgate.schema.yml"));
    let run = project.mlgate(&["validate"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = project.json(".mlgate/validation.json");
    assert_eq!(report["checks"], plain_report["checks"]);
    let profile = |p: &Project| {
        let mut profile = p.json(".mlgate/profile.json");
        // The bytes differ, so the fingerprint and size do; every statistic must not.
        for key in ["fingerprint", "bytes", "source"] {
            profile.as_object_mut().unwrap().remove(key);
        }
        profile
    };
    assert_eq!(profile(&project), profile(&plain));
}

#[test]
fn a_huge_field_is_refused_where_it_starts() {
    let project = Project::new();
    let mut csv = b"a,b\n1,2\n3,\"".to_vec();
    csv.extend(std::iter::repeat_n(b'x', 70 << 20));
    csv.extend_from_slice(b"\"\n");
    project.write("d.csv", csv);
    project.write("mlgate.yml", "data:\n  path: d.csv\n");
    let run = project.mlgate(&["validate", "--infer"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(
            "error: `d.csv`, row 2 (line 3), column `b`: a quoted field opens here and does \
             not close in the next 67108864 bytes"
        ),
        "{}",
        run.stderr
    );
}
