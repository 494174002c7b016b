//! Search input, parsed: the user's text becomes plain terms, and the
//! full-text expression is built from those terms only, so no character of
//! the input can act as full-text syntax (quotes, `*`, `:`, `-`, `NEAR`, ...).

use serde::{Deserialize, Serialize};

use super::normalize_project_name;

/// Longest query text considered; longer input is cut (and the page says so).
pub const MAX_QUERY_CHARS: usize = 200;
const MAX_TERMS: usize = 12;
const MAX_TERM_CHARS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    /// The text as it will be shown back (trimmed, possibly cut).
    pub text: String,
    /// Lowercased alphanumeric terms.
    pub terms: Vec<String>,
    /// Whether the input was longer than [`MAX_QUERY_CHARS`].
    pub truncated: bool,
}

impl SearchQuery {
    pub fn parse(raw: &str) -> Self {
        let trimmed = raw.trim();
        let truncated = trimmed.chars().count() > MAX_QUERY_CHARS;
        // Control characters (NUL among them, which PostgreSQL text cannot
        // hold) mean nothing in a query: they go, as spaces.
        let text: String = trimmed
            .chars()
            .take(MAX_QUERY_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut terms: Vec<String> = Vec::new();
        for term in text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()) {
            let term: String = term.to_lowercase().chars().take(MAX_TERM_CHARS).collect();
            if !terms.contains(&term) && terms.len() < MAX_TERMS {
                terms.push(term);
            }
        }
        Self { text, terms, truncated }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The PEP 503 form of the whole query, for exact-name ranking.
    pub fn normalized_name(&self) -> String {
        normalize_project_name(self.text.trim())
    }

    /// An FTS5 expression: every term as a quoted prefix, all required;
    /// with several terms, alternatively all of them joined (so `aws cli`
    /// also finds `awscli`). Terms are alphanumeric: quoting is safe.
    pub fn fts_expression(&self) -> Option<String> {
        if self.terms.is_empty() {
            return None;
        }
        let all = self
            .terms
            .iter()
            .map(|t| format!("\"{t}\"*"))
            .collect::<Vec<_>>()
            .join(" AND ");
        Some(if self.terms.len() > 1 {
            format!("({all}) OR \"{}\"*", self.terms.concat())
        } else {
            all
        })
    }

    /// The same expression as a PostgreSQL `tsquery` (for `to_tsquery`):
    /// every term a quoted prefix, all required, or all joined. Terms are
    /// alphanumeric, so they hold no quote or operator of the syntax.
    pub fn tsquery(&self) -> Option<String> {
        if self.terms.is_empty() {
            return None;
        }
        let all = self
            .terms
            .iter()
            .map(|t| Self::ts_prefix(t, ""))
            .collect::<Vec<_>>()
            .join(" & ");
        Some(if self.terms.len() > 1 {
            format!("({all}) | {}", Self::ts_prefix(&self.terms.concat(), ""))
        } else {
            all
        })
    }

    /// `term` as a `tsquery` prefix matching only the given weight labels
    /// (`"A"`: the name; all of them when empty).
    pub fn ts_prefix(term: &str, weights: &str) -> String {
        format!("'{term}':*{weights}")
    }
}

/// A text query matching more projects than this ranks only this many of
/// them (after the closest names); see `server::db::search`.
pub const RANK_WINDOW: i64 = 500;

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SearchOrder {
    #[default]
    Relevance,
    /// Most recently released first (`o=-created`).
    Newest,
    /// By name (the browse view's default).
    Name,
}

impl SearchOrder {
    pub fn parse(raw: &str) -> Self {
        match raw.trim() {
            "-created" => Self::Newest,
            "name" => Self::Name,
            _ => Self::Relevance,
        }
    }

