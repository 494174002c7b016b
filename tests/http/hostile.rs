//! Hostile input, through the real HTTP API: markup and quotes in every
//! field that pages, feeds and APIs show; uploads that must be refused
//! with nothing written; descriptions that once crashed or stalled the
//! server.

use serde_json::Value;

use crate::helpers::{Package, TestApp, spawn_empty, token_for, user_with_token};

const JSON_V1: &str = "application/vnd.pypi.simple.v1+json";

// ---- a tag scanner: what a browser would take for markup ----

/// A start tag: its name and attributes (values unescaped of nothing:
/// the test only needs names and the raw text of values).
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
    /// For `<script>`: its text.
    text: String,
}

/// The start tags of an HTML document, tokenized as HTML does it: quoted
/// attribute values may hold anything but their quote, `<script>` content
/// runs to `</script`, comments are skipped, and a `<` not followed by a
/// letter is text.
fn tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        if html[i..].starts_with("<!--") {
            i = html[i..].find("-->").map_or(b.len(), |e| i + e + 3);
            continue;
        }
        if !b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' && b[j] != b'/' {
            j += 1;
        }
        let name = html[i + 1..j].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while j < b.len() && (b[j].is_ascii_whitespace() || b[j] == b'/') {
                j += 1;
            }
            if j >= b.len() || b[j] == b'>' {
                j += 1;
                break;
            }
            let start = j;
            while j < b.len() && !b[j].is_ascii_whitespace() && !matches!(b[j], b'=' | b'>' | b'/') {
                j += 1;
            }
            let attr = html[start..j].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(j) == Some(&b'=') {
                j += 1;
                match b.get(j) {
                    Some(&q) if q == b'"' || q == b'\'' => {
                        let end = html[j + 1..].find(q as char).map_or(b.len(), |e| j + 1 + e);
                        value = html[j + 1..end.min(b.len())].to_owned();
                        j = end + 1;
                    }
                    _ => {
                        let start = j;
                        while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' {
                            j += 1;
                        }
                        value = html[start..j].to_owned();
                    }
                }
            }
            attrs.push((attr, value));
        }
        let mut text = String::new();
        if name == "script" || name == "style" || name == "textarea" || name == "title" {
            let close = format!("</{name}");
            let end = html[j.min(b.len())..]
                .to_ascii_lowercase()
                .find(&close)
                .map_or(b.len(), |e| j + e);
            text = html[j.min(end)..end].to_owned();
            j = end;
        }
        out.push(Tag { name, attrs, text });
        i = j;
    }
    out
}

/// Checks that nothing in `html` is markup we did not write: no event
/// handler attributes, no script or style elements but our own (with the
/// page's nonce, when it has one), no `javascript:` or `data:` links, no
/// frames or objects.
fn assert_inert(html: &str, nonce: Option<&str>, what: &str) {
    for tag in tags(html) {
        for (attr, value) in &tag.attrs {
            assert!(!attr.starts_with("on"), "{what}: <{} {attr}={value:?}>", tag.name);
            if matches!(attr.as_str(), "href" | "src" | "action" | "formaction" | "srcset") {
                let v = value.trim().to_ascii_lowercase();
                assert!(
                    !v.starts_with("javascript:") && !v.starts_with("data:") && !v.starts_with("vbscript:"),
                    "{what}: <{} {attr}={value:?}>",
                    tag.name
                );
            }
        }
        assert!(
            !matches!(
                tag.name.as_str(),
                "iframe" | "object" | "embed" | "frame" | "base" | "style"
            ),
            "{what}: <{}>",
            tag.name
        );
        if tag.name == "script" {
            let script_nonce = tag.attrs.iter().find(|(a, _)| a == "nonce").map(|(_, v)| v.as_str());
            assert!(
                nonce.is_some() && script_nonce == nonce,
                "{what}: a script without the page's nonce: {:?}",
                &tag.text.chars().take(120).collect::<String>()
            );
            // Data in our scripts may hold any text, but nothing that changes
            // how HTML finds the script's end.
            let lower = tag.text.to_ascii_lowercase();
            assert!(
                !lower.contains("<!--") && !lower.contains("<script"),
                "{what}: markup reached a script's source: {:?}",
                &tag.text.chars().take(200).collect::<String>()
            );
        }
    }
}

