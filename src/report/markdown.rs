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
            // An entity, not a backslash: GitHub links @names even after `\`.
            '@' => out.push_str("&#64;"),
            '|' => out.push_str("&#124;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '~' | '{' | '}' | '+'
            | '-' | '.' | ':' => {
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

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn neutralises_markup_mentions_and_tables() {
        assert_eq!(escape("a|b"), "a&#124;b");
        assert_eq!(escape("@octocat"), "&#64;octocat");
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
