//! Project descriptions to safe HTML, by content type: Markdown
//! (pulldown-cmark, GFM tables and fenced code), reStructuredText (our
//! renderer of the common subset) and plain text (preformatted).
//!
//! Markdown and reStructuredText output goes through the sanitizer,
//! whatever produced it; plain text is escaped, so it needs none.
//! Rendering happens when a release is written (import, upload) and the
//! HTML is stored, so page views never render.
//!
//! Descriptions are untrusted input, so rendering is bounded by
//! construction and, behind that, by a budget:
//! - **size**: uploads refuse descriptions over [`MAX_DESCRIPTION_BYTES`];
//! - **depth**: Markdown containers beyond [`MAX_DEPTH`] levels, raw HTML
//!   nested deeper than that, and reStructuredText beyond its own limit are
//!   flattened, so no stage recurses or scans per level without a bound
//!   (html5ever's tree builder costs O(tags × depth));
//! - **time**: every stage checks a [`Budget`] (a deadline and a
//!   cancellation flag) as it goes; when it runs out the description is
//!   shown as plain text, which costs one linear pass;
//! - **panics**: none are expected (a property test feeds every renderer
//!   random and adversarial text), and one would also end in plain text.
//!
//! [`render_off_thread`] runs all of it on the blocking pool, at most one
//! render per CPU at a time, and cancels the work when the caller (an
//! upload whose client left) is dropped.

#[cfg(test)]
mod fuzz;
mod markdown;
mod rst;
mod sanitize;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use sanitize::sanitize;

/// The largest description an upload may carry: 1 MiB.
///
/// PyPI's own data puts the 95th percentile of descriptions at 40 kB and
/// the longest of the 96 projects in our test data at 49 kB; 1 MiB leaves
/// room for a README with a long changelog, twenty times the longest we
/// know, while the page that shows it stays a few megabytes and its render
/// stays within the budget (the adversarial tests in `render::fuzz` render
/// inputs of this size).
pub const MAX_DESCRIPTION_BYTES: usize = 1024 * 1024;

/// Deepest nesting of Markdown containers (block quotes, lists, items,
/// emphasis, ...) and, separately, of raw HTML elements that is rendered
/// as structure; deeper levels are flattened into their parent.
pub const MAX_DEPTH: usize = 32;

/// How long one description may take to render before it is shown as
/// plain text instead. Real descriptions take milliseconds.
pub const RENDER_BUDGET: Duration = Duration::from_secs(2);

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

/// A deadline and a cancellation flag that long-running work checks as it
/// goes; cheap enough to ask every few hundred steps.
#[derive(Clone, Debug)]
pub struct Budget {
    deadline: Instant,
    cancelled: Arc<AtomicBool>,
}

/// The budget ran out (or the work was cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfBudget;

impl Budget {
    pub fn new(time: Duration) -> Self {
        Self {
            deadline: Instant::now() + time,
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// `Err` once the deadline has passed or the work was cancelled.
    pub fn check(&self) -> Result<(), OutOfBudget> {
        if self.cancelled.load(Ordering::Relaxed) || Instant::now() >= self.deadline {
            Err(OutOfBudget)
        } else {
            Ok(())
        }
    }

    /// A guard that cancels this budget's work when dropped (unless disarmed).
    fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.cancelled.clone()))
    }
}

struct CancelOnDrop(Option<Arc<AtomicBool>>);

impl CancelOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// Input for a parser that reads incrementally, handed out in small
/// chunks with a budget check before each: html5ever parses as it reads,
/// so this is where a slow parse stops.
pub(crate) struct BudgetReader<'a> {
    rest: &'a [u8],
    budget: &'a Budget,
}

impl<'a> BudgetReader<'a> {
    const CHUNK: usize = 1024;

    pub(crate) fn new(input: &'a str, budget: &'a Budget) -> Self {
        Self {
            rest: input.as_bytes(),
            budget,
        }
    }
}

impl io::Read for BudgetReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rest.is_empty() {
            return Ok(0);
        }
        self.budget
            .check()
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "render budget exhausted"))?;
        let n = buf.len().min(Self::CHUNK).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// How a plain description opens. Focusable: a wide block scrolls, and a
/// keyboard must reach it (WCAG 2.1.1).
pub const PLAIN_OPEN: &str = "<pre class=\"description-plain\" tabindex=\"0\">";

/// The description as preformatted, escaped text: always safe, linear, and
/// what is shown when the markup cannot be rendered within its limits.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 48);
    out.push_str(PLAIN_OPEN);
    crate::domain::escape::push_html_text(&mut out, text);
    out.push_str("</pre>");
    out
}

