//! The self-hosted GPU runner profile `mlgate init --gpu-runner DIR` writes: settings, the
//! provisioning script, the job hooks, the ephemeral-runner launcher, systemd units and the
//! Kubernetes scale-set values, all built into the binary from `templates/runner/gpu/`.
//!
//! Only `runner.conf` and the scale-set values are templates (the labels, the repository and
//! the pinned runner release go in); the scripts are copied as they are, so what shellcheck
//! checks in this repository is exactly what lands on a host.

use std::path::PathBuf;

use super::{render, Planned};

/// The runner release the profile pins, and the sha256 of its Linux x64 archive (from the
/// release's notes, `<!-- BEGIN SHA linux-x64 -->`).
pub const RUNNER_VERSION: &str = "2.338.0";
/// See [`RUNNER_VERSION`].
pub const RUNNER_SHA256: &str = "af4b794c1bc41d73d40535e3fe092a39f9679cd8d965954c2aca25a05ca41d32";

/// Files copied as they are: (path in the profile, contents).
const FILES: [(&str, &str); 11] = [
    (
        "README.md",
        include_str!("../../templates/runner/gpu/README.md"),
    ),
    (
        "provision.sh",
        include_str!("../../templates/runner/gpu/provision.sh"),
    ),
    (
        "hooks/job-started.sh",
        include_str!("../../templates/runner/gpu/hooks/job-started.sh"),
    ),
    (
        "hooks/job-completed.sh",
        include_str!("../../templates/runner/gpu/hooks/job-completed.sh"),
    ),
    (
        "bin/start-ephemeral.sh",
        include_str!("../../templates/runner/gpu/bin/start-ephemeral.sh"),
    ),
    (
        "runner/.env",
        include_str!("../../templates/runner/gpu/runner/.env"),
    ),
    (
        "systemd/mlgate-gpu-runner.service",
        include_str!("../../templates/runner/gpu/systemd/mlgate-gpu-runner.service"),
    ),
    (
        "systemd/mlgate-gpu-runner.service.d/10-mlgate-gpu.conf",
        include_str!(
            "../../templates/runner/gpu/systemd/mlgate-gpu-runner.service.d/10-mlgate-gpu.conf"
        ),
    ),
    (
        "systemd/mlgate-gpu-cleanup.service",
        include_str!("../../templates/runner/gpu/systemd/mlgate-gpu-cleanup.service"),
    ),
    (
        "systemd/mlgate-gpu-cleanup.timer",
        include_str!("../../templates/runner/gpu/systemd/mlgate-gpu-cleanup.timer"),
    ),
    (
        "kubernetes/job-pod-template.yaml",
        include_str!("../../templates/runner/gpu/kubernetes/job-pod-template.yaml"),
    ),
];

/// `runner.conf`'s template.
const RUNNER_CONF: &str = include_str!("../../templates/runner/gpu/runner.conf.j2");
/// The scale set's values template.
const VALUES: &str = include_str!("../../templates/runner/gpu/kubernetes/values.yaml.j2");

/// Where the profile's runners register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `owner/name`.
    Repo(String),
    /// An organisation.
    Org(String),
    /// Not known yet: provision.sh refuses to run until runner.conf names one.
    Unset,
}

/// What the profile is for.
#[derive(Debug, Clone)]
pub struct ProfileRequest {
    /// Where runners register.
    pub target: Target,
    /// The labels of this host's GPU, when `mlgate init` runs on it; else detected at each
    /// registration.
    pub detected_labels: Option<Vec<String>>,
}

