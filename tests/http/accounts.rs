use reqwest::header::{HeaderMap, SET_COOKIE};

use crate::helpers::{TestApp, spawn_empty, spawn_empty_with, spawn_with_dataset};

const PASSWORD: &str = "correct horse battery staple";

/// The session token from a response's `Set-Cookie`, with the cookie line.
fn session_cookie(headers: &HeaderMap) -> Option<(String, String)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| {
            let value = line.strip_prefix("cheeseshop_session=")?.split(';').next()?.to_owned();
            Some((value, line.to_owned()))
        })
}

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).form(form);
    if let Some(token) = cookie {
        request = request.header("cookie", format!("cheeseshop_session={token}"));
    }
    request.send().await.expect("post")
}

/// A page load as a browser makes it (`Accept: text/html`).
async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path)).header("accept", "text/html");
    if let Some(token) = cookie {
        request = request.header("cookie", format!("cheeseshop_session={token}"));
    }
    request.send().await.expect("get")
}

async fn register(app: &TestApp, username: &str, email: &str) -> reqwest::Response {
    post(
        app,
        "/api/register",
        &[
            ("name", "Ada Lovelace"),
            ("username", username),
            ("email", email),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
        None,
    )
    .await
}

async fn login(app: &TestApp, identifier: &str, password: &str) -> reqwest::Response {
    post(
        app,
        "/api/login",
        &[("identifier", identifier), ("password", password)],
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_account_logout_login_journey() {
    let app = spawn_with_dataset().await;
    let response = register(&app, "ada", "ada@example.org").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["location"], "/account");
    let (token, line) = session_cookie(response.headers()).expect("session cookie set");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(line.contains(flag), "{line} has {flag}");
    }
    assert!(!line.contains("Secure"), "not configured for https");

    let response = get(&app, "/account", Some(&token)).await;
    assert_eq!(response.status().as_u16(), 200);
    let body = response.text().await.expect("body");
    assert!(body.contains("ada@example.org") && body.contains("Ada Lovelace"));
    assert!(body.contains("You do not maintain any projects yet."));
    assert!(body.contains("data-test-nav-user"), "the nav shows the user");

    // The home page counts the user.
    let home = app.post_json("/api/home").await;
    assert_eq!(home["stats"]["users"], 1);

    let response = post(&app, "/api/logout", &[], Some(&token)).await;
    assert_eq!(response.status().as_u16(), 200);
    let (cleared, line) = session_cookie(response.headers()).expect("cookie cleared");
    assert!(cleared.is_empty() && line.contains("Max-Age=0"), "{line}");

    let response = get(&app, "/account", Some(&token)).await;
    assert_eq!(response.status().as_u16(), 302, "the old session is gone server-side");
    assert_eq!(response.headers()["location"], "/account/login?next=%2Faccount");

    let response = login(&app, "ADA@example.org", PASSWORD).await;
    assert_eq!(response.status().as_u16(), 200, "e-mail is case-insensitive");
    let (token, _) = session_cookie(response.headers()).expect("new session");
    assert_eq!(get(&app, "/account", Some(&token)).await.status().as_u16(), 200);
    assert_eq!(
        login(&app, "Ada", PASSWORD).await.status().as_u16(),
        200,
        "username works too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_visitors_are_sent_to_login() {
    let app = spawn_empty().await;
    let response = get(&app, "/account", None).await;
    assert_eq!(response.status().as_u16(), 302);
    assert_eq!(response.headers()["location"], "/account/login?next=%2Faccount");
    let body = get(&app, "/", None).await.text().await.expect("body");
    assert!(body.contains("data-test-nav-login") && !body.contains("data-test-nav-user"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_get_one_generic_message_never_500() {
    let app = spawn_empty().await;
    assert_eq!(
        register(&app, "grace", "grace@example.org").await.status().as_u16(),
        200
    );
    let wrong_password = login(&app, "grace", "not the password").await;
    let no_such_user = login(&app, "nobody", "not the password").await;
    let empty = login(&app, "", "").await;
    let huge = login(&app, &"x".repeat(100_000), &"y".repeat(100_000)).await;
    let mut messages = Vec::new();
    for response in [wrong_password, no_such_user, empty, huge] {
        assert_eq!(response.status().as_u16(), 401);
        assert!(session_cookie(response.headers()).is_none());
        messages.push(response.text().await.expect("body"));
    }
    assert!(
        messages.windows(2).all(|w| w[0] == w[1]),
        "same message whatever failed: {messages:?}"
    );
    assert!(messages[0].contains("do not match an account"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_random_session_cookies_are_rejected() {
    let app = spawn_empty().await;
    let response = register(&app, "alan", "alan@example.org").await;
    let (token, _) = session_cookie(response.headers()).expect("session");
    let mut forged = token.clone();
    forged.replace_range(0..1, if token.starts_with('0') { "1" } else { "0" });
    for cookie in [forged.as_str(), &"a".repeat(64), "1:deadbeef", "", &"z".repeat(5000)] {
        let response = get(&app, "/account", Some(cookie)).await;
        assert_eq!(response.status().as_u16(), 302, "cookie {cookie:.20}");
    }
    assert_eq!(get(&app, "/account", Some(&token)).await.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_with_one_email_create_one_account() {
    // Behind our proxy, from 50 addresses: the sign-up throttle is per address.
    let app = spawn_empty_with(|state| state.trust_proxy = true).await;
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..50 {
        let form = sign_up_form("Same Person", &format!("user{i}"), "Same@Example.org", PASSWORD);
        attempts.spawn(post_from(&app, "/api/register", &format!("10.0.0.{i}"), form));
    }
    let statuses: Vec<u16> = attempts.join_all().await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|&s| s == 200 || s == 422), "{statuses:?}");
    let home = app.post_json("/api/home").await;
    assert_eq!(home["stats"]["users"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_and_oversized_input_gets_clear_field_errors() {
    let app = spawn_empty().await;
    let huge = "n".repeat(1_000_000);
    let response = post(
        &app,
        "/api/register",
        &[
            ("name", &huge),
            ("username", "-bad-"),
            ("email", "not-an-email"),
            ("password", "short"),
            ("password_confirm", "other"),
        ],
        None,
    )
    .await;
    assert_eq!(response.status().as_u16(), 422);
    let body: serde_json::Value = response.json().await.expect("json error");
    let fields = body["Invalid"]["fields"].as_array().expect("field errors").clone();
    let field_names: Vec<&str> = fields.iter().filter_map(|f| f[0].as_str()).collect();
    assert_eq!(
        field_names,
        ["name", "username", "email", "password", "password_confirm"]
    );
    assert!(fields[0][1].as_str().unwrap_or("").contains("at most 100 characters"));
    assert!(
        body["Invalid"]["values"]
            .as_array()
            .expect("values")
            .iter()
            .all(|v| v[0] != "name"),
        "1 MB is not echoed"
    );

    let missing = app
        .client
        .post(app.url("/api/register"))
        .form(&[("name", "x")])
        .send()
        .await
        .expect("post");
    assert!(
        missing.status().is_client_error(),
        "missing fields: {}",
        missing.status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metacharacters_in_names_are_stored_verbatim_and_shown_escaped() {
    let app = spawn_empty().await;
    let name = r#"Robert'); DROP TABLE users;-- </title><script>alert("x")</script> & co"#;
    let response = post(
        &app,
        "/api/register",
        &[
            ("name", name),
            ("username", "bobby.tables"),
            ("email", "bobby@example.org"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
        None,
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    for path in ["/user/bobby.tables", "/user/Bobby.Tables"] {
        let (status, body) = app.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !body.contains("<script>alert") && !body.contains("</title><script>"),
            "escaped: {path}"
        );
        assert!(body.contains("&lt;script&gt;alert"), "{path}");
        assert!(body.contains("DROP TABLE users;--"), "stored verbatim");
    }
    assert_eq!(app.get_text("/user/nobody-here").await.0, 404);
    assert_eq!(
        login(&app, "bobby.tables", PASSWORD).await.status().as_u16(),
        200,
        "users table intact"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_work_without_javascript() {
    let app = spawn_empty().await;
    let referer = app.url("/account/register");
    let form = [
        ("name", "Ada"),
        ("username", "ada"),
        ("email", "ada@example.org"),
        ("password", PASSWORD),
        ("password_confirm", "nope"),
    ];
    let no_js = |path: &str, form: &[(&str, &str)], referer: &str| {
        app.client
            .post(app.url(path))
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", referer.to_owned())
            .form(form)
    };

    // An error: back to the form, which shows it.
    let response = no_js("/api/register", &form, &referer).send().await.expect("post");
    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"].to_str().expect("location").to_owned();
    assert!(
        location.starts_with(&referer) && location.contains("__err="),
        "{location}"
    );
    let page = app.client.get(&location).send().await.expect("get");
    assert_eq!(page.status().as_u16(), 200);
    let body = page.text().await.expect("body");
    assert!(
        body.contains("The two passwords do not match."),
        "error shown on the page"
    );
    assert!(body.contains(r#"value="ada@example.org""#), "non-secret values kept");
    assert!(!body.contains(PASSWORD), "passwords are never echoed");

    // Success: a redirect to the account, with the session cookie.
    let mut ok = form;
    ok[4] = ("password_confirm", PASSWORD);
    let response = no_js("/api/register", &ok, &referer).send().await.expect("post");
    assert_eq!(response.status().as_u16(), 302);
    assert_eq!(response.headers()["location"], "/account");
    let (token, _) = session_cookie(response.headers()).expect("cookie");
    let session = format!("cheeseshop_session={token}");

    // An API token made without JavaScript is shown once on /account.
    let response = no_js(
        "/api/create_token",
        &[("name", "ci"), ("project", "")],
        &app.url("/account"),
    )
    .header("cookie", &session)
    .send()
    .await
    .expect("post");
    assert_eq!(response.status().as_u16(), 302);
    let flash = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|l| l.starts_with("cheeseshop_new_token="))
        .expect("the token travels in a cookie")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/account", "Max-Age=300"] {
        assert!(flash.contains(attribute), "{flash} has {attribute}");
    }
    let api_token = flash["cheeseshop_new_token=".len()..]
        .split(';')
        .next()
        .expect("value")
        .to_owned();
    assert!(api_token.starts_with("cheeseshop-"));
    let cookies = format!("{session}; cheeseshop_new_token={api_token}");
    let page = get(&app, "/account", Some(&token)).await;
    assert!(
        !page.text().await.expect("body").contains(&api_token),
        "only with the cookie"
    );
    let page = app
        .client
        .get(app.url("/account"))
        .header("accept", "text/html")
        .header("cookie", &cookies)
        .send()
        .await
        .expect("get");
    let cleared = page
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|l| l.starts_with("cheeseshop_new_token=;") && l.contains("Max-Age=0"));
    assert!(cleared, "shown once: the cookie is cleared");
    let body = page.text().await.expect("body");
    assert!(body.contains(&api_token), "the new token is on the page");
    assert!(body.contains("data-test-new-token"));
    // Somebody else's token in the cookie shows nothing.
    let (_, bob_token) = crate::helpers::user_with_token(&app, "bob", None).await;
    let page = app
        .client
        .get(app.url("/account"))
        .header("accept", "text/html")
        .header("cookie", format!("{session}; cheeseshop_new_token={bob_token}"))
        .send()
        .await
        .expect("get");
    assert!(!page.text().await.expect("body").contains(&bob_token));

    // Logging in without JavaScript follows ?next= (on this site only).
    let login_page = app.url("/account/login?next=%2Fproject%2Fflask%2F");
    let form = [
        ("identifier", "ada"),
        ("password", PASSWORD),
        ("next", "/project/flask/"),
    ];
    let response = no_js("/api/login", &form, &login_page).send().await.expect("post");
    assert_eq!(response.status().as_u16(), 302);
    assert_eq!(response.headers()["location"], "/project/flask/");
    let form = [
        ("identifier", "ada"),
        ("password", PASSWORD),
        ("next", "https://evil.example/"),
    ];
    let response = no_js("/api/login", &form, &login_page).send().await.expect("post");
    assert_eq!(response.headers()["location"], "/account", "no open redirect");

    let response = no_js("/api/logout", &[], &app.url("/account"))
        .header("cookie", format!("cheeseshop_session={token}"))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 302);
    assert_eq!(response.headers()["location"], "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused() {
    let app = spawn_empty().await;
    assert_eq!(register(&app, "eve", "eve@example.org").await.status().as_u16(), 200);
    for origin in ["http://evil.example", "null"] {
        let response = app
            .client
            .post(app.url("/api/login"))
            .header("origin", origin)
            .form(&[("identifier", "eve"), ("password", PASSWORD)])
            .send()
            .await
            .expect("post");
        assert_eq!(response.status().as_u16(), 403, "{origin}");
    }
    let response = app
        .client
        .post(app.url("/api/login"))
        .header("origin", format!("http://{}", app.addr))
        .form(&[("identifier", "eve"), ("password", PASSWORD)])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 200, "same origin is fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_the_account_without_holding_requests() {
    let app = spawn_empty().await;
    assert_eq!(
        register(&app, "mallory", "mallory@example.org").await.status().as_u16(),
        200
    );
    for _ in 0..5 {
        assert_eq!(login(&app, "mallory", "wrong password").await.status().as_u16(), 401);
    }
    let started = std::time::Instant::now();
    let response = login(&app, "mallory", PASSWORD).await;
    assert_eq!(response.status().as_u16(), 429, "locked even with the right password");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "refused at once, not slept on"
    );
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("Too many failed login attempts. Try again in 1 minute.")
    );
    // Another account from another address is not affected by this lock.
    assert_eq!(
        register(&app, "trent", "trent@example.org").await.status().as_u16(),
        200
    );
    assert_eq!(login(&app, "trent", PASSWORD).await.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_ends_other_sessions() {
    let app = spawn_empty().await;
    let (first, _) = session_cookie(register(&app, "carol", "carol@example.org").await.headers()).expect("first");
    let (second, _) = session_cookie(login(&app, "carol", PASSWORD).await.headers()).expect("second");
    let new = "an entirely new passphrase";
    let response = post(
        &app,
        "/api/change_password",
        &[
            ("current_password", PASSWORD),
            ("new_password", new),
            ("new_password_confirm", new),
        ],
        Some(&first),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        get(&app, "/account", Some(&first)).await.status().as_u16(),
        200,
        "this session stays"
    );
    assert_eq!(
        get(&app, "/account", Some(&second)).await.status().as_u16(),
        302,
        "the other one ended"
    );
    assert_eq!(login(&app, "carol", PASSWORD).await.status().as_u16(), 401);
    assert_eq!(login(&app, "carol", new).await.status().as_u16(), 200);

    let wrong = post(
        &app,
        "/api/change_password",
        &[
            ("current_password", "nope nope"),
            ("new_password", new),
            ("new_password_confirm", new),
        ],
        Some(&first),
    )
    .await;
    assert_eq!(wrong.status().as_u16(), 422);
    let anonymous = post(
        &app,
        "/api/change_password",
        &[
            ("current_password", new),
            ("new_password", new),
            ("new_password_confirm", new),
        ],
        None,
    )
    .await;
    assert_eq!(anonymous.status().as_u16(), 401);
}

/// `POST path` with `form` as a client behind our proxy at `address`
/// makes it: the status and the body (status 0 when the request failed).
fn post_from(
    app: &TestApp,
    path: &str,
    address: &str,
    form: Vec<(&'static str, String)>,
) -> impl std::future::Future<Output = (u16, String)> + Send + 'static {
    let request = app
        .client
        .post(app.url(path))
        .header("x-forwarded-for", address)
        .form(&form);
    async move {
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        }
    }
}

fn sign_up_form(name: &str, username: &str, email: &str, password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_owned()),
        ("username", username.to_owned()),
        ("email", email.to_owned()),
        ("password", password.to_owned()),
        ("password_confirm", password.to_owned()),
    ]
}

/// A login as a client behind our proxy at `address` would make it.
async fn login_from(app: &TestApp, address: &str, identifier: &str, password: &str) -> u16 {
    let form = vec![("identifier", identifier.to_owned()), ("password", password.to_owned())];
    post_from(app, "/api/login", address, form).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_cannot_pass_the_limit() {
    let app = spawn_empty_with(|state| state.trust_proxy = true).await;
    assert_eq!(
        register(&app, "victim", "victim@example.org").await.status().as_u16(),
        200
    );
    // 20 guesses at once, from 20 addresses: attempts are counted before
    // any password is checked, so at most the limit (5) are checked at all.
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..20 {
        let form = vec![
            ("identifier", "victim".to_owned()),
            ("password", format!("guess number {i}")),
        ];
        guesses.spawn(post_from(&app, "/api/login", &format!("10.1.0.{i}"), form));
    }
    let statuses: Vec<u16> = guesses.join_all().await.into_iter().map(|(s, _)| s).collect();
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    assert!(checked <= 5, "{checked} passwords were checked: {statuses:?}");
    assert!(statuses.iter().all(|&s| s == 401 || s == 429), "{statuses:?}");
    assert_eq!(
        login_from(&app, "10.1.1.1", "victim", PASSWORD).await,
        429,
        "the right password is refused too while locked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_counted_once_however_it_is_spelled() {
    let app = spawn_empty_with(|state| state.trust_proxy = true).await;
    assert_eq!(
        register(&app, "spelled", "Spelled@Example.org").await.status().as_u16(),
        200
    );
    for (i, name) in [
        "spelled",
        "SPELLED",
        "spelled@example.org",
        "SPELLED@EXAMPLE.ORG",
        "Spelled",
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            login_from(&app, &format!("10.2.0.{i}"), name, "wrong").await,
            401,
            "{name}"
        );
    }
    assert_eq!(login_from(&app, "10.2.1.1", "spelled@example.org", PASSWORD).await, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_login_does_not_wipe_an_addresses_failures() {
    let app = spawn_empty_with(|state| state.trust_proxy = true).await;
    let attacker = "10.3.0.1";
    for name in ["own", "v1", "v2", "v3", "v4", "v5"] {
        assert_eq!(
            register(&app, name, &format!("{name}@example.org"))
                .await
                .status()
                .as_u16(),
            200
        );
    }
    // 4 guesses at each of 4 accounts (under their limit of 5)...
    for victim in ["v1", "v2", "v3", "v4"] {
        for _ in 0..4 {
            assert_eq!(login_from(&app, attacker, victim, "wrong").await, 401);
        }
    }
    // ...a good login to an account of one's own...
    assert_eq!(login_from(&app, attacker, "own", PASSWORD).await, 200);
    // ...does not give the address a fresh start: 4 more reach its limit of 20.
    for _ in 0..4 {
        assert_eq!(login_from(&app, attacker, "v5", "wrong").await, 401);
    }
    assert_eq!(login_from(&app, attacker, "own", PASSWORD).await, 429);
    assert_eq!(
        login_from(&app, "10.3.0.2", "own", PASSWORD).await,
        200,
        "other addresses are not locked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_are_throttled_per_address_and_weak_passwords_refused() {
    let app = spawn_empty_with(|state| state.trust_proxy = true).await;
    let sign_up = |username: String, name: &'static str, password: &'static str, address: &'static str| {
        let form = sign_up_form(name, &username, &format!("{username}@example.org"), password);
        post_from(&app, "/api/register", address, form)
    };
    for weak in ["password", "12345678", "qwertyuiop", "weakling1"] {
        let (status, body) = sign_up("weakling1".into(), "Weak Ling", weak, "10.4.0.1").await;
        assert_eq!(status, 422, "{weak}: {body}");
        assert!(body.contains("too easy to guess"), "{weak}: {body}");
    }
    for name in ["Eve\u{202E}lim", "Ev\u{200B}e", "\u{2066}Eve"] {
        let (status, body) = sign_up("eve".into(), name, PASSWORD, "10.4.0.1").await;
        assert_eq!(status, 422, "{name:?}: {body}");
        assert!(body.contains("invisible or text-direction"), "{body}");
    }
    // 20 sign-ups an hour from one address; the 21st waits.
    for i in 0..20 {
        let (status, body) = sign_up(format!("user{i}"), "A User", PASSWORD, "10.4.0.2").await;
        assert_eq!(status, 200, "{i}: {body}");
    }
    let (status, body) = sign_up("user20".into(), "A User", PASSWORD, "10.4.0.2").await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("Too many accounts"), "{body}");
    assert_eq!(sign_up("user21".into(), "A User", PASSWORD, "10.4.0.3").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_is_refused_without_hashing_a_password() {
    let app = spawn_empty_with(|state| state.trust_proxy = true).await;
    assert_eq!(
        register(&app, "taken", "taken@example.org").await.status().as_u16(),
        200
    );
    // Many at once for a taken name: each is answered from the database
    // alone (argon2's ~19 MiB each is never spent on them).
    let hashed_before = cheeseshop::server::auth::argon2_runs();
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..40 {
        let form = sign_up_form("Someone", "taken", &format!("someone{i}@example.org"), PASSWORD);
        attempts.spawn(post_from(&app, "/api/register", &format!("10.5.0.{i}"), form));
    }
    let statuses: Vec<u16> = attempts.join_all().await.into_iter().map(|(s, _)| s).collect();
    assert!(statuses.iter().all(|&s| s == 422), "{statuses:?}");
    assert_eq!(
        cheeseshop::server::auth::argon2_runs(),
        hashed_before,
        "no password was hashed"
    );
}
