use crate::helpers::{spawn_empty, spawn_with_dataset};

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The value shown for a home page statistic.
fn stat<'a>(body: &'a str, label: &str) -> &'a str {
    let at = body
        .find(&format!(r#"data-test-stat="{label}""#))
        .expect("stat present");
    let rest = &body[at..];
    let start = rest.find(r#"class="stat-value">"#).expect("value") + r#"class="stat-value">"#.len();
    let len = rest[start..].find('<').expect("end");
    &rest[start..start + len]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_shows_counts_with_thousands_separators_and_new_releases() {
    let app = spawn_with_dataset().await;
    let (status, body) = app.get_text("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Find, install and publish Python packages"));
    for (label, value) in [
        ("projects", "96"),
        ("releases", "5,547"),
        ("files", "19,160"),
        ("users", "0"),
    ] {
        assert_eq!(stat(&body, label), value, "{label}");
    }
    assert_eq!(count(&body, "data-test-new-release="), 10, "ten new releases");
    assert!(body.contains(r#"action="/search""#), "search box submits to /search");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_index_home_still_works() {
    let app = spawn_empty().await;
    let (status, body) = app.get_text("/").await;
    assert_eq!(status, 200);
    assert_eq!(stat(&body, "projects"), "0");
    assert!(body.contains("Nothing here yet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flask_project_page_has_its_details_and_history() {
    let app = spawn_with_dataset().await;
    let (status, body) = app.get_text("/project/flask/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<title>Flask 1.0.2 · cheeseshop</title>"), "title");
    assert!(body.contains("pip install Flask"));
    assert!(body.contains("Latest version"));
    assert!(body.contains("A simple framework for building complex web applications."));
    assert!(
        body.contains("https://www.palletsprojects.com/p/flask/"),
        "home page link"
    );
    assert!(body.contains("Armin Ronacher"), "author");
    assert!(body.contains("Framework :: Flask"), "classifiers");
    assert!(body.contains(r#"<link href="/project/flask/" rel="canonical">"#));
    assert_eq!(count(&body, "data-test-version="), 28, "flask has 28 releases");
    // Newest first, in PEP 440 order.
    let first = body.find(r#"data-test-version="1.0.2""#).expect("1.0.2");
    let rc = body.find(r#"data-test-version="1.0""#).expect("1.0");
    let old = body.find(r#"data-test-version="0.1""#).expect("0.1");
    assert!(first < rc && rc < old, "newest first");
    assert!(body.contains("May 2, 2018"), "release date of 1.0.2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_versions_are_kept_and_listed_last() {
    let app = spawn_with_dataset().await;
    let (status, body) = app.get_text("/project/pytz/").await;
    assert_eq!(status, 200);
    let legacy = body
        .find(r#"data-test-version="2004d""#)
        .expect("legacy version 2004d is listed");
    let modern = body.find(r#"data-test-version="2018.4""#).expect("2018.4");
    assert!(modern < legacy, "legacy versions come after every valid version");
    assert!(body.contains("legacy"), "legacy badge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_spellings_redirect_permanently_to_the_canonical_url() {
    let app = spawn_with_dataset().await;
    app.assert_redirects(&[
        ("/project/Flask", "/project/flask/"),
        ("/project/flask", "/project/flask/"),
        ("/project/Flask/", "/project/flask/"),
        ("/project/Zope.Interface", "/project/zope-interface/"),
        ("/project/zope.interface/", "/project/zope-interface/"),
        ("/project/Flask/?x=1", "/project/flask/?x=1"),
        ("/project/Python_Dateutil", "/project/python-dateutil/"),
    ])
    .await;
    let (status, body) = app.get_text("/project/python-dateutil/").await;
    assert_eq!(status, 200);
    assert!(body.contains("python-dateutil"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_project_and_unknown_page_are_real_404s() {
    let app = spawn_with_dataset().await;
    let (status, body) = app.get_text("/project/no-such-project/").await;
    assert_eq!(status, 404);
    assert!(body.contains("couldn"), "a human message: {body}");
    assert!(body.contains(r#"data-test-error="404""#));
    let (status, body) = app.get_text("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(body.contains("Not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_project_names_get_404_never_500() {
    let app = spawn_with_dataset().await;
    let long = "a".repeat(5000);
    for path in [
        format!("/project/{long}/"),
        "/project/%00/".to_owned(),
        "/project/%27%20OR%201=1--/".to_owned(),
        "/project/%3Cscript%3E/".to_owned(),
        "/project/..%2F..%2Fetc%2Fpasswd/".to_owned(),
        "/project/%F0%9F%A7%80/".to_owned(),
    ] {
        let (status, body) = app.get_text(&path).await;
        assert!(status == 404 || status == 400, "{path}: {status}");
        assert!(!body.contains("<script>"), "{path}: input is escaped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn about_and_placeholder_pages_render() {
    let app = spawn_empty().await;
    for (path, text) in [
        ("/about", "About cheeseshop"),
        ("/search?q=flask", "Search results for"),
        ("/account/login", "Log in"),
        ("/account/register", "Register"),
    ] {
        let (status, body) = app.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains(text), "{path} contains {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_functions_answer_json_with_the_right_status() {
    let app = spawn_with_dataset().await;
    let response = app.client.post(app.url("/api/home")).send().await.expect("home");
    assert_eq!(response.status().as_u16(), 200);
    let home: serde_json::Value = response.json().await.expect("json");
    assert_eq!(home["stats"]["projects"], 96);
    assert_eq!(home["new_releases"].as_array().map(Vec::len), Some(10));
    // Newest upload first, each with its latest version and summary.
    let released: Vec<&str> = home["new_releases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["released_at"].as_str())
        .collect();
    assert_eq!(released.len(), 10);
    assert!(released.windows(2).all(|w| w[0] >= w[1]), "{released:?}");
    assert!(
        home["new_releases"][0]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );

    let response = app
        .client
        .post(app.url("/api/project"))
        .form(&[("name", "Flask")])
        .send()
        .await
        .expect("project");
    assert_eq!(response.status().as_u16(), 200);
    let project: serde_json::Value = response.json().await.expect("json");
    assert_eq!(project["latest_version"], "1.0.2");
    assert_eq!(project["versions"].as_array().map(Vec::len), Some(28));

    let response = app
        .client
        .post(app.url("/api/project"))
        .form(&[("name", "nope")])
        .send()
        .await
        .expect("missing");
    assert_eq!(response.status().as_u16(), 404);
    let response = app
        .client
        .post(app.url("/api/project"))
        .body("garbage")
        .send()
        .await
        .expect("garbage");
    assert!(
        response.status().is_client_error(),
        "bad arguments are a 4xx: {}",
        response.status()
    );
}

/// The nonce a Content-Security-Policy allows scripts with.
fn csp_nonce(csp: &str) -> &str {
    let start = csp.find("'nonce-").expect("a nonce source") + "'nonce-".len();
    csp[start..].split('\'').next().expect("nonce")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers_and_a_csp_naming_their_scripts_nonce() {
    let app = spawn_with_dataset().await;
    for path in [
        "/",
        "/project/flask/",
        "/search?q=flask",
        "/account/login",
        "/no-such-page",
    ] {
        // Twice: the second answer of a cacheable page comes from the cache.
        for round in 0..2 {
            let response = app.get(path).await;
            let headers = response.headers().clone();
            let what = format!("{path} (round {round}, x-cache {:?})", headers.get("x-cache"));
            assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
            assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin", "{what}");
            let csp = headers["content-security-policy"].to_str().expect("ascii").to_owned();
            for directive in [
                "default-src 'self'",
                "'wasm-unsafe-eval'",
                "object-src 'none'",
                "base-uri 'none'",
                "frame-ancestors 'none'",
            ] {
                assert!(csp.contains(directive), "{what}: {csp}");
            }
            assert!(
                !csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"),
                "{what}: {csp}"
            );
            let nonce = csp_nonce(&csp).to_owned();
            assert!(nonce.len() >= 16, "{what}: a real nonce");
            let body = response.text().await.expect("body");
            let scripts = count(&body, "<script");
            assert!(scripts >= 1, "{what}: the hydration script");
            assert_eq!(
                count(&body, &format!(r#"nonce="{nonce}""#)),
                scripts,
                "{what}: every script carries the nonce of the CSP sent with it"
            );
        }
    }
    // The cached copy is sent with the policy of the render it copies.
    let first = app.get("/about").await;
    let second = app.get("/about").await;
    assert_eq!(second.headers()["x-cache"], "hit");
    assert_eq!(
        first.headers()["content-security-policy"],
        second.headers()["content-security-policy"]
    );
    // Non-page HTML (the Simple API) may run nothing at all.
    let simple = app.get("/simple/flask/").await;
    let csp = simple.headers()["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(simple.headers()["x-frame-options"], "DENY");
}

/// Pages are server-rendered and load no hydration state; they name the
/// links worth fetching ahead (speculation rules): pages only, never
/// package files, APIs, feeds or the account pages.
#[tokio::test]
async fn pages_carry_no_hydration_state_and_prefetch_only_pages() {
    let app = spawn_with_dataset().await;
    let body = app.get("/project/flask/").await.text().await.expect("body");
    assert!(!body.contains("__RESOLVED_RESOURCES=[{"), "no serialized resources");
    assert!(
        body.contains("<leptos-island"),
        "the copy buttons and the search box are islands"
    );

    let open = r#"<script type="speculationrules""#;
    let start = body.find(open).expect("speculation rules");
    let json_start = start + body[start..].find('>').expect("tag end") + 1;
    let json_end = json_start + body[json_start..].find("</script>").expect("script end");
    let rules: serde_json::Value = serde_json::from_str(&body[json_start..json_end]).expect("valid JSON");
    let patterns: Vec<String> = rules["prefetch"][0]["where"]["or"]
        .as_array()
        .expect("a list of patterns")
        .iter()
        .map(|p| p["href_matches"]["pathname"].as_str().expect("a pathname").to_owned())
        .collect();
    assert!(patterns.iter().any(|p| p == "/project/*"), "{patterns:?}");
    for p in &patterns {
        for never in ["/files", "/api", "/simple", "/pypi", "/rss", "/account"] {
            assert!(!p.starts_with(never), "{p} must not be fetched ahead");
        }
    }
}

/// The site's files are served by `ServeDir` itself: a browser revalidating
/// one gets a 304 with its caching rules, a range gets a 206, `HEAD` works,
/// and only what is not a file gets the app's 404 page (never a directory
/// redirect, never a file outside the site root).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_files_answer_conditional_range_and_head_requests() {
    let app = spawn_empty().await;
    let on_disk = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/public/robots.txt")).expect("robots.txt");
    let (status, headers, body) = app.get_with("/robots.txt", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "public, max-age=3600");
    let modified = headers["last-modified"].to_str().expect("a date");
    assert_eq!(body, on_disk);

    let (status, headers, body) = app.get_with("/robots.txt", &[("if-modified-since", modified)]).await;
    assert_eq!(status, 304, "revalidated, not sent again");
    assert_eq!(headers["cache-control"], "public, max-age=3600");
    assert!(body.is_empty());

    let (status, _, body) = app.get_with("/robots.txt", &[("range", "bytes=0-4")]).await;
    assert_eq!(status, 206);
    assert_eq!(body, &on_disk[..5]);

    let response = app.client.head(app.url("/favicon.svg")).send().await.expect("head");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");

    for path in [
        "/no-such-file.txt",
        "/pkg/cheeseshop.missing.js",
        "/..%2FCargo.toml",
        "/%2e%2e/Cargo.toml",
    ] {
        let (status, body) = app.get_text(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(body.contains(r#"data-test-error="404""#), "{path}: the app's 404 page");
        assert!(!body.contains("[package]"), "{path}: nothing outside the site root");
    }
}

/// Past the request deadline a page is a 503 from the index and a server
/// function its JSON error; uploads and the list of every project (which
/// take as long as they need) are never cut short. Every database round
/// trip waits 100 ms (the bench's injected latency), the deadline is 20 ms:
/// whatever reads the database is past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_request_deadline_pages_are_503s_but_uploads_and_the_simple_index_finish() {
    use crate::helpers::{Package, spawn_empty, user_with_token};
    use cheeseshop::server::db::{Db, DbOptions};
    use std::time::Duration;

    let base = spawn_empty().await;
    let (_, token) = user_with_token(&base, "patient", None).await;
    let slow = Db::open(
        &base.db_url,
        &DbOptions {
            max_connections: 4,
            bench_latency: Some(Duration::from_millis(100)),
        },
    )
    .await
    .expect("open");
    let app = base
        .spawn_beside_with(move |s| {
            s.db = slow;
            s.request_deadline = Some(Duration::from_millis(20));
        })
        .await;
    let package = Package::new("slow-pkg", "1.0");
    let (name, wheel) = package.wheel();
    let (status, body) = app
        .upload(Some(&token), package.form("bdist_wheel", &name, &wheel, &[]))
        .await;
    assert_eq!(status, 200, "an upload has no deadline: {body}");
    let (status, body) = app.get_text("/simple/").await;
    assert_eq!(status, 200, "the list of every project has no deadline");
    assert!(body.contains("slow-pkg"));

    let response = app.get("/project/slow-pkg/").await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.text().await.expect("body").contains("briefly unavailable"));
    let response = app.client.post(app.url("/api/home")).send().await.expect("home");
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["content-type"], "application/json");
    let error: cheeseshop::error::AppError = response.json().await.expect("a server function's JSON error");
    assert_eq!(error, cheeseshop::error::AppError::Unavailable);
}
