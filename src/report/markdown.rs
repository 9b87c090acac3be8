//! Escaping untrusted text (column names, values, branch names) for GitHub-flavoured markdown.
//!
//! Anything that came from data or from a pull request is text, never markup: it must not open
//! HTML, links, code spans or tables, and must not @mention anyone. Escaping with backslashes
//! and HTML entities keeps the characters visible while stripping their meaning.

/// Escapes text for use inside markdown paragraphs and table cells.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // GitHub links `@name` and `#123` in the rendered text, after entities are decoded
            // and whatever backslashes preceded them, so only a character between the sign and
            // the name stops it: a zero-width space, the convention of Dependabot and Renovate.
            '@' => out.push_str("@&#8203;"),
            '#' => out.push_str("#&#8203;"),
            '|' => out.push_str("&#124;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '~' | '{' | '}' | '+' | '-'
            | '.' | ':' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes text, first shortening it to `max_chars` characters (with `…`), so that one hostile
/// value cannot fill a whole comment.
pub fn escape_capped(text: &str, max_chars: usize) -> String {
    escape(&cap(text, max_chars))
}

/// `text` shortened to `max_chars` characters, with `…` when it was longer.
pub fn cap(text: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}

/// An identifier (a hash, a version) as a code span when it holds only characters that cannot
/// end one, otherwise as escaped text.
pub fn code(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/'))
    {
        format!("`{text}`")
    } else {
        escape(text)
    }
}

/// A link target that cannot leave the `(...)` of a markdown link or the quotes of an HTML
/// attribute: only `http` and `https` URLs, with spaces, quotes, brackets, parentheses and
/// control characters percent-encoded. `None` for anything else (`javascript:`, relative).
pub fn link_target(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        if c.is_ascii_alphanumeric() || "-._~:/?#@!$&*+,;=%".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_long_text_before_escaping() {
        assert_eq!(escape_capped("abcdef", 3), "abc…");
        assert_eq!(escape_capped("ab", 3), "ab");
        assert_eq!(escape_capped("a|b|c", 3), "a&#124;b…");
    }

    #[test]
    fn hashes_are_code_spans_and_anything_else_is_escaped() {
        assert_eq!(code("a45681dd"), "`a45681dd`");
        assert_eq!(code("a`b"), "a\\`b");
        assert_eq!(code(""), "");
    }

    #[test]
    fn link_targets_are_http_only_and_cannot_break_out() {
        assert_eq!(
            link_target("https://github.com/o/r/actions/runs/1").as_deref(),
            Some("https://github.com/o/r/actions/runs/1")
        );
        assert_eq!(
            link_target("https://e.com/a b)\"<x>").as_deref(),
            Some("https://e.com/a%20b%29%22%3Cx%3E")
        );
        assert_eq!(link_target("javascript:alert(1)"), None);
        assert_eq!(link_target("/relative"), None);
    }

    #[test]
    fn neutralises_markup_mentions_and_tables() {
        assert_eq!(escape("a|b"), "a&#124;b");
        assert_eq!(escape("@octocat"), "@&#8203;octocat");
        assert_eq!(escape("#1"), "#&#8203;1");
        assert_eq!(escape("<!-- x -->"), "&lt;\\!\\-\\- x \\-\\-&gt;");
        assert_eq!(
            escape("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert\\(1\\)&gt;"
        );
        assert_eq!(escape("[x](http://e)"), "\\[x\\]\\(http\\://e\\)");
        assert_eq!(escape("line\nbreak"), "line break");
        assert_eq!(escape("`code`"), "\\`code\\`");
        assert_eq!(escape("plain words 42"), "plain words 42");
    }
}
