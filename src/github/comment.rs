//! The sticky pull-request comment: one comment per header, found again on every run by its
//! hidden marker *and* its author, then updated in place.
//!
//! Matching the author matters: anyone can paste our marker into a comment, and a tool that
//! matches the marker alone (or, like CML, only the first 30 comments) ends up editing someone
//! else's comment or posting duplicates on busy pull requests. So every page is listed.

use serde::Deserialize;
use serde_json::json;

use super::client::Client;
use super::context::Repo;
use super::error::ApiError;

/// GitHub's limit on a comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// The header used when none is given.
pub const DEFAULT_HEADER: &str = "default";

/// The author an Actions `GITHUB_TOKEN` writes as.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// A validated sticky-comment header: it names the comment in its marker, so it is kept to
/// characters that cannot end an HTML comment or an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header(String);

impl Header {
    /// Checks a header: 1 to 64 of `A-Z a-z 0-9 . _ -`.
    pub fn parse(text: &str) -> Result<Header, String> {
        let ok = (1..=64).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok {
            Ok(Header(text.to_string()))
        } else {
            Err(format!(
                "`{}` is not a header: use 1 to 64 letters, digits, `.`, `_` or `-`",
                text.escape_debug()
            ))
        }
    }

    /// The header text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hidden first line that identifies our comment.
    pub fn marker(&self) -> String {
        format!("<!-- mlgate:sticky header=\"{}\" -->", self.0)
    }
}

/// An issue comment as listed by GitHub (the fields we use).
#[derive(Debug, Clone, Deserialize)]
pub struct IssueComment {
    /// Id.
    pub id: u64,
    /// Body (absent for some minimal-media responses).
    #[serde(default)]
    pub body: Option<String>,
    /// Author.
    pub user: Option<Author>,
    /// Link for people.
    #[serde(default)]
    pub html_url: String,
}

/// A comment's author.
#[derive(Debug, Clone, Deserialize)]
pub struct Author {
    /// Login (`github-actions[bot]` for the Actions token).
    pub login: String,
}

impl IssueComment {
    /// True when the first line is the marker and the author is `author`.
    fn is_ours(&self, marker: &str, author: &str) -> bool {
        let first_line = self.body.as_deref().and_then(|b| b.lines().next());
        first_line.map(str::trim_end) == Some(marker)
            && self
                .user
                .as_ref()
                .is_some_and(|u| u.login.eq_ignore_ascii_case(author))
    }
}

/// The full comment body: the marker line, then the report, cut to GitHub's limit.
pub fn sticky_body(header: &Header, report: &str) -> String {
    let marker = header.marker();
    let room = COMMENT_LIMIT - marker.chars().count() - 1;
    format!("{marker}\n{}", truncate(report, room))
}

/// Cuts markdown to at most `limit` characters at a line end that is outside any HTML comment
/// or code fence, closes `<details>` blocks left open, and says what was cut.
pub fn truncate(markdown: &str, limit: usize) -> String {
    let total = markdown.chars().count();
    if total <= limit {
        return markdown.to_string();
    }
    let note = |shown: usize| {
        format!(
            "\n\n> [!NOTE]\n> The report was cut to fit GitHub's size limit: {shown} of {total} characters shown. The full report is `report.md` in the run directory and the job summary.\n"
        )
    };
    let mut best = (0, 0);
    let mut state = ScanState::default();
    let mut chars = 0;
    for line in markdown.split_inclusive('\n') {
        state.scan(line);
        chars += line.chars().count();
        if state.in_comment || state.in_fence {
            continue;
        }
        let closers = "\n</details>".len() * state.open_details;
        if chars + closers + note(chars).chars().count() > limit {
            break;
        }
        best = (chars, state.open_details);
    }
    let (cut, open_details) = best;
    let mut out: String = markdown.chars().take(cut).collect();
    for _ in 0..open_details {
        out.push_str("\n</details>");
    }
    out.push_str(&note(cut));
    out
}

/// What is open at a line end.
#[derive(Debug, Default)]
struct ScanState {
    /// Inside `<!-- ... -->`.
    in_comment: bool,
    /// Inside a ``` or ~~~ fence.
    in_fence: bool,
    /// Unclosed `<details>` blocks.
    open_details: usize,
}

impl ScanState {
    /// Updates the state with one line.
    fn scan(&mut self, line: &str) {
        let trimmed = line.trim_start();
        if !self.in_comment && (trimmed.starts_with("```") || trimmed.starts_with("~~~")) {
            self.in_fence = !self.in_fence;
            return;
        }
        if self.in_fence {
            return;
        }
        let mut rest = line;
        while !rest.is_empty() {
            if self.in_comment {
                match rest.find("-->") {
                    Some(i) => {
                        self.in_comment = false;
                        rest = &rest[i + 3..];
                    }
                    None => return,
                }
            } else {
                let lower = rest.to_ascii_lowercase();
                self.open_details += lower.matches("<details").count();
                self.open_details = self
                    .open_details
                    .saturating_sub(lower.matches("</details>").count());
                match rest.find("<!--") {
                    Some(i) => {
                        self.in_comment = true;
                        rest = &rest[i + 4..];
                    }
                    None => return,
                }
            }
        }
    }
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    /// `created`, `updated` or `unchanged`.
    pub action: &'static str,
    /// The comment's id.
    pub id: u64,
    /// The comment's link.
    pub url: String,
    /// Older comments of ours with the same header, left alone or deleted.
    pub duplicates: usize,
    /// True when the duplicates were deleted.
    pub duplicates_deleted: bool,
}

