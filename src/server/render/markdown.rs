//! Markdown: CommonMark with GitHub's extensions (tables, strikethrough,
//! task lists, footnotes) by pulldown-cmark, whose parser is linear. What it
//! emits is bounded here before it reaches the sanitizer:
//! - containers nested deeper than [`MAX_DEPTH`] are flattened (their
//!   content stays, their tags go), so `> > > …` or `1. 1. 1. …` cannot
//!   build a tree whose depth makes html5ever quadratic;
//! - raw HTML is passed through (the sanitizer cleans it) while its own
//!   nesting stays within [`MAX_DEPTH`]; deeper raw HTML is shown as text.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

use super::{Budget, MAX_DEPTH, OutOfBudget};

/// How many events pass between two budget checks.
const CHECK_EVERY: usize = 512;

pub fn render(text: &str, budget: &Budget) -> Result<String, OutOfBudget> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM;
    budget.check()?;
    let parser = Parser::new_ext(text, options);
    let mut events = Bounded::new(parser, budget);
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, &mut events);
    match events.out_of_budget {
        true => Err(OutOfBudget),
        false => Ok(out),
    }
}

/// Tags that may nest in themselves without limit in the source.
fn is_container(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::BlockQuote(_)
            | Tag::List(_)
            | Tag::Item
            | Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
    )
}

/// The event stream with nesting bounded and the budget checked.
struct Bounded<'a, 'b, I> {
    inner: I,
    budget: &'b Budget,
    /// For every open tag: whether its start was passed on (so its end is too).
    open: Vec<bool>,
    /// How many of the open tags were passed on.
    depth: usize,
    raw: RawHtmlDepth,
    seen: usize,
    out_of_budget: bool,
    _text: std::marker::PhantomData<&'a str>,
}

impl<'a, 'b, I> Bounded<'a, 'b, I> {
    fn new(inner: I, budget: &'b Budget) -> Self {
        Self {
            inner,
            budget,
            open: Vec::new(),
            depth: 0,
            raw: RawHtmlDepth::default(),
            seen: 0,
            out_of_budget: false,
            _text: std::marker::PhantomData,
        }
    }
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for Bounded<'a, '_, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            if self.out_of_budget {
                return None;
            }
            self.seen += 1;
            if self.seen.is_multiple_of(CHECK_EVERY) && self.budget.check().is_err() {
                self.out_of_budget = true;
                return None;
            }
            let event = self.inner.next()?;
            match event {
                Event::Start(ref tag) => {
                    let keep = self.depth < MAX_DEPTH || !is_container(tag);
                    self.open.push(keep);
                    if keep {
                        self.depth += 1;
                        return Some(event);
                    }
                }
                Event::End(_) => {
                    if self.open.pop().unwrap_or(true) {
                        self.depth = self.depth.saturating_sub(1);
                        return Some(event);
                    }
                }
                Event::Html(html) => return Some(self.raw.pass(html, Event::Html, Event::Text)),
                Event::InlineHtml(html) => return Some(self.raw.pass(html, Event::InlineHtml, Event::Text)),
                other => return Some(other),
            }
        }
    }
}

/// Elements without content: they never open a level.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
];

/// Elements whose end tag is optional: HTML closes them when a sibling
/// starts, so they add at most one level per enclosing element and are
/// left out of the count (as are their end tags).
const SELF_CLOSING: &[&str] = &["p", "li", "dt", "dd", "tr", "td", "th", "option", "rt", "rp"];

/// An estimate of how deeply raw HTML nests, from its tags alone: every
/// start tag of another non-void element opens a level (`<div/>` too: HTML
/// ignores the slash), every end tag closes one. Raw HTML that would take
/// it past [`MAX_DEPTH`] is shown as text instead.
#[derive(Default)]
struct RawHtmlDepth {
    depth: usize,
}

impl RawHtmlDepth {
    fn pass<'a>(
        &mut self,
        html: CowStr<'a>,
        as_html: fn(CowStr<'a>) -> Event<'a>,
        as_text: fn(CowStr<'a>) -> Event<'a>,
    ) -> Event<'a> {
        let (opens, closes, deepest) = tag_balance(&html, self.depth);
        if deepest > MAX_DEPTH {
            return as_text(html);
        }
        self.depth = (self.depth + opens).saturating_sub(closes);
        as_html(html)
    }
}

/// Start and end tags in `html`, and the deepest level reached from `depth`.
fn tag_balance(html: &str, mut depth: usize) -> (usize, usize, usize) {
    let (mut opens, mut closes, mut deepest) = (0, 0, depth);
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(offset) = memchr_lt(&bytes[i..]) {
        let start = i + offset + 1;
        let closing = bytes.get(start) == Some(&b'/');
        let name_start = start + usize::from(closing);
        let name_len = bytes[name_start.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        i = name_start + name_len;
        if name_len == 0 || !bytes[name_start].is_ascii_alphabetic() {
            continue;
        }
        let name = html[name_start..name_start + name_len].to_ascii_lowercase();
        if VOID.contains(&name.as_str()) || SELF_CLOSING.contains(&name.as_str()) {
            continue;
        }
        if closing {
            closes += 1;
            depth = depth.saturating_sub(1);
        } else {
            opens += 1;
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    (opens, closes, deepest)
}

fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'<')
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn md(text: &str) -> String {
        render(text, &Budget::new(Duration::from_secs(30))).unwrap()
    }

    #[test]
    fn renders_gfm() {
        let html = md("# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint(1)\n```\n\n~~old~~ *new*");
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<table>") && html.contains("<td>1</td>"));
        assert!(html.contains(r#"<code class="language-python">print(1)"#));
        assert!(html.contains("<del>old</del>") && html.contains("<em>new</em>"));
    }

    #[test]
    fn deep_containers_are_flattened() {
        let html = md(&format!("{}deep", "> ".repeat(1000)));
        assert_eq!(html.matches("<blockquote>").count(), MAX_DEPTH, "{html}");
        assert_eq!(
            html.matches("<blockquote>").count(),
            html.matches("</blockquote>").count()
        );
        assert!(html.contains("deep"));
        let html = md(&format!("{}x", "1. ".repeat(1000)));
        assert!(html.matches("<ol>").count() + html.matches("<li>").count() <= MAX_DEPTH);
        assert_eq!(html.matches("<li>").count(), html.matches("</li>").count());
    }

    #[test]
    fn shallow_structure_is_untouched() {
        let html = md("> quote\n>\n> * item\n>   * nested **bold** [link](https://example.org)\n");
        assert!(html.contains("<blockquote>") && html.contains("<ul>") && html.contains("<strong>bold</strong>"));
        assert!(html.contains(r#"<a href="https://example.org">link</a>"#), "{html}");
    }

    #[test]
    fn deep_raw_html_becomes_text() {
        let html = md(&"<div>".repeat(1000));
        assert!(html.matches("<div>").count() <= MAX_DEPTH, "{}", &html[..200]);
        assert!(html.contains("&lt;div&gt;"));
        let html = md("<details><summary>More</summary>\n\nText\n\n</details>\n");
        assert!(html.contains("<details>") && html.contains("</details>"), "{html}");
    }

    #[test]
    fn tag_balance_counts_elements_not_void_ones() {
        assert_eq!(tag_balance("<div><p>x</p><br><img src=x></div>", 0), (1, 1, 1));
        assert_eq!(tag_balance("<section><span>x</span></section>", 0), (2, 2, 2));
        assert_eq!(tag_balance("<div/><div/>", 0), (2, 0, 2));
        assert_eq!(tag_balance("a < b <3 </>", 5), (0, 0, 5));
    }
}
