//! Authentication: password hashing, sessions, login throttling and the
//! cross-site request check.
//!
//! Sessions are our own small implementation rather than tower-sessions:
//! its stores keep the session id itself as the key, while we keep only a
//! SHA-256 of a 256-bit random token (a leaked table opens no session), and
//! we need the session joined with its user in one query per request.

use std::net::SocketAddr;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};

use crate::domain::{DisplayName, Email, Password, Username};
use crate::error::AppError;
use crate::server::db::Db;
use crate::server::db::accounts::{self, CreateUserError, NewUser, SessionUser};
use crate::server::now_micros;
use crate::server::state::AppState;

pub const SESSION_COOKIE: &str = "cheeseshop_session";
const SECOND: i64 = 1_000_000;
/// Sessions live 14 days after their last use.
pub const SESSION_TTL: i64 = 14 * 86_400 * SECOND;
/// A session's expiry moves forward at most once an hour (not on every request).
const TOUCH_EVERY: i64 = 3_600 * SECOND;

/// An argon2id hash in PHC format. Deliberately not `Serialize`, and its
/// `Debug` prints nothing of it.
pub struct PasswordHashString(String);

impl PasswordHashString {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHashString(<redacted>)")
    }
}

/// Password work admitted at once (argon2 hashing and verification, and
/// judging a new password's strength): one per CPU. A hash takes ~19 MiB
/// and tens of milliseconds of CPU, so this bounds both the memory and the
/// blocking threads that logins and sign-ups can occupy.
fn argon2_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// How many argon2 hashes and verifications this process has run.
static ARGON2_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many argon2 hashes and verifications this process has run (tests
/// use it to show that some path needs none).
pub fn argon2_runs() -> u64 {
    ARGON2_RUNS.load(std::sync::atomic::Ordering::Relaxed)
}

/// How many may wait for a slot; beyond that the answer is 429 at once.
const ARGON2_QUEUE: usize = 64;
/// How long one may wait for a slot before giving up with 429.
const ARGON2_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs argon2 work on the blocking pool once a slot is free. Waiting costs
/// no memory beyond the request; a full queue or a long wait is "busy".
/// Requests waiting for an argon2 slot.
static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
#[cfg(test)]
use WAITING as WAITING_FOR_TEST;

async fn with_argon2_slot<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    let busy = || AppError::TooManyRequests("The server is busy checking passwords. Try again in a moment.".into());
    struct Waiting;
    impl Drop for Waiting {
        fn drop(&mut self) {
            WAITING.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        }
    }
    if WAITING.fetch_add(1, std::sync::atomic::Ordering::AcqRel) >= ARGON2_QUEUE {
        WAITING.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        return Err(busy());
    }
    let waiting = Waiting;
    let permit = tokio::time::timeout(ARGON2_WAIT, argon2_slots().acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| AppError::Internal)?;
    drop(waiting);
    let result = tokio::task::spawn_blocking(work).await.map_err(|_| AppError::Internal);
    drop(permit);
    result
}

/// Hashes with argon2id (the crate's defaults: m=19 MiB, t=2, p=1, as OWASP
/// recommends) and a fresh random salt, on a blocking thread: hashing takes
/// tens of milliseconds of CPU that must not stall the async workers.
pub async fn hash_password(password: Password) -> Result<PasswordHashString, AppError> {
    with_argon2_slot(move || {
        ARGON2_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| PasswordHashString(h.to_string()))
            .map_err(|_| AppError::Internal)
    })
    .await?
}

/// Refuses guessable passwords as PyPI does: zxcvbn (dictionaries of common
/// passwords, names and words, keyboard patterns, dates, repeats) must rate
/// it at least "somewhat guessable" (score 2: more than 10^6 guesses), also
/// knowing the account's own username, name and e-mail address.
///
/// `Ok(Some(reason))` for a weak password. zxcvbn takes up to a few hundred
/// milliseconds of CPU on a long random password, so it runs in the same
/// bounded slots as argon2 (`Err` when they are all busy).
pub async fn check_password_strength(password: &Password, account: &[&str]) -> Result<Option<String>, AppError> {
    let password = password.expose().to_owned();
    let inputs: Vec<String> = account.iter().map(|s| (*s).to_owned()).collect();
    with_argon2_slot(move || {
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let entropy = zxcvbn::zxcvbn(&password, &inputs);
        if entropy.score() >= zxcvbn::Score::Two {
            return None;
        }
        let hint = entropy
            .feedback()
            .and_then(|f| {
                f.warning()
                    .map(|w| w.to_string())
                    .or_else(|| f.suggestions().first().map(|s| s.to_string()))
            })
            .unwrap_or_default();
        Some(
            format!("This password is too easy to guess. {hint} Use a longer passphrase of uncommon words.")
                .replace("  ", " "),
        )
    })
    .await
}

