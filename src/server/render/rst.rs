//! reStructuredText to HTML: the subset that Python READMEs use.
//!
//! Rust has no mature reStructuredText implementation, so this is a careful
//! renderer of the common constructs: section titles (under- and
//! overlined), paragraphs, literal blocks (`::`), `code-block`/`code`
//! directives, doctest blocks, bullet and enumerated lists (nested),
//! definition lists, block quotes, admonitions, images and `|badge|`
//! substitutions, hyperlink targets (`.. _name: url`), tables (kept as
//! preformatted text) and inline markup (``literal``, *emphasis*,
//! **strong**, `links <url>`_, `references`_, roles, bare URLs).
//! Directives it does not know are dropped, never shown raw. Its output is
//! sanitized afterwards like every other description.
//!
//! Bounded for untrusted input: block structure nests (block quotes, list
//! items, definitions, admonitions) at most [`MAX_NESTING`] levels deep, and
//! deeper content is shown as a literal block, so recursion and the
//! per-level copies of lines are bounded by a constant; inline markup finds
//! its closing delimiters through precomputed positions, so a paragraph is
//! scanned in O(n log n) however many unclosed marks it has; the budget is
//! checked once per block.

use std::collections::HashMap;

use super::{Budget, OutOfBudget};
use crate::domain::escape::html_text as esc;

/// How deeply block structure may nest before the rest is shown literally.
/// Real documents rarely go past four levels.
pub const MAX_NESTING: usize = 16;

/// `:name: value` option lines looked at below a directive.
const MAX_OPTION_LINES: usize = 32;

pub fn render(text: &str, budget: &Budget) -> Result<String, OutOfBudget> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n").replace('\t', "        ");
    let lines: Vec<&str> = text.lines().collect();
    budget.check()?;
    let mut ctx = Context::collect(&lines, budget.clone());
    let mut out = String::with_capacity(text.len() * 3 / 2);
    let mut renderer = Blocks { ctx: &mut ctx, budget };
    renderer.blocks(&lines, &mut out, 0)?;
    Ok(out)
}

struct Context {
    /// Checked while scanning long paragraphs, too.
    budget: Budget,
    /// Hyperlink targets by lowercased name.
    targets: HashMap<String, String>,
    /// Substitution definitions (`|name|`) as HTML.
    substitutions: HashMap<String, String>,
    /// Section title styles (adornment character, overlined) in order of first use.
    title_styles: Vec<(char, bool)>,
}

impl Context {
    fn collect(lines: &[&str], budget: Budget) -> Self {
        let mut ctx = Self {
            budget,
            targets: HashMap::new(),
            substitutions: HashMap::new(),
            title_styles: Vec::new(),
        };
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix(".. _") {
                let (name, url) = if let Some(quoted) = rest.strip_prefix('`') {
                    match quoted.split_once("`:") {
                        Some((n, u)) => (n, u),
                        None => continue,
                    }
                } else {
                    match rest.split_once(':') {
                        Some((n, u)) => (n, u),
                        None => continue,
                    }
                };
                let mut url = url.trim().to_owned();
                if url.is_empty() {
                    // The URL may be on the following indented line.
                    if let Some(next) = lines.get(i + 1).filter(|l| indent(l) > 0) {
                        url = next.trim().to_owned();
                    }
                }
                if !url.is_empty() {
                    ctx.targets.insert(name.trim().to_lowercase(), url);
                }
            } else if let Some(rest) = t.strip_prefix(".. |")
                && let Some((name, def)) = rest.split_once('|')
            {
                let def = def.trim();
                let options = options_after(lines, i);
                let html = if let Some(url) = def.strip_prefix("image::") {
                    // As docutils: without `:alt:`, the substitution's name.
                    image(url.trim(), &options, name.trim())
                } else if let Some(text) = def.strip_prefix("replace::") {
                    esc(text.trim())
                } else {
                    continue;
                };
                ctx.substitutions.insert(name.to_owned(), html);
            }
        }
        ctx
    }

    fn heading_level(&mut self, style: (char, bool)) -> usize {
        let index = match self.title_styles.iter().position(|s| *s == style) {
            Some(i) => i,
            None => {
                self.title_styles.push(style);
                self.title_styles.len() - 1
            }
        };
        (index + 1).min(6)
    }
}

