//! Every renderer against random and adversarial text, with a stack and a
//! time bound: no input may panic, overflow a small stack, outlive its
//! budget by more than a check interval, or leave anything unsafe in the
//! sanitized output.
//!
//! The renderers are called directly, not through `render_within` (which
//! would turn a panic into plain text and hide it).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::sanitize::{assert_safe, sanitize_within};
use super::{Budget, MAX_DEPTH, MAX_DESCRIPTION_BYTES, OutOfBudget, RENDER_BUDGET, markdown, rst};

/// A thread stack far smaller than the 2 MiB (tokio's blocking pool) or
/// 8 MiB (main thread) they get in the server: a renderer that recursed on
/// its input's depth would overflow it.
const STACK: usize = 256 * 1024;
/// How much a render may overrun its budget: the time between two checks.
const SLACK: Duration = Duration::from_secs(2);

/// Fragments of Markdown, reStructuredText and HTML syntax, and characters
/// that have broken text handling before (multi-byte whitespace, bidi
/// overrides, tabs, carriage returns).
const TOKENS: &[&str] = &[
    "* ",
    "- ",
    "+ ",
    "1. ",
    "#. ",
    "(a) ",
    "> ",
    " ",
    "  ",
    "    ",
    "\t",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "`",
    "``",
    "*",
    "**",
    "_",
    "__",
    "|",
    ":",
    "::",
    ".. ",
    ".. |x| image:: https://x.example/i.png",
    ":alt: x",
    ":target: y",
    ".. note::",
    ".. code-block:: python",
    ".. _t: https://t.example/",
    "t_",
    "`t`_",
    ":pep:`8`",
    ":class:`a`",
    "`text <https://x.example/>`_",
    "|x|",
    "<div>",
    "</div>",
    "<p>",
    "</p>",
    "<b>",
    "<table>",
    "<td>",
    "<a href=\"javascript:alert(1)\">",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[",
    "]",
    "](",
    ")",
    "![",
    "[^1]",
    "[^1]: ",
    "#",
    "## ",
    "===",
    "---",
    "~~~",
    "```",
    "+--+",
    "| a | b |",
    "|---|---|",
    "\u{3000}",
    "\u{00a0}",
    "é",
    "日本",
    "\u{202e}",
    "\u{200b}",
    "\u{0}",
    "\u{1b}",
    "http://x.example/a_(b)",
    "<",
    ">",
    "&",
    "&amp;",
    "\"",
    "'",
    "a",
    "word ",
    ">>> ",
    "...",
    "-- ",
    "- [ ] ",
    "- [x] ",
];

fn text_from_tokens() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..300).prop_map(|parts| parts.concat())
}

/// One fragment repeated into a long run (nesting, unclosed marks).
fn repeated_token() -> impl Strategy<Value = String> {
    (prop::sample::select(TOKENS), 1usize..6000, prop::sample::select(TOKENS))
        .prop_map(|(unit, times, tail)| unit.repeat(times) + tail)
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => text_from_tokens(),
        2 => repeated_token(),
        1 => any::<String>(),
    ]
}

/// Runs every renderer on `text` and checks the bounds and the output.
fn check_all(text: &str) -> Result<(), TestCaseError> {
    for (name, render) in [
        (
            "markdown",
            markdown::render as fn(&str, &Budget) -> Result<String, OutOfBudget>,
        ),
        ("rst", rst::render),
    ] {
        let budget = Budget::new(RENDER_BUDGET);
        let started = Instant::now();
        let sanitized = render(text, &budget).and_then(|html| sanitize_within(&html, &budget));
        let took = started.elapsed();
        prop_assert!(
            took <= RENDER_BUDGET + SLACK,
            "{name} took {took:?} for {} bytes",
            text.len()
        );
        if let Ok(html) = sanitized {
            assert_safe(&html, text);
        }
    }
    let plain = super::plain(text);
    let inner = plain
        .strip_prefix(super::PLAIN_OPEN)
        .and_then(|s| s.strip_suffix("</pre>"));
    prop_assert!(inner.is_some_and(|s| !s.contains(['<', '>', '"'])), "{plain:?}");
    Ok(())
}

/// Runs `f` on a thread with a small stack; a stack overflow aborts the
/// test process, which fails the test.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    let handle = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .expect("spawn a test thread");
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn random_text_never_panics_and_stays_bounded() {
    on_small_stack(|| {
        let mut runner = TestRunner::new(Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&any_text(), |text| check_all(&text));
        if let Err(failure) = result {
            panic!("{failure}");
        }
    });
}

