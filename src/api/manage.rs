//! Managing a project: releases (yank, delete), files, collaborators and
//! their invitations, status, and the security history. Every action is a
//! plain form post that works without JavaScript; the permission rule is
//! `domain::access::may`, checked again inside the write transaction that
//! does the work (a role taken away meanwhile counts).

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{ManageProject, ManageReleaseFiles};

/// The manage page of a project, with page `page` (from 1) of its releases.
#[server(prefix = "/api", endpoint = "manage_project")]
pub async fn get_manage_project(name: String, #[server(default)] page: Option<i64>) -> Result<ManageProject, AppError> {
    super::respond(ssr::manage_project(&name, page.unwrap_or(1)).await)
}

/// One release's files, to delete them one by one.
#[server(prefix = "/api", endpoint = "manage_release")]
pub async fn get_manage_release(name: String, version: String) -> Result<ManageReleaseFiles, AppError> {
    super::respond(ssr::manage_release(&name, &version).await)
}

/// Yanks a release (PEP 592), with an optional reason.
#[server(prefix = "/api", endpoint = "yank_release")]
pub async fn yank_release(project: String, version: String, #[server(default)] reason: String) -> Result<(), AppError> {
    super::respond(ssr::set_yanked(&project, &version, true, &reason).await)
}

#[server(prefix = "/api", endpoint = "unyank_release")]
pub async fn unyank_release(project: String, version: String) -> Result<(), AppError> {
    super::respond(ssr::set_yanked(&project, &version, false, "").await)
}

/// Deletes one file; `confirm` must be its filename.
#[server(prefix = "/api", endpoint = "delete_file")]
pub async fn delete_file(project: String, filename: String, confirm: String) -> Result<(), AppError> {
    super::respond(ssr::delete_file(&project, &filename, &confirm).await)
}

/// Deletes a release and its files; `confirm` must be its version.
#[server(prefix = "/api", endpoint = "delete_release")]
pub async fn delete_release(project: String, version: String, confirm: String) -> Result<(), AppError> {
    super::respond(ssr::delete_release(&project, &version, &confirm).await)
}

/// Deletes a project and everything of it; `confirm` must be its name.
#[server(prefix = "/api", endpoint = "delete_project")]
pub async fn delete_project(project: String, confirm: String) -> Result<(), AppError> {
    super::respond(ssr::delete_project(&project, &confirm).await)
}

/// Invites a user to a role on the project (owners only).
#[server(prefix = "/api", endpoint = "invite_collaborator")]
pub async fn invite_collaborator(project: String, username: String, role: String) -> Result<(), AppError> {
    super::respond(ssr::invite(&project, &username, &role).await)
}

#[server(prefix = "/api", endpoint = "cancel_invitation")]
pub async fn cancel_invitation(project: String, username: String) -> Result<(), AppError> {
    super::respond(ssr::cancel_invitation(&project, &username).await)
}

/// The invitee's answer: `accept` is "true" or "false".
#[server(prefix = "/api", endpoint = "answer_invitation")]
pub async fn answer_invitation(project: String, accept: String) -> Result<(), AppError> {
    super::respond(ssr::answer_invitation(&project, accept == "true").await)
}

#[server(prefix = "/api", endpoint = "change_role")]
pub async fn change_role(project: String, username: String, role: String) -> Result<(), AppError> {
    super::respond(ssr::change_role(&project, &username, &role).await)
}

/// Removes a collaborator; anyone may remove themselves (leave), but the
/// last owner can neither leave nor be removed.
#[server(prefix = "/api", endpoint = "remove_collaborator")]
pub async fn remove_collaborator(project: String, username: String) -> Result<(), AppError> {
    super::respond(ssr::remove_collaborator(&project, &username).await)
}