/// The nonce named by a response's Content-Security-Policy.
fn csp_nonce(response: &reqwest::Response) -> Option<String> {
    let csp = response.headers().get("content-security-policy")?.to_str().ok()?;
    let start = csp.find("'nonce-")? + "'nonce-".len();
    Some(csp[start..].split('\'').next()?.to_owned())
}

async fn page(app: &TestApp, path: &str) -> (String, Option<String>) {
    let response = app.get(path).await;
    assert_eq!(response.status().as_u16(), 200, "{path}");
    let nonce = csp_nonce(&response);
    (response.text().await.expect("body"), nonce)
}

// ---- the payloads ----

const SUMMARY: &str =
    r#"</title><script>alert("s")</script> "><img src=x onerror=alert('s')> ' onmouseover='alert(1)' & done"#;
const AUTHOR: &str = r#""><svg onload=alert('a')>"#;
const MAINTAINER: &str = r#"' onfocus='alert(2)' autofocus='"#;
const LICENSE: &str = r#"</script><script>alert("license")</script>"#;
const KEYWORDS: &str = r#"<iframe src=javascript:alert(3)>,cheese"#;
const REQUIRES_PYTHON: &str = "<4,>=3.8";
const REQUIRES_DIST: &str = r#"brie>=1; python_version < "3.10" and extra == 'web'"#;
const DESCRIPTION: &str = "# Hostile\n\n<script>alert('d')</script>\n\n<img src=x onerror=alert('d')>\n\n\
                           [click](javascript:alert('d'))\n\n<a href=\"javascript:alert('d')\">x</a>\n\n\
                           <div onclick=\"alert('d')\">div</div>\n";
const DISPLAY_NAME: &str = r#"<b>Eve</b> "&" 'O'"#;

