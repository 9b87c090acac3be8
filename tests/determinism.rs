//! Same data, config and seed give byte-identical outputs: across runs, whatever the number
//! of threads that read the blocks, and whether numbers are read eight at a time or one by
//! one (`data::wide_numbers`).

mod common;

use common::Project;

/// A CSV of several blocks (over 8 MB) with numbers, labels, nulls and a repeated row; `z`
/// holds decimals of every shape, `n` integers of too many values to count as labels, `at`
/// datetimes in several forms.
fn several_blocks() -> String {
    let mut csv = String::from("id,x,y,kind,when,z,n,at\n");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..160_000u64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let x = (state % 100_000) as f64 / 997.0;
        let y = if state.is_multiple_of(29) {
            String::new()
        } else {
            format!("{}", state % 1000)
        };
        let kind = ["a", "b", "c", "d"][(state % 4) as usize];
        let z = match state % 13 {
            0 => format!("{}e{}", state % 1000, state % 7),
            1 => format!("-{}", (state >> 8) % 100_000_000),
            2 => format!("+{}.{}", state % 10, state % 1000),
            3 => format!("{}.", state % 100),
            4 => format!(".{}", state % 10_000_000),
            5 => format!("{}.{:04}", (state >> 12) % 1_000_000_000, state % 10_000),
            6 => "-0".to_string(),
            7 => String::new(),
            _ => format!("{}.{:02}", (state >> 20) % 100_000, state % 100),
        };
        let n = match state % 11 {
            0 => String::new(),
            1 => format!("-{}", state % 1_000_000_000),
            _ => format!("{}", (state >> 9) % 100_000_000),
        };
        let clock = format!(
            "{:02}:{:02}:{:02}",
            state % 24,
            (state >> 5) % 60,
            (state >> 11) % 60
        );
        let at = match state % 5 {
            0 => format!("2023-12-{:02} {clock}", state % 31 + 1),
            1 => format!("1969-07-20T{clock}Z"),
            2 => format!("2024-02-29T{clock}.{}", state % 1000),
            3 => format!("2024-03-01T{clock}+01:00"),
            _ => format!(
                "20{:02}-0{}-1{}T{clock}",
                state % 100,
                state % 9 + 1,
                state % 10
            ),
        };
        csv.push_str(&format!(
            "{i},{x:.4},{y},{kind},2024-01-{:02},{z},{n},{at}\n",
            state % 28 + 1
        ));
    }
    csv.push_str("159999,1.0,1,a,2024-01-01,1.5,7,2024-01-01T00:00:00\n");
    csv
}

#[test]
fn outputs_are_byte_identical_across_runs_and_thread_counts() {
    let project = Project::new();
    project.write("d.csv", several_blocks());
    project.write("mlgate.yml", "data:\n  path: d.csv\n  id: id\n");
    assert_eq!(project.mlgate(&["validate", "--infer"]).code, 0);
    let run_with = |threads: &str, out: &str, env: Option<(&str, &str)>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mlgate"));
        command.envs(env);
        let output = command
            .args(["validate", "--out", out, "--reference", "d.csv"])
            .current_dir(project.path())
            .env("MLGATE_THREADS", threads)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        (
            project.read(&format!("{out}/validation.json")),
            project.read(&format!("{out}/profile.json")),
        )
    };
    let run = |threads: &str, out: &str| run_with(threads, out, None);
    let one = run("1", "one");
    let again = run("1", "again");
    let four = run("4", "four");
    let one_by_one = run_with("2", "one_by_one", Some(("MLGATE_NO_AVX512", "1")));
    assert_eq!(one, again);
    assert_eq!(one, four);
    assert_eq!(one, one_by_one);
    let report: serde_json::Value = serde_json::from_str(&one.0).unwrap();
    let unique = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "unique")
        .unwrap();
    assert_eq!(unique["failing_rows"], 1);
    assert_eq!(unique["examples"][0]["row"], 160_001);
    assert_eq!(unique["examples"][0]["repeats_row"], 160_000);
}

#[test]
fn null_tokens_that_read_as_values_stay_missing_either_way() {
    // `1900-01-01` and `-999` are common sentinels: as null tokens they must count as missing
    // in date and number columns, whether the fields are read eight at a time or one by one.
    let project = Project::new();
    let mut csv = String::from("id,d,x\n");
    for i in 0..5000 {
        let d = if i % 7 == 0 {
            "1900-01-01".to_string()
        } else {
            format!("2024-{:02}-{:02}", i % 12 + 1, i % 28 + 1)
        };
        let x = if i % 5 == 0 {
            "-999".to_string()
        } else {
            format!("{}.{:02}", i % 97, i % 100)
        };
        csv.push_str(&format!("{i},{d},{x}\n"));
    }
    project.write("d.csv", csv);
    project.write(
        "mlgate.yml",
        "data:\n  path: d.csv\n  null_values: [\"\", \"1900-01-01\", \"-999\"]\nschema: s.yml\n",
    );
    project.write(
        "s.yml",
        "version: 1\ncolumns:\n  - { name: id, type: int }\n  - { name: d, type: date }\n  - { name: x, type: float }\n",
    );
    let run = |out: &str, vars: &[(&str, &str)]| {
        project.mlgate_env(&["validate", "--out", out], vars);
        project.json(&format!("{out}/profile.json"))
    };
    let wide = run("wide", &[]);
    let one_by_one = run("one_by_one", &[("MLGATE_NO_AVX512", "1")]);
    assert_eq!(wide, one_by_one);
    let nulls = |name: &str| {
        let columns = wide["columns"].as_array().unwrap();
        let column = columns.iter().find(|c| c["name"] == name).unwrap();
        column["nulls"].as_u64().unwrap()
    };
    assert_eq!((nulls("d"), nulls("x")), (715, 1000));
}
