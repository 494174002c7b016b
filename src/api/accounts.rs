//! Accounts: register, log in, log out, the account page, public profiles.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{AccountData, CurrentUser, NewApiToken, PublicProfile};

#[server(prefix = "/api", endpoint = "register")]
pub async fn register(
    name: String,
    username: String,
    email: String,
    password: String,
    password_confirm: String,
) -> Result<(), AppError> {
    super::respond(ssr::register(name, username, email, password, password_confirm).await)
}

/// Whether anyone may create an account here (not on a private index,
/// whose accounts its administrators make).
#[server(prefix = "/api", endpoint = "registration_open")]
pub async fn registration_open() -> Result<bool, AppError> {
    let state = crate::server::state::AppState::from_context()?;
    Ok(!state.private)
}

#[server(prefix = "/api", endpoint = "login")]
pub async fn login(identifier: String, password: String, next: Option<String>) -> Result<(), AppError> {
    super::respond(ssr::login(identifier, password, next).await)
}

#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    super::respond(ssr::logout().await)
}

#[server(prefix = "/api", endpoint = "current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    Ok(ssr::session().map(|s| CurrentUser {
        username: s.user.username,
        name: s.user.name,
    }))
}

#[server(prefix = "/api", endpoint = "account")]
pub async fn get_account() -> Result<AccountData, AppError> {
    ssr::account().await
}

#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    new_password_confirm: String,
) -> Result<(), AppError> {
    super::respond(ssr::change_password(current_password, new_password, new_password_confirm).await)
}

/// A new API token for uploads, optionally limited to one of the user's projects.
#[server(prefix = "/api", endpoint = "create_token")]
pub async fn create_token(
    name: String,
    project: String,
    #[server(default)] scopes: Option<String>,
) -> Result<NewApiToken, AppError> {
    super::respond(ssr::create_token(name, project, scopes.unwrap_or_else(|| "read,upload".into())).await)
}

/// Lets (or stops) the upstream index's releases be served beside a
/// project's own: its owners only.
#[server(prefix = "/api", endpoint = "set_upstream_merge")]
pub async fn set_upstream_merge(project: String, allow: String) -> Result<(), AppError> {
    super::respond(ssr::set_upstream_merge(project, allow == "true").await)
}

#[server(prefix = "/api", endpoint = "revoke_token")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    super::respond(ssr::revoke_token(id).await)
}