fn hostile_package() -> Package {
    Package::new("hostile-pkg", "1.0")
        .set("Summary", SUMMARY)
        .set("Author", AUTHOR)
        .set("Author-email", r#"eve@example.org" onmouseover="alert(4)"#)
        .set("Maintainer", MAINTAINER)
        .set("License", LICENSE)
        .set("Keywords", KEYWORDS)
        .set("Home-page", "javascript:alert(5)")
        .add(
            "Project-URL",
            r#"Docs"><script>alert(6)</script>, https://docs.example/"onmouseover="x"#,
        )
        .add("Project-URL", "Evil, javascript:alert(7)")
        .set("Requires-Python", REQUIRES_PYTHON)
        .add("Requires-Dist", REQUIRES_DIST)
        .add("Classifier", "Programming Language :: Python :: 3")
        .describe(DESCRIPTION, "text/markdown")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_every_field_stays_text_on_every_page_and_api() {
    use cheeseshop::domain::{DisplayName, Email, Password, Username};
    let app = spawn_empty().await;
    let user_id = cheeseshop::server::auth::create_account(
        &app.db,
        &Username::parse("eve").expect("username"),
        &Email::parse("eve@example.org").expect("email"),
        &DisplayName::parse(DISPLAY_NAME).expect("a display name may hold markup characters"),
        Password::parse("correct horse battery staple").expect("password"),
    )
    .await
    .expect("account");
    let token = token_for(&app, user_id, None).await;
    let package = hostile_package();
    app.publish(&token, &package).await;

    // Pages: markup stays text, scripts are ours and carry the page's nonce.
    for path in [
        "/",
        "/project/hostile-pkg/",
        "/project/hostile-pkg/1.0/",
        "/search?q=hostile",
        "/user/eve/",
        "/classifiers/",
    ] {
        let (html, nonce) = page(&app, path).await;
        assert!(nonce.is_some(), "{path} has a CSP with a nonce");
        assert_inert(&html, nonce.as_deref(), path);
    }
    let (project, _) = page(&app, "/project/hostile-pkg/").await;
    assert!(
        project.contains("&lt;/title&gt;&lt;script&gt;"),
        "the summary is shown, as text"
    );
    assert!(project.contains("<h1>Hostile</h1>"), "the description is rendered");
    let (profile, _) = page(&app, "/user/eve/").await;
    assert!(profile.contains("&lt;b&gt;Eve&lt;/b&gt;"), "the display name is text");

    // Server functions answer JSON with the strings as they are.
    let suggest = app
        .client
        .post(app.url("/api/suggest"))
        .form(&[("q", "hostile")])
        .send()
        .await
        .expect("suggest");
    assert_eq!(suggest.status().as_u16(), 200);
    let suggestions: Value = suggest.json().await.expect("json");
    assert_eq!(suggestions[0]["summary"], SUMMARY);

    // The JSON API: exact strings, from the wheel's METADATA.
    for path in ["/pypi/hostile-pkg/json", "/pypi/hostile-pkg/1.0/json"] {
        let doc = app.get_json(path).await;
        assert_eq!(doc["info"]["summary"], SUMMARY, "{path}");
        assert_eq!(doc["info"]["author"], AUTHOR, "{path}");
        assert_eq!(doc["info"]["requires_python"], REQUIRES_PYTHON, "{path}");
        assert_eq!(doc["info"]["requires_dist"][0], REQUIRES_DIST, "{path}");
    }

    // The Simple API: every attribute escaped, nothing live.
    let response = app.get("/simple/hostile-pkg/").await;
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("default-src 'none'")
    );
    let simple = response.text().await.expect("html");
    assert_inert(&simple, None, "/simple/hostile-pkg/");
    assert!(simple.contains(r#"data-requires-python="&lt;4,&gt;=3.8""#), "{simple}");
    let json: Value = app
        .client
        .get(app.url("/simple/hostile-pkg/"))
        .header("accept", JSON_V1)
        .send()
        .await
        .expect("json")
        .json()
        .await
        .expect("json");
    assert_eq!(json["files"][0]["requires-python"], REQUIRES_PYTHON);
    let (_, index) = app.get_text("/simple/").await;
    assert_inert(&index, None, "/simple/");

    // Feeds: well-formed XML whose descriptions are HTML-escaped text.
    for path in [
        "/rss/updates.xml",
        "/rss/packages.xml",
        "/rss/project/hostile-pkg/releases.xml",
    ] {
        let (status, xml) = app.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{path}: {e}"));
        let description = doc
            .descendants()
            .find(|n| n.has_tag_name("item"))
            .and_then(|item| item.children().find(|n| n.has_tag_name("description")))
            .and_then(|d| d.text())
            .unwrap_or_else(|| panic!("{path}: an item with a description"));
        assert!(!description.contains('<'), "{path}: {description}");
        assert!(
            description.contains("&lt;/title&gt;&lt;script&gt;"),
            "{path}: {description}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_documents_keep_feeds_well_formed_and_attributes_closed() {
    let app = spawn_empty().await;
    let dir = tempfile::TempDir::new().expect("tempdir");
    let doc = serde_json::json!({
        "info": {
            "name": "ctrl-pkg",
            "version": "1.0",
            "summary": "bell \u{7} escape \u{1b}[31m nul \u{0} nonchar \u{FFFE} <b>bold</b>",
            "author_email": "a\u{1}b@example.org",
            "description": "Text with \u{0}.",
            "description_content_type": "text/x-rst",
        },
        "releases": {
            "1.0": [{
                "filename": "ctrl_pkg-1.0.tar.gz",
                "packagetype": "sdist",
                "python_version": "source",
                "size": 10,
                "upload_time": "2020-01-01T00:00:00",
                "url": "https://files.example/ctrl_pkg-1.0.tar.gz?x=\"><script>alert(1)</script>",
                "requires_python": ">=3\" autofocus onfocus=\"alert(2)",
                "yanked": true,
                "yanked_reason": "' onmouseover='alert(3)' \" onfocus=\"alert(4)",
                "digests": {"sha256": "a".repeat(64), "md5": "b".repeat(32)},
            }],
            "2.0": [{
                "filename": "ctrl_pkg-2.0.tar.gz",
                "packagetype": "sdist",
                "python_version": "source",
                "size": 10,
                "upload_time": "2020-01-02T00:00:00",
                "url": "https://files.example/ctrl_pkg-2.0.tar.gz",
                "digests": {"sha256": "c".repeat(64)},
            }]
        },
    });
    std::fs::write(dir.path().join("ctrl.json"), doc.to_string()).expect("write");
    let inputs = cheeseshop::server::import::collect_inputs(&[dir.path().to_owned()]).expect("inputs");
    let report = cheeseshop::server::import::import_files(&app.db, &inputs, false).await;
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    for path in [
        "/rss/updates.xml",
        "/rss/packages.xml",
        "/rss/project/ctrl-pkg/releases.xml",
    ] {
        let (status, xml) = app.get_text(path).await;
        assert_eq!(status, 200);
        let parsed = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{path} is not XML: {e}"));
        let text: String = parsed.descendants().filter_map(|n| n.text()).collect();
        assert!(!text.contains('\u{7}') && !text.contains('\u{FFFE}'), "{path}");
    }
    let (status, html) = app.get_text("/project/ctrl-pkg/").await;
    assert_eq!(status, 200);
    assert!(!html.contains('\u{0}'));

    // What an import brought in is escaped for its attribute in the Simple API.
    let (_, simple) = app.get_text("/simple/ctrl-pkg/").await;
    assert_inert(&simple, None, "/simple/ctrl-pkg/");
    assert!(
        simple.contains(r#"data-requires-python="&gt;=3&quot; autofocus onfocus=&quot;alert(2)""#),
        "{simple}"
    );
    assert!(
        simple.contains(r#"data-yanked="&#39; onmouseover=&#39;alert(3)&#39; &quot; onfocus=&quot;alert(4)""#),
        "{simple}"
    );
    assert!(
        simple.contains(r#"?x=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;#sha256="#),
        "{simple}"
    );
    assert_eq!(tags(&simple).iter().filter(|t| t.name == "a").count(), 2);
}

// ---- refused uploads ----

/// Counts rows that an upload writes.
async fn rows(app: &TestApp) -> (i64, i64, i64) {
    let stats = cheeseshop::server::db::catalog::stats(&app.db).await.expect("stats");
    (stats.projects, stats.releases, stats.files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_uploads_are_refused_with_a_message_and_nothing_written() {
    let app = spawn_empty().await;
    let (_, token) = user_with_token(&app, "mallory", None).await;
    let good = Package::new("victim-pkg", "1.0");
    let (wheel_name, wheel) = good.wheel();
    let many_classifiers = "Programming Language :: Python :: 3\n".repeat(150_000);

    // (what, form, expected status, expected message part)
    let mut cases: Vec<(&str, reqwest::multipart::Form, u16, &str)> = Vec::new();
    let form = |overrides: &[(&str, &str)]| good.form("bdist_wheel", &wheel_name, &wheel, overrides);
    let long_description = "x".repeat(1024 * 1024 + 1);
    // A marker whose normal form doubles with every comparison.
    let costly_marker = format!(
        "pkg; {}",
        (0..20)
            .map(|i| format!("(extra == 'a{i}' and extra == 'b{i}')"))
            .collect::<Vec<_>>()
            .join(" or ")
    );
    for (what, field, value, message) in [
        (
            "requires_python that breaks out of its attribute",
            "requires_python",
            r#">=3" autofocus onfocus="alert(1)"#,
            "requires_python",
        ),
        (
            "requires_python that is no specifier",
            "requires_python",
            "any",
            "PEP 440",
        ),
        (
            "unknown classifier",
            "classifiers",
            "Cheese :: Brie",
            "not a valid classifier",
        ),
        (
            "deprecated classifier",
            "classifiers",
            "Framework :: Django CMS :: 4.2",
            "deprecated",
        ),
        ("local version", "version", "1.0+evil", "local versions"),
        ("metadata version", "metadata_version", "9.9", "metadata version"),
        ("two-line summary", "summary", "one\ntwo", "'summary'"),
        ("control characters", "author", "a\u{1b}[2Jb", "'author'"),
        (
            "direct URL dependency",
            "requires_dist",
            "x @ https://evil.example/x.whl",
            "direct",
        ),
        (
            "HTML description type",
            "description_content_type",
            "text/html",
            "content_type",
        ),
        (
            "a marker too costly to normalize",
            "requires_dist",
            costly_marker.as_str(),
            "comparisons",
        ),
        (
            "a description over the limit",
            "description",
            long_description.as_str(),
            "1 MiB",
        ),
    ] {
        cases.push((what, form(&[(field, value)]), 400, message));
    }
    let mut too_many = form(&[]);
    for _ in 0..6000 {
        too_many = too_many.text("classifiers", "Programming Language :: Python :: 3");
    }
    cases.push(("150,000 classifiers in the form", too_many, 400, "form fields"));

    // Filenames that are not distribution filenames.
    for bad in [
        "victim_pkg-1.0-py3-none-any .whl",
        "victim_pkg-1.0-py3-none-'any'.whl",
        "victim_pkg-1.0-py3-none-a&y.whl",
        "victim_pkg-1.0-py3-none-any\u{202E}lhw.whl",
        "victim_\u{212A}g-1.0-py3-none-any.whl",
        "Victim-Pkg-1.0-py3-none-any.whl",
    ] {
        cases.push((
            "a filename",
            good.form("bdist_wheel", bad, &wheel, &[]),
            400,
            "filename",
        ));
    }
    cases.push((
        "a second-spelling sdist",
        good.form("sdist", "victim-pkg-1.0.tar.gz", &good.sdist().1, &[]),
        400,
        "PEP 625",
    ));

    // METADATA that disagrees with the form, or says nothing.
    let metadata_cases: Vec<(&str, String, &str)> = vec![
        (
            "METADATA of another project",
            Package::new("other-pkg", "1.0").metadata(),
            "names the project",
        ),
        (
            "METADATA of another version",
            Package::new("victim-pkg", "2.0").metadata(),
            "says version",
        ),
        ("empty METADATA", String::new(), "empty"),
        (
            "METADATA with a hostile Requires-Python",
            good.clone()
                .set("Requires-Python", r#">=3" onfocus="alert(1)"#)
                .metadata(),
            "METADATA: 'requires_python'",
        ),
        (
            "METADATA with 150,000 classifiers",
            format!("{}{}", good.metadata().split_once("\n\n").expect("headers").0, {
                let mut extra = String::from("\n");
                for line in many_classifiers.lines() {
                    extra.push_str("Classifier: ");
                    extra.push_str(line);
                    extra.push('\n');
                }
                extra
            }),
            "too large",
        ),
    ];
    let metadata_wheels: Vec<(String, Vec<u8>)> = metadata_cases
        .iter()
        .map(|(_, m, _)| good.wheel_with_metadata(m))
        .collect();
    for ((what, _, message), (name, bytes)) in metadata_cases.iter().zip(&metadata_wheels) {
        cases.push((what, good.form("bdist_wheel", name, bytes, &[]), 400, message));
    }
    let mut no_pkg_info = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let mut header = tar::Header::new_gnu();
    header.set_size(1);
    header.set_cksum();
    no_pkg_info
        .append_data(&mut header, "victim_pkg-1.0/setup.py", &b"x"[..])
        .expect("tar");
    let no_pkg_info = no_pkg_info.into_inner().expect("tar").finish().expect("gz");
    cases.push((
        "an sdist without PKG-INFO",
        good.form("sdist", "victim_pkg-1.0.tar.gz", &no_pkg_info, &[]),
        400,
        "PKG-INFO",
    ));

    for (what, form, status, message) in cases {
        let (got, body) = app.upload(Some(&token), form).await;
        assert_eq!(got, status, "{what}: {body}");
        assert!(body.contains(message), "{what}: {body:?} should mention {message:?}");
        assert_eq!(rows(&app).await, (0, 0, 0), "{what}: nothing written");
    }
    // A single-valued field given twice.
    let form = good
        .form("bdist_wheel", &wheel_name, &wheel, &[])
        .text("name", "other-pkg");
    let (status, body) = app.upload(Some(&token), form).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("'name' may be given only once"), "{body}");
    // A form field that is not UTF-8.
    let form = good
        .form("bdist_wheel", &wheel_name, &wheel, &[])
        .part("summary", reqwest::multipart::Part::bytes(b"caf\xe9".to_vec()));
    let (status, body) = app.upload(Some(&token), form).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("UTF-8"), "{body}");

    assert_eq!(rows(&app).await, (0, 0, 0));
    let stored: Vec<_> = app
        .stored_files()
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains(".staging"))
        .collect();
    assert!(stored.is_empty(), "nothing stored: {stored:?}");
    assert!(
        app.stored_files().is_empty(),
        "no staging files left: {:?}",
        app.stored_files()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_is_what_the_index_serves() {
    let app = spawn_empty().await;
    let (_, token) = user_with_token(&app, "ada", None).await;
    let package = Package::new("honest-pkg", "1.0")
        .set("Requires-Python", ">=3.9")
        .add("Requires-Dist", "brie>=1");
    let (filename, wheel) = package.wheel();
    // The form claims other dependencies and Python versions than the wheel.
    let form = package.form(
        "bdist_wheel",
        &filename,
        &wheel,
        &[("requires_dist", "camembert"), ("requires_python", ">=2.7")],
    );
    let (status, body) = app.upload(Some(&token), form).await;
    assert_eq!(status, 200, "{body}");
    let doc = app.get_json("/pypi/honest-pkg/json").await;
    assert_eq!(doc["info"]["requires_dist"], serde_json::json!(["brie>=1"]));
    assert_eq!(doc["info"]["requires_python"], ">=3.9");
    assert_eq!(doc["urls"][0]["requires_python"], ">=3.9");
    let (_, simple) = app.get_text("/simple/honest-pkg/").await;
    assert!(simple.contains(r#"data-requires-python="&gt;=3.9""#), "{simple}");

    // One sdist per release, as on PyPI.
    let (sdist_name, sdist) = package.sdist();
    assert_eq!(
        app.upload(Some(&token), package.form("sdist", &sdist_name, &sdist, &[]))
            .await
            .0,
        200
    );
    let same_version = Package::new("honest-pkg", "1.0.0");
    let (other_name, other) = same_version.sdist();
    let (status, body) = app
        .upload(Some(&token), same_version.form("sdist", &other_name, &other, &[]))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Only one sdist"), "{body}");
}

// ---- inputs that crashed or stalled the server ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_survives_every_crash_input() {
    let app = spawn_empty().await;
    let (_, token) = user_with_token(&app, "crasher", None).await;
    let staircase: String = (0..2000).map(|i| format!("{}x\n\n", " ".repeat(i % 400))).collect();
    let ideographic = "    a\n\u{3000}\u{3000}\n    b\n".repeat(1000);
    let inputs: Vec<(&str, String, &str)> = vec![
        ("rst nested bullets", "* ".repeat(3000) + "x", "text/x-rst"),
        ("rst nested enumerations", "1. ".repeat(3000) + "x", "text/x-rst"),
        ("rst ideographic space", ideographic, "text/x-rst"),
        ("rst inline marks", "`a ".repeat(40_000), "text/x-rst"),
        ("rst staircase", staircase, "text/x-rst"),
        ("markdown list markers", "* ".repeat(50_000), "text/markdown"),
        ("markdown ordered markers", "1. ".repeat(30_000) + "x", "text/markdown"),
        ("markdown quotes", "> ".repeat(50_000) + "x", "text/markdown"),
        ("markdown divs", "<div>".repeat(20_000), "text/markdown"),
        (
            "a description of the largest size",
            "word ".repeat(200_000),
            "text/plain",
        ),
    ];
    for (i, (what, text, content_type)) in inputs.into_iter().enumerate() {
        let package = Package::new(&format!("crash-{i}"), "1.0").describe(&text, content_type);
        let (filename, wheel) = package.wheel();
        let (status, body) = app
            .upload(Some(&token), package.form("bdist_wheel", &filename, &wheel, &[]))
            .await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(
            app.get("/").await.status().as_u16(),
            200,
            "{what}: the server still answers"
        );
        let response = app.get(&format!("/project/crash-{i}/")).await;
        assert_eq!(response.status().as_u16(), 200, "{what}: its page");
        let html = response.text().await.expect("page");
        assert!(html.contains("</html>"), "{what}: the whole page");
    }
    // A description over the limit is refused, and nothing else breaks.
    let huge = Package::new("too-big", "1.0").describe(&"x".repeat(12 * 1024 * 1024), "text/plain");
    let (filename, wheel) = huge.wheel();
    let (status, body) = app
        .upload(Some(&token), huge.form("bdist_wheel", &filename, &wheel, &[]))
        .await;
    assert_eq!(status, 400, "{body}");
    for path in ["/", "/classifiers/", "/rss/updates.xml", "/simple/"] {
        assert_eq!(app.get(path).await.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_importer_survives_every_crash_input() {
    let app = spawn_empty().await;
    let dir = tempfile::TempDir::new().expect("tempdir");
    for (i, (text, content_type)) in [
        ("* ".repeat(3000) + "x", "text/x-rst"),
        ("    a\n\u{3000}\u{3000}\n    b\n".to_owned(), "text/x-rst"),
        ("> ".repeat(50_000), "text/markdown"),
    ]
    .into_iter()
    .enumerate()
    {
        let doc = serde_json::json!({
            "info": {"name": format!("imported-{i}"), "version": "1.0", "summary": "s",
                     "description": text, "description_content_type": content_type},
            "releases": {"1.0": []},
        });
        std::fs::write(dir.path().join(format!("{i}.json")), doc.to_string()).expect("write");
    }
    let inputs = cheeseshop::server::import::collect_inputs(&[dir.path().to_owned()]).expect("inputs");
    let report = cheeseshop::server::import::import_files(&app.db, &inputs, false).await;
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.projects, 3);
    for i in 0..3 {
        assert_eq!(app.get(&format!("/project/imported-{i}/")).await.status().as_u16(), 200);
    }
}