/// `:name: value` option lines directly below line `i`.
fn options_after(lines: &[&str], i: usize) -> HashMap<String, String> {
    let mut options = HashMap::new();
    for line in lines.iter().skip(i + 1).take(MAX_OPTION_LINES) {
        if indent(line) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some(rest) = line.trim().strip_prefix(':')
            && let Some((k, v)) = rest.split_once(':')
        {
            options.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    options
}

/// An image, linked when it has a `:target:`. Its text is `:alt:`, else
/// `default_alt` (what docutils puts there): a badge inside a link is the
/// link's only text, which a screen reader must have (WCAG 2.4.4).
fn image(url: &str, options: &HashMap<String, String>, default_alt: &str) -> String {
    let alt = options.get("alt").map_or(default_alt, String::as_str);
    let img = format!("<img src=\"{}\" alt=\"{}\">", esc_attr(url), esc_attr(alt));
    match options.get("target") {
        Some(target) => format!("<a href=\"{}\">{img}</a>", esc_attr(target)),
        None => img,
    }
}

fn esc_attr(s: &str) -> String {
    crate::domain::escape::html_attr(s)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// A line made of one repeated punctuation character (a title adornment).
fn adornment(line: &str) -> Option<char> {
    let t = line.trim_end();
    let first = t.chars().next()?;
    let ok = t.len() >= 2 && indent(line) == 0 && "=-~^\"'`#*+<>:._".contains(first) && t.chars().all(|c| c == first);
    ok.then_some(first)
}

/// Removes `n` columns of indentation (lines shorter than that become
/// blank). Only the leading ASCII spaces count as indentation, so the cut
/// never falls inside a character: a blank line of other whitespace (say
/// U+3000) simply becomes empty.
fn dedent<'a>(lines: &[&'a str], n: usize) -> Vec<&'a str> {
    lines
        .iter()
        .map(|l| if indent(l) >= n { &l[n..] } else { l.trim_start() })
        .collect()
}

fn min_indent(lines: &[&str]) -> usize {
    lines
        .iter()
        .filter(|l| !is_blank(l))
        .map(|l| indent(l))
        .min()
        .unwrap_or(0)
}

/// The lines from `start` that belong to an indented body: blank lines and
/// lines indented more than `base`, ending before trailing blank lines.
fn indented_body(lines: &[&str], start: usize, base: usize) -> usize {
    let mut end = start;
    let mut last_content = start;
    while end < lines.len() && (is_blank(lines[end]) || indent(lines[end]) > base) {
        if !is_blank(lines[end]) {
            last_content = end + 1;
        }
        end += 1;
    }
    last_content.max(start)
}

fn bullet_marker(line: &str) -> Option<usize> {
    let t = line.trim_end();
    let b = t.as_bytes();
    (!b.is_empty() && matches!(b[0], b'*' | b'-' | b'+') && (b.len() == 1 || b[1] == b' ')).then_some(2)
}

fn enum_marker(line: &str) -> Option<usize> {
    let t = line.trim_end();
    let (open, body) = match t.strip_prefix('(') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let label_len = body.chars().take_while(|c| c.is_ascii_digit()).count();
    let label_len = if label_len > 0 {
        label_len
    } else if body.starts_with('#') || body.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        1
    } else {
        return None;
    };
    let rest = &body[label_len..];
    let close = if open {
        rest.strip_prefix(')')
    } else {
        rest.strip_prefix('.').or_else(|| rest.strip_prefix(')'))
    }?;
    if !(close.is_empty() || close.starts_with(' ')) {
        return None;
    }
    // A lone letter followed by '.' is usually a sentence ("A. Smith"): only
    // count letters as list labels in the parenthesized forms.
    if !open && label_len == 1 && body.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && !rest.starts_with(')')
    {
        return None;
    }
    Some(usize::from(open) + label_len + 2)
}

/// The block renderer: the document's context and the budget.
struct Blocks<'c, 'b> {
    ctx: &'c mut Context,
    budget: &'b Budget,
}