/// A public profile with page `page` (from 1) of the user's projects.
#[server(prefix = "/api", endpoint = "user")]
pub async fn get_user(username: String, #[server(default)] page: Option<i64>) -> Result<PublicProfile, AppError> {
    super::respond(ssr::profile(&username, page.unwrap_or(1)).await)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use axum::http::header::SET_COOKIE;
    use axum::http::request::Parts;
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    use crate::api::catalog::ssr::human_date;
    use crate::domain::access::TokenScopes;
    use crate::domain::account::PASSWORD_MAX;
    use crate::domain::{DisplayName, Email, Password, TokenName, Username, safe_next};
    use crate::error::{AppError, FormErrors};
    use crate::model::{AccountData, ApiTokenInfo, MaintainedProject, NewApiToken, PROFILE_PAGE, PublicProfile};
    use crate::server::auth::{self, Session, throttle};
    use crate::server::db::accounts::{self, UserProject};
    use crate::server::db::write::maintain::NewEvent;
    use crate::server::now_micros;
    use crate::server::state::AppState;

    pub fn session() -> Option<Session> {
        use_context::<Parts>().and_then(|parts| parts.extensions.get::<Session>().cloned())
    }

    fn set_cookie(value: Option<axum::http::HeaderValue>) {
        if let (Some(value), Some(response)) = (value, use_context::<ResponseOptions>()) {
            response.append_header(SET_COOKIE, value);
        }
    }

    /// A new session for `user_id`, replacing the request's current one
    /// (a fresh token at every login: no session fixation).
    async fn start_session(state: &AppState, user_id: i64) -> Result<(), AppError> {
        if let Some(old) = session() {
            accounts::delete_session(&state.db, &old.token_hash).await?;
        }
        let now = now_micros();
        let (token, token_hash) = auth::new_session_token();
        accounts::create_session(&state.db, &token_hash, user_id, now, now + auth::SESSION_TTL).await?;
        set_cookie(auth::session_cookie(&token, state.secure_cookies));
        Ok(())
    }

    pub async fn register(
        name: String,
        username: String,
        email: String,
        password: String,
        password_confirm: String,
    ) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        if state.private {
            return Err(AppError::Forbidden(REGISTRATION_CLOSED.into()));
        }
        let mut form = FormErrors::default();
        form.keep("name", &name);
        form.keep("username", &username);
        form.keep("email", &email);
        let name = DisplayName::parse(&name).map_err(|e| form.add("name", e)).ok();
        let username = Username::parse(&username).map_err(|e| form.add("username", e)).ok();
        let email = Email::parse(&email).map_err(|e| form.add("email", e)).ok();
        let password_ok = Password::parse(&password).map_err(|e| form.add("password", e)).ok();
        if password_confirm.is_empty() {
            form.add("password_confirm", "Enter your password again.");
        } else if password_confirm != password {
            form.add("password_confirm", "The two passwords do not match.");
        }
        let (Some(name), Some(username), Some(email), Some(password), true) =
            (name, username, email, password_ok, form.is_empty())
        else {
            return Err(AppError::Invalid(form));
        };

        // Counted before any expensive work (judging the password, hashing
        // it), per address.
        let parts = use_context::<Parts>().ok_or(AppError::Internal)?;
        let address = auth::client_address(&parts, state.trust_proxy);
        let now = now_micros();
        let key = format!("register:{address}");
        if let Some(until) = accounts::count_attempt(
            &state.db,
            &[(&key, throttle::REGISTER_LIMIT)],
            now,
            throttle::REGISTER_WINDOW,
            throttle::lock_for,
        )
        .await?
        {
            return Err(AppError::TooManyRequests(throttle::register_message(until, now)));
        }
        if let Some(why) =
            auth::check_password_strength(&password, &[username.as_str(), email.as_str(), name.as_str()]).await?
        {
            form.add("password", why);
        }
        // A taken name or address is known without hashing anything.
        let (username_taken, email_taken) =
            accounts::taken(&state.db, &username.normalized(), &email.normalized()).await?;
        if username_taken {
            form.add("username", "This username is already taken.");
        }
        if email_taken {
            form.add("email", "An account with this e-mail address already exists.");
        }
        if !form.is_empty() {
            return Err(AppError::Invalid(form));
        }

        let user_id = match auth::create_account(&state.db, &username, &email, &name, password).await {
            Ok(id) => id,
            Err(auth::CreateAccountError::UsernameTaken) => {
                form.add("username", "This username is already taken.");
                return Err(AppError::Invalid(form));
            }
            Err(auth::CreateAccountError::EmailTaken) => {
                form.add("email", "An account with this e-mail address already exists.");
                return Err(AppError::Invalid(form));
            }
            Err(auth::CreateAccountError::Failed(e)) => return Err(e),
        };
        tracing::info!(user_id, "account registered");
        start_session(&state, user_id).await?;
        leptos_axum::redirect("/account");
        Ok(())
    }

    pub const REGISTRATION_CLOSED: &str =
        "This index is private: its administrators create the accounts. Ask one of them for an account.";

    const LOGIN_FAILED: &str = "The username or e-mail address and the password do not match an account.";

    pub async fn login(identifier: String, password: String, next: Option<String>) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let parts = use_context::<Parts>().ok_or(AppError::Internal)?;
        let address = auth::client_address(&parts, state.trust_proxy);
        let identifier = identifier.trim().to_lowercase();
        let credentials = if identifier.is_empty() || identifier.len() > 320 {
            None
        } else {
            accounts::credentials(&state.db, &identifier).await?
        };
        // An account is one key however it is named (username or e-mail,
        // any case); unknown names are counted by the name (bounded).
        let account_key = match &credentials {
            Some(c) => format!("user:{}", c.id),
            None => format!("account:{}", identifier.chars().take(320).collect::<String>()),
        };
        let address_key = format!("address:{address}");
        let now = now_micros();

        // Counted first, atomically: concurrent guesses cannot pass the limit.
        if let Some(until) = accounts::count_attempt(
            &state.db,
            &[
                (&account_key, throttle::ACCOUNT_LIMIT),
                (&address_key, throttle::ADDRESS_LIMIT),
            ],
            now,
            throttle::WINDOW,
            throttle::lock_for,
        )
        .await?
        {
            return Err(AppError::TooManyRequests(throttle::message(until, now)));
        }
        // Always one argon2 verification (against a dummy hash for unknown
        // users or impossible passwords): the answer's timing says nothing.
        let candidate = if password.chars().count() <= PASSWORD_MAX {
            password
        } else {
            String::new()
        };
        let user_id = credentials.as_ref().map(|c| c.id);
        let username = credentials.as_ref().map(|c| c.username.clone()).unwrap_or_default();
        let locked = credentials.as_ref().is_some_and(|c| c.locked);
        let valid = auth::verify_password(candidate, credentials.map(|c| c.password_hash)).await?;
        let Some(user_id) = user_id.filter(|_| valid) else {
            if let Some(user_id) = user_id {
                account_event(&state, user_id, None, "account:login-failed", String::new(), &address).await;
            }
            return Err(AppError::Unauthorized(LOGIN_FAILED.into()));
        };
        if locked {
            account_event(
                &state,
                user_id,
                None,
                "account:login-failed",
                "account locked".into(),
                &address,
            )
            .await;
            return Err(AppError::Forbidden(
                "This account is locked. Ask the index's administrators to unlock it.".into(),
            ));
        }
        account_event(
            &state,
            user_id,
            Some((user_id, &username)),
            "account:login",
            String::new(),
            &address,
        )
        .await;
        accounts::clear_attempts(&state.db, &account_key).await?;
        accounts::forgive_attempt(&state.db, &address_key, throttle::ADDRESS_LIMIT).await?;
        // Housekeeping on a path that is neither hot nor latency-critical.
        accounts::delete_expired_sessions(&state.db, now).await?;
        start_session(&state, user_id).await?;
        leptos_axum::redirect(&safe_next(next.as_deref()));
        Ok(())
    }

    /// Appends to an account's security history; a failure to is logged,
    /// not the request's failure.
    pub(crate) async fn account_event(
        state: &AppState,
        subject: i64,
        actor: Option<(i64, &str)>,
        kind: &str,
        detail: String,
        address: &str,
    ) {
        let event = NewEvent {
            project: None,
            actor,
            subject_id: Some(subject),
            kind,
            detail,
            address: Some(address.to_owned()),
        };
        if let Err(error) = crate::server::db::manage::record(&state.db, &event, now_micros()).await {
            tracing::warn!(%error, kind, "could not record a security event");
        }
    }

    pub(crate) fn request_address(state: &AppState) -> String {
        use_context::<Parts>()
            .map(|p| auth::client_address(&p, state.trust_proxy))
            .unwrap_or_default()
    }

    pub async fn logout() -> Result<(), AppError> {
        let state = AppState::from_context()?;
        if let Some(session) = session() {
            accounts::delete_session(&state.db, &session.token_hash).await?;
        }
        set_cookie(auth::expired_session_cookie(state.secure_cookies));
        leptos_axum::redirect("/");
        Ok(())
    }

    fn maintained(projects: Vec<UserProject>) -> Vec<MaintainedProject> {
        projects
            .into_iter()
            .map(|p| MaintainedProject {
                name: p.name,
                normalized_name: p.normalized_name,
                role: p.role,
                allow_upstream: p.allow_upstream,
            })
            .collect()
    }

    /// The account page's data; anonymous visitors are sent to log in.
    pub async fn account() -> Result<AccountData, AppError> {
        let state = AppState::from_context()?;
        let Some(session) = session() else {
            let error = AppError::Unauthorized("Log in to see your account.".into());
            // The redirect's 302 must win over the error's status.
            leptos_axum::redirect("/account/login?next=%2Faccount");
            return Err(error);
        };
        let user = accounts::user(&state.db, session.user.user_id)
            .await?
            .ok_or(AppError::Internal)?;
        let now = now_micros();
        let (projects, tokens, invitations, events) = tokio::try_join!(
            accounts::projects_of(&state.db, user.id),
            crate::server::db::index::tokens(&state.db, user.id),
            crate::server::db::manage::user_invitations(&state.db, user.id, now),
            crate::server::db::manage::account_events(&state.db, user.id, 100),
        )?;
        // A token created without JavaScript, carried here by a cookie:
        // shown once (if it is still this user's), then the cookie goes.
        let mut new_token = None;
        if let Some(token) = use_context::<Parts>().and_then(|p| auth::new_token_from(&p.headers)) {
            let owner = crate::server::db::index::token_owner(&state.db, &auth::hash_token(&token)).await?;
            if let Some(owner) = owner.filter(|o| o.user_id == user.id) {
                new_token = Some(NewApiToken {
                    name: owner.token_name,
                    token,
                });
            }
            set_cookie(auth::expired_new_token_cookie(state.secure_cookies));
        }
        Ok(AccountData {
            username: user.username,
            name: user.name,
            email: user.email,
            member_since: human_date(Some(user.created)),
            projects: maintained(projects),
            upstream: state.upstream.is_some(),
            is_admin: session.user.is_admin,
            invitations: invitations
                .into_iter()
                .map(crate::api::manage::ssr::invitation)
                .collect(),
            events: crate::api::manage::ssr::events(events),
            tokens: tokens
                .into_iter()
                .map(|t| ApiTokenInfo {
                    id: t.id,
                    name: t.name,
                    project: t.project,
                    created: human_date(Some(t.created)),
                    last_used: t.last_used.map(|t| human_date(Some(t))),
                    scopes: TokenScopes::from_db(&t.scopes).label().to_owned(),
                })
                .collect(),
            new_token,
        })
    }

    pub async fn create_token(name: String, project: String, scopes: String) -> Result<NewApiToken, AppError> {
        let state = AppState::from_context()?;
        let session = session().ok_or_else(|| AppError::Unauthorized("Log in to create API tokens.".into()))?;
        let user_id = session.user.user_id;
        let mut form = FormErrors::default();
        form.keep("name", &name);
        let name = TokenName::parse(&name).map_err(|e| form.add("name", e)).ok();
        let scopes = TokenScopes::parse(&scopes)
            .map_err(|e| form.add("scopes", e))
            .unwrap_or(TokenScopes::ALL);
        let project = project.trim();
        let project_id = if project.is_empty() {
            None
        } else {
            let normalized = crate::domain::normalize_project_name(project);
            let id = accounts::own_project_id(&state.db, user_id, &normalized).await?;
            if id.is_none() {
                form.add("project", "Choose one of your projects, or all of them.");
            }
            id
        };
        let Some(name) = name.filter(|_| form.is_empty()) else {
            return Err(AppError::Invalid(form));
        };
        let (token, hash) = auth::new_api_token();
        crate::server::db::index::create_token(
            &state.db,
            user_id,
            name.as_str(),
            &hash,
            project_id,
            scopes,
            now_micros(),
        )
        .await?;
        tracing::info!(user_id, "API token created");
        let detail = format!(
            "“{}”, {}, {}",
            name.as_str(),
            scopes.label(),
            if project.is_empty() {
                "all projects".to_owned()
            } else {
                format!("project {project}")
            }
        );
        account_event(
            &state,
            user_id,
            Some((user_id, &session.user.username)),
            "token:create",
            detail,
            &request_address(&state),
        )
        .await;
        // Without JavaScript the answer is a redirect back to /account, which
        // cannot carry the token: a short-lived cookie does, to this browser only.
        if use_context::<Parts>().is_some_and(|p| crate::api::is_plain_form_post(&p)) {
            set_cookie(auth::new_token_cookie(&token, state.secure_cookies));
        }
        Ok(NewApiToken {
            name: name.as_str().to_owned(),
            token,
        })
    }

    pub async fn set_upstream_merge(project: String, allow: bool) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session().ok_or_else(|| AppError::Unauthorized("Log in to manage your projects.".into()))?;
        let normalized = crate::domain::normalize_project_name(project.trim());
        let user_id = session.user.user_id;
        if !crate::server::db::upstream::set_allow_upstream(&state.db, user_id, &normalized, allow).await? {
            return Err(AppError::Forbidden(format!(
                "Only an owner of {} can change where its releases come from.",
                normalized.chars().take(100).collect::<String>()
            )));
        }
        tracing::info!(user_id, project = %normalized, allow, "upstream releases setting changed");
        if let Some(project) = crate::server::db::catalog::project(&state.db, &normalized).await? {
            let event = NewEvent {
                project: Some((project.id, &project.name)),
                actor: Some((user_id, &session.user.username)),
                subject_id: None,
                kind: "project:upstream",
                detail: if allow {
                    "upstream releases served too"
                } else {
                    "local releases only"
                }
                .into(),
                address: Some(request_address(&state)),
            };
            if let Err(error) = crate::server::db::manage::record(&state.db, &event, now_micros()).await {
                tracing::warn!(%error, "could not record a security event");
            }
        }
        Ok(())
    }

    pub async fn revoke_token(id: i64) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session().ok_or_else(|| AppError::Unauthorized("Log in to revoke API tokens.".into()))?;
        if !crate::server::db::index::revoke_token(&state.db, session.user.user_id, id).await? {
            return Err(AppError::NotFound("No such API token.".into()));
        }
        tracing::info!(user_id = session.user.user_id, token_id = id, "API token revoked");
        let user_id = session.user.user_id;
        account_event(
            &state,
            user_id,
            Some((user_id, &session.user.username)),
            "token:revoke",
            format!("token #{id}"),
            &request_address(&state),
        )
        .await;
        Ok(())
    }

    pub async fn change_password(current: String, new: String, confirm: String) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session().ok_or_else(|| AppError::Unauthorized("Log in to change your password.".into()))?;
        let mut form = FormErrors::default();
        let new_password = Password::parse(&new).map_err(|e| form.add("new_password", e)).ok();
        if confirm != new {
            form.add("new_password_confirm", "The two passwords do not match.");
        }
        // Guessing the current password from a session is throttled like a login.
        let now = now_micros();
        let account_key = format!("user:{}", session.user.user_id);
        if let Some(until) = accounts::count_attempt(
            &state.db,
            &[(&account_key, throttle::ACCOUNT_LIMIT)],
            now,
            throttle::WINDOW,
            throttle::lock_for,
        )
        .await?
        {
            return Err(AppError::TooManyRequests(throttle::message(until, now)));
        }
        let hash = accounts::password_hash(&state.db, session.user.user_id).await?;
        if auth::verify_password(current, hash).await? {
            accounts::clear_attempts(&state.db, &account_key).await?;
        } else {
            form.add("current_password", "This is not your current password.");
        }
        if let Some(password) = &new_password
            && let Some(why) =
                auth::check_password_strength(password, &[session.user.username.as_str(), session.user.name.as_str()])
                    .await?
        {
            form.add("new_password", why);
        }
        let (Some(new_password), true) = (new_password, form.is_empty()) else {
            return Err(AppError::Invalid(form));
        };
        let hash = auth::hash_password(new_password).await?;
        accounts::set_password(&state.db, session.user.user_id, hash.as_str(), &session.token_hash).await?;
        tracing::info!(user_id = session.user.user_id, "password changed; other sessions ended");
        let user_id = session.user.user_id;
        account_event(
            &state,
            user_id,
            Some((user_id, &session.user.username)),
            "account:password",
            String::new(),
            &request_address(&state),
        )
        .await;
        Ok(())
    }

    pub async fn profile(username: &str, page: i64) -> Result<PublicProfile, AppError> {
        let state = AppState::from_context()?;
        let not_found = || AppError::NotFound("We couldn't find a user with that name.".into());
        let username = Username::parse(username).map_err(|_| not_found())?;
        let user = accounts::user_by_username(&state.db, &username.normalized())
            .await?
            .ok_or_else(not_found)?;
        if page < 1 {
            return Err(AppError::BadRequest(
                "The page number must be a whole number from 1 up.".into(),
            ));
        }
        let size = PROFILE_PAGE as i64;
        let (projects, total) =
            accounts::projects_page(&state.db, user.id, size, (page - 1).saturating_mul(size)).await?;
        let pages = ((total + size - 1) / size).max(1);
        if page > pages {
            return Err(AppError::NotFound(format!(
                "{} has {pages} page{} of projects.",
                user.username,
                if pages == 1 { "" } else { "s" }
            )));
        }
        Ok(PublicProfile {
            username: user.username,
            name: user.name,
            member_since: human_date(Some(user.created)),
            projects: maintained(projects),
            project_count: total,
            page,
            pages,
        })
    }
}
