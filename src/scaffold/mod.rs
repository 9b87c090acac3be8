//! What `mlgate init` writes into a repository: `mlgate.yml` inferred from the user's data,
//! the schema, and the workflows (pull request, fork-safe comment, release, GPU training,
//! scheduled retraining), all rendered from templates built into the binary.
//!
//! Workflows are full of GitHub's own `${{ }}` expressions, so the templates use `[[ ]]` for
//! our variables and `[% %]` for blocks instead of Jinja's braces. Nothing is written unless
//! every target is new (or `force`), so a refused run leaves the repository as it was.

pub mod gpu_runner;

use std::path::{Path, PathBuf};

use crate::config::{self, LoadedConfig};
use crate::data::types::ColumnType;
use crate::validate::schema::{ColumnSchema, Schema};

/// The action the workflows use unless told otherwise.
pub const DEFAULT_ACTION: &str = "mlgate/mlgate@v1";

/// The templates: (path written, template source).
const WORKFLOWS: [(&str, &str); 5] = [
    (
        ".github/workflows/mlgate-pr.yml",
        include_str!("../../templates/init/mlgate-pr.yml.j2"),
    ),
    (
        ".github/workflows/mlgate-comment.yml",
        include_str!("../../templates/init/mlgate-comment.yml.j2"),
    ),
    (
        ".github/workflows/mlgate-release.yml",
        include_str!("../../templates/init/mlgate-release.yml.j2"),
    ),
    (
        ".github/workflows/mlgate-gpu.yml",
        include_str!("../../templates/init/mlgate-gpu.yml.j2"),
    ),
    (
        ".github/workflows/mlgate-retrain.yml",
        include_str!("../../templates/init/mlgate-retrain.yml.j2"),
    ),
];

/// actionlint's configuration, so the GPU workflow's runner label lints clean.
const ACTIONLINT: (&str, &str) = (
    ".github/actionlint.yaml",
    include_str!("../../templates/init/actionlint.yaml"),
);

/// The config template.
const CONFIG_TEMPLATE: &str = include_str!("../../templates/init/mlgate.yml.j2");

/// The config file written.
pub const CONFIG_FILE: &str = "mlgate.yml";

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct Request {
    /// The repository root to write into.
    pub dir: PathBuf,
    /// The data file, relative to `dir`.
    pub data: PathBuf,
    /// The target column.
    pub target: String,
    /// The id column, if any.
    pub id: Option<String>,
    /// The registry name (`NAME@vX.Y.Z`).
    pub name: String,
    /// What the workflows put after `uses:`.
    pub action: String,
    /// Make the workflows build mlgate from the action's source (no release binary pinned).
    pub build_from_source: bool,
}

/// A file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Its path under the repository root.
    pub path: PathBuf,
    /// Its content.
    pub contents: String,
}

/// Why a scaffold was not written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// Files exist and `force` was not given; nothing was written.
    #[error("{} already exist{}: {}; pass `--force` to overwrite", if .0.len() == 1 { "a file" } else { "files" }, if .0.len() == 1 { "s" } else { "" }, .0.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", "))]
    Exists(Vec<PathBuf>),
}

/// Whether the model is a classifier or a regressor, from the target's inferred column.
fn is_classification(target: &ColumnSchema) -> bool {
    match target.ty {
        ColumnType::Bool | ColumnType::Categorical | ColumnType::String => true,
        ColumnType::Int => target.allowed.is_some(),
        ColumnType::Float | ColumnType::Date | ColumnType::Datetime => false,
    }
}

/// The config for the data, with a model and gate chosen from the target's type.
fn render_config(request: &Request, classification: bool) -> anyhow::Result<String> {
    let (model, primary, rules) = if classification {
        (
            "logistic_regression",
            "f1_macro",
            vec![
                "{ metric: f1_macro, max_regression: 0.02 }",
                "{ metric: accuracy, max_regression: 0.02 }",
            ],
        )
    } else {
        (
            "ridge",
            "rmse",
            vec![
                "{ metric: rmse, max_relative_regression: 0.05 }",
                "{ metric: r2, max_regression: 0.02 }",
            ],
        )
    };
    render(
        CONFIG_TEMPLATE,
        minijinja::context! {
            data => yaml_scalar(&request.data.to_string_lossy()),
            target => yaml_scalar(&request.target),
            id => request.id.as_deref().map(yaml_scalar),
            name => yaml_scalar(&request.name),
            model => model,
            primary => primary,
            rules => rules,
        },
    )
}

/// A YAML scalar for a user's string: plain when that reads back as the same string, else
/// double-quoted JSON (which YAML reads as the same string).
fn yaml_scalar(text: &str) -> String {
    // YAML 1.1 readers (PyYAML, older tools) take these for booleans or null.
    const AMBIGUOUS: [&str; 11] = [
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "nan", "inf",
    ];
    let plain = !text.is_empty()
        && !AMBIGUOUS.contains(&text.to_ascii_lowercase().as_str())
        && text.parse::<f64>().is_err()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !text.starts_with(['-', '.'])
        && serde_norway::from_str::<String>(text).ok().as_deref() == Some(text);
    if plain {
        text.to_string()
    } else {
        serde_json::Value::String(text.to_string()).to_string()
    }
}