/// Why an account could not be created.
#[derive(Debug)]
pub enum CreateAccountError {
    UsernameTaken,
    EmailTaken,
    /// Hashing or the database failed: nothing the caller can fix.
    Failed(AppError),
}

/// Creates an account from already parsed parts (registration and
/// `cheeseshop user create` both come here): hashes the password with
/// argon2id off the async threads, then inserts. Uniqueness of the username
/// and the e-mail address is decided by the database's unique indexes, so
/// of two concurrent sign-ups with one address exactly one succeeds.
pub async fn create_account(
    db: &Db,
    username: &Username,
    email: &Email,
    name: &DisplayName,
    password: Password,
) -> Result<i64, CreateAccountError> {
    let hash = hash_password(password).await.map_err(CreateAccountError::Failed)?;
    let created = accounts::create_user(
        db,
        &NewUser {
            username: username.as_str(),
            username_normalized: &username.normalized(),
            name: name.as_str(),
            email: email.as_str(),
            email_normalized: &email.normalized(),
            password_hash: hash.as_str(),
            created: now_micros(),
        },
    )
    .await;
    match created {
        Ok(id) => Ok(id),
        Err(CreateUserError::UsernameTaken) => Err(CreateAccountError::UsernameTaken),
        Err(CreateUserError::EmailTaken) => Err(CreateAccountError::EmailTaken),
        Err(CreateUserError::Db(e)) => Err(CreateAccountError::Failed(e.into())),
    }
}

/// A hash of a random password that nobody knows: unknown users are
/// verified against it, so a login takes as long whether or not the
/// account exists.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(&secret, &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Verifies on a blocking thread, in an argon2 slot; `hash` is `None` for
/// an unknown user. `Err` only when the server is too busy to check.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AppError> {
    with_argon2_slot(move || {
        ARGON2_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = PasswordHash::new(&hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        ok && known
    })
    .await
}

/// A new session token (for the cookie) and its hash (for the database).
pub fn new_session_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// Prefix of our API tokens, so that secret scanners and people can tell them apart.
pub const API_TOKEN_PREFIX: &str = "cheeseshop-";

