//! A private index (`CHEESESHOP_READ_ACCESS=authenticated`) and the site
//! administrators' area.

use std::process::Command;

use crate::helpers::{TestApp, spawn_empty, spawn_empty_with, token_with_scopes};
use crate::manage::{call, person, upload};

async fn private_app() -> TestApp {
    spawn_empty_with(|s| s.private = true).await
}

async fn get_as(
    app: &TestApp,
    path: &str,
    accept: &str,
    token: Option<&str>,
    session: Option<&str>,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut request = client.get(app.url(path)).header("accept", accept);
    if let Some(token) = token {
        request = request.basic_auth("__token__", Some(token));
    }
    if let Some(session) = session {
        request = request.header("cookie", format!("cheeseshop_session={session}"));
    }
    request.send().await.expect("get")
}

/// Everything needs a session or a read token; browsers are sent to log
/// in, clients get a Basic challenge; logging in, assets, health checks
/// and uploads stay open; nobody may register.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_index_needs_a_session_or_a_read_token() {
    let app = private_app().await;
    let owner = person(&app, "owner").await;
    // Uploads authenticate themselves.
    let (status, body, _) = upload(&app, &owner.token, "secret-sauce", "1.0").await;
    assert_eq!(status, 200, "{body}");
    let reader = token_with_scopes(&app, owner.id, true, false).await;
    let uploader = token_with_scopes(&app, owner.id, false, true).await;
    let (_, simple) = {
        let response = get_as(
            &app,
            "/simple/secret-sauce/",
            "application/vnd.pypi.simple.v1+json",
            Some(&reader),
            None,
        )
        .await;
        (
            response.status().as_u16(),
            response.json::<serde_json::Value>().await.expect("json"),
        )
    };
    let file = simple["files"][0]["url"].as_str().expect("url").to_owned();

    let html = "text/html";
    let json = "*/*";
    for path in [
        "/",
        "/project/secret-sauce/",
        "/search?q=secret",
        "/user/owner",
        "/account",
    ] {
        let response = get_as(&app, path, html, None, None).await;
        assert_eq!(response.status().as_u16(), 303, "{path}");
        let location = response.headers()["location"].to_str().expect("location").to_owned();
        assert!(location.starts_with("/account/login?next=%2F"), "{path}: {location}");
    }
    for path in [
        "/simple/",
        "/simple/secret-sauce/",
        "/pypi/secret-sauce/json",
        file.as_str(),
        "/rss/updates.xml",
    ] {
        let response = get_as(&app, path, json, None, None).await;
        assert_eq!(response.status().as_u16(), 401, "{path}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .expect("header")
                .starts_with("Basic"),
            "{path}"
        );
        // An upload-only token does not read; a read token does; so does a session.
        assert_eq!(
            get_as(&app, path, json, Some(&uploader), None).await.status().as_u16(),
            401,
            "{path}"
        );
        assert_eq!(
            get_as(&app, path, json, Some("not-a-token"), None)
                .await
                .status()
                .as_u16(),
            401,
            "{path}"
        );
        assert_eq!(
            get_as(&app, path, json, Some(&reader), None).await.status().as_u16(),
            200,
            "{path}"
        );
        assert_eq!(
            get_as(&app, path, json, None, Some(&owner.session))
                .await
                .status()
                .as_u16(),
            200,
            "{path}"
        );
    }
    // Server functions too.
    let (status, _) = call(&app, None, "project", &[("name", "secret-sauce")]).await;
    assert_eq!(status, 401);
    for path in ["/account/login", "/_health", "/favicon.svg"] {
        assert_eq!(
            get_as(&app, path, html, None, None).await.status().as_u16(),
            200,
            "{path}"
        );
    }
    let page = get_as(&app, "/account/register", html, None, None)
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("data-test-registration-closed"), "{page}");
    let (status, body) = call(
        &app,
        None,
        "register",
        &[
            ("name", "Eve"),
            ("username", "eve"),
            ("email", "eve@example.org"),
            ("password", "a long enough passphrase here"),
            ("password_confirm", "a long enough passphrase here"),
        ],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // Logging in works, and brings the session that reads.
    let (status, body) = call(
        &app,
        None,
        "login",
        &[("identifier", "owner"), ("password", crate::helpers::TEST_PASSWORD)],
    )
    .await;
    assert!(status == 200 || status == 302, "{status} {body}");
    // The read token's use is in its owner's history (once an hour).
    let mut used = false;
    for _ in 0..50 {
        let account: serde_json::Value =
            serde_json::from_str(&call(&app, Some(&owner.session), "account", &[]).await.1).expect("json");
        let events = account["events"].as_array().expect("events").clone();
        let uses = events.iter().filter(|e| e["what"] == "API token used").count();
        if uses > 0 {
            assert_eq!(uses, 1, "once an hour, not once a request: {events:?}");
            used = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(used, "the token's use is recorded");
    // A locked account's read token reads no more.
    cheeseshop::server::db::accounts::set_flag(&app.db, owner.id, false, true)
        .await
        .expect("lock");
    assert_eq!(
        get_as(&app, "/simple/", json, Some(&reader), None)
            .await
            .status()
            .as_u16(),
        401
    );
}

/// pip and uv install from a private index with a read token in the index
/// URL and in a netrc file, and fail cleanly without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_and_uv_install_from_a_private_index() {
    use crate::clients::{
        Package as Built, build, make_pip_venv, make_uv_venv, pip_install, python_in, run, twine_upload, uv_install,
    };

    let work = tempfile::TempDir::new().expect("tempdir");
    let w = work.path();
    let app = private_app().await;
    let owner = person(&app, "owner").await;
    let files = build(
        w,
        &Built {
            name: "private-parts",
            version: "1.0",
            requires_python: ">=3.8",
            dependencies: &[],
        },
    )
    .await;
    twine_upload(&app, &owner.token, &files).await;
    let reader = token_with_scopes(&app, owner.id, true, false).await;
    let plain = app.url("/simple/");
    let with_token = format!("http://__token__:{reader}@{}/simple/", app.addr);
    let check = "import private_parts; print(private_parts.VERSION)";
    let netrc = w.join("netrc");
    std::fs::write(&netrc, format!("machine 127.0.0.1 login __token__ password {reader}\n")).expect("netrc");

    // No credentials: a clean failure, not a hang.
    let pip_venv = w.join("venv-pip");
    make_pip_venv(&pip_venv).await;
    let mut denied = pip_install(&pip_venv, &plain, "private-parts");
    denied.arg("--no-input").env("NETRC", w.join("no-netrc"));
    let out = output(denied).await;
    assert!(!out.status.success(), "pip installed without credentials");

    run(pip_install(&pip_venv, &with_token, "private-parts")).await;
    assert_eq!(python_in(&pip_venv, check).await, "1.0");
    let netrc_venv = w.join("venv-pip-netrc");
    make_pip_venv(&netrc_venv).await;
    let mut from_netrc = pip_install(&netrc_venv, &plain, "private-parts");
    from_netrc.env("NETRC", &netrc);
    run(from_netrc).await;
    assert_eq!(python_in(&netrc_venv, check).await, "1.0");

    let cache = w.join("uv-cache");
    let uv_venv = w.join("venv-uv");
    make_uv_venv(&uv_venv, &cache).await;
    let mut denied = uv_install(&uv_venv, &plain, &cache, &["private-parts"]);
    denied.env("NETRC", w.join("no-netrc"));
    assert!(
        !output(denied).await.status.success(),
        "uv installed without credentials"
    );
    run(uv_install(&uv_venv, &with_token, &cache, &["private-parts"])).await;
    assert_eq!(python_in(&uv_venv, check).await, "1.0");
    let uv_netrc_venv = w.join("venv-uv-netrc");
    make_uv_venv(&uv_netrc_venv, &cache).await;
    let mut from_netrc = uv_install(&uv_netrc_venv, &plain, &cache, &["--no-cache", "private-parts"]);
    from_netrc.env("NETRC", &netrc);
    run(from_netrc).await;
    assert_eq!(python_in(&uv_netrc_venv, check).await, "1.0");
}

async fn output(mut cmd: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run")
}

/// The admin area: administrators only; locking an account; names
/// reserved for nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_area() {
    let app = spawn_empty().await;
    let admin = person(&app, "root").await;
    cheeseshop::server::db::accounts::set_flag(&app.db, admin.id, true, true)
        .await
        .expect("admin");
    let user = person(&app, "mallory").await;

    let (status, _) = call(&app, Some(&user.session), "admin", &[("q", "")]).await;
    assert_eq!(status, 403);
    let (status, _) = call(&app, None, "admin", &[("q", "")]).await;
    assert_eq!(status, 401);
    let (status, body) = call(&app, Some(&admin.session), "admin", &[("q", "mall")]).await;
    assert_eq!(status, 200, "{body}");
    let data: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(data["users"].as_array().expect("users").len(), 1, "{data}");
    assert_eq!(data["users"][0]["username"], "mallory");
    // LIKE's wildcards are text here.
    let (_, body) = call(&app, Some(&admin.session), "admin", &[("q", "%")]).await;
    let data: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(data["users"], serde_json::json!([]), "{data}");

    // Locking: not by a user, and not oneself.
    let (status, _) = call(
        &app,
        Some(&user.session),
        "set_account_lock",
        &[("username", "root"), ("lock", "true")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        Some(&admin.session),
        "set_account_lock",
        &[("username", "root"), ("lock", "true")],
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = call(
        &app,
        Some(&admin.session),
        "set_account_lock",
        &[("username", "mallory"), ("lock", "true")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = upload(&app, &user.token, "evil", "1.0").await;
    assert_eq!(status, 403, "a locked account's token uploads nothing");
    let (status, _) = call(
        &app,
        Some(&admin.session),
        "set_account_lock",
        &[("username", "mallory"), ("lock", "false")],
    )
    .await;
    assert_eq!(status, 200);

    // Reserved names: nobody creates the project.
    let (status, body) = call(&app, Some(&admin.session), "reserve_name", &[("name", "Internal_Lib")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = upload(&app, &user.token, "internal-lib", "1.0").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("reserved"), "{body}");
    let (_, body) = call(&app, Some(&admin.session), "admin", &[("q", "")]).await;
    assert!(body.contains("internal-lib"), "{body}");
    let (status, _) = call(&app, Some(&admin.session), "release_name", &[("name", "internal-lib")]).await;
    assert_eq!(status, 200);
    let (status, body, _) = upload(&app, &user.token, "internal-lib", "1.0").await;
    assert_eq!(status, 200, "{body}");

    // The locked account's history says who locked it.
    // Locking ended her sessions: a new one.
    let session = crate::manage::session_for(&app, user.id).await;
    let account: serde_json::Value =
        serde_json::from_str(&call(&app, Some(&session), "account", &[]).await.1).expect("json");
    let events = account["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["what"] == "Account locked" && e["actor"] == "root"),
        "{events:?}"
    );
}