impl Blocks<'_, '_> {
    fn blocks(&mut self, lines: &[&str], out: &mut String, depth: usize) -> Result<(), OutOfBudget> {
        if depth > MAX_NESTING {
            // Too deep to be a real document's structure: the rest as written.
            out.push_str("<pre>");
            out.push_str(&esc(&lines.join("\n")));
            out.push_str("</pre>\n");
            return Ok(());
        }
        let mut i = 0;
        while i < lines.len() {
            self.budget.check()?;
            let line = lines[i];
            if is_blank(line) {
                i += 1;
                continue;
            }
            let trimmed = line.trim();

            // An indented block that follows no `::` is a block quote.
            if indent(line) > 0 {
                let end = indented_body(lines, i, 0);
                let body = dedent(&lines[i..end], min_indent(&lines[i..end]));
                out.push_str("<blockquote>");
                self.blocks(&body, out, depth + 1)?;
                out.push_str("</blockquote>\n");
                i = end;
                continue;
            }

            // Section title with an overline.
            if let Some(c) = adornment(line)
                && i + 2 < lines.len()
                && adornment(lines[i + 2]) == Some(c)
                && !is_blank(lines[i + 1])
            {
                let level = self.ctx.heading_level((c, true));
                out.push_str(&format!(
                    "<h{level}>{}</h{level}>\n",
                    inline(lines[i + 1].trim(), self.ctx)
                ));
                i += 3;
                continue;
            }
            // Section title with an underline at least as long as the title.
            if i + 1 < lines.len()
                && let Some(c) = adornment(lines[i + 1])
                && adornment(line).is_none()
                && lines[i + 1].trim_end().chars().count() + 1 >= trimmed.chars().count()
            {
                let level = self.ctx.heading_level((c, false));
                out.push_str(&format!("<h{level}>{}</h{level}>\n", inline(trimmed, self.ctx)));
                i += 2;
                continue;
            }
            // Transition.
            if adornment(line).is_some() && trimmed.len() >= 4 {
                out.push_str("<hr>\n");
                i += 1;
                continue;
            }

            // Explicit markup: directives, comments, targets, substitutions.
            if trimmed == ".." || trimmed.starts_with(".. ") {
                let end = indented_body(lines, i + 1, 0);
                self.directive(&lines[i..end], out, depth)?;
                i = end;
                continue;
            }

            // Doctest block.
            if trimmed.starts_with(">>>") {
                let mut end = i;
                while end < lines.len() && !is_blank(lines[end]) {
                    end += 1;
                }
                out.push_str("<pre><code class=\"language-pycon\">");
                out.push_str(&esc(&lines[i..end].join("\n")));
                out.push_str("</code></pre>\n");
                i = end;
                continue;
            }

            // Tables: kept as preformatted text, aligned as written.
            if (trimmed.starts_with("+-") || trimmed.starts_with("+=")) && trimmed.ends_with('+')
                || (trimmed.starts_with("==") && trimmed.contains(' ') && trimmed.chars().all(|c| c == '=' || c == ' '))
            {
                let mut end = i;
                while end < lines.len() && !is_blank(lines[end]) {
                    end += 1;
                }
                out.push_str("<pre class=\"rst-table\">");
                out.push_str(&esc(&lines[i..end].join("\n")));
                out.push_str("</pre>\n");
                i = end;
                continue;
            }

            // Lists.
            if let Some(width) = bullet_marker(line) {
                i = self.list(lines, i, width, false, out, depth)?;
                continue;
            }
            if let Some(width) = enum_marker(line) {
                i = self.list(lines, i, width, true, out, depth)?;
                continue;
            }

            // Definition list: a one-line term directly followed by an indented definition.
            if i + 1 < lines.len() && !is_blank(lines[i + 1]) && indent(lines[i + 1]) > 0 && !trimmed.ends_with("::") {
                out.push_str("<dl>\n");
                while i + 1 < lines.len() && indent(lines[i]) == 0 && !is_blank(lines[i]) && indent(lines[i + 1]) > 0 {
                    let end = indented_body(lines, i + 1, 0);
                    let body = dedent(&lines[i + 1..end], min_indent(&lines[i + 1..end]));
                    out.push_str(&format!("<dt>{}</dt><dd>", inline(lines[i].trim(), self.ctx)));
                    self.blocks(&body, out, depth + 1)?;
                    out.push_str("</dd>\n");
                    i = end;
                    while i < lines.len() && is_blank(lines[i]) {
                        i += 1;
                    }
                }
                out.push_str("</dl>\n");
                continue;
            }

            // Paragraph, possibly introducing a literal block with `::`.
            let mut end = i;
            while end < lines.len() && !is_blank(lines[end]) && indent(lines[end]) == 0 {
                end += 1;
            }
            let text = lines[i..end].iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n");
            i = end;
            let literal_follows = text.ends_with("::");
            let shown = if text == "::" {
                ""
            } else if let Some(t) = text.strip_suffix(" ::") {
                t
            } else if literal_follows {
                &text[..text.len() - 1]
            } else {
                &text
            };
            if !shown.is_empty() {
                out.push_str(&format!("<p>{}</p>\n", inline(shown, self.ctx)));
            }
            if literal_follows {
                let mut start = i;
                while start < lines.len() && is_blank(lines[start]) {
                    start += 1;
                }
                if start < lines.len() && indent(lines[start]) > 0 {
                    let end = indented_body(lines, start, 0);
                    let body = dedent(&lines[start..end], min_indent(&lines[start..end]));
                    out.push_str("<pre><code>");
                    out.push_str(&esc(&body.join("\n")));
                    out.push_str("</code></pre>\n");
                    i = end;
                }
            }
        }
        Ok(())
    }

