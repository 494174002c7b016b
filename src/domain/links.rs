//! Links that come from package metadata are untrusted input.

/// The URL if it is safe to put in an `href`: absolute `http(s)` only, so
/// `javascript:`, `data:` and other schemes never reach a page.
pub fn safe_link(raw: &str) -> Option<String> {
    let url = raw.trim();
    let lower = url.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| {
            c.is_control() || c.is_whitespace() || super::text::is_bidi_control(c) || super::text::is_invisible(c)
        });
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

/// Where to go after logging in: a path on this site only. Anything else
/// (`https://evil.example`, `//evil.example`, `/\evil.example`) falls back
/// to `/account`, so `?next=` cannot send people to another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && p.len() <= 2048
                // Visible ASCII only: it goes into a Location header.
                && p.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            p.to_owned()
        }
        _ => "/account".to_owned(),
    }
}

#[cfg(test)]
mod next_tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/project/flask/")), "/project/flask/");
        assert_eq!(safe_next(Some("/account?tab=tokens")), "/account?tab=tokens");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
            "/a b",
            "/ü",
            "/a\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(safe_next(Some(bad)), "/account", "{bad}");
        }
        assert_eq!(safe_next(None), "/account");
    }
}
