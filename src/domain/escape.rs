//! One escaping function per output context, for every string that leaves
//! the server outside Leptos' own views (which escape for themselves): the
//! Simple API's HTML, page titles, RSS, rendered descriptions.
//!
//! | context | function | what it guarantees |
//! |---|---|---|
//! | HTML text | [`html_text`] | no markup: `& < >` escaped, quotes too |
//! | HTML attribute value (double-quoted) | [`html_attr`] | cannot end the value or the tag |
//! | URL in an attribute | [`url_attr`] | `http(s)` or a path on this site, escaped as an attribute; anything else is refused |
//! | URL path segment | [`url_segment`] | percent-encoded: cannot add a segment, query or fragment |
//! | XML 1.0 text and attributes | [`xml_text`] | escaped, and only characters XML 1.0 allows |
//!
//! JSON is written by serde_json, which escapes for JSON itself.
//!
//! Control characters have no business in any of them: the HTML forms
//! replace C0 and C1 controls (except tab, newline and carriage return)
//! with U+FFFD, and the XML form also the non-characters U+FFFE and U+FFFF,
//! which would make the whole document ill-formed.

/// Whether `c` is a control character we never pass through (tab, line feed
/// and carriage return are whitespace, and kept).
fn forbidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Appends `text` with the five markup characters as entities (`'` as
/// `apos`, which differs between HTML and XML) and every character that
/// `allowed` refuses as U+FFFD.
fn escape_into(out: &mut String, text: &str, apos: &str, allowed: fn(char) -> bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apos),
            c if !allowed(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Appends `text` escaped for an HTML text or double-quoted attribute context.
pub fn push_html_text(out: &mut String, text: &str) {
    escape_into(out, text, "&#39;", |c| !forbidden_control(c));
}

/// `text` for an HTML text context.
pub fn html_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    push_html_text(&mut out, text);
    out
}

/// `value` for a double-quoted HTML attribute value. Quotes and `&` cannot
/// end or change the value; the same escaping as text, named for the
/// context so that every call site says which one it writes.
pub fn html_attr(value: &str) -> String {
    html_text(value)
}

/// A URL for an `href`/`src` attribute, escaped as an attribute: absolute
/// `http`/`https`, or a path on this site (`/files/...`, not `//host`).
/// Anything else (`javascript:`, `data:`, whitespace or controls inside)
/// gives `None`.
pub fn url_attr(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://")
        || lower.starts_with("http://")
        || (url.starts_with('/') && !url.starts_with("//") && !url.starts_with("/\\"));
    let chars_ok = !url.is_empty()
        && url.len() <= 4096
        && !url.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || c == '\\'
                || super::text::is_bidi_control(c)
                || super::text::is_invisible(c)
        });
    (scheme_ok && chars_ok).then(|| html_attr(url))
}

/// Percent-encodes `segment` for one path segment of a URL: everything but
/// RFC 3986's unreserved characters, so `/`, `?`, `#` and `%` cannot change
/// the URL's shape.
pub fn url_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0xf)]));
        }
    }
    out
}

/// Whether XML 1.0 allows `c` in a document (its `Char` production), less
/// the C1 controls it only tolerates.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (!c.is_control() && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
}

/// `text` for XML 1.0 character data or a quoted attribute value:
/// escaped, and characters XML cannot carry replaced by U+FFFD.
pub fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(&mut out, text, "&apos;", xml_char);
    out
}

/// `text` with the characters XML 1.0 cannot carry replaced by U+FFFD, for
/// writers that escape markup themselves but pass characters through.
pub fn xml_chars(text: &str) -> String {
    text.chars().map(|c| if xml_char(c) { c } else { '\u{FFFD}' }).collect()
}

