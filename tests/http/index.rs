//! The index APIs over HTTP: Simple API negotiation, the JSON API against the
//! imported dataset, uploads (good and bad) and file downloads.

use serde_json::Value;

use crate::helpers::{
    TestApp, build_sdist, build_wheel, spawn_empty, spawn_empty_with, spawn_with_dataset, token_for, upload_form,
    user_with_token,
};

const PIP_ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
const UV_ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
const JSON_V1: &str = "application/vnd.pypi.simple.v1+json";
const HTML_V1: &str = "application/vnd.pypi.simple.v1+html";

async fn get_with(app: &TestApp, path: &str, accept: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.expect("get")
}

#[tokio::test]
async fn simple_api_negotiates_like_pypi() {
    let app = spawn_with_dataset().await;
    // (Accept, ?format=, expected status, expected content type)
    let table: &[(Option<&str>, &str, u16, Option<&str>)] = &[
        (Some(PIP_ACCEPT), "", 200, Some(JSON_V1)),
        (Some(UV_ACCEPT), "", 200, Some(JSON_V1)),
        (None, "", 200, Some("text/html")),
        (Some("text/html"), "", 200, Some("text/html")),
        (Some("*/*"), "", 200, Some("text/html")),
        (Some(HTML_V1), "", 200, Some(HTML_V1)),
        (Some("application/vnd.pypi.simple.latest+json"), "", 200, Some(JSON_V1)),
        (Some("application/json"), "", 406, None),
        (Some("text/html;q=0"), "", 406, None),
        (Some(PIP_ACCEPT), "?format=text/html", 200, Some("text/html")),
        (
            None,
            "?format=application/vnd.pypi.simple.v1%2Bjson",
            200,
            Some(JSON_V1),
        ),
        (None, "?format=application/xml", 406, None),
    ];
    for path in ["/simple/", "/simple/flask/"] {
        for (accept, query, status, content_type) in table {
            let response = get_with(&app, &format!("{path}{query}"), *accept).await;
            assert_eq!(response.status().as_u16(), *status, "{path}{query} with {accept:?}");
            assert_eq!(
                response.headers()["vary"],
                "Accept, Accept-Encoding",
                "{path}{query} with {accept:?}"
            );
            if let Some(content_type) = content_type {
                assert_eq!(
                    response.headers()["content-type"],
                    *content_type,
                    "{path}{query} with {accept:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn simple_api_html_and_json_describe_the_same_files() {
    let app = spawn_with_dataset().await;
    let response = get_with(&app, "/simple/flask/", None).await;
    assert!(response.headers().contains_key("x-pypi-last-serial"));
    let html = response.text().await.expect("body");
    assert!(html.contains(r#"<meta name="pypi:repository-version" content="1.4">"#));
    let anchors = html.matches("<a href=").count();
    assert!(html.contains("#sha256="), "anchors carry the sha256");

    let json: Value = get_with(&app, "/simple/flask/", Some(JSON_V1))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(json["meta"]["api-version"], "1.4");
    assert_eq!(json["name"], "flask");
    let files = json["files"].as_array().expect("files");
    assert_eq!(files.len(), anchors);
    assert_eq!(json["versions"].as_array().expect("versions").len(), 28);
    let first = &files[0];
    assert!(first["hashes"]["sha256"].as_str().is_some_and(|h| h.len() == 64));
    assert!(first["size"].as_i64().is_some_and(|s| s > 0), "PEP 700 size");
    assert!(
        first["upload-time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "PEP 700 upload-time"
    );
    assert_eq!(first["yanked"], false);

    // The index lists every project.
    let index: Value = get_with(&app, "/simple/", Some(JSON_V1))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(index["projects"].as_array().expect("projects").len(), 96);
    let html = get_with(&app, "/simple/", None).await.text().await.expect("body");
    assert!(html.contains(r#"<a href="/simple/flask/">Flask</a>"#));
}

#[tokio::test]
async fn simple_api_redirects_to_canonical_urls() {
    let app = spawn_with_dataset().await;
    app.assert_redirects(&[
        ("/simple", "/simple/"),
        ("/simple/flask", "/simple/flask/"),
        ("/simple/Flask/", "/simple/flask/"),
        ("/simple/Zope.Interface", "/simple/zope-interface/"),
        ("/pypi/Flask/json", "/pypi/flask/json"),
        ("/pypi/Flask/1.0.2/json", "/pypi/flask/1.0.2/json"),
    ])
    .await;
    assert_eq!(
        get_with(&app, "/simple/no-such-project/", None).await.status().as_u16(),
        404
    );
    assert_eq!(get_with(&app, "/simple/%27%3B--/", None).await.status().as_u16(), 404);
}

#[tokio::test]
async fn json_api_matches_the_imported_dataset() {
    let app = spawn_with_dataset().await;
    let response = get_with(&app, "/pypi/flask/json", None).await;
    assert_eq!(response.status().as_u16(), 200);
    let doc: Value = response.json().await.expect("json");
    assert_eq!(doc["info"]["name"], "Flask");
    assert_eq!(doc["info"]["version"], "1.0.2");
    assert_eq!(doc["releases"].as_object().expect("releases").len(), 28);
    assert!(doc["last_serial"].as_i64().is_some_and(|s| s > 0));
    assert_eq!(doc["vulnerabilities"], serde_json::json!([]));
    for key in [
        "summary",
        "description",
        "author",
        "author_email",
        "license",
        "classifiers",
        "home_page",
        "package_url",
        "release_url",
        "project_url",
        "project_urls",
        "requires_python",
        "requires_dist",
        "yanked",
        "yanked_reason",
        "keywords",
        "maintainer",
        "maintainer_email",
        "description_content_type",
    ] {
        assert!(doc["info"].get(key).is_some(), "info.{key}");
    }
    assert!(
        doc["info"]["package_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/project/flask/"))
    );
    let urls = doc["urls"].as_array().expect("urls");
    assert!(!urls.is_empty());
    let file = &urls[0];
    for key in [
        "filename",
        "packagetype",
        "python_version",
        "digests",
        "md5_digest",
        "size",
        "upload_time",
        "upload_time_iso_8601",
        "url",
        "requires_python",
        "yanked",
        "yanked_reason",
    ] {
        assert!(file.get(key).is_some(), "file.{key}");
    }
    assert_eq!(file["digests"]["md5"], file["md5_digest"]);

    let release: Value = app.get_json("/pypi/flask/0.12.4/json").await;
    assert_eq!(release["info"]["version"], "0.12.4");
    assert!(release.get("releases").is_none(), "no releases on the version endpoint");
    assert!(!release["urls"].as_array().expect("urls").is_empty());

    for missing in ["/pypi/no-such-project/json", "/pypi/flask/99.0/json"] {
        let response = get_with(&app, missing, None).await;
        assert_eq!(response.status().as_u16(), 404, "{missing}");
        let body: Value = response.json().await.expect("json 404");
        assert_eq!(body["message"], "Not Found");
    }
}

#[tokio::test]
async fn an_upload_is_served_by_every_api() {
    let app = spawn_empty().await;
    let (_, token) = user_with_token(&app, "ada", None).await;
    let (filename, wheel) = build_wheel("Cheese-Shop-Demo", "1.0", Some(">=3.8"));
    let form = |bytes: &[u8]| {
        upload_form(
            "Cheese-Shop-Demo",
            "1.0",
            "bdist_wheel",
            &filename,
            bytes,
            &[("requires_python", ">=3.8")],
        )
    };
    assert_eq!(app.upload(Some(&token), form(&wheel)).await, (200, "OK\n".into()));
    // The same file again is fine; other bytes under its name are not.
    assert_eq!(app.upload(Some(&token), form(&wheel)).await.0, 200);
    let mut other = wheel.clone();
    other.extend_from_slice(b"more");
    let (status, body) = app.upload(Some(&token), form(&other)).await;
    assert_eq!(status, 400);
    assert!(body.contains("File already exists"), "{body}");

    let json: Value = get_with(&app, "/simple/cheese-shop-demo/", Some(JSON_V1))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(json["versions"], serde_json::json!(["1.0"]));
    let file = &json["files"][0];
    assert_eq!(file["filename"], filename.as_str());
    assert_eq!(file["requires-python"], ">=3.8");
    let url = file["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("/files/"), "{url}");
    let metadata_sha = file["core-metadata"]["sha256"]
        .as_str()
        .expect("core metadata")
        .to_owned();

    // The file: whole, HEAD, a range, a conditional request.
    let response = get_with(&app, &url, None).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-length"], wheel.len().to_string().as_str());
    assert_eq!(response.headers()["content-type"], "application/zip");
    let etag = response.headers()["etag"].to_str().expect("etag").to_owned();
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), wheel.as_slice());
    let head = app.client.head(app.url(&url)).send().await.expect("head");
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.headers()["content-length"], wheel.len().to_string().as_str());
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    let tail = app
        .client
        .get(app.url(&url))
        .header("range", "bytes=-22")
        .send()
        .await
        .expect("range");
    assert_eq!(tail.status().as_u16(), 206);
    assert_eq!(
        tail.headers()["content-range"],
        format!("bytes {}-{}/{}", wheel.len() - 22, wheel.len() - 1, wheel.len()).as_str()
    );
    assert_eq!(tail.bytes().await.expect("bytes").as_ref(), &wheel[wheel.len() - 22..]);
    let unsatisfiable = app
        .client
        .get(app.url(&url))
        .header("range", format!("bytes={}-", wheel.len()))
        .send()
        .await
        .expect("range");
    assert_eq!(unsatisfiable.status().as_u16(), 416);
    let cached = app
        .client
        .get(app.url(&url))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("conditional");
    assert_eq!(cached.status().as_u16(), 304);

    // PEP 658: the METADATA beside the file, matching its announced digest.
    let metadata = get_with(&app, &format!("{url}.metadata"), None)
        .await
        .bytes()
        .await
        .expect("metadata");
    use sha2::Digest as _;
    assert_eq!(hex::encode(sha2::Sha256::digest(&metadata)), metadata_sha);
    assert!(String::from_utf8_lossy(&metadata).contains("Name: Cheese-Shop-Demo"));
    let html = get_with(&app, "/simple/cheese-shop-demo/", None)
        .await
        .text()
        .await
        .expect("html");
    assert!(
        html.contains(&format!(r#"data-core-metadata="sha256={metadata_sha}""#)),
        "{html}"
    );
    assert!(html.contains(r#"data-requires-python="&gt;=3.8""#), "{html}");

    // The JSON API, the project page and search know it.
    let doc: Value = app.get_json("/pypi/cheese-shop-demo/json").await;
    assert_eq!(doc["info"]["name"], "Cheese-Shop-Demo");
    assert_eq!(doc["info"]["summary"], "A test package");
    assert!(
        doc["urls"][0]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://") && u.contains("/files/"))
    );
    let (status, page) = app.get_text("/project/cheese-shop-demo/").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("href=\"{url}\"")), "download link to our file");
    assert!(page.contains("<h1>Hello</h1>"), "rendered markdown description");
    let (_, results) = app.get_text("/search?q=cheese").await;
    assert!(results.contains("/project/cheese-shop-demo/"), "search finds it");
    let (_, feed) = app.get_text("/rss/updates.xml").await;
    assert!(feed.contains("Cheese-Shop-Demo 1.0"), "{feed}");

    // A missing or malformed file key is a 404, never a path outside storage.
    assert_eq!(
        get_with(&app, "/files/../cheeseshop.db", None).await.status().as_u16(),
        404
    );
    assert_eq!(
        get_with(&app, "/files/aa/bb/cc/x.whl", None).await.status().as_u16(),
        404
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing_behind() {
    let app = spawn_empty_with(|state| state.max_upload_bytes = 64 * 1024).await;
    let (ada, token) = user_with_token(&app, "ada", None).await;
    let (_, bob_token) = user_with_token(&app, "bob", None).await;
    let (filename, wheel) = build_wheel("tiny", "1.0", None);
    let form = |overrides: &[(&str, &str)]| upload_form("tiny", "1.0", "bdist_wheel", &filename, &wheel, overrides);

    let expect = |(status, body): (u16, String), want: u16, text: &str| {
        assert_eq!(status, want, "{body}");
        assert!(body.contains(text), "{body:?} should contain {text:?}");
    };
    expect(app.upload(None, form(&[])).await, 401, "API token");
    let password = app
        .client
        .post(app.url("/legacy/"))
        .basic_auth("ada", Some("correct horse battery staple"))
        .multipart(form(&[]))
        .send()
        .await
        .expect("upload");
    assert_eq!(password.status().as_u16(), 403);
    // twine prints the status line's reason: it carries the message.
    assert!(password.status().canonical_reason().is_some());
    expect(
        app.upload(Some("cheeseshop-not-a-token"), form(&[])).await,
        403,
        "Invalid or revoked",
    );
    expect(
        app.upload(Some(&token), form(&[("sha256_digest", &"0".repeat(64))]))
            .await,
        400,
        "digest supplied does not match",
    );
    expect(
        app.upload(Some(&token), form(&[("md5_digest", "0123"), ("sha256_digest", "")]))
            .await,
        400,
        "digest supplied does not match",
    );
    expect(
        app.upload(Some(&token), form(&[("sha256_digest", ""), ("md5_digest", "")]))
            .await,
        400,
        "at least one message digest",
    );
    expect(
        app.upload(Some(&token), form(&[("version", "2.0")])).await,
        400,
        "Version in filename",
    );
    expect(
        app.upload(Some(&token), form(&[("name", "other")])).await,
        400,
        "should start with the normalized project name",
    );
    expect(
        app.upload(Some(&token), form(&[("version", "not a version")])).await,
        400,
        "PEP 440",
    );
    expect(
        app.upload(Some(&token), form(&[("filetype", "bdist_egg")])).await,
        400,
        "Unsupported filetype",
    );
    expect(app.upload(Some(&token), form(&[(":action", "")])).await, 400, ":action");
    let not_zip = upload_form("tiny", "1.0", "bdist_wheel", &filename, b"not a zip archive", &[]);
    expect(app.upload(Some(&token), not_zip).await, 400, "not a zip archive");
    let big = vec![7u8; 80 * 1024];
    let oversize = upload_form("tiny", "1.0", "sdist", "tiny-1.0.tar.gz", &big, &[]);
    expect(app.upload(Some(&token), oversize).await, 413, "File too large");
    let garbage = app
        .client
        .post(app.url("/legacy/"))
        .basic_auth("__token__", Some(&token))
        .header("content-type", "multipart/form-data; boundary=xyz")
        .body("--xyz\r\nthis is not multipart")
        .send()
        .await
        .expect("garbage");
    assert_eq!(garbage.status().as_u16(), 400);
    // The server answers 413 from the declared length, before reading the
    // body: send only the head of a 200 MiB request and read the answer.
    let head = format!(
        "POST /legacy/ HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {}\r\n\
         Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {}\r\n\r\n",
        app.addr,
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("__token__:{token}")),
        200 * 1024 * 1024
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes())
        .await
        .expect("send head");
    let mut answer = vec![0u8; 64];
    let n = tokio::io::AsyncReadExt::read(&mut stream, &mut answer)
        .await
        .expect("read answer");
    let status_line = String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
    assert!(
        app.stored_files().is_empty(),
        "nothing stored: {:?}",
        app.stored_files()
    );
    assert_eq!(
        get_with(&app, "/simple/", Some(JSON_V1))
            .await
            .json::<Value>()
            .await
            .expect("json")["projects"],
        serde_json::json!([])
    );

    // Ada owns `tiny` after the first upload; Bob may not upload to it.
    assert_eq!(app.upload(Some(&token), form(&[])).await.0, 200);
    let (sdist_name, sdist) = build_sdist("tiny", "1.0");
    let sdist_form = || upload_form("tiny", "1.0", "sdist", &sdist_name, &sdist, &[]);
    expect(app.upload(Some(&bob_token), sdist_form()).await, 403, "isn't allowed");
    // A token scoped to another project, and a revoked token.
    let project_id = cheeseshop::server::db::catalog::project(&app.db, "tiny")
        .await
        .expect("db")
        .expect("tiny")
        .id;
    let (filename2, wheel2) = build_wheel("tiny2", "1.0", None);
    let scoped = token_for(&app, ada, Some(project_id)).await;
    expect(
        app.upload(
            Some(&scoped),
            upload_form("tiny2", "1.0", "bdist_wheel", &filename2, &wheel2, &[]),
        )
        .await,
        403,
        "scoped",
    );
    let token_id: i64 = {
        let tokens = cheeseshop::server::db::index::tokens(&app.db, ada)
            .await
            .expect("tokens");
        tokens.iter().find(|t| t.project.is_none()).expect("unscoped").id
    };
    assert!(
        cheeseshop::server::db::index::revoke_token(&app.db, ada, token_id)
            .await
            .expect("revoke")
    );
    expect(app.upload(Some(&token), sdist_form()).await, 403, "Invalid or revoked");
    // The scoped token still works for its own project.
    assert_eq!(app.upload(Some(&scoped), sdist_form()).await.0, 200);
    let json: Value = get_with(&app, "/simple/tiny/", Some(JSON_V1))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(json["files"].as_array().expect("files").len(), 2);
    assert!(
        app.stored_files()
            .iter()
            .all(|p| !p.to_string_lossy().contains(".staging/")),
        "staging empty"
    );
}

#[tokio::test]
async fn cached_pages_are_current_right_after_a_write() {
    let app = spawn_empty().await;
    let (_, token) = user_with_token(&app, "ada", None).await;
    let first = app.get("/").await;
    assert_eq!(first.headers()["x-cache"], "miss");
    let first = first.text().await.expect("body");
    let second = app.get("/").await;
    assert_eq!(second.headers()["x-cache"], "hit");
    assert_eq!(second.text().await.expect("body"), first, "the same bytes");
    assert!(!first.contains("cache-fresh"));

    // An upload is on the home page with the very next request.
    let (filename, wheel) = build_wheel("cache-fresh", "1.0", None);
    let form = upload_form("cache-fresh", "1.0", "bdist_wheel", &filename, &wheel, &[]);
    assert_eq!(app.upload(Some(&token), form).await.0, 200);
    let after = app.get("/").await;
    assert_eq!(after.headers()["x-cache"], "miss");
    assert!(after.text().await.expect("body").contains("/project/cache-fresh/"));

    // A write that bypasses this server (another instance, the CLI) too.
    user_with_token(&app, "bob", None).await;
    let stats = app.post_json("/api/home").await;
    assert_eq!(stats["stats"]["users"], 2);
    let page = app.get("/").await;
    assert_eq!(page.headers()["x-cache"], "miss", "a new user is a new generation");

    // Not cached: queries, sessions, errors.
    assert!(app.get("/?x=1").await.headers().get("x-cache").is_none());
    let (_, with_session, _) = app.get_with("/", &[("cookie", "cheeseshop_session=whatever")]).await;
    assert!(with_session.get("x-cache").is_none());
    let missing = app.get("/project/no-such-project/").await;
    assert_eq!(missing.status().as_u16(), 404);
    assert!(
        app.get("/project/no-such-project/")
            .await
            .headers()
            .get("x-cache")
            .is_none()
    );
}

#[tokio::test]
async fn read_only_server_functions_are_cached_too() {
    let app = spawn_with_dataset().await;
    let call = || async {
        let response = app
            .client
            .post(app.url("/api/project"))
            .form(&[("name", "flask")])
            .send()
            .await
            .expect("server fn");
        let cache = response
            .headers()
            .get("x-cache")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let body: Value = response.json().await.expect("json");
        (cache, body)
    };
    let (first, body) = call().await;
    assert_eq!(first.as_deref(), Some("miss"));
    let (second, again) = call().await;
    assert_eq!(second.as_deref(), Some("hit"));
    assert_eq!(body, again);
    // Other arguments are another entry; searches and writes are never cached.
    let other = app
        .client
        .post(app.url("/api/project"))
        .form(&[("name", "django")])
        .send()
        .await
        .expect("server fn");
    assert_eq!(other.headers()["x-cache"], "miss");
    for (path, form) in [
        ("/api/search", vec![("q", "flask")]),
        ("/api/suggest", vec![("q", "fla")]),
    ] {
        for _ in 0..2 {
            let response = app.client.post(app.url(path)).form(&form).send().await.expect("post");
            assert!(response.headers().get("x-cache").is_none(), "{path}");
        }
    }
}