/// Every file of the profile, paths relative to its directory.
pub fn plan(request: &ProfileRequest) -> anyhow::Result<Vec<Planned>> {
    let labels = request.detected_labels.clone().unwrap_or_default();
    let (repo, org, repo_or_owner) = match &request.target {
        Target::Repo(repo) => (repo.as_str(), "", repo.as_str()),
        Target::Org(org) => ("", org.as_str(), org.as_str()),
        Target::Unset => ("", "", "OWNER/REPO"),
    };
    let conf = render(
        RUNNER_CONF,
        minijinja::context! {
            repo => repo,
            org => org,
            detected => labels.join(", "),
            labels => labels.join(","),
            runner_version => RUNNER_VERSION,
            runner_sha256 => RUNNER_SHA256,
        },
    )?;
    // The scale set's own name is always a label; the rest name the hardware.
    let k8s_labels: Vec<&str> = labels
        .iter()
        .map(String::as_str)
        .filter(|l| !matches!(*l, "self-hosted" | "linux" | "x64"))
        .collect();
    let k8s_labels = if k8s_labels.is_empty() {
        serde_json::json!(["gpu"])
    } else {
        serde_json::json!(k8s_labels)
    };
    let values = render(
        VALUES,
        minijinja::context! {
            repo_or_owner => repo_or_owner,
            k8s_labels => k8s_labels.to_string(),
            runner_version => RUNNER_VERSION,
        },
    )?;
    let mut planned: Vec<Planned> = FILES
        .iter()
        .map(|(path, contents)| Planned {
            path: PathBuf::from(path),
            contents: (*contents).to_string(),
        })
        .collect();
    planned.push(Planned {
        path: PathBuf::from("runner.conf"),
        contents: conf,
    });
    planned.push(Planned {
        path: PathBuf::from("kubernetes/values.yaml"),
        contents: values,
    });
    planned.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(planned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn conf_value<'a>(conf: &'a str, key: &str) -> Option<&'a str> {
        conf.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    }

    #[test]
    fn settings_carry_the_target_labels_and_pinned_runner() {
        let planned = plan(&ProfileRequest {
            target: Target::Org("acme".into()),
            detected_labels: Some(
                [
                    "self-hosted",
                    "linux",
                    "x64",
                    "gpu",
                    "gpu-h100-80gb-hbm3",
                    "cuda-13",
                ]
                .map(String::from)
                .into(),
            ),
        })
        .unwrap();
        let conf = &planned
            .iter()
            .find(|p| p.path == Path::new("runner.conf"))
            .unwrap()
            .contents;
        assert_eq!(conf_value(conf, "MLGATE_RUNNER_ORG"), Some("acme"));
        assert_eq!(conf_value(conf, "MLGATE_RUNNER_REPO"), Some(""));
        assert_eq!(
            conf_value(conf, "MLGATE_RUNNER_LABELS"),
            Some("self-hosted,linux,x64,gpu,gpu-h100-80gb-hbm3,cuda-13")
        );
        assert_eq!(conf_value(conf, "RUNNER_SHA256"), Some(RUNNER_SHA256));
        // systemd's EnvironmentFile and bash both read it: no spaces or quotes in values.
        for line in conf
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (key, value) = line.split_once('=').unwrap();
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{line}"
            );
            assert!(!value.contains([' ', '"', '\'', '$', '`']), "{line}");
        }
        let values = &planned
            .iter()
            .find(|p| p.path == Path::new("kubernetes/values.yaml"))
            .unwrap()
            .contents;
        let values: serde_json::Value = serde_norway::from_str(values).unwrap();
        assert_eq!(values["githubConfigUrl"], "https://github.com/acme");
        assert_eq!(
            values["scaleSetLabels"],
            serde_json::json!(["gpu", "gpu-h100-80gb-hbm3", "cuda-13"])
        );
    }

    #[test]
    fn an_unset_target_leaves_both_empty() {
        let planned = plan(&ProfileRequest {
            target: Target::Unset,
            detected_labels: None,
        })
        .unwrap();
        let conf = &planned
            .iter()
            .find(|p| p.path == Path::new("runner.conf"))
            .unwrap()
            .contents;
        assert_eq!(conf_value(conf, "MLGATE_RUNNER_REPO"), Some(""));
        assert_eq!(conf_value(conf, "MLGATE_RUNNER_LABELS"), Some(""));
        assert!(
            conf.contains("mlgate detects them at\n# each registration"),
            "{conf}"
        );
    }
}