/// Creates or updates the sticky comment on a pull request.
pub fn upsert(
    client: &Client,
    repo: &Repo,
    pr: u64,
    header: &Header,
    author: &str,
    body: &str,
    delete_duplicates: bool,
) -> Result<Upserted, ApiError> {
    let list = format!("{}/issues/{pr}/comments", repo.api_path());
    let marker = header.marker();
    let find_ours = || -> Result<Vec<IssueComment>, ApiError> {
        let all: Vec<IssueComment> = client.get_all(&list)?;
        Ok(all
            .into_iter()
            .filter(|c| c.is_ours(&marker, author))
            .collect())
    };
    let mut ours = find_ours()?;
    // Ids grow with time: the newest is the one to keep.
    ours.sort_by_key(|c| c.id);
    let Some(newest) = ours.pop() else {
        let created: IssueComment = client.create(&list, &json!({ "body": body }), || {
            Ok(find_ours()?.into_iter().max_by_key(|c| c.id))
        })?;
        return Ok(Upserted {
            action: "created",
            id: created.id,
            url: created.html_url,
            duplicates: 0,
            duplicates_deleted: false,
        });
    };
    if delete_duplicates {
        for old in &ours {
            client.delete(&format!("{}/issues/comments/{}", repo.api_path(), old.id))?;
        }
    }
    let unchanged = newest.body.as_deref() == Some(body);
    let url = if unchanged {
        newest.html_url
    } else {
        let path = format!("{}/issues/comments/{}", repo.api_path(), newest.id);
        client
            .patch::<IssueComment, _>(&path, &json!({ "body": body }))?
            .html_url
    };
    Ok(Upserted {
        action: if unchanged { "unchanged" } else { "updated" },
        id: newest.id,
        url,
        duplicates: ours.len(),
        duplicates_deleted: delete_duplicates && !ours.is_empty(),
    })
}

/// The login the token writes as: `GET /user` for user tokens; an installation token (the
/// Actions `GITHUB_TOKEN`) cannot read `/user` (403) and writes as `github-actions[bot]`.
/// Other GitHub Apps write as `APP[bot]` and must say so with `--author`.
pub fn token_author(client: &Client) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct User {
        login: String,
    }
    match client.get::<User>("/user") {
        Ok(user) => Ok(user.login),
        Err(e) if matches!(e.status(), Some(401 | 403)) => Ok(ACTIONS_BOT.to_string()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_marker() {
        let header = Header::parse("model-a.v2").expect("header");
        assert_eq!(
            header.marker(),
            "<!-- mlgate:sticky header=\"model-a.v2\" -->"
        );
        for bad in ["", "a b", "x-->", "\"", &"x".repeat(65)] {
            assert!(Header::parse(bad).is_err(), "{bad}");
        }
    }

    /// A listed comment.
    fn comment(id: u64, login: &str, body: &str) -> IssueComment {
        IssueComment {
            id,
            body: Some(body.to_string()),
            user: Some(Author {
                login: login.to_string(),
            }),
            html_url: String::new(),
        }
    }

    #[test]
    fn ours_means_marker_on_the_first_line_and_our_author() {
        let marker = Header::parse("default").unwrap().marker();
        let body = format!("{marker}\nreport");
        assert!(comment(1, ACTIONS_BOT, &body).is_ours(&marker, ACTIONS_BOT));
        assert!(!comment(1, "mallory", &body).is_ours(&marker, ACTIONS_BOT));
        assert!(
            !comment(1, ACTIONS_BOT, &format!("quoting:\n{marker}")).is_ours(&marker, ACTIONS_BOT)
        );
        let other = Header::parse("other").unwrap().marker();
        assert!(!comment(1, ACTIONS_BOT, &body).is_ours(&other, ACTIONS_BOT));
    }

    #[test]
    fn short_bodies_are_untouched() {
        assert_eq!(truncate("# hi\n", 100), "# hi\n");
        let header = Header::parse("default").unwrap();
        assert_eq!(sticky_body(&header, "x"), format!("{}\nx", header.marker()));
    }

    #[test]
    fn long_bodies_fit_and_say_so() {
        let report = "| a | b |\n".repeat(10_000);
        let header = Header::parse("default").unwrap();
        let body = sticky_body(&header, &report);
        assert!(
            body.chars().count() <= COMMENT_LIMIT,
            "{}",
            body.chars().count()
        );
        assert!(body.contains("of 100000 characters shown"));
        assert!(body.starts_with(&header.marker()));
        // Cut on a line end: every table row is whole.
        let table: Vec<&str> = body
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert!(table.iter().all(|l| *l == "| a | b |"));
    }

    #[test]
    fn never_cuts_inside_a_comment_or_fence_and_closes_details() {
        let mut report = String::from("intro\n<details><summary>slices</summary>\n\n");
        report.push_str(&"row\n".repeat(50));
        report.push_str("<!-- hidden\n");
        report.push_str(&"inside\n".repeat(50));
        report.push_str("-->\n```\n");
        report.push_str(&"code\n".repeat(50));
        report.push_str("```\n</details>\n");
        for limit in [600, 700, 800, 900, 1000] {
            let out = truncate(&report, limit);
            assert!(out.chars().count() <= limit, "{limit}");
            assert_eq!(
                out.matches("<!--").count(),
                out.matches("-->").count(),
                "{limit}: {out}"
            );
            assert_eq!(out.matches("```").count() % 2, 0, "{limit}");
            assert_eq!(
                out.matches("<details>").count(),
                out.matches("</details>").count(),
                "{limit}"
            );
        }
    }

    #[test]
    fn multibyte_text_is_counted_in_characters() {
        let report = "é\n".repeat(40_000);
        let out = truncate(&report, COMMENT_LIMIT);
        assert!(out.chars().count() <= COMMENT_LIMIT);
        assert!(out.len() > COMMENT_LIMIT, "bytes exceed chars for é");
    }
}