/// At most `max` bytes of `text`, cut at a character boundary (never
/// inside a multi-byte character).
pub fn truncate_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings that have broken escaping elsewhere: quotes of both kinds,
    /// markup, entities, controls, bidi overrides, non-characters, and text
    /// that was not valid UTF-8 on the wire (decoded lossily).
    fn hostile() -> Vec<String> {
        vec![
            r#">=3" autofocus onfocus="alert(1)"#.to_owned(),
            "' onmouseover='alert(1)".to_owned(),
            "</a><script>alert(1)</script>".to_owned(),
            "&amp;lt;".to_owned(),
            "a\u{0}b\u{1}c\u{7}d\u{1b}[31m\u{7f}\u{85}\u{9b}".to_owned(),
            "evil\u{202e}lmth.exe".to_owned(),
            "\u{FFFE}\u{FFFF}".to_owned(),
            String::from_utf8_lossy(b"caf\xe9 \xff\xfe <b>").into_owned(),
            "]]><x/>".to_owned(),
        ]
    }

    #[test]
    fn html_text_and_attributes_cannot_break_out() {
        for s in hostile() {
            for escaped in [html_text(&s), html_attr(&s)] {
                assert!(!escaped.contains(['<', '>', '"', '\'']), "{s:?} -> {escaped:?}");
                assert!(!escaped.chars().any(forbidden_control), "{s:?} -> {escaped:?}");
                // Every `&` starts one of our entities.
                for (i, _) in escaped.match_indices('&') {
                    let rest = &escaped[i..];
                    assert!(
                        ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                            .iter()
                            .any(|e| rest.starts_with(e)),
                        "{escaped:?}"
                    );
                }
            }
        }
        assert_eq!(html_attr(r#">=3" onfocus="x"#), "&gt;=3&quot; onfocus=&quot;x");
        assert_eq!(html_text("a\tb\nc"), "a\tb\nc", "whitespace is kept");
        assert_eq!(html_text("Flask 1.0 – ünïcode"), "Flask 1.0 – ünïcode");
    }

    #[test]
    fn urls_in_attributes() {
        assert_eq!(
            url_attr("https://files.example/a.whl").as_deref(),
            Some("https://files.example/a.whl")
        );
        assert_eq!(
            url_attr("/files/ab/cd/x/p-1.0.tar.gz").as_deref(),
            Some("/files/ab/cd/x/p-1.0.tar.gz")
        );
        assert_eq!(
            url_attr("https://x.example/?a=1&b=\"2\"").as_deref(),
            Some("https://x.example/?a=1&amp;b=&quot;2&quot;")
        );
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,<script>",
            "//evil.example/x",
            "/\\evil.example",
            "https://a b",
            "https://a\u{0}b",
            "https://a\u{202e}b",
            "",
            "relative/path",
        ] {
            assert_eq!(url_attr(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn url_segments_cannot_change_the_url() {
        assert_eq!(url_segment("flask"), "flask");
        assert_eq!(url_segment("1.0+local"), "1.0%2Blocal");
        assert_eq!(url_segment("a/../b?c#d%"), "a%2F..%2Fb%3Fc%23d%25");
        assert_eq!(url_segment("\"<x>'"), "%22%3Cx%3E%27");
        assert_eq!(url_segment("é"), "%C3%A9");
    }

    #[test]
    fn xml_is_well_formed_whatever_the_input() {
        for s in hostile() {
            let escaped = xml_text(&s);
            assert!(!escaped.contains(['<', '>', '"', '\'']), "{escaped:?}");
            assert!(escaped.chars().all(xml_char), "{escaped:?}");
            assert!(!escaped.contains("]]>"), "{escaped:?}");
            assert!(xml_chars(&s).chars().all(xml_char));
        }
        assert_eq!(xml_text("a\u{1}b & <c>"), "a\u{FFFD}b &amp; &lt;c&gt;");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_bytes("héllo", 2), "h");
        assert_eq!(truncate_bytes("héllo", 3), "hé");
        assert_eq!(truncate_bytes("日本", 4), "日");
        assert_eq!(truncate_bytes("ab", 10), "ab");
    }
}
