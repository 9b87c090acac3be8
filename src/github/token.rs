//! The GitHub token as a secret value: it can be sent in an `Authorization` header and nowhere
//! else, because neither `Debug` nor `Display` ever shows it.

use std::fmt;

/// A GitHub token (a `GITHUB_TOKEN`, a personal access token or an App installation token).
///
/// Deliberately not `Display`, and its `Debug` prints a placeholder, so that an error message,
/// a `{:?}` of a settings struct or a log line cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token, trimming the whitespace a secret copied from a file often carries; an
    /// empty value is no token.
    pub fn new(value: &str) -> Option<Token> {
        let value = value.trim();
        (!value.is_empty()).then(|| Token(value.to_string()))
    }

    /// The secret itself, for the `Authorization` header and the runner's `::add-mask::`.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::Token;

    #[test]
    fn debug_never_shows_the_value() {
        let token = Token::new(" ghs_secretvalue\n").expect("token");
        assert_eq!(format!("{token:?}"), "Token(***)");
        assert_eq!(format!("{:?}", Some(token.clone())), "Some(Token(***))");
        assert_eq!(token.expose(), "ghs_secretvalue");
    }

    #[test]
    fn blank_is_no_token() {
        assert!(Token::new("  \n").is_none());
    }
}
