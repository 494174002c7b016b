//! Search over the shared dataset, through the real pages and server functions.

use crate::helpers::{Package, TestApp, attr_values, execute_sql, spawn_empty, spawn_with_dataset, user_with_token};

async fn search(app: &TestApp, query: &str) -> (u16, Vec<String>, i64) {
    let (status, body) = app.get_text(&format!("/search?{query}")).await;
    let hits = attr_values(&body, "data-test-hit")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let total = attr_values(&body, "data-test-total")
        .first()
        .and_then(|t| t.parse().ok())
        .unwrap_or(-1);
    (status, hits, total)
}

async fn api(app: &TestApp, form: &[(&str, &str)]) -> serde_json::Value {
    let response = app
        .client
        .post(app.url("/api/search"))
        .form(form)
        .send()
        .await
        .expect("search");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_names_rank_first_whatever_the_spelling() {
    let app = spawn_with_dataset().await;
    for q in ["flask", "Flask", "FLASK", "flask+", "+flask"] {
        let (status, hits, _) = search(&app, &format!("q={q}")).await;
        assert_eq!(status, 200);
        assert_eq!(hits.first().map(String::as_str), Some("flask"), "q={q}: {hits:?}");
    }
    let (_, hits, _) = search(&app, "q=requests").await;
    assert_eq!(hits.first().map(String::as_str), Some("requests"), "{hits:?}");
    let (_, hits, _) = search(&app, "q=Python_Dateutil").await;
    assert_eq!(hits.first().map(String::as_str), Some("python-dateutil"), "{hits:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_word_queries_work() {
    let app = spawn_with_dataset().await;
    let (_, hits, total) = search(&app, "q=aws+cli").await;
    assert!(hits.iter().any(|h| h == "awscli"), "{hits:?}");
    assert!(total >= 1);
    let (_, hits, _) = search(&app, "q=http+library").await;
    let top: Vec<&str> = hits.iter().take(3).map(String::as_str).collect();
    assert!(
        top.contains(&"urllib3") && top.contains(&"httplib2"),
        "summaries that say 'HTTP library' first: {hits:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classifier_filters_narrow_and_prefixes_match_children() {
    let app = spawn_with_dataset().await;
    let (_, _, all) = search(&app, "").await;
    assert_eq!(all, 96, "empty query browses every project");
    let (_, flask_fw, flask_total) = search(&app, "c=Framework+%3A%3A+Flask").await;
    assert!(flask_total >= 1 && flask_total < all, "{flask_total}");
    assert!(flask_fw.contains(&"flask".to_owned()));
    let (_, _, frameworks) = search(&app, "c=Framework").await;
    assert!(
        frameworks >= flask_total,
        "a prefix matches its children: {frameworks} >= {flask_total}"
    );
    let (_, _, py3) = search(&app, "c=Programming+Language+%3A%3A+Python+%3A%3A+3").await;
    let (_, both_hits, both) = search(
        &app,
        "c=Programming+Language+%3A%3A+Python+%3A%3A+3&c=Framework+%3A%3A+Flask",
    )
    .await;
    assert!(both <= py3 && both <= flask_total, "every filter must hold: {both}");
    assert_eq!(both_hits.len() as i64, both.min(20));
    let (_, hits, with_query) = search(&app, "q=flask&c=Framework+%3A%3A+Flask").await;
    assert!(with_query >= 1 && hits[0] == "flask");
    // Facets count the matching projects: with a query too.
    let (_, body) = app.get_text("/search?q=flask").await;
    assert!(body.contains("data-test-facet="), "facets shown");
    let results = api(&app, &[("q", "flask"), ("o", ""), ("page", "")]).await;
    let flask_facet = results["facets"]
        .as_array()
        .expect("facets")
        .iter()
        .find(|f| f[0] == "Framework :: Flask")
        .and_then(|f| f[1].as_i64())
        .expect("a Flask facet");
    assert_eq!(flask_facet, with_query, "the facet counts what its filter finds");
    // The classifier index links to filtered searches.
    let (status, body) = app.get_text("/classifiers/").await;
    assert_eq!(status, 200);
    assert!(body.contains(r#"href="/search?c=Framework+%3A%3A+Flask""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorting_by_date_orders_by_latest_release() {
    let app = spawn_with_dataset().await;
    let results = api(&app, &[("q", "python"), ("o", "-created"), ("page", "")]).await;
    let dates: Vec<&str> = results["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["released_at"].as_str())
        .collect();
    assert!(dates.len() >= 2);
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first: {dates:?}");
    let browse = api(&app, &[("q", ""), ("o", ""), ("page", "")]).await;
    let names: Vec<&str> = browse["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["normalized_name"].as_str())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "browse by name: {names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_is_consistent_and_out_of_range_is_handled() {
    let app = spawn_with_dataset().await;
    let (_, _, total) = search(&app, "").await;
    let mut seen = Vec::new();
    for page in 1..=5 {
        let (status, hits, t) = search(&app, &format!("page={page}")).await;
        assert_eq!(status, 200, "page {page}");
        assert_eq!(t, total);
        seen.extend(hits);
    }
    assert_eq!(seen.len() as i64, total, "96 projects over 5 pages");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no project on two pages");
    assert_eq!(app.get_text("/search?page=6").await.0, 404);
    assert_eq!(app.get_text("/search?page=0").await.0, 400);
    assert_eq!(app.get_text("/search?page=abc").await.0, 400);
    // The largest page number there is: past the end, not an overflow.
    for query in ["page=9223372036854775807", "q=http&page=9223372036854775807"] {
        assert_eq!(app.get_text(&format!("/search?{query}")).await.0, 404, "{query}");
    }
    let (_, body) = app.get_text("/search?page=2").await;
    assert!(body.contains(r#"data-test-page="prev""#) && body.contains(r#"data-test-page="next""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_queries_never_fail() {
    let app = spawn_with_dataset().await;
    let long = "x".repeat(10_000);
    let queries = [
        "%22",
        "*",
        "NEAR(",
        "NEAR(a+b)",
        "%27)+OR+1%3D1+--",
        "%22unbalanced",
        "a%3Ab",
        "-flask",
        "%5E",
        "(((",
        "%F0%9F%A7%80",
        "caf%C3%A9",
        "",
        "+++",
        "%00",
        "AND",
        "OR+NOT",
        "%7Bname%7D%3A+x",
    ];
    for q in queries {
        let (status, body) = app.get_text(&format!("/search?q={q}")).await;
        assert!(status == 200 || (400..500).contains(&status), "q={q}: {status}");
        assert!(!body.contains("<script>"), "q={q}");
    }
    let (status, body) = app.get_text(&format!("/search?q={long}")).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("data-test-truncated"),
        "long queries are cut, with a notice"
    );
    for c in ["%27%3B+DROP+TABLE+projects%3B--", "%25", "_"] {
        assert_eq!(app.get_text(&format!("/search?c={c}")).await.0, 200, "c={c}");
    }
    assert_eq!(app.get_text("/search?q=flask&o=%27%3B").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_come_from_a_server_function() {
    let app = spawn_with_dataset().await;
    let response = app
        .client
        .post(app.url("/api/suggest"))
        .form(&[("q", "flas")])
        .send()
        .await
        .expect("suggest");
    assert_eq!(response.status().as_u16(), 200);
    let list: serde_json::Value = response.json().await.expect("json");
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|s| s["normalized_name"].as_str())
        .collect();
    assert_eq!(names.first(), Some(&"flask"), "{names:?}");
    assert!(names.len() <= 8);
    let empty: serde_json::Value = app
        .client
        .post(app.url("/api/suggest"))
        .form(&[("q", "  ")])
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    assert_eq!(empty, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_wait_for_a_search_slot_like_searches() {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let held = slots.clone();
    let app = crate::helpers::spawn_empty_with(move |state| state.search_slots = held).await;
    // Every slot taken: a suggestion waits before doing any work...
    let waiting = {
        let (client, url) = (app.client.clone(), app.url("/api/suggest"));
        tokio::spawn(async move { client.post(url).form(&[("q", "flask")]).send().await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "answered without a search slot");
    // ...while other pages do not wait at all.
    assert_eq!(app.get("/about").await.status().as_u16(), 200);
    slots.add_permits(1);
    let response = waiting.await.expect("task").expect("suggest");
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broad_query_says_how_it_was_ranked_and_pages_end_with_the_window() {
    let app = crate::helpers::spawn_empty().await;
    crate::conformance::add_many(&app.db, "gizmo", 10_050).await;

    let (status, body) = app.get_text("/search?q=gizmo").await;
    assert_eq!(status, 200);
    assert!(body.contains("10,000+ projects · page 1 of 25"), "{body}");
    assert_eq!(attr_values(&body, "data-test-total"), ["10000"]);
    assert!(body.contains("data-test-windowed"));
    assert!(body.contains("Counted in the first 500 matches."));
    assert_eq!(attr_values(&body, "data-test-facet"), ["Topic :: Utilities"]);
    assert!(
        body.contains(r#"data-test-facet-count class="count">500</span>"#),
        "{body}"
    );
    assert_eq!(attr_values(&body, "data-test-hit").len(), 20);
    // The window's last page answers, the one after it is a clear 404.
    let (last, body) = app.get_text("/search?q=gizmo&page=25").await;
    assert_eq!(last, 200);
    assert_eq!(attr_values(&body, "data-test-hit").len(), 20);
    assert_eq!(app.get_text("/search?q=gizmo&page=26").await.0, 404);
    // By date, every match can be paged through to the cap.
    let (status, body) = app.get_text("/search?q=gizmo&o=-created&page=500").await;
    assert_eq!(status, 200);
    assert!(!body.contains("data-test-windowed"));
    // A query narrow enough is counted exactly and ranked whole.
    let (status, hits, total) = search(&app, "q=gizmo+00042").await;
    assert_eq!((status, total), (200, 1));
    assert_eq!(hits, ["gizmo-00042"]);
}

/// Search results are kept until the catalogue changes, on every instance:
/// a search asked again is answered from memory (shown by a change behind
/// the catalogue's back, which moves no generation), and the next write
/// anywhere makes every instance search again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_results_are_kept_until_the_catalogue_changes() {
    let first = spawn_empty().await;
    let second = first.spawn_beside().await;
    let uncached = first
        .spawn_beside_with(|shared| {
            shared.search_cache = std::sync::Arc::new(cheeseshop::server::search_cache::SearchCache::new(0));
        })
        .await;
    let (_, token) = user_with_token(&first, "ada", None).await;
    let upload = |name: &'static str| {
        let first = &first;
        let token = &token;
        async move {
            let package = Package::new(name, "1.0");
            let (filename, wheel) = package.wheel();
            let form = package.form("bdist_wheel", &filename, &wheel, &[]);
            assert_eq!(first.upload(Some(token), form).await.0, 200, "upload {name}");
        }
    };
    upload("kept-cheddar").await;
    for app in [&first, &second, &uncached] {
        let (status, hits, total) = search(app, "q=cheddar").await;
        assert_eq!((status, hits, total), (200, vec!["kept-cheddar".to_owned()], 1));
    }
    // The search index loses the project, as no write of ours would: the
    // generation stays, so the instances with a cache answer as before.
    let unindex = if first.db_url.starts_with("postgres") {
        "DELETE FROM project_search WHERE project_id IN (SELECT id FROM projects WHERE normalized_name = $1)"
    } else {
        "DELETE FROM project_search WHERE rowid IN (SELECT id FROM projects WHERE normalized_name = $1)"
    };
    execute_sql(&first.db_url, unindex, &["kept-cheddar"]).await;
    for app in [&first, &second] {
        assert_eq!(search(app, "q=cheddar").await.1, ["kept-cheddar"], "from memory");
        assert_eq!(
            search(app, "q=cheddar&page=1").await.1,
            ["kept-cheddar"],
            "the same search"
        );
    }
    assert!(search(&uncached, "q=cheddar").await.1.is_empty(), "without the cache");
    // Any write (through one instance) and both search again.
    upload("fresh-cheddar").await;
    for app in [&first, &second, &uncached] {
        assert_eq!(search(app, "q=cheddar").await.1, ["fresh-cheddar"], "on {}", app.addr);
    }
}
