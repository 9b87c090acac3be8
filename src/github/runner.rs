//! Just-in-time registration of an ephemeral self-hosted runner:
//! `POST .../actions/runners/generate-jitconfig` for a repository or an organisation.

use serde::Deserialize;
use serde_json::json;

use super::client::Client;
use super::context::Repo;
use super::error::ApiError;

/// Where the runner registers.
#[derive(Debug, Clone)]
pub enum Scope {
    /// One repository.
    Repo(Repo),
    /// Every repository of an organisation (the runner group decides which).
    Org(String),
}

impl Scope {
    /// The generate-jitconfig path.
    fn path(&self) -> String {
        match self {
            Scope::Repo(repo) => format!("{}/actions/runners/generate-jitconfig", repo.api_path()),
            Scope::Org(org) => format!("/orgs/{org}/actions/runners/generate-jitconfig"),
        }
    }
}

/// What to register.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The runner's name (unique in its scope).
    pub name: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// The runner group (1 is the default group).
    pub runner_group_id: u64,
    /// The work folder, relative to the runner's directory.
    pub work_folder: String,
}

/// The registered runner and its configuration for `run.sh --jitconfig`.
#[derive(Debug, Deserialize)]
pub struct JitConfig {
    /// The runner.
    pub runner: RegisteredRunner,
    /// The base64 configuration: a credential, printed only where asked.
    pub encoded_jit_config: String,
}

/// The runner GitHub created.
#[derive(Debug, Deserialize)]
pub struct RegisteredRunner {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
}

/// Registers the runner. The create is not looked up before a second attempt (GitHub lists no
/// runner by name in one call we use): a lost answer makes the retry fail with 409, naming the
/// runner an earlier attempt made, rather than registering a second one.
pub fn register(
    client: &Client,
    scope: &Scope,
    registration: &Registration,
) -> Result<JitConfig, ApiError> {
    client.create(
        &scope.path(),
        &json!({
            "name": registration.name,
            "runner_group_id": registration.runner_group_id,
            "labels": registration.labels,
            "work_folder": registration.work_folder,
        }),
        || Ok(None),
    )
}
