//! The `Link` response header that GitHub paginates with (RFC 8288, the subset GitHub sends).

/// The URL of the `rel="next"` page in a `Link` header, if any.
///
/// GitHub sends `<https://api.github.com/...&page=2>; rel="next", <...>; rel="last"`; the URL is
/// opaque (GitHub may switch to cursors), so it is followed as given rather than rebuilt.
pub fn next_page(header: &str) -> Option<&str> {
    header.split(',').find_map(|entry| {
        let (target, params) = entry.trim().split_once(';')?;
        let url = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|param| is_rel_next(param.trim()))
            .then_some(url)
    })
}

/// True for `rel="next"` or `rel=next`, also inside a space-separated list of relations.
fn is_rel_next(param: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else {
        return false;
    };
    name.trim().eq_ignore_ascii_case("rel")
        && value
            .trim()
            .trim_matches('"')
            .split_ascii_whitespace()
            .any(|rel| rel.eq_ignore_ascii_case("next"))
}

#[cfg(test)]
mod tests {
    use super::next_page;

    #[test]
    fn finds_next_among_relations() {
        let header = "<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2>; rel=\"next\", \
                      <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3>; rel=\"last\"";
        assert_eq!(
            next_page(header),
            Some("https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2")
        );
    }

    #[test]
    fn next_in_the_middle_or_unquoted() {
        let header = "<http://h/a?page=1>; rel=\"prev\", <http://h/a?page=3>; rel=next, <http://h/a?page=9>; rel=\"last\"";
        assert_eq!(next_page(header), Some("http://h/a?page=3"));
        assert_eq!(
            next_page("<http://h/x>; rel=\"prev next\""),
            Some("http://h/x")
        );
    }

    #[test]
    fn last_page_has_no_next() {
        let header = "<http://h/a?page=1>; rel=\"first\", <http://h/a?page=2>; rel=\"prev\"";
        assert_eq!(next_page(header), None);
        assert_eq!(next_page(""), None);
        assert_eq!(next_page("garbage; rel=next"), None);
        assert_eq!(next_page("<http://h/a>; rel=\"nextish\""), None);
    }
}