/// Renders a template with our delimiters.
pub(crate) fn render(source: &str, context: minijinja::Value) -> anyhow::Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .block_delimiters("[%", "%]")
            .variable_delimiters("[[", "]]")
            .comment_delimiters("[#", "#]")
            .build()?,
    );
    env.set_keep_trailing_newline(true);
    env.add_template("t", source)?;
    Ok(env.get_template("t")?.render(context)?)
}

/// The workflows for `action`.
pub fn workflows(action: &str, build_from_source: bool) -> anyhow::Result<Vec<Planned>> {
    WORKFLOWS
        .iter()
        .map(|(path, source)| {
            // The `install` line adds the installer's inputs; without any it goes entirely.
            let source: String = source
                .lines()
                .filter(|l| build_from_source || l.trim() != "[[ install ]]")
                .map(|l| format!("{l}\n"))
                .collect();
            let contents = render(
                &source,
                minijinja::context! {
                    action => action,
                    install => "          build-from-source: \"true\"",
                },
            )?;
            Ok(Planned {
                path: PathBuf::from(path),
                contents: tidy(&contents),
            })
        })
        .collect()
}

/// One trailing newline, and blank lines only between top-level sections.
fn tidy(text: &str) -> String {
    let mut out = String::new();
    let mut previous_blank = true;
    for line in text.lines() {
        let blank = line.trim().is_empty();
        if blank && previous_blank {
            continue;
        }
        out.push_str(line.trim_end());
        out.push('\n');
        previous_blank = blank;
    }
    out
}

/// Plans every file: the config (its model and gate from the data's target), the schema
/// inferred from the data, the workflows.
pub fn plan(request: &Request) -> anyhow::Result<Vec<Planned>> {
    let config_path = request.dir.join(CONFIG_FILE);
    // Infer with a provisional config: the data, target and id are all the schema needs.
    let provisional = render_config(request, true)?;
    let loaded = LoadedConfig {
        path: config_path.clone(),
        dir: request.dir.clone(),
        config: config::parse(&config_path, &provisional)?,
    };
    let schema: Schema = crate::validate::infer_schema(&loaded)?;
    let target = schema
        .columns
        .iter()
        .find(|c| c.name == request.target)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "`{}` has no column `{}`; name the target with `--target` (columns: {})",
                request.data.display(),
                request.target,
                schema
                    .columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let config = render_config(request, is_classification(target))?;
    // The written config must load: a template bug must never reach a user's repository.
    config::parse(&config_path, &config)?;
    let mut planned = vec![
        Planned {
            path: PathBuf::from(CONFIG_FILE),
            contents: config,
        },
        Planned {
            path: loaded.config.schema.clone(),
            contents: schema.to_yaml()?,
        },
    ];
    planned.extend(workflows(&request.action, request.build_from_source)?);
    planned.push(Planned {
        path: PathBuf::from(ACTIONLINT.0),
        contents: ACTIONLINT.1.to_string(),
    });
    Ok(planned)
}

/// Writes the planned files under `dir`: all of them, or, when some exist and `force` is off,
/// none.
pub fn write(dir: &Path, planned: &[Planned], force: bool) -> anyhow::Result<()> {
    let existing: Vec<PathBuf> = planned
        .iter()
        .filter(|p| dir.join(&p.path).exists())
        .map(|p| p.path.clone())
        .collect();
    if !existing.is_empty() && !force {
        return Err(ScaffoldError::Exists(existing).into());
    }
    for file in planned {
        let path = dir.join(&file.path);
        crate::fsx::write_atomic(&path, file.contents.as_bytes())?;
        if file.path.extension().is_some_and(|e| e == "sh") {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_unless_plain() {
        assert_eq!(yaml_scalar("species"), "species");
        assert_eq!(yaml_scalar("data/penguins.csv"), "data/penguins.csv");
        assert_eq!(yaml_scalar("yes"), "\"yes\"");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar("-x"), "\"-x\"");
        assert_eq!(yaml_scalar("1.0"), "\"1.0\"");
        assert_eq!(yaml_scalar("naïve \"q\""), "\"naïve \\\"q\\\"\"");
    }

    #[test]
    fn workflows_use_the_action_and_keep_githubs_expressions() {
        for planned in workflows("./", true).unwrap() {
            let text = &planned.contents;
            assert!(text.contains("uses: ./\n"), "{}", planned.path.display());
            assert!(text.contains("build-from-source: \"true\""), "{text}");
            assert!(!text.contains("[["), "{text}");
            let parsed: serde_json::Value = serde_norway::from_str(text).unwrap();
            assert!(
                parsed["permissions"].is_object(),
                "{}",
                planned.path.display()
            );
        }
        let pr = &workflows("./", false).unwrap()[0].contents;
        assert!(pr.contains("${{ github.base_ref }}"), "{pr}");
        for planned in workflows(DEFAULT_ACTION, false).unwrap() {
            assert!(!planned.contents.contains("build-from-source"));
        }
    }
}
