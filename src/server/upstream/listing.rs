//! An upstream's link list for one project, read from its Simple API page:
//! PEP 691 JSON when the upstream speaks it, PEP 503 HTML otherwise. Both
//! come out as one [`Listing`], which is what the cache stores (as JSON)
//! and what our own Simple API renders, with file URLs of our own.
//!
//! Only files whose SHA-256 the upstream states are kept: a file is served
//! only once its bytes have been checked against it. URLs are resolved
//! against the page's URL and must be `http(s)`.
//!
//! Bounded: pages are read up to a size limit by the caller, the HTML is
//! tokenized (no tree, so no depth to recurse into), and a listing keeps at
//! most [`MAX_FILES`] files.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};
use reqwest_for_object_store::Url;
use serde::{Deserialize, Serialize};

/// Files kept of one upstream project (PyPI's biggest have some 40,000).
pub const MAX_FILES: usize = 100_000;
/// Length limit of the strings kept from a file entry.
const MAX_FIELD: usize = 2048;

/// One project's files at an upstream, as we keep and serve them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    /// The project's name as the upstream spells it (PEP 691 `name`, or
    /// the HTML page's title), for display.
    pub name: String,
    pub files: Vec<LinkedFile>,
    /// PEP 700 `versions`, when the upstream gave them.
    #[serde(default)]
    pub versions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedFile {
    pub filename: String,
    /// Absolute upstream URL, without its fragment.
    pub url: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<String>,
    /// `Some(reason)` when yanked (the reason may be empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<String>,
    /// SHA-256 of the PEP 658 metadata file, when the upstream offers one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// PEP 700 `upload-time`, as the upstream wrote it (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_time: Option<String>,
}

/// Why an upstream page could not be read as a link list.
#[derive(Debug, PartialEq, Eq)]
pub struct Unreadable(pub String);

fn sha256_hex(value: &str) -> Option<String> {
    let value = value.trim().to_ascii_lowercase();
    (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())).then_some(value)
}

fn bounded(value: &str) -> Option<String> {
    (value.len() <= MAX_FIELD).then(|| value.to_owned())
}

/// A file's URL, resolved against the page's and checked: `http(s)` only,
/// the fragment (`#sha256=…`) split off.
fn resolve(page: &Url, href: &str) -> Option<(String, Option<String>)> {
    if href.len() > MAX_FIELD {
        return None;
    }
    let mut url = page.join(href.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let fragment = url.fragment().map(str::to_owned);
    url.set_fragment(None);
    Some((url.into(), fragment))
}

/// A filename we can serve under our own URL: one path segment, printable.
fn plausible_filename(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '!'))
}

// ------------------------------------------------------------------ JSON

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    files: Vec<JsonFile>,
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::HashMap<String, String>,
    #[serde(default, rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<serde_json::Value>,
    #[serde(default, rename = "core-metadata")]
    core_metadata: Option<serde_json::Value>,
    #[serde(default, rename = "dist-info-metadata")]
    dist_info_metadata: Option<serde_json::Value>,
    #[serde(default)]
    size: Option<i64>,
    #[serde(default, rename = "upload-time")]
    upload_time: Option<String>,
}

fn metadata_digest(value: Option<&serde_json::Value>) -> Option<String> {
    value?.get("sha256").and_then(|v| v.as_str()).and_then(sha256_hex)
}