/// Sets the project's status (PEP 792) with an optional reason.
#[server(prefix = "/api", endpoint = "set_project_status")]
pub async fn set_project_status(
    project: String,
    status: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    super::respond(ssr::set_status(&project, &status, &reason).await)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use axum::http::request::Parts;
    use leptos::prelude::use_context;

    use crate::api::catalog::ssr::{human_date, iso};
    use crate::domain::access::{self, ProjectAction, ProjectStatus, Role, may};
    use crate::domain::format::human_size;
    use crate::domain::{Username, normalize_project_name};
    use crate::error::AppError;
    use crate::model::{
        Collaborator, ManageFile, ManageProject, ManageRelease, ManageReleaseFiles, PendingInvitation, SecurityEvent,
    };
    use crate::server::auth::{self, Session};
    use crate::server::db::catalog::{self, ProjectRow};
    use crate::server::db::manage::{self, Event};
    use crate::server::db::write::WriteTx;
    use crate::server::db::write::maintain::{InviteRefused, LockedProject, NewEvent};
    use crate::server::now_micros;
    use crate::server::state::AppState;

    /// Releases per page of the manage page.
    const RELEASES_PAGE: i64 = 100;
    /// Entries of a security history shown.
    const EVENTS_SHOWN: i64 = 100;
    /// How long an invitation stays open.
    const INVITATION_TTL: i64 = 7 * 24 * 3600 * 1_000_000;

    fn session() -> Result<Session, AppError> {
        crate::api::accounts::ssr::session().ok_or_else(|| AppError::Unauthorized("Log in to manage projects.".into()))
    }

    fn bounded(name: &str) -> String {
        name.chars().take(100).collect()
    }

    fn refusal(action: ProjectAction, project: &str) -> AppError {
        let what = match action {
            ProjectAction::View => "manage",
            ProjectAction::Upload => "upload to",
            ProjectAction::Yank => "yank releases of",
            ProjectAction::DeleteFile | ProjectAction::DeleteRelease | ProjectAction::DeleteProject => "delete from",
            ProjectAction::ManagePeople => "manage the collaborators of",
            ProjectAction::SetStatus | ProjectAction::SetUpstreamMerge => "change the settings of",
            ProjectAction::Quarantine => "quarantine",
        };
        let who = match action {
            ProjectAction::View | ProjectAction::Yank | ProjectAction::Upload => "collaborators",
            ProjectAction::Quarantine => "site administrators",
            _ => "owners",
        };
        AppError::Forbidden(format!("Only {who} of {project} can {what} it."))
    }

    /// Reads for a page: the project, the viewer's role, and whether the
    /// rule lets them see it.
    async fn readable(state: &AppState, session: &Session, name: &str) -> Result<(ProjectRow, Option<Role>), AppError> {
        let normalized = normalize_project_name(name.trim());
        let project = catalog::project(&state.db, &normalized)
            .await?
            .ok_or_else(|| AppError::project_not_found(&bounded(name)))?;
        let role = manage::role(&state.db, session.user.user_id, project.id)
            .await?
            .and_then(|r| Role::parse(&r).ok());
        if !may(role, session.user.is_admin, ProjectAction::View) {
            return Err(refusal(ProjectAction::View, &project.name));
        }
        Ok((project, role))
    }

    /// A write transaction on the project, its row locked, and the
    /// session user's role read inside it.
    async fn lock(
        state: &AppState,
        session: &Session,
        name: &str,
    ) -> Result<(WriteTx, LockedProject, Option<Role>), AppError> {
        let normalized = normalize_project_name(name.trim());
        let mut tx = state.db.begin_write().await?;
        let project = tx
            .lock_project(&normalized)
            .await?
            .ok_or_else(|| AppError::project_not_found(&bounded(name)))?;
        let role = tx
            .role_of(session.user.user_id, project.id)
            .await?
            .and_then(|r| Role::parse(&r).ok());
        Ok((tx, project, role))
    }

    /// [`lock`], with the permission for `action` checked inside it.
    async fn begin(
        state: &AppState,
        session: &Session,
        name: &str,
        action: ProjectAction,
    ) -> Result<(WriteTx, LockedProject, Option<Role>), AppError> {
        let (tx, project, role) = lock(state, session, name).await?;
        if !may(role, session.user.is_admin, action) {
            return Err(refusal(action, &project.name));
        }
        Ok((tx, project, role))
    }

    /// A role change must leave the project an owner (checked inside the
    /// transaction, after the change).
    async fn keep_an_owner(tx: &mut WriteTx, locked: &LockedProject) -> Result<(), AppError> {
        if tx.owner_count(locked.id).await? == 0 {
            return Err(AppError::BadRequest(format!(
                "{} must keep at least one owner: make someone else an owner first.",
                locked.name
            )));
        }
        Ok(())
    }

    /// An event of `project` done by the session's user, from the
    /// request's address.
    fn event<'a>(
        state: &AppState,
        project: &'a LockedProject,
        session: &'a Session,
        kind: &'a str,
        detail: String,
    ) -> NewEvent<'a> {
        NewEvent {
            project: Some((project.id, &project.name)),
            actor: Some((session.user.user_id, &session.user.username)),
            subject_id: None,
            kind,
            detail,
            address: use_context::<Parts>().map(|p| auth::client_address(&p, state.trust_proxy)),
        }
    }

    /// What an event's kind says, for people.
    pub fn describe(kind: &str) -> &'static str {
        match kind {
            "file:upload" => "File uploaded",
            "file:delete" => "File deleted",
            "release:yank" => "Release yanked",
            "release:unyank" => "Release un-yanked",
            "release:delete" => "Release deleted",
            "project:delete" => "Project deleted",
            "project:status" => "Status changed",
            "project:upstream" => "Upstream releases setting changed",
            "role:invite" => "Collaborator invited",
            "role:cancel" => "Invitation withdrawn",
            "role:accept" => "Invitation accepted",
            "role:decline" => "Invitation declined",
            "role:change" => "Role changed",
            "role:remove" => "Collaborator removed",
            "token:create" => "API token created",
            "token:revoke" => "API token revoked",
            "token:use" => "API token used",
            "account:login" => "Logged in",
            "account:login-failed" => "Failed login",
            "account:password" => "Password changed",
            "account:lock" => "Account locked",
            "account:unlock" => "Account unlocked",
            "account:admin" => "Site administrator role changed",
            _ => "Event",
        }
    }

    pub fn events(rows: Vec<Event>) -> Vec<SecurityEvent> {
        rows.into_iter()
            .map(|e| SecurityEvent {
                when: crate::api::catalog::ssr::human_date(Some(e.created)),
                when_iso: iso(Some(e.created)),
                project: e.project_name.unwrap_or_default(),
                actor: e.actor.unwrap_or_else(|| "—".into()),
                what: describe(&e.kind).to_owned(),
                detail: e.detail,
                address: e.address.unwrap_or_default(),
            })
            .collect()
    }

    pub async fn manage_project(name: &str, page: i64) -> Result<ManageProject, AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let (project, role) = readable(&state, &session, name).await?;
        if page < 1 {
            return Err(AppError::BadRequest(
                "The page number must be a whole number from 1 up.".into(),
            ));
        }
        let now = now_micros();
        let ((releases, total), collaborators, invitations, history) = tokio::try_join!(
            manage::releases(
                &state.db,
                project.id,
                RELEASES_PAGE,
                (page - 1).saturating_mul(RELEASES_PAGE)
            ),
            manage::collaborators(&state.db, project.id),
            manage::project_invitations(&state.db, project.id, now),
            manage::project_events(&state.db, project.id, EVENTS_SHOWN),
        )?;
        let pages = ((total + RELEASES_PAGE - 1) / RELEASES_PAGE).max(1);
        if page > pages {
            return Err(AppError::NotFound(format!(
                "{} has {pages} page(s) of releases.",
                project.name
            )));
        }
        let admin = session.user.is_admin;
        Ok(ManageProject {
            name: project.name,
            normalized_name: project.normalized_name,
            status: project.status,
            status_reason: project.status_reason.unwrap_or_default(),
            role: role.map(|r| r.as_str().to_owned()),
            viewer: session.user.username.clone(),
            is_admin: admin,
            can_yank: may(role, admin, ProjectAction::Yank),
            can_delete: may(role, admin, ProjectAction::DeleteRelease),
            can_manage_people: may(role, admin, ProjectAction::ManagePeople),
            can_set_status: may(role, admin, ProjectAction::SetStatus),
            can_quarantine: may(role, admin, ProjectAction::Quarantine),
            releases: releases
                .into_iter()
                .map(|r| ManageRelease {
                    version: r.version,
                    released_on: human_date(r.created),
                    yanked: r.yanked,
                    yanked_reason: r.yanked_reason.unwrap_or_default(),
                    files: r.files,
                })
                .collect(),
            release_count: total,
            page,
            pages,
            collaborators: collaborators
                .into_iter()
                .map(|c| Collaborator {
                    username: c.username,
                    role: c.role,
                })
                .collect(),
            invitations: invitations.into_iter().map(invitation).collect(),
            events: events(history),
        })
    }

    pub fn invitation(i: manage::Invitation) -> PendingInvitation {
        PendingInvitation {
            project: i.project_name,
            normalized_name: i.normalized_name,
            username: i.username,
            role: i.role,
            invited_by: i.invited_by.unwrap_or_default(),
            expires_on: human_date(Some(i.expires)),
        }
    }

    pub async fn manage_release(name: &str, version: &str) -> Result<ManageReleaseFiles, AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let (project, role) = readable(&state, &session, name).await?;
        let no_release = || AppError::NotFound(format!("{} has no release {}.", project.name, bounded(version)));
        let release = manage::release(&state.db, project.id, version)
            .await?
            .ok_or_else(no_release)?;
        let files = manage::release_files(&state.db, release.id).await?;
        let admin = session.user.is_admin;
        Ok(ManageReleaseFiles {
            name: project.name.clone(),
            normalized_name: project.normalized_name.clone(),
            version: release.version,
            yanked: release.yanked,
            yanked_reason: release.yanked_reason.unwrap_or_default(),
            can_yank: may(role, admin, ProjectAction::Yank),
            can_delete: may(role, admin, ProjectAction::DeleteFile),
            files: files
                .into_iter()
                .map(|f| ManageFile {
                    kind: if f.packagetype == "sdist" {
                        "Source"
                    } else {
                        "Built Distribution"
                    }
                    .into(),
                    size: human_size(f.size),
                    uploaded_on: human_date(Some(f.upload_time)),
                    filename: f.filename,
                    sha256: f.sha256,
                })
                .collect(),
        })
    }

    pub async fn set_yanked(project: &str, version: &str, yanked: bool, reason: &str) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let reason = access::parse_reason(reason).map_err(AppError::BadRequest)?;
        let (mut tx, locked, _) = begin(&state, &session, project, ProjectAction::Yank).await?;
        if !tx.set_yanked(locked.id, version, yanked, reason.as_deref()).await? {
            return Err(AppError::NotFound(format!(
                "{} has no release {}.",
                locked.name,
                bounded(version)
            )));
        }
        let now = now_micros();
        tx.refresh_project(locked.id).await?;
        let action = if yanked { "yank release" } else { "unyank release" };
        tx.journal(locked.id, action, Some(version), Some(session.user.user_id), now)
            .await?;
        let (kind, detail) = if yanked {
            (
                "release:yank",
                format!("{version}{}", reason.map(|r| format!(": {r}")).unwrap_or_default()),
            )
        } else {
            ("release:unyank", version.to_owned())
        };
        tx.record(&event(&state, &locked, &session, kind, detail), now).await?;
        tx.commit().await?;
        tracing::info!(user_id = session.user.user_id, project = %locked.normalized_name, version, yanked, "yank changed");
        Ok(())
    }

    /// Deletes storage objects that no row refers to any more. After the
    /// commit: a failure here leaves an orphan object, never a row that
    /// points to nothing.
    async fn remove_objects(state: &AppState, keys: Vec<String>) {
        for key in keys {
            match crate::server::db::upstream::key_in_use(&state.db, &key).await {
                Ok(false) => {
                    if let Err(error) = state.storage.delete(&key).await {
                        tracing::warn!(%error, key, "could not delete a deleted file's object");
                    }
                }
                Ok(true) => {}
                Err(error) => tracing::warn!(%error, key, "could not check a deleted file's object"),
            }
        }
    }

    fn not_confirmed(what: &str, expected: &str) -> AppError {
        AppError::BadRequest(format!("To confirm, type the {what} exactly: {expected}"))
    }

    pub async fn delete_file(project: &str, filename: &str, confirm: &str) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let (mut tx, locked, _) = begin(&state, &session, project, ProjectAction::DeleteFile).await?;
        if !access::confirms(confirm, filename, false) {
            return Err(not_confirmed("filename", &bounded(filename)));
        }
        let now = now_micros();
        let Some(deleted) = tx.delete_file(locked.id, filename, now).await? else {
            return Err(AppError::NotFound(format!(
                "{} has no file {}.",
                locked.name,
                bounded(filename)
            )));
        };
        tx.journal(
            locked.id,
            &format!("remove file {filename}"),
            None,
            Some(session.user.user_id),
            now,
        )
        .await?;
        tx.record(
            &event(&state, &locked, &session, "file:delete", filename.to_owned()),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(user_id = session.user.user_id, project = %locked.normalized_name, filename, "file deleted");
        remove_objects(&state, deleted.storage_keys).await;
        Ok(())
    }

    pub async fn delete_release(project: &str, version: &str, confirm: &str) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let (mut tx, locked, _) = begin(&state, &session, project, ProjectAction::DeleteRelease).await?;
        if !access::confirms(confirm, version, false) {
            return Err(not_confirmed("version", &bounded(version)));
        }
        let now = now_micros();
        let Some(deleted) = tx.delete_release(locked.id, version, now).await? else {
            return Err(AppError::NotFound(format!(
                "{} has no release {}.",
                locked.name,
                bounded(version)
            )));
        };
        tx.journal(
            locked.id,
            "remove release",
            Some(version),
            Some(session.user.user_id),
            now,
        )
        .await?;
        let detail = format!(
            "{version} ({} file{})",
            deleted.files,
            if deleted.files == 1 { "" } else { "s" }
        );
        tx.record(&event(&state, &locked, &session, "release:delete", detail), now)
            .await?;
        tx.commit().await?;
        tracing::info!(user_id = session.user.user_id, project = %locked.normalized_name, version, "release deleted");
        remove_objects(&state, deleted.storage_keys).await;
        leptos_axum::redirect(&format!("/manage/project/{}/", locked.normalized_name));
        Ok(())
    }

    pub async fn delete_project(project: &str, confirm: &str) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let (mut tx, locked, _) = begin(&state, &session, project, ProjectAction::DeleteProject).await?;
        if !access::confirms(confirm, &locked.name, true) {
            return Err(not_confirmed("project's name", &locked.name));
        }
        let now = now_micros();
        tx.record(
            &event(&state, &locked, &session, "project:delete", locked.name.clone()),
            now,
        )
        .await?;
        let deleted = tx.delete_project(locked.id, now).await?;
        tx.commit().await?;
        tracing::info!(user_id = session.user.user_id, project = %locked.normalized_name, "project deleted");
        remove_objects(&state, deleted.storage_keys).await;
        leptos_axum::redirect("/account");
        Ok(())
    }

    /// The user a form names, by username.
    async fn user_named(state: &AppState, username: &str) -> Result<(i64, String), AppError> {
        let not_found = || AppError::NotFound(format!("There is no user named {}.", bounded(username.trim())));
        let parsed = Username::parse(username).map_err(|_| not_found())?;
        let user = crate::server::db::accounts::user_by_username(&state.db, &parsed.normalized())
            .await?
            .ok_or_else(not_found)?;
        Ok((user.id, user.username))
    }

    pub async fn invite(project: &str, username: &str, role: &str) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let role = Role::parse(role).map_err(AppError::BadRequest)?;
        let (invitee_id, invitee) = user_named(&state, username).await?;
        let (mut tx, locked, _) = begin(&state, &session, project, ProjectAction::ManagePeople).await?;
        let now = now_micros();
        match tx
            .invite(
                locked.id,
                invitee_id,
                role.as_str(),
                session.user.user_id,
                now,
                now + INVITATION_TTL,
            )
            .await?
        {
            Ok(()) => {}
            Err(InviteRefused::AlreadyCollaborator) => {
                return Err(AppError::BadRequest(format!(
                    "{invitee} is a collaborator of {} already.",
                    locked.name
                )));
            }
        }
        let mut e = event(&state, &locked, &session, "role:invite", format!("{invitee} as {role}"));
        e.subject_id = Some(invitee_id);
        tx.record(&e, now).await?;
        tx.commit().await?;
        tracing::info!(user_id = session.user.user_id, project = %locked.normalized_name, invitee_id, "collaborator invited");
        Ok(())
    }

    pub async fn cancel_invitation(project: &str, username: &str) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let (invitee_id, invitee) = user_named(&state, username).await?;
        let (mut tx, locked, _) = begin(&state, &session, project, ProjectAction::ManagePeople).await?;
        if !tx.cancel_invitation(locked.id, invitee_id).await? {
            return Err(AppError::NotFound(format!(
                "{invitee} has no invitation to {}.",
                locked.name
            )));
        }
        let mut e = event(&state, &locked, &session, "role:cancel", invitee.clone());
        e.subject_id = Some(invitee_id);
        tx.record(&e, now_micros()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn answer_invitation(project: &str, accept: bool) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        // Anyone may answer their own invitation: no role to check.
        let (mut tx, locked, _) = lock(&state, &session, project).await?;
        let now = now_micros();
        let Some(role) = tx.take_invitation(locked.id, session.user.user_id, now).await? else {
            // An expired invitation is taken away all the same.
            tx.commit().await?;
            return Err(AppError::NotFound(format!(
                "You have no open invitation to {}: it expired or was withdrawn.",
                locked.name
            )));
        };
        if accept {
            tx.set_role(locked.id, session.user.user_id, &role, false).await?;
        }
        let kind = if accept { "role:accept" } else { "role:decline" };
        tx.record(&event(&state, &locked, &session, kind, role.clone()), now)
            .await?;
        tx.commit().await?;
        tracing::info!(user_id = session.user.user_id, project = %locked.normalized_name, accept, "invitation answered");
        Ok(())
    }

    pub async fn change_role(project: &str, username: &str, role: &str) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let role = Role::parse(role).map_err(AppError::BadRequest)?;
        let (user_id, username) = user_named(&state, username).await?;
        let (mut tx, locked, _) = begin(&state, &session, project, ProjectAction::ManagePeople).await?;
        if !tx.set_role(locked.id, user_id, role.as_str(), true).await? {
            return Err(AppError::NotFound(format!(
                "{username} is not a collaborator of {}.",
                locked.name
            )));
        }
        keep_an_owner(&mut tx, &locked).await?;
        let mut e = event(
            &state,
            &locked,
            &session,
            "role:change",
            format!("{username} is now {role}"),
        );
        e.subject_id = Some(user_id);
        tx.record(&e, now_micros()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_collaborator(project: &str, username: &str) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let (user_id, username) = user_named(&state, username).await?;
        // Leaving is anyone's right; removing someone else is an owner's.
        let action = if user_id == session.user.user_id {
            ProjectAction::View
        } else {
            ProjectAction::ManagePeople
        };
        let (mut tx, locked, _) = begin(&state, &session, project, action).await?;
        if !tx.remove_role(locked.id, user_id).await? {
            return Err(AppError::NotFound(format!(
                "{username} is not a collaborator of {}.",
                locked.name
            )));
        }
        keep_an_owner(&mut tx, &locked).await?;
        let mut e = event(&state, &locked, &session, "role:remove", username.clone());
        e.subject_id = Some(user_id);
        tx.record(&e, now_micros()).await?;
        tx.commit().await?;
        tracing::info!(user_id = session.user.user_id, project = %locked.normalized_name, removed = user_id, "collaborator removed");
        if user_id == session.user.user_id {
            leptos_axum::redirect("/account");
        }
        Ok(())
    }

    pub async fn set_status(project: &str, status: &str, reason: &str) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let session = session()?;
        let status = ProjectStatus::parse(status).map_err(AppError::BadRequest)?;
        let reason = access::parse_reason(reason).map_err(AppError::BadRequest)?;
        let (mut tx, locked, role) = lock(&state, &session, project).await?;
        let was = ProjectStatus::parse(&locked.status).unwrap_or_default();
        // Quarantine, and lifting it, are an administrator's; the rest an
        // owner's: decided on the status as locked.
        let action = if status == ProjectStatus::Quarantined || was == ProjectStatus::Quarantined {
            ProjectAction::Quarantine
        } else {
            ProjectAction::SetStatus
        };
        if !may(role, session.user.is_admin, action) {
            return Err(refusal(action, &locked.name));
        }
        tx.set_status(locked.id, status.as_str(), reason.as_deref()).await?;
        let detail = format!(
            "{} → {}{}",
            was.as_str(),
            status.as_str(),
            reason.map(|r| format!(": {r}")).unwrap_or_default()
        );
        tx.record(
            &event(&state, &locked, &session, "project:status", detail),
            now_micros(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(user_id = session.user.user_id, project = %locked.normalized_name, status = status.as_str(), "status changed");
        Ok(())
    }
}
