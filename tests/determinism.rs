//! Same data, config and seed give byte-identical outputs: across runs, and whatever the
//! number of threads that read the blocks.

mod common;

use common::Project;

/// A CSV of several blocks (over 8 MB) with numbers, labels, nulls and a repeated row.
fn several_blocks() -> String {
    let mut csv = String::from("id,x,y,kind,when\n");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..160_000u64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let x = (state % 100_000) as f64 / 997.0;
        let y = if state % 29 == 0 {
            String::new()
        } else {
            format!("{}", state % 1000)
        };
        let kind = ["a", "b", "c", "d"][(state % 4) as usize];
        csv.push_str(&format!(
            "{i},{x:.4},{y},{kind},2024-01-{:02}\n",
            state % 28 + 1
        ));
    }
    csv.push_str("159999,1.0,1,a,2024-01-01\n");
    csv
}

#[test]
fn outputs_are_byte_identical_across_runs_and_thread_counts() {
    let project = Project::new();
    project.write("d.csv", several_blocks());
    project.write("mlgate.yml", "data:\n  path: d.csv\n  id: id\n");
    assert_eq!(project.mlgate(&["validate", "--infer"]).code, 0);
    let run = |threads: &str, out: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_mlgate"))
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
    let one = run("1", "one");
    let again = run("1", "again");
    let four = run("4", "four");
    assert_eq!(one, again);
    assert_eq!(one, four);
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
