//! The full project page, per-version pages and RSS feeds, on the real dataset.

use std::str::FromStr;

use crate::helpers::{attr_values, dataset_dir, spawn_with_dataset};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flask_history_lists_every_version_in_pep_440_order() {
    let app = spawn_with_dataset().await;
    let (status, body) = app.get_text("/project/flask/").await;
    assert_eq!(status, 200);
    let listed: Vec<String> = attr_values(&body, "data-test-version")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dataset_dir().join("flask.json")).expect("flask.json")).expect("json");
    let mut expected: Vec<String> = doc["releases"].as_object().expect("releases").keys().cloned().collect();
    expected.sort_by_key(|v| std::cmp::Reverse(pep440_rs::Version::from_str(v).expect("valid")));
    assert_eq!(listed.len(), 28);
    assert_eq!(
        listed, expected,
        "newest first, by PEP 440 (0.10 after 0.9, not after 0.1)"
    );
    // Each version links to its own page.
    assert!(body.contains(r#"href="/project/flask/0.12.4/""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptions_are_rendered_and_safe() {
    let app = spawn_with_dataset().await;
    let (_, body) = app.get_text("/project/flask/").await;
    // Flask's README is reStructuredText: a title, and its named link targets.
    assert!(body.contains("<h1>Flask</h1>"), "rst heading rendered");
    assert!(
        body.contains(r#"<a href="https://www.palletsprojects.com/p/werkzeug/" rel="nofollow noopener">Werkzeug</a>"#)
    );
    assert!(
        body.contains(r#"<pre tabindex="0"><code class="language-text">pip install -U Flask"#),
        "code-block directive"
    );
    assert!(!body.contains(".. _WSGI:"), "targets are not shown raw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_show_their_real_digests() {
    let app = spawn_with_dataset().await;
    let (_, body) = app.get_text("/project/flask/").await;
    assert!(body.contains(r#"data-test-file="Flask-1.0.2-py2.py3-none-any.whl""#));
    assert!(
        body.contains("a080b744b7e345ccfcbc77954861cb05b3c63786e93f2b3875e0913d44b43f05"),
        "sha256"
    );
    assert!(body.contains("d1d5c106d04d90bba6121d0df5bfee76"), "md5");
    assert!(body.contains("89.2 kB"), "human size of the 91,364-byte wheel");
    assert!(body.contains("Built Distribution") && body.contains("Source"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_version_page_points_to_the_newer_one() {
    let app = spawn_with_dataset().await;
    let (status, body) = app.get_text("/project/flask/0.12/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<title>Flask 0.12 · cheeseshop</title>"));
    assert!(body.contains("data-test-newer-version") && body.contains("Newer version available (1.0.2)"));
    assert!(body.contains("pip install Flask==0.12"));
    assert!(body.contains(r#"<link href="/project/flask/0.12/" rel="canonical">"#));
    assert!(
        body.contains(r#"data-test-file="Flask-0.12-py2.py3-none-any.whl""#),
        "that version's files"
    );
    // The latest version's page has no such notice.
    let (_, latest) = app.get_text("/project/flask/1.0.2/").await;
    assert!(latest.contains("data-test-latest") && !latest.contains("data-test-newer-version"));
    // Other spellings redirect; unknown versions are a 404.
    let response = app.get("/project/Flask/0.12").await;
    assert_eq!(response.status().as_u16(), 301);
    assert_eq!(response.headers()["location"], "/project/flask/0.12/");
    assert_eq!(app.get_text("/project/flask/9.9.9/").await.0, 404);
    assert_eq!(app.get_text("/project/flask/%3Cscript%3E/").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_version_pages_work() {
    let app = spawn_with_dataset().await;
    let (status, body) = app.get_text("/project/pytz/2004d/").await;
    assert_eq!(status, 200);
    assert!(body.contains("pip install pytz==2004d"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_chart_is_server_rendered_svg() {
    let app = spawn_with_dataset().await;
    let (_, body) = app.get_text("/project/flask/").await;
    assert!(body.contains("data-test-timeline"));
    assert!(body.contains("<svg") && body.contains("28 releases of Flask"));
    assert_eq!(body.matches(r#"class="dot dot-"#).count(), 28, "one dot per release");
    assert!(
        body.contains(">2011<") && body.contains(">2018<"),
        "year ticks (first release: April 2010)"
    );
}

async fn feed(app: &crate::helpers::TestApp, path: &str) -> (String, Vec<(String, String)>) {
    let response = app.get(path).await;
    assert_eq!(response.status().as_u16(), 200, "{path}");
    let content_type = response.headers()["content-type"].to_str().expect("type").to_owned();
    assert!(content_type.starts_with("application/rss+xml"), "{content_type}");
    let text = response.text().await.expect("body");
    let xml = roxmltree::Document::parse(&text).expect("well-formed XML");
    let rss = xml.root_element();
    assert_eq!(rss.tag_name().name(), "rss");
    assert_eq!(rss.attribute("version"), Some("2.0"));
    let items = rss
        .descendants()
        .filter(|n| n.has_tag_name("item"))
        .map(|item| {
            let child = |name: &str| {
                item.children()
                    .find(|c| c.has_tag_name(name))
                    .and_then(|c| c.text())
                    .unwrap_or("")
                    .to_owned()
            };
            (child("title"), child("link"))
        })
        .collect();
    (text, items)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rss_feeds_are_valid_and_complete() {
    let app = spawn_with_dataset().await;
    let (_, updates) = feed(&app, "/rss/updates.xml").await;
    assert_eq!(updates.len(), 100);
    let (_, packages) = feed(&app, "/rss/packages.xml").await;
    assert_eq!(packages.len(), 40);
    let (text, flask) = feed(&app, "/rss/project/Flask/releases.xml").await;
    assert_eq!(flask.len(), 28, "all 28 flask releases (fewer than 40)");
    assert_eq!(flask[0].0, "Flask 1.0.2", "newest first");
    assert_eq!(flask[0].1, format!("http://{}/project/flask/1.0.2/", app.addr));
    assert!(text.contains("<pubDate>"));
    assert_eq!(app.get("/rss/project/nope/releases.xml").await.status().as_u16(), 404);

    let (_, page) = app.get_text("/project/flask/").await;
    assert!(page.contains(r#"href="/rss/project/flask/releases.xml""#) && page.contains("application/rss+xml"));
    let (_, home) = app.get_text("/").await;
    assert!(home.contains(r#"href="/rss/updates.xml""#) && home.contains(r#"href="/rss/packages.xml""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lists_paginate() {
    use cheeseshop::domain::ReleaseVersion;
    use cheeseshop::model::{HISTORY_PAGE, PROFILE_PAGE};
    use cheeseshop::server::db::write::NewRelease;

    let app = crate::helpers::spawn_empty().await;
    let (user_id, _) = crate::helpers::user_with_token(&app, "prolific", None).await;
    let mut tx = app.db.begin_write().await.expect("tx");
    // One project with more releases than ten history pages hold...
    let (big, _) = tx
        .ensure_project("big-history", "big-history", 1)
        .await
        .expect("project");
    tx.add_role(user_id, big, "Owner").await.expect("role");
    let releases = 10 * HISTORY_PAGE + 1;
    for i in 0..releases {
        let version = format!("0.{i}");
        let parsed = ReleaseVersion::parse(&version);
        tx.ensure_release(
            big,
            &NewRelease {
                version: &version,
                sort_key: &parsed.sort_key(0),
                is_prerelease: false,
                is_legacy: false,
                created: Some(1_600_000_000_000_000 + i as i64),
                yanked: false,
                yanked_reason: None,
            },
        )
        .await
        .expect("release");
    }
    tx.refresh_project(big).await.expect("refresh");
    // ...and more projects than a profile page holds.
    for i in 0..PROFILE_PAGE {
        let name = format!("small-{i:03}");
        let (id, _) = tx.ensure_project(&name, &name, 1).await.expect("project");
        tx.add_role(user_id, id, "Owner").await.expect("role");
    }
    tx.commit().await.expect("commit");

    let (status, first) = app.get_text("/project/big-history/").await;
    assert_eq!(status, 200);
    assert_eq!(attr_values(&first, "data-test-version").len(), HISTORY_PAGE);
    assert!(
        first.contains(&format!("Release history <span class=\"count\">({releases})")),
        "the total"
    );
    assert!(
        first.contains(r#"href="/project/big-history/?history=2#history""#),
        "a link to the older releases"
    );
    let (status, last) = app.get_text("/project/big-history/?history=11").await;
    assert_eq!(status, 200);
    assert_eq!(
        attr_values(&last, "data-test-version"),
        vec!["0.0"],
        "the oldest, on the last page"
    );
    assert_eq!(app.get("/project/big-history/?history=12").await.status().as_u16(), 404);
    // The page links: the first, the last, three either side of this one,
    // and the newer and older pages (as many for any number of releases).
    let (_, middle) = app.get_text("/project/big-history/?history=6").await;
    let linked: Vec<usize> = (1..=11)
        .filter(|p| middle.contains(&format!(r#"href="/project/big-history/?history={p}#history""#)))
        .collect();
    assert_eq!(linked, [1, 3, 4, 5, 6, 7, 8, 9, 11]);
    assert!(middle.contains(r#"<a href="/project/big-history/?history=5#history" rel="prev">Newer</a>"#));
    assert!(middle.contains(r#"<a href="/project/big-history/?history=7#history" rel="next">Older</a>"#));

    let (status, profile) = app.get_text("/user/prolific/").await;
    assert_eq!(status, 200);
    assert_eq!(profile.matches(r#"<a href="/project/"#).count(), PROFILE_PAGE);
    assert!(profile.contains(r#"href="/user/prolific/?page=2""#));
    let (status, page2) = app.get_text("/user/prolific/?page=2").await;
    assert_eq!(status, 200);
    assert_eq!(page2.matches(r#"<a href="/project/"#).count(), 1);
    assert_eq!(app.get("/user/prolific/?page=3").await.status().as_u16(), 404);
}
