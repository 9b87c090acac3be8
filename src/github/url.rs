//! Percent-encoding of the untrusted parts of API URLs: query values, and path segments such
//! as tag names (`churn#prod#3` would otherwise end the path at `#`).

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode_component(text: &str) -> String {
    encode(text, b"")
}

/// Percent-encodes a ref path (`tags/churn@v1.0.0`), keeping its slashes.
pub fn encode_ref(text: &str) -> String {
    encode(text, b"/")
}

/// Percent-encodes all bytes but the unreserved ones and `keep`.
fn encode(text: &str, keep: &[u8]) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b if keep.contains(&b) => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_characters_are_encoded() {
        assert_eq!(encode_component("mlgate / gpu"), "mlgate%20%2F%20gpu");
        assert_eq!(encode_ref("tags/churn#prod#3"), "tags/churn%23prod%233");
        assert_eq!(encode_ref("tags/churn@v1.0.0"), "tags/churn%40v1.0.0");
        assert_eq!(encode_component("é?&="), "%C3%A9%3F%26%3D");
    }
}