    /// Renders the list starting at `start`; returns the index after it.
    fn list(
        &mut self,
        lines: &[&str],
        start: usize,
        width: usize,
        ordered: bool,
        out: &mut String,
        depth: usize,
    ) -> Result<usize, OutOfBudget> {
        let is_item = |l: &str| {
            if ordered {
                enum_marker(l).is_some()
            } else {
                bullet_marker(l).is_some()
            }
        };
        out.push_str(if ordered { "<ol>\n" } else { "<ul>\n" });
        let mut i = start;
        while i < lines.len() && indent(lines[i]) == 0 && is_item(lines[i]) {
            let marker_width = if ordered {
                enum_marker(lines[i]).unwrap_or(width)
            } else {
                width
            };
            let first = lines[i].get(marker_width..).unwrap_or("").trim_end();
            let end = indented_body(lines, i + 1, 0);
            let mut item: Vec<&str> = vec![first];
            item.extend(dedent(
                &lines[i + 1..end],
                min_indent(&lines[i + 1..end]).min(marker_width),
            ));
            let mut html = String::new();
            self.blocks(&item, &mut html, depth + 1)?;
            // A single short paragraph is shown without <p> (a compact list).
            let compact =
                html.matches("<p>").count() == 1 && html.starts_with("<p>") && html.trim_end().ends_with("</p>");
            let html = if compact {
                html.trim_end()
                    .trim_start_matches("<p>")
                    .trim_end_matches("</p>")
                    .to_owned()
            } else {
                html
            };
            out.push_str(&format!("<li>{html}</li>\n"));
            i = end;
            // Blank lines between items belong to the list.
            let mut next = i;
            while next < lines.len() && is_blank(lines[next]) {
                next += 1;
            }
            if next < lines.len() && indent(lines[next]) == 0 && is_item(lines[next]) {
                i = next;
            } else {
                break;
            }
        }
        out.push_str(if ordered { "</ol>\n" } else { "</ul>\n" });
        Ok(i)
    }

