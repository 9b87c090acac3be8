//! The GitHub Actions runner's file and stdout conventions: annotations, `$GITHUB_OUTPUT`,
//! `$GITHUB_STEP_SUMMARY`.
//!
//! These are not the GitHub API (that adapter is separate and optional): they are plain files
//! and log lines the runner reads, so every stage can use them and they are inert elsewhere.

use std::io::Write;
use std::path::PathBuf;

/// GitHub's limit on one step summary.
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// Where the runner wants our outputs, read from the environment once.
#[derive(Debug, Clone, Default)]
pub struct Workflow {
    /// True inside GitHub Actions (`GITHUB_ACTIONS=true`): annotations are printed.
    pub annotations: bool,
    /// `$GITHUB_OUTPUT`.
    pub output_file: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`.
    pub summary_file: Option<PathBuf>,
}

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `::error`.
    Error,
    /// `::warning`.
    Warning,
}

impl Workflow {
    /// Reads the runner's variables.
    pub fn from_env() -> Workflow {
        let path = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Workflow {
            annotations: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            output_file: path("GITHUB_OUTPUT"),
            summary_file: path("GITHUB_STEP_SUMMARY"),
        }
    }

    /// An annotation line, or `None` outside Actions.
    pub fn annotation(
        &self,
        level: Level,
        file: Option<&str>,
        line: Option<u64>,
        title: &str,
        message: &str,
    ) -> Option<String> {
        if !self.annotations {
            return None;
        }
        let command = match level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut properties = Vec::new();
        if let Some(file) = file {
            properties.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = line {
            properties.push(format!("line={line}"));
        }
        properties.push(format!("title={}", escape_property(title)));
        Some(format!(
            "::{command} {}::{}",
            properties.join(","),
            escape_data(message)
        ))
    }

    /// Appends `key=value` pairs to `$GITHUB_OUTPUT`, using the heredoc form for every value so
    /// that no value (a path with a newline, say) can inject another output.
    pub fn set_outputs(&self, pairs: &[(&str, String)]) -> anyhow::Result<()> {
        let Some(path) = &self.output_file else {
            return Ok(());
        };
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        for (key, value) in pairs {
            let delimiter = unique_delimiter(value);
            writeln!(file, "{key}<<{delimiter}\n{value}\n{delimiter}")?;
        }
        Ok(())
    }

    /// Bytes the job summary can still take, or `None` outside Actions.
    pub fn summary_room(&self) -> Option<usize> {
        let path = self.summary_file.as_ref()?;
        let existing = fs_err::metadata(path)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        Some(STEP_SUMMARY_LIMIT.saturating_sub(existing))
    }

    /// The same runner, minus the job summary: for stages whose summary a later report
    /// replaces.
    pub fn without_summary(&self) -> Workflow {
        Workflow {
            summary_file: None,
            ..self.clone()
        }
    }

    /// Appends markdown to the job summary, truncated to fit GitHub's limit.
    pub fn append_summary(&self, markdown: &str) -> anyhow::Result<()> {
        let (Some(path), Some(room)) = (&self.summary_file, self.summary_room()) else {
            return Ok(());
        };
        let text = truncate_markdown(markdown, room);
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        file.write_all(text.as_bytes())?;
        Ok(())
    }
}

/// Cuts markdown to at most `limit` bytes on a line boundary, saying so at the end.
pub fn truncate_markdown(markdown: &str, limit: usize) -> String {
    if markdown.len() <= limit {
        return markdown.to_string();
    }
    const NOTE: &str =
        "\n\n_(truncated to fit GitHub's size limit; the full report is in the run's artifacts)_\n";
    let budget = limit.saturating_sub(NOTE.len());
    let mut end = budget.min(markdown.len());
    while end > 0 && !markdown.is_char_boundary(end) {
        end -= 1;
    }
    let cut = markdown[..end].rfind('\n').unwrap_or(0);
    if limit < NOTE.len() {
        return String::new();
    }
    format!("{}{NOTE}", &markdown[..cut])
}

/// A heredoc delimiter that does not occur in the value.
fn unique_delimiter(value: &str) -> String {
    let mut n = 0u32;
    loop {
        let candidate = format!("MLGATE_EOF_{n}");
        if !value.contains(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// Escapes an annotation message (GitHub's `escapeData`).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes an annotation property (GitHub's `escapeProperty`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_commands() {
        let w = Workflow {
            annotations: true,
            ..Workflow::default()
        };
        let line = w
            .annotation(
                Level::Error,
                Some("a,b.csv"),
                Some(3),
                "mlgate: type",
                "bad\n::set-env x",
            )
            .unwrap();
        assert_eq!(
            line,
            "::error file=a%2Cb.csv,line=3,title=mlgate%3A type::bad%0A::set-env x"
        );
        assert!(Workflow::default()
            .annotation(Level::Error, None, None, "t", "m")
            .is_none());
    }

    #[test]
    fn outputs_use_heredocs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let w = Workflow {
            output_file: Some(path.clone()),
            ..Workflow::default()
        };
        w.set_outputs(&[
            ("status", "passed".into()),
            ("evil", "x\nMLGATE_EOF_0\ny=1".into()),
        ])
        .unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.starts_with("status<<MLGATE_EOF_0\npassed\nMLGATE_EOF_0\n"));
        assert!(text.contains("evil<<MLGATE_EOF_1\n"));
    }

    #[test]
    fn summary_is_truncated_on_a_line() {
        let text = "line\n".repeat(100);
        let cut = truncate_markdown(&text, 200);
        assert!(cut.len() <= 200);
        assert!(cut.ends_with("artifacts)_\n"));
        assert_eq!(truncate_markdown("short", 200), "short");
    }
}