/// A new API token (shown to its owner once) and its hash (stored).
pub fn new_api_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = format!("{API_TOKEN_PREFIX}{}", hex::encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A `Set-Cookie` value for one of our `HttpOnly` cookies.
fn http_only_cookie(
    name: &'static str,
    value: &str,
    same_site: SameSite,
    path: &'static str,
    max_age: cookie::time::Duration,
    secure: bool,
) -> Option<HeaderValue> {
    let cookie = Cookie::build((name, value.to_owned()))
        .http_only(true)
        .same_site(same_site)
        .path(path)
        .secure(secure)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// The `Set-Cookie` value for a session: `HttpOnly`, `SameSite=Lax`,
/// `Path=/`, and `Secure` when the site is served over https.
pub fn session_cookie(token: &str, secure: bool) -> Option<HeaderValue> {
    let max_age = cookie::time::Duration::seconds(SESSION_TTL / SECOND);
    http_only_cookie(SESSION_COOKIE, token, SameSite::Lax, "/", max_age, secure)
}

pub fn expired_session_cookie(secure: bool) -> Option<HeaderValue> {
    http_only_cookie(
        SESSION_COOKIE,
        "",
        SameSite::Lax,
        "/",
        cookie::time::Duration::ZERO,
        secure,
    )
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// Whether the request carries a session cookie at all, valid or not.
pub fn has_session_cookie(headers: &HeaderMap) -> bool {
    cookie_value(headers, SESSION_COOKIE).is_some()
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    // Our tokens are 64 hex characters; anything else is not worth a query.
    cookie_value(headers, SESSION_COOKIE).filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Carries an API token created by a form without JavaScript to the next
/// view of `/account`, which shows it once and clears it. It never touches
/// the database or a URL, only this browser, like the session cookie.
pub const NEW_TOKEN_COOKIE: &str = "cheeseshop_new_token";

pub fn new_token_cookie(token: &str, secure: bool) -> Option<HeaderValue> {
    let max_age = cookie::time::Duration::minutes(5);
    http_only_cookie(NEW_TOKEN_COOKIE, token, SameSite::Strict, "/account", max_age, secure)
}

pub fn expired_new_token_cookie(secure: bool) -> Option<HeaderValue> {
    let max_age = cookie::time::Duration::ZERO;
    http_only_cookie(NEW_TOKEN_COOKIE, "", SameSite::Strict, "/account", max_age, secure)
}

/// The API token in the new-token cookie, if it is one of ours.
pub fn new_token_from(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, NEW_TOKEN_COOKIE).filter(|t| {
        t.strip_prefix(API_TOKEN_PREFIX)
            .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

/// The logged-in user of this request, put in the request's extensions by
/// [`session_layer`] (server functions read it from the request parts).
#[derive(Clone, Debug)]
pub struct Session {
    pub user: SessionUser,
    pub token_hash: String,
}

/// Resolves the session cookie to a user (one indexed query, and none for
/// requests without our cookie), runs `next` with it, and slides the
/// session's expiry forward. Forged, unknown or expired tokens are simply
/// anonymous. (Part of `http::front`.)
pub async fn with_session(state: &AppState, mut request: Request, next: Next) -> Response {
    let Some(token) = session_token(request.headers()) else {
        return anonymous(state, request, next).await;
    };
    let token_hash = hash_token(&token);
    let now = now_micros();
    let user = match accounts::session_user(&state.db, &token_hash, now).await {
        Ok(user) => user,
        Err(error) => {
            tracing::error!(%error, "session lookup failed");
            None
        }
    };
    let Some(user) = user else {
        return anonymous(state, request, next).await;
    };
    let stale = now - user.last_seen > TOUCH_EVERY;
    request.extensions_mut().insert(Session {
        user,
        token_hash: token_hash.clone(),
    });
    let mut response = next.run(request).await;
    // Logout or a new login replaced the cookie: do not resurrect the old one.
    if stale && !response.headers().contains_key(header::SET_COOKIE) {
        match accounts::touch_session(&state.db, &token_hash, now, now + SESSION_TTL).await {
            Ok(()) => {
                if let Some(cookie) = session_cookie(&token, state.secure_cookies) {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
            }
            Err(error) => tracing::error!(%error, "session refresh failed"),
        }
    }
    response
}

/// A request without a session: served, unless the index is private and
/// it is neither open to all (see [`open_in_private`]) nor carries a token
/// with the read scope.
async fn anonymous(state: &AppState, request: Request, next: Next) -> Response {
    if state.private && !open_in_private(request.uri().path()) {
        match read_token(state, request.headers()).await {
            Ok(true) => {}
            Ok(false) => return private_refusal(&request),
            Err(error) => {
                let error = AppError::from(error);
                return (error.status(), error.to_string()).into_response();
            }
        }
    }
    next.run(request).await
}

/// What a private index serves to anyone: logging in (and the page that
/// says registration is closed), the assets pages need, health checks and
/// metrics, and uploads (which authenticate themselves, with a token that
/// has the upload scope).
pub fn open_in_private(path: &str) -> bool {
    matches!(
        path,
        "/account/login"
            | "/account/register"
            | "/api/login"
            | "/api/logout"
            | "/api/register"
            | "/api/current_user"
            | "/favicon.svg"
            | "/robots.txt"
            | "/_health"
            | "/_health/ready"
            | "/_metrics"
            | "/legacy"
            | "/legacy/"
    ) || path.starts_with("/pkg/")
}

/// Whether the request's HTTP Basic credentials hold an API token with
/// the read scope (any username: pip, uv and netrc files need one;
/// `__token__` is the convention) of an account that is not locked.
async fn read_token(state: &AppState, headers: &HeaderMap) -> Result<bool, sqlx::Error> {
    let Some((_, token)) = basic_credentials(headers) else {
        return Ok(false);
    };
    let owner = crate::server::db::index::token_owner(&state.db, &hash_token(token.trim())).await?;
    let Some(owner) = owner.filter(|o| crate::domain::access::TokenScopes::from_db(&o.scopes).read) else {
        return Ok(false);
    };
    // The token's use, at most once an hour, in its owner's history: off
    // the request's path, and not even a task when the row says it was
    // recorded within the hour (the conditional UPDATE decides between
    // concurrent readers).
    let now = now_micros();
    if owner.last_used.is_some_and(|at| at >= now - TOKEN_USE_EVERY) {
        return Ok(true);
    }
    let db = state.db.clone();
    tokio::spawn(async move {
        match crate::server::db::index::touch_token_if_older(&db, owner.token_id, now, TOKEN_USE_EVERY).await {
            Ok(true) => {
                let event = crate::server::db::write::maintain::NewEvent {
                    actor: Some((owner.user_id, &owner.username)),
                    subject_id: Some(owner.user_id),
                    kind: "token:use",
                    detail: format!("“{}” read the index", owner.token_name),
                    ..Default::default()
                };
                if let Err(error) = crate::server::db::manage::record(&db, &event, now).await {
                    tracing::warn!(%error, "could not record a token's use");
                }
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not record a token's use"),
        }
    });
    Ok(true)
}

/// How often a token's reads are recorded: its last use, and an entry in
/// its owner's security history.
const TOKEN_USE_EVERY: i64 = 3600 * 1_000_000;

/// The username and password of HTTP Basic credentials, if the request
/// has readable ones (uploads and a private index's readers).
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (username, password) = decoded.split_once(':')?;
    Some((username.to_owned(), password.to_owned()))
}

/// A private index's answer to a request it may not serve: a browser
/// asking for a page is sent to log in (and brought back after); pip, uv
/// and scripts get 401 with a Basic challenge, which makes pip look for
/// credentials in netrc or a keyring and ask.
fn private_refusal(request: &Request) -> Response {
    let path = request.uri().path();
    let api = ["/simple", "/pypi/", "/files/", "/rss/", "/api/"]
        .iter()
        .any(|p| path.starts_with(p));
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html && !api && request.method() == Method::GET {
        let next = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let location = format!("/account/login?next={}", crate::domain::escape::url_segment(next));
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        return response;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "This index is private: log in, or send an API token with the read scope as the password of HTTP Basic \
         credentials (username __token__).",
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"cheeseshop\", charset=\"UTF-8\""),
    );
    response
}

/// Rejects state-changing requests to server functions that come from
/// another site: the `Origin` (or, without it, the `Referer`) must name this
/// host. Requests with neither are not from a browser form or script of
/// another site (browsers send `Origin` on every cross-site POST), and
/// `SameSite=Lax` keeps the session cookie off cross-site POSTs as well.
/// (Part of `http::front`: `Some` answer refuses the request.)
pub fn cross_site_refusal(request: &Request) -> Option<Response> {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || !request.uri().path().starts_with("/api/") || same_origin(request.headers()) {
        return None;
    }
    let error = AppError::Forbidden("This request came from another site and was refused.".into());
    Some((error.status(), error.to_string()).into_response())
}

fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match (source, host) {
        (None, _) => true,
        (Some(source), Some(host)) => origin_host(source).is_some_and(|h| h.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// `https://example.org:8443/path` → `example.org:8443`; `null` → None.
fn origin_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|h| !h.is_empty())
}

/// The client's address: the socket peer, or with `CHEESESHOP_TRUST_PROXY`
/// set, the first address of `X-Forwarded-For` (set by our own proxy).
pub fn client_address(parts: &axum::http::request::Parts, trust_proxy: bool) -> String {
    client_address_of(&parts.headers, &parts.extensions, trust_proxy)
}

/// The same from a request's headers and extensions.
pub fn client_address_of(headers: &HeaderMap, extensions: &axum::http::Extensions, trust_proxy: bool) -> String {
    if trust_proxy
        && let Some(forwarded) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok())
        && let Some(first) = forwarded.split(',').next().map(str::trim).filter(|s| !s.is_empty())
    {
        return first.to_owned();
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Login throttling: attempts are counted per account (by user id, however
/// it was spelled) and per address in a 15-minute window, *before* the
/// password is checked, in one write transaction, so concurrent guesses
/// cannot slip past the limit. The attempt that reaches the limit locks the
/// key for a time that doubles with every further one (1, 2, 4, 8, then 15
/// minutes); a locked login is refused at once, nothing sleeps. A success
/// clears its account's count and takes back its own attempt from the
/// address (and nothing more: logging into your own account does not wipe
/// what that address did to others).
///
/// Registration is counted the same way, per address.
pub mod throttle {
    use super::SECOND;

    pub const WINDOW: i64 = 15 * 60 * SECOND;
    pub const ACCOUNT_LIMIT: i64 = 5;
    pub const ADDRESS_LIMIT: i64 = 20;
    /// Sign-ups per address and hour.
    pub const REGISTER_WINDOW: i64 = 3_600 * SECOND;
    pub const REGISTER_LIMIT: i64 = 20;
    const MAX_LOCK: i64 = 15 * 60 * SECOND;

    /// How long to lock after `failures` failures against `limit`.
    pub fn lock_for(failures: i64, limit: i64) -> Option<i64> {
        let over = failures - limit;
        (over >= 0).then(|| (60 * SECOND).saturating_mul(1 << over.min(10)).min(MAX_LOCK))
    }

    fn minutes(locked_until: i64, now: i64) -> String {
        let minutes = ((locked_until - now) as f64 / (60 * SECOND) as f64).ceil().max(1.0) as i64;
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    }

    /// "Try again in 3 minutes."
    pub fn message(locked_until: i64, now: i64) -> String {
        format!(
            "Too many failed login attempts. Try again in {}.",
            minutes(locked_until, now)
        )
    }

    pub fn register_message(locked_until: i64, now: i64) -> String {
        format!(
            "Too many accounts were created from your address. Try again in {}.",
            minutes(locked_until, now)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_grows_and_is_capped() {
        use throttle::lock_for;
        assert_eq!(lock_for(4, 5), None);
        assert_eq!(lock_for(5, 5), Some(60 * SECOND));
        assert_eq!(lock_for(6, 5), Some(120 * SECOND));
        assert_eq!(lock_for(8, 5), Some(480 * SECOND));
        assert_eq!(lock_for(9, 5), Some(900 * SECOND));
        assert_eq!(lock_for(500, 5), Some(900 * SECOND));
        assert_eq!(
            throttle::message(61 * SECOND, 0),
            "Too many failed login attempts. Try again in 2 minutes."
        );
    }

    #[test]
    fn origins() {
        assert_eq!(origin_host("http://127.0.0.1:3000"), Some("127.0.0.1:3000"));
        assert_eq!(
            origin_host("https://pypi.example/account/login?x"),
            Some("pypi.example")
        );
        assert_eq!(origin_host("null"), None);
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert!(
            same_origin(&h),
            "no Origin, no Referer: not a browser cross-site request"
        );
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:3000"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_session_token();
        let (b, _) = new_session_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(hash_token(&a), ha);
        assert_ne!(a, ha);
    }

    #[test]
    fn cookie_flags() {
        let c = session_cookie("abc", true).unwrap();
        let c = c.to_str().unwrap();
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure", "Max-Age=1209600"] {
            assert!(c.contains(flag), "{c} has {flag}");
        }
        assert!(
            !session_cookie("abc", false)
                .unwrap()
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }

    #[tokio::test]
    async fn weak_passwords_are_refused() {
        for weak in [
            "password",
            "password1",
            "12345678",
            "qwertyuiop",
            "iloveyou",
            "ada-lovelace",
        ] {
            let password = Password::parse(weak).unwrap();
            assert!(
                check_password_strength(&password, &["ada-lovelace", "Ada Lovelace", "ada@example.org"])
                    .await
                    .unwrap()
                    .is_some(),
                "{weak}"
            );
        }
        for strong in [
            "correct horse battery staple",
            "Vx9#mQ2!pL7z",
            "marmalade tugboat origami",
        ] {
            let password = Password::parse(strong).unwrap();
            assert_eq!(
                check_password_strength(&password, &["ada"]).await.unwrap(),
                None,
                "{strong}"
            );
        }
    }

    #[tokio::test]
    async fn argon2_work_runs_holding_a_slot() {
        let slots = argon2_slots().available_permits();
        assert!(slots >= 1);
        let inside = with_argon2_slot(|| argon2_slots().available_permits()).await.unwrap();
        assert_eq!(inside, slots - 1);
        assert_eq!(argon2_slots().available_permits(), slots, "given back");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_slots_and_the_queue_the_answer_is_busy() {
        use std::sync::{Arc, Condvar, Mutex};
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let slots = argon2_slots().available_permits();
        let mut held = Vec::new();
        for _ in 0..slots + ARGON2_QUEUE {
            let gate = gate.clone();
            held.push(tokio::spawn(with_argon2_slot(move || {
                let (open, wake) = &*gate;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = wake.wait(open).unwrap();
                }
            })));
        }
        // Every slot taken and the queue full: the next one is told at once.
        while argon2_slots().available_permits() > 0
            || WAITING_FOR_TEST.load(std::sync::atomic::Ordering::Acquire) < ARGON2_QUEUE
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let refused = with_argon2_slot(|| ()).await;
        assert!(matches!(refused, Err(AppError::TooManyRequests(_))), "{refused:?}");
        {
            let (open, wake) = &*gate;
            *open.lock().unwrap() = true;
            wake.notify_all();
        }
        for task in held {
            assert!(task.await.unwrap().is_ok(), "the queued ones all ran");
        }
    }

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let hash = hash_password(Password::parse("correct horse battery").unwrap())
            .await
            .unwrap();
        assert!(hash.as_str().starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse battery".into(), Some(hash.as_str().to_owned()))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("wrong horse battery".into(), Some(hash.as_str().to_owned()))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("anything".into(), None).await.unwrap(),
            "unknown users never verify"
        );
        assert_eq!(format!("{hash:?}"), "PasswordHashString(<redacted>)");
    }
}