    fn directive(&mut self, block: &[&str], out: &mut String, depth: usize) -> Result<(), OutOfBudget> {
        let head = block[0].trim().trim_start_matches("..").trim();
        let Some((name, argument)) = head.split_once("::") else {
            return Ok(()); // a comment, a hyperlink target or a substitution definition
        };
        let name = name.trim().to_ascii_lowercase();
        if name.starts_with('_') || name.starts_with('|') || name.contains(' ') {
            return Ok(());
        }
        let argument = argument.trim();
        let body_lines = &block[1..];
        let options = options_after(block, 0);
        let body_start = body_lines
            .iter()
            .position(|l| !l.trim().starts_with(':') || is_blank(l))
            .unwrap_or(body_lines.len());
        let body = &body_lines[body_start..];
        let body = dedent(body, min_indent(body));
        match name.as_str() {
            "code-block" | "code" | "sourcecode" => {
                let text = body.join("\n");
                let language = argument.split_whitespace().next().unwrap_or("");
                if language.is_empty() {
                    out.push_str("<pre><code>");
                } else {
                    out.push_str(&format!("<pre><code class=\"language-{}\">", esc_attr(language)));
                }
                out.push_str(&esc(text.trim_matches('\n')));
                out.push_str("</code></pre>\n");
            }
            "note" | "warning" | "tip" | "important" | "caution" | "attention" | "danger" | "error" | "hint"
            | "seealso" | "admonition" | "deprecated" | "versionadded" | "versionchanged" => {
                let title = match name.as_str() {
                    "admonition" => argument.to_owned(),
                    "seealso" => "See also".to_owned(),
                    "deprecated" => format!("Deprecated since version {argument}"),
                    "versionadded" => format!("New in version {argument}"),
                    "versionchanged" => format!("Changed in version {argument}"),
                    other => {
                        let mut c = other.chars();
                        c.next()
                            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                            .unwrap_or_default()
                    }
                };
                let mut content: Vec<&str> = Vec::new();
                if !argument.is_empty()
                    && !matches!(
                        name.as_str(),
                        "admonition" | "deprecated" | "versionadded" | "versionchanged"
                    )
                {
                    content.push(argument);
                }
                content.extend(body.iter().copied());
                out.push_str(&format!(
                    "<div class=\"admonition {name}\"><p class=\"admonition-title\">{}</p>",
                    esc(&title)
                ));
                self.blocks(&content, out, depth + 1)?;
                out.push_str("</div>\n");
            }
            "image" | "figure" => {
                out.push_str("<p>");
                // As docutils: without `:alt:`, the image's URL.
                out.push_str(&image(argument, &options, argument));
                out.push_str("</p>\n");
                if name == "figure" {
                    self.blocks(&body, out, depth + 1)?;
                }
            }
            "topic" | "sidebar" | "rubric" => {
                out.push_str(&format!("<p><strong>{}</strong></p>\n", inline(argument, self.ctx)));
                self.blocks(&body, out, depth + 1)?;
            }
            "parsed-literal" => {
                out.push_str("<pre>");
                out.push_str(&inline(&body.join("\n"), self.ctx));
                out.push_str("</pre>\n");
            }
            // toctree, include, raw, contents, autodoc, ...: nothing to show.
            _ => {}
        }
        Ok(())
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric()
}

/// The closing delimiters of inline markup.
#[derive(Clone, Copy)]
enum Close {
    DoubleBacktick,
    DoubleStar,
    Star,
    Backtick,
    Bar,
}

impl Close {
    const ALL: [Close; 5] = [
        Close::DoubleBacktick,
        Close::DoubleStar,
        Close::Star,
        Close::Backtick,
        Close::Bar,
    ];

    fn text(self) -> &'static [char] {
        match self {
            Close::DoubleBacktick => &['`', '`'],
            Close::DoubleStar => &['*', '*'],
            Close::Star => &['*'],
            Close::Backtick => &['`'],
            Close::Bar => &['|'],
        }
    }
}

/// Where each closing delimiter may end inline markup in one paragraph:
/// every position of its text not preceded by whitespace, found in one
/// pass. Looking one up is a binary search, so a paragraph full of marks
/// that never close costs O(n log n), not O(n²).
struct Closers([Vec<usize>; 5]);

impl Closers {
    fn new(chars: &[char]) -> Self {
        let mut positions: [Vec<usize>; 5] = Default::default();
        for (slot, close) in positions.iter_mut().zip(Close::ALL) {
            let text = close.text();
            for j in 1..chars.len() {
                if chars[j..].starts_with(text) && !chars[j - 1].is_whitespace() {
                    slot.push(j);
                }
            }
        }
        Self(positions)
    }

    /// The first `close` after `from` (strictly), not preceded by whitespace.
    fn find(&self, close: Close, from: usize) -> Option<usize> {
        let positions = &self.0[close as usize];
        let index = positions.partition_point(|&j| j <= from);
        positions.get(index).copied()
    }
}

