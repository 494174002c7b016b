use pulldown_cmark::{Options, Parser, html};

/// CommonMark with GitHub's extensions (tables, strikethrough, task lists,
/// footnotes). Raw HTML is passed through here and removed or cleaned by
/// the sanitizer.
pub fn render(text: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM;
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, Parser::new_ext(text, options));
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn renders_gfm() {
        let html = render("# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint(1)\n```\n\n~~old~~ *new*");
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<table>") && html.contains("<td>1</td>"));
        assert!(html.contains(r#"<code class="language-python">print(1)"#));
        assert!(html.contains("<del>old</del>") && html.contains("<em>new</em>"));
    }
}