    pub fn as_param(self) -> &'static str {
        match self {
            Self::Relevance => "",
            Self::Newest => "-created",
            Self::Name => "name",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_alphanumeric_lowercase_and_unique() {
        let q = SearchQuery::parse("  Flask flask-Login  ");
        assert_eq!(q.terms, ["flask", "login"]);
        assert_eq!(q.text, "Flask flask-Login");
        assert_eq!(SearchQuery::parse("FLASK ").normalized_name(), "flask");
        let nul = SearchQuery::parse("a\u{0}b\u{7}c");
        assert_eq!((nul.text.as_str(), nul.terms.len()), ("a b c", 3));
        assert!(!nul.normalized_name().contains('\0'));
    }

    #[test]
    fn expressions() {
        assert_eq!(SearchQuery::parse("flask").fts_expression().unwrap(), r#""flask"*"#);
        assert_eq!(
            SearchQuery::parse("aws cli").fts_expression().unwrap(),
            r#"("aws"* AND "cli"*) OR "awscli"*"#
        );
        assert_eq!(SearchQuery::parse("").fts_expression(), None);
        assert_eq!(SearchQuery::parse("flask").tsquery().unwrap(), "'flask':*");
        assert_eq!(
            SearchQuery::parse("aws cli").tsquery().unwrap(),
            "('aws':* & 'cli':*) | 'awscli':*"
        );
        assert_eq!(SearchQuery::parse("'&|!:*()").tsquery(), None);
        assert_eq!(
            SearchQuery::parse("it's <a> b|c")
                .tsquery()
                .unwrap()
                .matches('\'')
                .count(),
            12
        );
    }

    #[test]
    fn hostile_input_cannot_become_syntax() {
        for raw in [
            "\"",
            "*",
            "a:b",
            "-flask",
            "NEAR(",
            "NEAR(a b)",
            "') OR 1=1 --",
            "\"unbalanced",
            "a AND OR NOT b",
            "^x",
            "{col}: x",
            "🧀 café",
            "((((",
            "a\u{0}b",
        ] {
            let q = SearchQuery::parse(raw);
            for term in &q.terms {
                assert!(term.chars().all(char::is_alphanumeric), "{raw:?} → {term:?}");
            }
            if let Some(expr) = q.fts_expression() {
                let stripped = expr.replace("\" AND \"", "").replace("\"*", "").replace('"', "");
                assert!(
                    !stripped.contains(['*', ':', '(', ')', '^', '{', '-']) || expr.starts_with('('),
                    "{raw:?} → {expr}"
                );
            }
        }
        assert_eq!(
            SearchQuery::parse("NEAR(a b)").terms,
            ["near", "a", "b"],
            "NEAR is a word, not an operator"
        );
        assert_eq!(SearchQuery::parse("🧀 café").terms, ["café"]);
    }

    #[test]
    fn long_queries_are_cut() {
        let q = SearchQuery::parse(&"x ".repeat(10_000));
        assert!(q.truncated);
        assert_eq!(q.text.chars().count(), MAX_QUERY_CHARS);
        assert_eq!(q.terms, ["x"]);
        let many = (0..100).map(|i| format!("t{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(SearchQuery::parse(&many).terms.len(), MAX_TERMS);
    }

    #[test]
    fn orders() {
        assert_eq!(SearchOrder::parse("-created"), SearchOrder::Newest);
        assert_eq!(SearchOrder::parse("name"), SearchOrder::Name);
        assert_eq!(SearchOrder::parse("'; DROP"), SearchOrder::Relevance);
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The URL of a search page.
pub fn search_url(query: &str, order: SearchOrder, classifiers: &[String], page: i64) -> String {
    let mut params: Vec<String> = Vec::new();
    if !query.is_empty() {
        params.push(format!("q={}", encode_query_value(query)));
    }
    if order != SearchOrder::Relevance {
        params.push(format!("o={}", order.as_param()));
    }
    for c in classifiers {
        params.push(format!("c={}", encode_query_value(c)));
    }
    if page > 1 {
        params.push(format!("page={page}"));
    }
    if params.is_empty() {
        "/search".to_owned()
    } else {
        format!("/search?{}", params.join("&"))
    }
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn builds_search_urls() {
        assert_eq!(encode_query_value("Framework :: Django"), "Framework+%3A%3A+Django");
        assert_eq!(encode_query_value("a&b=c/ü"), "a%26b%3Dc%2F%C3%BC");
        assert_eq!(search_url("", SearchOrder::Relevance, &[], 1), "/search");
        assert_eq!(
            search_url("aws cli", SearchOrder::Newest, &["Framework :: Django".into()], 3),
            "/search?q=aws+cli&o=-created&c=Framework+%3A%3A+Django&page=3"
        );
    }
}