fn link(url: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", esc_attr(url.trim()), esc(text))
}

/// Inline markup of one paragraph's text, escaped.
fn inline(text: &str, ctx: &Context) -> String {
    let chars: Vec<char> = text.chars().collect();
    let closers = Closers::new(&chars);
    let find_close = |_: &[char], from: usize, close: Close| closers.find(close, from);
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    let starts_markup = |i: usize| i == 0 || !is_word(chars[i - 1]);
    let mut next_check = 0;
    while i < chars.len() {
        if i >= next_check {
            next_check = i + 4096;
            if ctx.budget.check().is_err() {
                // Out of time: the rest as text; the caller stops at its next check.
                let rest: String = chars[i..].iter().collect();
                crate::domain::escape::push_html_text(&mut out, &rest);
                break;
            }
        }
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let at_url = || {
            let rest = &chars[i..];
            rest.starts_with(&['h', 't', 't', 'p', ':', '/', '/'])
                || rest.starts_with(&['h', 't', 't', 'p', 's', ':', '/', '/'])
        };
        match c {
            '\\' if next.is_some() => {
                out.push_str(&esc(&next.map(String::from).unwrap_or_default()));
                i += 2;
                continue;
            }
            '`' if next == Some('`') && starts_markup(i) => {
                if let Some(end) = find_close(&chars, i + 2, Close::DoubleBacktick) {
                    let inner: String = chars[i + 2..end].iter().collect();
                    out.push_str(&format!("<code>{}</code>", esc(&inner)));
                    i = end + 2;
                    continue;
                }
            }
            '*' if next == Some('*') && starts_markup(i) && chars.get(i + 2).is_some_and(|c| !c.is_whitespace()) => {
                if let Some(end) = find_close(&chars, i + 2, Close::DoubleStar) {
                    let inner: String = chars[i + 2..end].iter().collect();
                    out.push_str(&format!("<strong>{}</strong>", esc(&inner)));
                    i = end + 2;
                    continue;
                }
            }
            '*' if starts_markup(i) && next.is_some_and(|c| !c.is_whitespace() && c != '*') => {
                if let Some(end) = find_close(&chars, i + 1, Close::Star) {
                    let inner: String = chars[i + 1..end].iter().collect();
                    out.push_str(&format!("<em>{}</em>", esc(&inner)));
                    i = end + 1;
                    continue;
                }
            }
            '`' if starts_markup(i) || (i > 0 && chars[i - 1] == ':') => {
                if let Some(end) = find_close(&chars, i + 1, Close::Backtick) {
                    let inner: String = chars[i + 1..end].iter().collect();
                    let mut after = end + 1;
                    let is_reference = chars.get(after) == Some(&'_');
                    if is_reference {
                        after += 1;
                        if chars.get(after) == Some(&'_') {
                            after += 1;
                        }
                    }
                    if is_reference {
                        out.push_str(&reference(&inner, ctx));
                    } else {
                        out.push_str(&format!("<cite>{}</cite>", esc(&inner)));
                    }
                    i = after;
                    continue;
                }
            }
            ':' if starts_markup(i) && next.is_some_and(|c| c.is_ascii_alphabetic()) => {
                // :role:`content`
                let name_len = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'))
                    .count();
                let role_end = i + 1 + name_len;
                if name_len > 1
                    && chars[role_end - 1] == ':'
                    && chars.get(role_end) == Some(&'`')
                    && let Some(end) = find_close(&chars, role_end + 1, Close::Backtick)
                {
                    let role: String = chars[i + 1..role_end - 1].iter().collect();
                    let inner: String = chars[role_end + 1..end].iter().collect();
                    out.push_str(&role_html(&role, &inner));
                    i = end + 1;
                    continue;
                }
            }
            '|' if starts_markup(i) => {
                if let Some(end) = find_close(&chars, i + 1, Close::Bar) {
                    let name: String = chars[i + 1..end].iter().collect();
                    if let Some(html) = ctx.substitutions.get(&name) {
                        out.push_str(html);
                        i = end + 1;
                        // |name|_ links the substitution to a target of the same name.
                        if chars.get(i) == Some(&'_') {
                            i += 1;
                        }
                        continue;
                    }
                }
            }
            'h' if starts_markup(i) && at_url() => {
                let len = chars[i..]
                    .iter()
                    .take_while(|c| !c.is_whitespace() && !matches!(c, '<' | '>' | '"'))
                    .count();
                let mut url: String = chars[i..i + len].iter().collect();
                while url.ends_with(['.', ',', ')', ';', ':', '!', '?', '\'']) {
                    url.pop();
                }
                let used = url.chars().count();
                out.push_str(&link(&url, &url));
                i += used;
                continue;
            }
            _ => {}
        }
        // A plain word, possibly a `word_` reference to a known target.
        if is_word(c) && starts_markup(i) {
            let len = chars[i..]
                .iter()
                .take_while(|&&c| is_word(c) || c == '-' || c == '.')
                .count();
            let word: String = chars[i..i + len].iter().collect();
            let word = word.trim_end_matches(['.', '-']).to_owned();
            let len = word.chars().count();
            if chars.get(i + len) == Some(&'_')
                && !chars.get(i + len + 1).is_some_and(|&c| is_word(c))
                && let Some(url) = ctx.targets.get(&word.to_lowercase())
            {
                out.push_str(&link(url, &word));
                i += len + 1;
                continue;
            }
            out.push_str(&esc(&word));
            i += len;
            continue;
        }
        let mut buf = [0u8; 4];
        crate::domain::escape::push_html_text(&mut out, c.encode_utf8(&mut buf));
        i += 1;
    }
    out
}

