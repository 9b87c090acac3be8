//! Exit codes and the one-line-first error rendering shared by every command.
//!
//! A failed gate is not an error: it has its own code so that CI can tell "the model or data is
//! worse" from "mlgate could not run" (the same split typos and fd make).

use std::process::ExitCode;

/// How a command ended, as documented in `docs/outputs.md` ("Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every gate passed (warnings allowed).
    Passed,
    /// A gate failed: validation found an error-severity problem, or the evaluation failed.
    GateFailed,
    /// Bad usage, configuration or input data.
    BadInput,
    /// An outside service (GitHub API, a download) failed.
    ServiceFailed,
    /// `mlgate runner` found no GPU on this host.
    NoGpu,
}

impl Status {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Passed => 0,
            Status::GateFailed => 1,
            Status::BadInput => 2,
            Status::ServiceFailed => 3,
            Status::NoGpu => 4,
        }
    }

    /// Classifies an error: an outside-service failure anywhere in the chain wins, anything else
    /// is treated as bad input, because every error mlgate raises on its own is about its inputs.
    pub fn for_error(err: &anyhow::Error) -> Status {
        let from_service = |cause: &(dyn std::error::Error + 'static)| {
            cause.is::<ServiceError>() || cause.is::<crate::github::ApiError>()
        };
        if err.chain().any(from_service) {
            Status::ServiceFailed
        } else {
            Status::BadInput
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// Marks an error as caused by an outside service, so it maps to exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServiceError(pub String);

/// Renders an error chain as `error: ...` then `  caused by: ...` lines, and a trailing `hint:`
/// line when the innermost error carries one.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}");
    for cause in err.chain().skip(1) {
        out.push_str(&format!("\n  caused by: {cause}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service failure deep in the chain still maps to exit code 3.
    #[test]
    fn service_error_in_chain_maps_to_3() {
        let err = anyhow::Error::new(ServiceError("GitHub answered 502".into())).context("posting");
        assert_eq!(Status::for_error(&err).code(), 3);
        assert_eq!(
            render_error(&err),
            "error: posting\n  caused by: GitHub answered 502"
        );
    }

    /// A GitHub API error is an outside-service failure too.
    #[test]
    fn github_api_error_maps_to_3() {
        let api = crate::github::ApiError::Transport {
            call: "GET /user".into(),
            reason: "timed out".into(),
        };
        let err = anyhow::Error::new(api).context("finding the token's identity");
        assert_eq!(Status::for_error(&err), Status::ServiceFailed);
    }

    /// Plain errors are input errors.
    #[test]
    fn other_errors_map_to_2() {
        let err = anyhow::anyhow!("missing file");
        assert_eq!(Status::for_error(&err), Status::BadInput);
    }
}
