//! The site administrators' area: find accounts and projects, lock and
//! unlock accounts, reserve names that nobody (and no upstream index) may
//! take. Quarantine and deletion of projects are on each project's manage
//! page, which administrators may open. Who is an administrator is decided
//! on the command line (`cheeseshop user admin grant USER`).

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::AdminData;

#[server(prefix = "/api", endpoint = "admin")]
pub async fn get_admin(#[server(default)] q: String) -> Result<AdminData, AppError> {
    super::respond(ssr::overview(&q).await)
}

/// `lock` is "true" or "false".
#[server(prefix = "/api", endpoint = "set_account_lock")]
pub async fn set_account_lock(username: String, lock: String) -> Result<(), AppError> {
    super::respond(ssr::set_lock(&username, lock == "true").await)
}

#[server(prefix = "/api", endpoint = "reserve_name")]
pub async fn reserve_name(name: String) -> Result<(), AppError> {
    super::respond(ssr::reserve(&name, true).await)
}

#[server(prefix = "/api", endpoint = "release_name")]
pub async fn release_name(name: String) -> Result<(), AppError> {
    super::respond(ssr::reserve(&name, false).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::api::accounts::ssr::{account_event, session};
    use crate::api::catalog::ssr::human_date;
    use crate::domain::{ProjectName, Username};
    use crate::error::AppError;
    use crate::model::{AdminData, AdminProject, AdminUser};
    use crate::server::auth::Session;
    use crate::server::db::{accounts, manage, upstream};
    use crate::server::now_micros;
    use crate::server::state::AppState;

    /// Rows of each list shown.
    const FOUND: i64 = 50;

    fn admin() -> Result<Session, AppError> {
        let session = session().ok_or_else(|| AppError::Unauthorized("Log in as a site administrator.".into()))?;
        if !session.user.is_admin {
            return Err(AppError::Forbidden(
                "Only site administrators may use the admin area.".into(),
            ));
        }
        Ok(session)
    }

    pub async fn overview(query: &str) -> Result<AdminData, AppError> {
        let state = AppState::from_context()?;
        admin()?;
        let query: String = query.trim().chars().take(100).collect();
        let (users, projects, reserved) = tokio::try_join!(
            manage::find_users(&state.db, &query, FOUND),
            manage::find_projects(&state.db, &query, FOUND),
            upstream::reserved_names(&state.db),
        )?;
        Ok(AdminData {
            query,
            users: users
                .into_iter()
                .map(|u| AdminUser {
                    username: u.username,
                    name: u.name,
                    email: u.email,
                    member_since: human_date(Some(u.created)),
                    is_admin: u.is_admin,
                    locked: u.locked,
                })
                .collect(),
            projects: projects
                .into_iter()
                .map(|p| AdminProject {
                    name: p.name,
                    normalized_name: p.normalized_name,
                    status: p.status,
                })
                .collect(),
            reserved,
        })
    }

    pub async fn set_lock(username: &str, lock: bool) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = admin()?;
        let not_found = || AppError::NotFound("There is no such user.".into());
        let username = Username::parse(username).map_err(|_| not_found())?;
        let user = accounts::user_by_username(&state.db, &username.normalized())
            .await?
            .ok_or_else(not_found)?;
        if user.id == session.user.user_id {
            return Err(AppError::BadRequest("You cannot lock your own account.".into()));
        }
        if accounts::set_flag(&state.db, user.id, false, lock).await? {
            let kind = if lock { "account:lock" } else { "account:unlock" };
            let address = crate::api::accounts::ssr::request_address(&state);
            account_event(
                &state,
                user.id,
                Some((session.user.user_id, &session.user.username)),
                kind,
                String::new(),
                &address,
            )
            .await;
            tracing::info!(
                admin = session.user.user_id,
                user = user.id,
                lock,
                "account lock changed"
            );
        }
        Ok(())
    }

    pub async fn reserve(name: &str, reserve: bool) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = admin()?;
        let name = ProjectName::parse(name).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let normalized = name.normalized();
        if reserve {
            upstream::reserve(&state.db, &normalized, now_micros()).await?;
        } else {
            upstream::release_name(&state.db, &normalized).await?;
        }
        tracing::info!(admin = session.user.user_id, name = %normalized, reserve, "name reservation changed");
        Ok(())
    }
}
