//! Project descriptions to safe HTML, by content type: Markdown
//! (pulldown-cmark, GFM tables and fenced code), reStructuredText (our
//! renderer of the common subset) and plain text (preformatted).
//!
//! Every result goes through the sanitizer, whatever produced it.
//! Rendering happens when a release is written (import, upload) and the
//! HTML is stored, so page views never render.

mod markdown;
mod rst;
mod sanitize;

pub use sanitize::sanitize;

/// Which renderer a `Description-Content-Type` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    Markdown,
    Rst,
    Plain,
}

impl Markup {
    /// PyPI's rules: `text/markdown` and `text/plain` as given; `text/x-rst`
    /// and a missing type (the historical default) as reStructuredText.
    pub fn from_content_type(content_type: &str) -> Self {
        let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match mime.as_str() {
            "text/markdown" => Self::Markdown,
            "text/plain" => Self::Plain,
            _ => Self::Rst,
        }
    }
}

/// Renders and sanitizes a description. Never fails: what cannot be
/// understood is shown as text.
pub fn render_description(text: &str, content_type: &str) -> String {
    if text.trim().is_empty() || text.trim() == "UNKNOWN" {
        return String::new();
    }
    let html = match Markup::from_content_type(content_type) {
        Markup::Markdown => markdown::render(text),
        Markup::Rst => rst::render(text),
        Markup::Plain => format!(
            "<pre class=\"description-plain\">{}</pre>",
            crate::domain::format::escape_html(text)
        ),
    };
    sanitize(&html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_pick_renderers() {
        assert_eq!(
            Markup::from_content_type("text/markdown; charset=UTF-8; variant=GFM"),
            Markup::Markdown
        );
        assert_eq!(Markup::from_content_type("text/x-rst"), Markup::Rst);
        assert_eq!(Markup::from_content_type(""), Markup::Rst);
        assert_eq!(Markup::from_content_type("text/plain"), Markup::Plain);
    }

    #[test]
    fn plain_text_is_preformatted_and_escaped() {
        let html = render_description("a < b\n  <script>x</script>", "text/plain");
        assert!(html.starts_with("<pre"));
        assert!(html.contains("a &lt; b"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn empty_and_unknown_render_nothing() {
        assert_eq!(render_description("  ", "text/markdown"), "");
        assert_eq!(render_description("UNKNOWN", ""), "");
    }
}