/// `text <url>`_ or `name`_.
fn reference(inner: &str, ctx: &Context) -> String {
    let inner = inner.trim();
    if let Some(open) = inner.rfind('<')
        && inner.ends_with('>')
    {
        let url = &inner[open + 1..inner.len() - 1];
        let text = inner[..open].trim();
        let text = if text.is_empty() { url } else { text };
        // `text <name_>`_ points at a named target.
        let url = url
            .strip_suffix('_')
            .and_then(|n| ctx.targets.get(&n.to_lowercase()))
            .map_or(url, String::as_str);
        return link(url, text);
    }
    match ctx.targets.get(&inner.to_lowercase()) {
        Some(url) => link(url, inner),
        None => esc(inner),
    }
}

fn role_html(role: &str, inner: &str) -> String {
    // `Title <target>` forms of :ref:/:doc: show the title.
    let shown = match (inner.rfind('<'), inner.ends_with('>')) {
        (Some(open), true) if open > 0 => inner[..open].trim(),
        _ => inner,
    };
    match role {
        "pep" | "PEP" => match shown.trim().parse::<u32>() {
            Ok(n) => link(&format!("https://peps.python.org/pep-{n:04}/"), &format!("PEP {n}")),
            Err(_) => esc(shown),
        },
        "emphasis" => format!("<em>{}</em>", esc(shown)),
        "strong" => format!("<strong>{}</strong>", esc(shown)),
        "ref" | "doc" | "term" => esc(shown),
        _ => format!("<code>{}</code>", esc(shown.trim_start_matches('~'))),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Budget;

    fn render(text: &str) -> String {
        super::render(text, &Budget::new(Duration::from_secs(30))).unwrap()
    }

    #[test]
    fn headings_paragraphs_and_literal_blocks() {
        let html = render(
            "Flask\n=====\n\nFlask is a *micro* framework.\n\nInstalling\n----------\n\nInstall it::\n\n    pip install -U Flask\n\nDone.\n",
        );
        assert!(html.contains("<h1>Flask</h1>"), "{html}");
        assert!(html.contains("<h2>Installing</h2>"), "{html}");
        assert!(html.contains("<p>Flask is a <em>micro</em> framework.</p>"), "{html}");
        assert!(html.contains("<p>Install it:</p>"), "{html}");
        assert!(html.contains("<pre><code>pip install -U Flask</code></pre>"), "{html}");
        assert!(html.contains("<p>Done.</p>"));
    }

    #[test]
    fn overlined_titles_share_levels_with_their_style() {
        let html = render("=====\nTitle\n=====\n\nSub\n---\n\nOther\n-----\n");
        assert!(
            html.contains("<h1>Title</h1>") && html.contains("<h2>Sub</h2>") && html.contains("<h2>Other</h2>"),
            "{html}"
        );
    }

    #[test]
    fn code_block_directive_and_doctest() {
        let html = render(
            ".. code-block:: python\n\n    from flask import Flask\n    app = Flask(__name__)\n\n>>> 1 + 1\n2\n",
        );
        assert!(
            html.contains(
                "<pre><code class=\"language-python\">from flask import Flask\napp = Flask(__name__)</code></pre>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<pre><code class=\"language-pycon\">&gt;&gt;&gt; 1 + 1\n2</code></pre>"),
            "{html}"
        );
    }

    #[test]
    fn lists_nested_and_enumerated() {
        let html = render(
            "* one\n* two\n\n  * nested\n\n* three\n\nText.\n\n1. first\n2. second\n\nMore.\n\n(a) alpha\n(b) beta\n",
        );
        assert!(
            html.contains("<ul>\n<li>one</li>\n<li><p>two</p>\n<ul>\n<li>nested</li>"),
            "{html}"
        );
        assert!(html.contains("<li>three</li>"), "{html}");
        assert!(html.contains("<ol>\n<li>first</li>\n<li>second</li>\n</ol>"), "{html}");
        assert!(html.contains("<ol>\n<li>alpha</li>\n<li>beta</li>\n</ol>"), "{html}");
    }

    #[test]
    fn links_targets_and_inline_markup() {
        let src = "Uses `Werkzeug`_ and `Jinja <https://jinja.palletsprojects.com/>`_, see pip_ and https://example.org/x.\n\
                   Run ``pip install`` **now**, see :pep:`8` and :class:`flask.Flask`.\n\n\
                   .. _Werkzeug: https://werkzeug.palletsprojects.com/\n.. _pip: https://pip.pypa.io/\n";
        let html = render(src);
        assert!(
            html.contains(r#"<a href="https://werkzeug.palletsprojects.com/">Werkzeug</a>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="https://jinja.palletsprojects.com/">Jinja</a>"#),
            "{html}"
        );
        assert!(html.contains(r#"<a href="https://pip.pypa.io/">pip</a>"#), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.org/x">https://example.org/x</a>."#),
            "{html}"
        );
        assert!(html.contains("<code>pip install</code> <strong>now</strong>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://peps.python.org/pep-0008/">PEP 8</a>"#),
            "{html}"
        );
        assert!(html.contains("<code>flask.Flask</code>"), "{html}");
        assert!(!html.contains(".. _"), "targets are not shown");
    }

    #[test]
    fn badges_admonitions_and_unknown_directives() {
        let src = "|build| |coverage|\n\n.. |build| image:: https://ci.example/badge.svg\n    :target: https://ci.example/\n    :alt: Build\n\
                   .. |coverage| image:: https://cov.example/b.svg\n\n.. note:: Read this.\n\n.. toctree::\n    :maxdepth: 2\n\n    intro\n\n.. a comment\n   spanning lines\n";
        let html = render(src);
        assert!(
            html.contains(r#"<a href="https://ci.example/"><img src="https://ci.example/badge.svg" alt="Build"></a>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<img src="https://cov.example/b.svg" alt="coverage">"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<div class="admonition note"><p class="admonition-title">Note</p><p>Read this.</p>"#),
            "{html}"
        );
        assert!(
            !html.contains("toctree") && !html.contains("intro") && !html.contains("comment"),
            "{html}"
        );
    }

    #[test]
    fn definition_lists_and_block_quotes() {
        let html = render("term\n    its definition\n\nParagraph.\n\n    quoted text\n");
        assert!(
            html.contains("<dl>\n<dt>term</dt><dd><p>its definition</p>\n</dd>"),
            "{html}"
        );
        assert!(html.contains("<blockquote><p>quoted text</p>\n</blockquote>"), "{html}");
    }

    #[test]
    fn text_is_escaped() {
        let html = render("a < b & <script>alert(1)</script>\n");
        assert!(html.contains("a &lt; b &amp; &lt;script&gt;"), "{html}");
    }
}
