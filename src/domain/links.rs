//! Links that come from package metadata are untrusted input.

/// The URL if it is safe to put in an `href`: absolute `http(s)` only, so
/// `javascript:`, `data:` and other schemes never reach a page.
pub fn safe_link(raw: &str) -> Option<String> {
    let url = raw.trim();
    let lower = url.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::safe_link;

    #[test]
    fn only_web_links_survive() {
        assert_eq!(
            safe_link(" https://flask.pocoo.org/ "),
            Some("https://flask.pocoo.org/".into())
        );
        assert_eq!(safe_link("http://example.org"), Some("http://example.org".into()));
        assert_eq!(safe_link("javascript:alert(1)"), None);
        assert_eq!(safe_link("JaVaScRiPt:alert(1)"), None);
        assert_eq!(safe_link("data:text/html,<script>"), None);
        assert_eq!(safe_link("UNKNOWN"), None);
        assert_eq!(safe_link("https://a b"), None);
        assert_eq!(safe_link(""), None);
    }
}
