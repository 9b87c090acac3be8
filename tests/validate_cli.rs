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
}

#[test]
fn bad_inputs_get_one_located_message_and_exit_2() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "ragged",
            b"a,b\n1,2\n3\n",
            "row 2 (line 3): the row has 1 fields but the header has 2",
        ),
        (
            "bad utf-8",
            b"a,b\n1,caf\xe9\n",
            "row 1 (line 2), column `b`: invalid UTF-8",
        ),
        (
            "unterminated quote",
            b"a,b\n1,\"open\n2,3\n",
            "never closed",
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