/// Renders and sanitizes a description within `budget`. Never fails and
/// never panics: markup that cannot be rendered within the limits is shown
/// as plain text.
pub fn render_within(text: &str, content_type: &str, budget: &Budget) -> String {
    if text.trim().is_empty() || text.trim() == "UNKNOWN" {
        return String::new();
    }
    let markup = Markup::from_content_type(content_type);
    if markup == Markup::Plain {
        return plain(text);
    }
    let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let html = match markup {
            Markup::Markdown => markdown::render(text, budget)?,
            _ => rst::render(text, budget)?,
        };
        sanitize::sanitize_within(&html, budget)
    }));
    match rendered {
        Ok(Ok(html)) => html,
        Ok(Err(OutOfBudget)) => {
            tracing::warn!(
                bytes = text.len(),
                "description not rendered within its budget: shown as text"
            );
            plain(text)
        }
        Err(_) => {
            tracing::error!(bytes = text.len(), "a description renderer panicked: shown as text");
            plain(text)
        }
    }
}

/// Renders with the default budget, on the calling thread (the importer
/// and the demo data generator, which run outside any request).
pub fn render_description(text: &str, content_type: &str) -> String {
    render_within(text, content_type, &Budget::new(RENDER_BUDGET))
}

/// At most one render per CPU at a time: uploads cannot fill the blocking
/// pool with rendering, the rest wait their turn.
fn render_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// Renders running on the blocking pool right now.
static RENDERING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Renders running on the blocking pool right now.
pub fn renders_in_flight() -> usize {
    RENDERING.load(Ordering::Acquire)
}

/// Renders on the blocking pool with the default budget and gives the
/// description back with its HTML. If the caller is dropped (the client
/// went away), the render is cancelled at its next budget check.
pub async fn render_off_thread(text: String, content_type: String) -> (String, String) {
    let Ok(_slot) = render_slots().acquire().await else {
        // The semaphore is never closed; plain text is the safe answer anyway.
        let html = plain(&text);
        return (text, html);
    };
    let budget = Budget::new(RENDER_BUDGET);
    let guard = budget.cancel_on_drop();
    let task = tokio::task::spawn_blocking(move || {
        RENDERING.fetch_add(1, Ordering::AcqRel);
        let html = render_within(&text, &content_type, &budget);
        RENDERING.fetch_sub(1, Ordering::AcqRel);
        (text, html)
    });
    let result = task.await;
    guard.disarm();
    // Rendering catches its own panics; a join error means the runtime is going away.
    result.unwrap_or_default()
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
        let html = render_description("a < b\n  <script>x</script> \"q\"", "text/plain");
        assert!(html.starts_with("<pre"));
        assert!(html.contains("a &lt; b"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn empty_and_unknown_render_nothing() {
        assert_eq!(render_description("  ", "text/markdown"), "");
        assert_eq!(render_description("UNKNOWN", ""), "");
    }

    #[test]
    fn an_exhausted_budget_shows_plain_text() {
        let budget = Budget::new(Duration::ZERO);
        for content_type in ["text/markdown", "text/x-rst"] {
            let html = render_within("# Title\n\n*x* <b>y</b>", content_type, &budget);
            assert!(html.starts_with(PLAIN_OPEN), "{html}");
            assert!(html.contains("&lt;b&gt;y&lt;/b&gt;"), "{html}");
        }
    }

    #[test]
    fn a_cancelled_render_stops() {
        let budget = Budget::new(Duration::from_secs(60));
        drop(budget.cancel_on_drop());
        assert_eq!(budget.check(), Err(OutOfBudget));
        let kept = Budget::new(Duration::from_secs(60));
        kept.cancel_on_drop().disarm();
        assert_eq!(kept.check(), Ok(()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_render_stops_when_its_caller_goes_away() {
        // A description that takes a while to render (long, one paragraph of marks).
        let text = "*a `b ".repeat(150_000);
        let started = Instant::now();
        let whole = render_within(&text, "text/x-rst", &Budget::new(Duration::from_secs(60)));
        let full = started.elapsed();
        assert!(!whole.is_empty());
        // The same render, abandoned after a moment (a client that left).
        let abandoned = tokio::time::timeout(
            Duration::from_millis(20),
            render_off_thread(text.clone(), "text/x-rst".to_owned()),
        )
        .await;
        assert!(abandoned.is_err(), "still rendering when abandoned");
        let dropped = Instant::now();
        while renders_in_flight() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stopped = dropped.elapsed();
        assert!(
            stopped < full / 2,
            "stopped {stopped:?} after its caller left; a whole render takes {full:?}"
        );
    }

    #[tokio::test]
    async fn off_thread_rendering_returns_the_text() {
        let (text, html) = render_off_thread("# Hi".to_owned(), "text/markdown".to_owned()).await;
        assert_eq!(text, "# Hi");
        assert!(html.contains("<h1>Hi</h1>"), "{html}");
    }
}
