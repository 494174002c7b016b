use std::collections::HashSet;
use std::sync::OnceLock;

use ammonia::{Builder, UrlRelative};

use super::{Budget, BudgetReader, OutOfBudget};

fn cleaner() -> &'static Builder<'static> {
    static CLEANER: OnceLock<Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = Builder::default();
        b.url_schemes(HashSet::from(["http", "https", "mailto"]))
            .url_relative(UrlRelative::PassThrough)
            .link_rel(Some("nofollow noopener"))
            .add_tags(["details", "summary", "figure", "figcaption", "picture", "source"])
            .add_tag_attributes("code", ["class"])
            .add_tag_attributes("pre", ["class"])
            .add_tag_attributes("div", ["class"])
            .add_tag_attributes("p", ["class", "align"])
            .add_tag_attributes("img", ["width", "height", "align"])
            .add_tag_attributes("source", ["srcset", "media"])
            .add_tag_attributes("input", ["type", "checked", "disabled"])
            .add_tags(["input"])
            .add_tag_attribute_values("input", "type", ["checkbox"])
            .add_tag_attributes("th", ["align"])
            .add_tag_attributes("td", ["align"])
            // A code block wider than the page scrolls: a keyboard reaches
            // it only if it takes focus (WCAG 2.1.1; axe-core's
            // scrollable-region-focusable). Whatever the author wrote.
            .set_tag_attribute_value("pre", "tabindex", "0");
        b
    })
}

/// Cleans HTML from untrusted metadata: no scripts, no event handlers, no
/// style, no `javascript:`/`data:` URLs; links get `rel="nofollow noopener"`.
pub fn sanitize(html: &str) -> String {
    cleaner().clean(html).to_string()
}

/// [`sanitize`] within a budget: html5ever parses the input as it reads
/// it, and it reads it in small chunks with a budget check before each.
pub fn sanitize_within(html: &str, budget: &Budget) -> Result<String, OutOfBudget> {
    let document = cleaner()
        .clean_from_reader(BudgetReader::new(html, budget))
        .map_err(|_| OutOfBudget)?;
    budget.check()?;
    Ok(document.to_string())
}

#[cfg(test)]
/// Checks the real markup of sanitized output: in it, a `<` always starts
/// a tag (text is escaped), and attribute values are double-quoted.
pub(super) fn assert_safe(html: &str, payload: &str) {
    const TAGS: &[&str] = &[
        "script", "iframe", "object", "embed", "svg", "math", "style", "form", "meta", "body", "link", "base",
    ];
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
        let tag = &rest[start + 1..end];
        rest = &rest[end..];
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        assert!(!TAGS.contains(&name.as_str()), "<{name}> survived {payload:?}: {html}");
        let mut attrs = tag.split('"');
        while let (Some(key), Some(value)) = (attrs.next(), attrs.next()) {
            let key = key
                .trim()
                .trim_end_matches('=')
                .rsplit(' ')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            assert!(
                !key.starts_with("on") && key != "style",
                "attribute {key} survived {payload:?}: {html}"
            );
            // What a browser takes for the scheme: the letters before the
            // first `:`, once tabs and newlines are gone.
            let value: String = value
                .trim()
                .to_ascii_lowercase()
                .chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .collect();
            let scheme = value
                .split_once(':')
                .map(|(s, _)| s)
                .filter(|s| s.starts_with(|c: char| c.is_ascii_alphabetic()))
                .filter(|s| {
                    s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                });
            if matches!(key.as_str(), "href" | "src" | "action" | "srcset") {
                assert!(
                    scheme.is_none_or(|s| matches!(s, "http" | "https" | "mailto")),
                    "{key}={value} survived {payload:?}: {html}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{assert_safe, sanitize};
    use crate::server::render::render_description;

    /// An XSS corpus: none of it may survive, whichever renderer it goes through.
    const PAYLOADS: &[&str] = &[
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "<img src=x onerror=alert(1)>",
        "<img src=\"javascript:alert(1)\">",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
        "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
        "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
        "<svg onload=alert(1)><circle r=1 /></svg>",
        "<svg><script>alert(1)</script></svg>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<object data=\"javascript:alert(1)\"></object>",
        "<embed src=\"javascript:alert(1)\">",
        "<body onload=alert(1)>",
        "<div style=\"background:url(javascript:alert(1))\">x</div>",
        "<form action=\"javascript:alert(1)\"><button>x</button></form>",
        "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
        "<details open ontoggle=alert(1)>",
        "<p onclick=\"alert(1)\">click</p>",
        "<<script>script>alert(1)<</script>/script>",
        "<scr<script>ipt>alert(1)</script>",
        "[x](javascript:alert(1))",
        "[x](  javascript:alert(1)  )",
        "![x](javascript:alert(1))",
        "<javascript:alert(1)>",
        "`x <javascript:alert(1)>`_",
        ".. image:: javascript:alert(1)",
        ".. raw:: html\n\n   <script>alert(1)</script>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "%3Cscript%3Ealert(1)%3C/script%3E",
    ];

    #[test]
    fn nothing_dangerous_survives_any_renderer() {
        for payload in PAYLOADS {
            assert_safe(&sanitize(payload), payload);
            for content_type in ["text/markdown", "text/x-rst", "text/plain"] {
                assert_safe(&render_description(payload, content_type), payload);
                let nested = format!("Intro\n\n{payload}\n\n* item {payload}\n");
                assert_safe(&render_description(&nested, content_type), payload);
            }
        }
    }

    #[test]
    fn links_get_rel_and_safe_markup_stays() {
        let html = sanitize(
            r#"<p><a href="https://flask.palletsprojects.com/">docs</a> <code class="language-py">x</code></p>"#,
        );
        assert!(html.contains(r#"rel="nofollow noopener""#), "{html}");
        assert!(html.contains(r#"<code class="language-py">"#));
    }

    #[test]
    fn code_blocks_take_keyboard_focus() {
        for (content_type, text) in [
            ("text/markdown", "Run:\n\n    pip install flask\n"),
            ("text/x-rst", "Run::\n\n    pip install flask\n"),
        ] {
            let html = render_description(text, content_type);
            assert!(html.contains(r#"<pre tabindex="0""#), "{content_type}: {html}");
        }
        let html = sanitize(r#"<pre tabindex="-1" onfocus="x()">a</pre>"#);
        assert_eq!(html, r#"<pre tabindex="0">a</pre>"#);
    }
}