/// A PEP 691 JSON page.
pub fn from_json(page: &Url, body: &[u8], fallback_name: &str) -> Result<Listing, Unreadable> {
    let parsed: JsonPage = serde_json::from_slice(body).map_err(|e| Unreadable(format!("not a PEP 691 page: {e}")))?;
    let mut files = Vec::new();
    for f in parsed.files.into_iter().take(MAX_FILES) {
        let Some(sha256) = f.hashes.get("sha256").and_then(|h| sha256_hex(h)) else {
            continue;
        };
        let Some((url, _)) = resolve(page, &f.url) else {
            continue;
        };
        if !plausible_filename(&f.filename) {
            continue;
        }
        let yanked = match f.yanked {
            Some(serde_json::Value::Bool(true)) => Some(String::new()),
            Some(serde_json::Value::String(reason)) => Some(bounded(&reason).unwrap_or_default()),
            _ => None,
        };
        let metadata_sha256 =
            metadata_digest(f.core_metadata.as_ref()).or_else(|| metadata_digest(f.dist_info_metadata.as_ref()));
        files.push(LinkedFile {
            filename: f.filename,
            url,
            sha256,
            requires_python: f.requires_python.as_deref().and_then(bounded).filter(|s| !s.is_empty()),
            yanked,
            metadata_sha256,
            size: f.size.filter(|s| *s >= 0),
            upload_time: f.upload_time.as_deref().and_then(bounded),
        });
    }
    let versions = parsed
        .versions
        .into_iter()
        .filter(|v| v.len() <= 128)
        .take(MAX_FILES)
        .collect();
    let name = parsed
        .name
        .filter(|n| !n.is_empty() && n.len() <= 256)
        .unwrap_or_else(|| fallback_name.to_owned());
    Ok(Listing { name, files, versions })
}

// ------------------------------------------------------------------ HTML

/// Collects `<a>` elements (their attributes and text) and the `<title>`.
#[derive(Default)]
struct Anchors {
    state: RefCell<AnchorsState>,
}

#[derive(Default)]
struct AnchorsState {
    anchors: Vec<(Vec<(String, String)>, String)>,
    open: Option<(Vec<(String, String)>, String)>,
    in_title: bool,
    title: String,
}