/// Depth of the deepest element in sanitized HTML (ammonia closes every
/// element it opens, and void elements have no end tag).
fn nesting(html: &str) -> usize {
    const VOID: &[&str] = &["br", "hr", "img", "input", "source", "wbr", "col", "area"];
    let (mut depth, mut deepest) = (0usize, 0usize);
    for tag in html.split('<').skip(1) {
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if name.is_empty() || VOID.contains(&name.as_str()) {
            continue;
        }
        if tag.starts_with('/') {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    deepest
}

/// The inputs that crashed or stalled the server (issue 11), at the size
/// an upload may have: each renders within its bounds, and structure
/// deeper than the limits is flattened rather than rebuilt.
#[test]
fn adversarial_inputs_are_bounded() {
    on_small_stack(|| {
        let size = MAX_DESCRIPTION_BYTES;
        let fill = |unit: &str, tail: &str| {
            let mut s = unit.repeat(size / unit.len().max(1));
            s.push_str(tail);
            s
        };
        let staircase: String = (0..4000).map(|i| format!("{}x\n\n", " ".repeat(i % 500))).collect();
        let ideographic: String = (0..20000)
            .map(|i| {
                if i % 2 == 0 {
                    "    indented\n"
                } else {
                    "\u{3000}\u{3000}\n"
                }
            })
            .collect();
        let cases: Vec<(&str, String)> = vec![
            ("rst bullets", fill("* ", "x")),
            ("rst enumerated", fill("1. ", "x")),
            ("rst parenthesized", fill("(a) ", "x")),
            ("rst staircase", staircase),
            ("rst ideographic space", ideographic),
            ("rst inline backticks", fill("`a ", "")),
            ("rst inline stars", fill("*a ", "")),
            ("rst roles", fill(":a:`b ", "")),
            ("rst bars", fill("|a ", "")),
            ("rst admonitions", fill(".. note::\n\n   ", "x")),
            ("md bullets", fill("* ", "x")),
            ("md ordered", fill("1. ", "x")),
            ("md quotes", fill("> ", "x")),
            ("md quote lines", fill(">", "x")),
            ("md mixed", fill("> * 1. ", "x")),
            ("md divs", fill("<div>", "x")),
            ("md spans", fill("<span>", "x")),
            ("md emphasis", fill("*_", "x")),
            ("md links", fill("[a](", "x")),
            ("md brackets", fill("[", "x")),
            ("md footnotes", fill("[^a]: ", "x")),
        ];
        for (name, text) in cases {
            for (markup, content_type) in [("markdown", "text/markdown"), ("rst", "text/x-rst")] {
                let started = Instant::now();
                let html = super::render_within(&text, content_type, &Budget::new(RENDER_BUDGET));
                let took = started.elapsed();
                eprintln!(
                    "{name} as {markup}: {took:?}{}",
                    if html.starts_with(super::PLAIN_OPEN) {
                        " (plain text)"
                    } else {
                        ""
                    }
                );
                assert!(took <= RENDER_BUDGET + SLACK, "{name} as {markup}: {took:?}");
                assert!(!html.is_empty(), "{name} as {markup}");
                // Markdown containers and raw HTML each stay within their
                // limit; their sum and a few wrappers bound the whole.
                assert!(
                    nesting(&html) <= 2 * MAX_DEPTH + 8,
                    "{name} as {markup}: nesting {}",
                    nesting(&html)
                );
            }
        }
    });
}

#[test]
fn the_reported_crash_inputs_render() {
    on_small_stack(|| {
        let budget = || Budget::new(Duration::from_secs(60));
        // A stack overflow in the recursive block parser.
        let html = rst::render(&("* ".repeat(3000) + "x"), &budget()).unwrap();
        assert!(html.matches("<ul>").count() <= rst::MAX_NESTING + 1, "nesting is cut");
        assert!(html.contains('x'));
        let html = rst::render(&("1. ".repeat(3000) + "x"), &budget()).unwrap();
        assert!(html.matches("<ol>").count() <= rst::MAX_NESTING + 1);
        // A byte slice inside U+3000 between indented lines.
        let html = rst::render("    a\n\u{3000}\u{3000}\n    b\n", &budget()).unwrap();
        assert!(html.contains('a') && html.contains('b'), "{html}");
        let html = rst::render("* item\n\n  \u{3000}\n  more\n", &budget()).unwrap();
        assert!(html.contains("more"), "{html}");
    });
}

#[test]
fn real_descriptions_render_as_before_within_the_limits() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pypi-top-100");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for entry in entries.flatten() {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.path()).unwrap_or_default()).unwrap_or_default();
        let text = doc["info"]["description"].as_str().unwrap_or("");
        let content_type = doc["info"]["description_content_type"].as_str().unwrap_or("");
        if text.trim().is_empty() || super::Markup::from_content_type(content_type) == super::Markup::Plain {
            continue;
        }
        let html = super::render_description(text, content_type);
        assert!(
            !html.starts_with(super::PLAIN_OPEN),
            "{:?} fell back to plain text",
            entry.path()
        );
        assert!(nesting(&html) <= MAX_DEPTH, "{:?}", entry.path());
    }
}