impl TokenSink for Anchors {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut s = self.state.borrow_mut();
        match token {
            Token::TagToken(tag) => match (tag.kind, &*tag.name) {
                (TagKind::StartTag, "a") => {
                    let attrs = tag
                        .attrs
                        .iter()
                        .map(|a| (a.name.local.to_string(), a.value.to_string()))
                        .collect();
                    if s.anchors.len() < MAX_FILES {
                        s.open = Some((attrs, String::new()));
                    }
                }
                (TagKind::EndTag, "a") => {
                    if let Some(anchor) = s.open.take() {
                        s.anchors.push(anchor);
                    }
                }
                (TagKind::StartTag, "title") => s.in_title = true,
                (TagKind::EndTag, "title") => s.in_title = false,
                _ => {}
            },
            Token::CharacterTokens(text) => {
                if let Some((_, label)) = s.open.as_mut() {
                    if label.len() < MAX_FIELD {
                        label.push_str(&text);
                    }
                } else if s.in_title && s.title.len() < MAX_FIELD {
                    s.title.push_str(&text);
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

fn digest_attr(value: &str) -> Option<String> {
    let (algorithm, digest) = value.split_once('=')?;
    (algorithm.trim() == "sha256").then(|| sha256_hex(digest)).flatten()
}

/// A PEP 503 HTML page (with PEP 592 yanks, PEP 658/714 metadata and
/// `data-requires-python`).
pub fn from_html(page: &Url, body: &[u8], fallback_name: &str) -> Result<Listing, Unreadable> {
    let text = std::str::from_utf8(body).map_err(|_| Unreadable("the HTML page is not UTF-8".into()))?;
    let tokenizer = Tokenizer::new(Anchors::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(text));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let state = tokenizer.sink.state.into_inner();
    let mut files = Vec::new();
    for (attrs, label) in state.anchors {
        let attr = |name: &str| attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let Some((url, fragment)) = attr("href").and_then(|href| resolve(page, href)) else {
            continue;
        };
        let Some(sha256) = fragment.as_deref().and_then(digest_attr) else {
            continue;
        };
        let filename = label.trim().to_owned();
        if !plausible_filename(&filename) {
            continue;
        }
        let metadata_sha256 = attr("data-core-metadata")
            .or_else(|| attr("data-dist-info-metadata"))
            .and_then(digest_attr);
        files.push(LinkedFile {
            filename,
            url,
            sha256,
            requires_python: attr("data-requires-python").and_then(bounded).filter(|s| !s.is_empty()),
            yanked: attr("data-yanked").map(|r| bounded(r).unwrap_or_default()),
            metadata_sha256,
            size: None,
            upload_time: None,
        });
    }
    let title = state.title.trim();
    let name = title
        .strip_prefix("Links for ")
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.len() <= 256)
        .unwrap_or(fallback_name)
        .to_owned();
    Ok(Listing {
        name,
        files,
        versions: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn page() -> Url {
        Url::parse("https://upstream.example/simple/demo/").expect("url")
    }

    #[test]
    fn json_pages_keep_what_pep_691_and_700_say() {
        let body = format!(
            r#"{{"meta":{{"api-version":"1.1"}},"name":"Demo","versions":["1.0","2.0"],"files":[
            {{"filename":"demo-1.0.tar.gz","url":"../../files/demo-1.0.tar.gz","hashes":{{"sha256":"{A}"}},
              "requires-python":">=3.8","yanked":"broken","size":10,"upload-time":"2024-01-01T00:00:00.000000Z"}},
            {{"filename":"demo-2.0-py3-none-any.whl","url":"https://cdn.example/demo-2.0-py3-none-any.whl",
              "hashes":{{"sha256":"{B}"}},"core-metadata":{{"sha256":"{A}"}},"yanked":false}},
            {{"filename":"nohash-1.0.tar.gz","url":"x","hashes":{{"md5":"00"}}}},
            {{"filename":"demo-3.0.tar.gz","url":"javascript:alert(1)","hashes":{{"sha256":"{A}"}}}},
            {{"filename":"../evil","url":"/x","hashes":{{"sha256":"{A}"}}}}
            ]}}"#
        );
        let listing = from_json(&page(), body.as_bytes(), "demo").expect("readable");
        assert_eq!(listing.name, "Demo");
        assert_eq!(listing.versions, ["1.0", "2.0"]);
        assert_eq!(
            listing.files.len(),
            2,
            "no hash, a bad scheme, a bad filename: left out"
        );
        let sdist = &listing.files[0];
        assert_eq!(sdist.url, "https://upstream.example/files/demo-1.0.tar.gz");
        assert_eq!(sdist.yanked.as_deref(), Some("broken"));
        assert_eq!(sdist.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(sdist.size, Some(10));
        let wheel = &listing.files[1];
        assert_eq!(wheel.metadata_sha256.as_deref(), Some(A));
        assert_eq!(wheel.yanked, None);
        assert!(from_json(&page(), b"<html>", "demo").is_err());
    }

    #[test]
    fn html_pages_keep_what_pep_503_592_and_714_say() {
        let body = format!(
            "<!DOCTYPE html><html><head><title>Links for Demo</title></head><body>\
             <a href=\"/files/demo-1.0.tar.gz#sha256={A}\" data-requires-python=\"&gt;=3.8\" data-yanked=\"\">demo-1.0.tar.gz</a><br/>\
             <a href=\"demo-2.0-py3-none-any.whl#sha256={B}\" data-dist-info-metadata=\"sha256={A}\">demo-2.0-py3-none-any.whl</a>\
             <a href=\"demo-0.1.tar.gz#md5=0123\">demo-0.1.tar.gz</a>\
             <a href=\"demo-0.2.tar.gz\">demo-0.2.tar.gz</a>\
             </body></html>"
        );
        let listing = from_html(&page(), body.as_bytes(), "demo").expect("readable");
        assert_eq!(listing.name, "Demo");
        assert_eq!(listing.files.len(), 2, "files without a SHA-256 are left out");
        let sdist = &listing.files[0];
        assert_eq!(sdist.url, "https://upstream.example/files/demo-1.0.tar.gz");
        assert_eq!(sdist.sha256, A);
        assert_eq!(sdist.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(sdist.yanked.as_deref(), Some(""));
        let wheel = &listing.files[1];
        assert_eq!(
            wheel.url,
            "https://upstream.example/simple/demo/demo-2.0-py3-none-any.whl"
        );
        assert_eq!(wheel.metadata_sha256.as_deref(), Some(A));
    }

    #[test]
    fn deep_or_broken_html_is_read_flat() {
        let mut body = "<div>".repeat(100_000);
        body.push_str(&format!(
            "<a href=\"x-1.0.tar.gz#sha256={A}\">x-1.0.tar.gz</a><a href=\"y"
        ));
        let listing = from_html(&page(), body.as_bytes(), "x").expect("readable");
        assert_eq!(listing.files.len(), 1);
        assert_eq!(listing.name, "x");
    }
}
