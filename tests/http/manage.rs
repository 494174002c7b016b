//! Maintainers and access (issue 17): who may manage a project and what
//! each action does to the index, over HTTP: the authorization table,
//! yanking, deletion and filenames never used again, invitations and roles,
//! project status (PEP 792), token scopes, locked accounts, and the
//! security history.

use serde_json::Value;

use crate::helpers::{Package, TestApp, spawn_empty, user_with_token};

/// Someone who may act on the index: an account with a session and a token.
pub(crate) struct Person {
    pub id: i64,
    pub token: String,
    pub session: String,
}

/// An account with an all-scopes API token and a live session (made in the
/// database: logging in is tested elsewhere and is throttled per address).
pub(crate) async fn person(app: &TestApp, username: &str) -> Person {
    let (id, token) = user_with_token(app, username, None).await;
    let session = session_for(app, id).await;
    Person { id, token, session }
}

/// A new live session of the user.
pub(crate) async fn session_for(app: &TestApp, user_id: i64) -> String {
    use cheeseshop::server::{auth, db::accounts, now_micros};
    let (session, hash) = auth::new_session_token();
    let now = now_micros();
    accounts::create_session(&app.db, &hash, user_id, now, now + auth::SESSION_TTL)
        .await
        .expect("session");
    session
}

/// A server function called as a script calls it (JSON answer, the error's
/// status), with a session cookie or none.
pub(crate) async fn call(app: &TestApp, session: Option<&str>, endpoint: &str, form: &[(&str, &str)]) -> (u16, String) {
    let mut request = app.client.post(app.url(&format!("/api/{endpoint}"))).form(form);
    if let Some(session) = session {
        request = request.header("cookie", format!("cheeseshop_session={session}"));
    }
    let response = request.send().await.expect("post");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Uploads a wheel of `name` `version` with `token`; the status and body.
pub(crate) async fn upload(app: &TestApp, token: &str, name: &str, version: &str) -> (u16, String, String) {
    let package = Package::new(name, version);
    let (filename, bytes) = package.wheel();
    let form = package.form("bdist_wheel", &filename, &bytes, &[]);
    let (status, body) = app.upload(Some(token), form).await;
    (status, body, filename)
}

async fn simple_json(app: &TestApp, name: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(&format!("/simple/{name}/")))
        .header("accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .await
        .expect("simple");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn simple_html(app: &TestApp, name: &str) -> String {
    app.client
        .get(app.url(&format!("/simple/{name}/")))
        .header("accept", "text/html")
        .send()
        .await
        .expect("simple")
        .text()
        .await
        .expect("body")
}

/// Everything a refused action must leave as it was: the JSON API and the
/// Simple API of the project, its collaborators and open invitations,
/// its status, and the stored objects.
async fn snapshot(app: &TestApp, name: &str) -> String {
    use cheeseshop::server::db::manage;
    let json = app.get_json(&format!("/pypi/{name}/json")).await;
    let (_, simple) = simple_json(app, name).await;
    let (people, invitations, status) = match cheeseshop::server::db::catalog::project(&app.db, name)
        .await
        .expect("project")
    {
        Some(p) => (
            manage::collaborators(&app.db, p.id)
                .await
                .expect("collaborators")
                .into_iter()
                .map(|c| format!("{}:{}", c.username, c.role))
                .collect::<Vec<_>>(),
            manage::project_invitations(&app.db, p.id, 0)
                .await
                .expect("invitations")
                .into_iter()
                .map(|i| format!("{}:{}", i.username, i.role))
                .collect::<Vec<_>>(),
            p.status,
        ),
        None => (Vec::new(), Vec::new(), "gone".into()),
    };
    let mut files: Vec<String> = app.stored_files().iter().map(|p| p.display().to_string()).collect();
    files.sort();
    format!("{json}\n{simple}\n{people:?}\n{invitations:?}\n{status}\n{files:?}")
}

/// The roles of the table.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Other,
    Maintainer,
    Owner,
    Admin,
    ScopedToken,
    ReadToken,
}

/// Manage actions of the table.
#[derive(Clone, Copy, Debug)]
enum Act {
    View,
    Yank,
    Unyank,
    DeleteFile,
    DeleteRelease,
    DeleteProject,
    Invite,
    ChangeRole,
    RemoveOther,
    Archive,
    Quarantine,
}

/// What the rule says (`true`: allowed).
fn allowed(act: Act, who: Who) -> bool {
    use Act::*;
    use Who::*;
    match who {
        Anonymous | Other | ScopedToken | ReadToken => false,
        Admin => true,
        Owner => !matches!(act, Quarantine),
        Maintainer => matches!(act, View | Yank | Unyank),
    }
}

/// Every manage action × anonymous, another user, maintainer, owner, site
/// administrator, a project-scoped token and a read-only token: allowed or
/// 401/403, and a refusal changes nothing at all. Each case has a project
/// of its own (`t-N`): two releases with a wheel each, an owner, a
/// maintainer, one yanked release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_table() {
    use cheeseshop::server::db::accounts;

    let app = spawn_empty().await;
    let owner = person(&app, "owner").await;
    let maintainer = person(&app, "maintainer").await;
    let other = person(&app, "other").await;
    let admin = person(&app, "admin").await;
    accounts::set_flag(&app.db, admin.id, true, true).await.expect("admin");
    // Invited by the table's `Invite`; `helper`, a second maintainer, is
    // the one `RemoveOther` removes (removing oneself is leaving).
    person(&app, "invitee").await;
    let helper = person(&app, "helper").await;

    let acts = [
        Act::View,
        Act::Yank,
        Act::Unyank,
        Act::DeleteFile,
        Act::DeleteRelease,
        Act::DeleteProject,
        Act::Invite,
        Act::ChangeRole,
        Act::RemoveOther,
        Act::Archive,
        Act::Quarantine,
    ];
    let people = [
        Who::Anonymous,
        Who::Other,
        Who::Maintainer,
        Who::Owner,
        Who::Admin,
        Who::ScopedToken,
        Who::ReadToken,
    ];
    let mut case = 0;
    for act in acts {
        for who in people {
            case += 1;
            let name = format!("t-{case}");
            let (status, body, _) = upload(&app, &owner.token, &name, "1.0").await;
            assert_eq!(status, 200, "{body}");
            let (status, _, wheel2) = upload(&app, &owner.token, &name, "2.0").await;
            assert_eq!(status, 200);
            let project_id = cheeseshop::server::db::catalog::project(&app.db, &name)
                .await
                .expect("project")
                .expect("exists")
                .id;
            // The maintainer, and a yanked 1.0, arranged by the owner.
            let mut tx = app.db.begin_write().await.expect("tx");
            tx.set_role(project_id, maintainer.id, "Maintainer", false)
                .await
                .expect("role");
            tx.set_role(project_id, helper.id, "Maintainer", false)
                .await
                .expect("role");
            tx.set_yanked(project_id, "1.0", true, Some("old")).await.expect("yank");
            tx.commit().await.expect("commit");

            let scoped = crate::helpers::token_for(&app, owner.id, Some(project_id)).await;
            let read_only = crate::helpers::token_with_scopes(&app, owner.id, true, false).await;
            let session = match who {
                Who::Other => Some(other.session.as_str()),
                Who::Maintainer => Some(maintainer.session.as_str()),
                Who::Owner => Some(owner.session.as_str()),
                Who::Admin => Some(admin.session.as_str()),
                Who::Anonymous | Who::ScopedToken | Who::ReadToken => None,
            };
            let token = match who {
                Who::ScopedToken => Some(scoped.as_str()),
                Who::ReadToken => Some(read_only.as_str()),
                _ => None,
            };
            let (endpoint, form): (&str, Vec<(&str, String)>) = match act {
                Act::View => ("manage_project", vec![("name", name.clone())]),
                Act::Yank => (
                    "yank_release",
                    vec![("project", name.clone()), ("version", "2.0".into())],
                ),
                Act::Unyank => (
                    "unyank_release",
                    vec![("project", name.clone()), ("version", "1.0".into())],
                ),
                Act::DeleteFile => (
                    "delete_file",
                    vec![
                        ("project", name.clone()),
                        ("filename", wheel2.clone()),
                        ("confirm", wheel2.clone()),
                    ],
                ),
                Act::DeleteRelease => (
                    "delete_release",
                    vec![
                        ("project", name.clone()),
                        ("version", "2.0".into()),
                        ("confirm", "2.0".into()),
                    ],
                ),
                Act::DeleteProject => (
                    "delete_project",
                    vec![("project", name.clone()), ("confirm", name.clone())],
                ),
                Act::Invite => (
                    "invite_collaborator",
                    vec![
                        ("project", name.clone()),
                        ("username", "invitee".into()),
                        ("role", "Maintainer".into()),
                    ],
                ),
                Act::ChangeRole => (
                    "change_role",
                    vec![
                        ("project", name.clone()),
                        ("username", "maintainer".into()),
                        ("role", "Owner".into()),
                    ],
                ),
                Act::RemoveOther => (
                    "remove_collaborator",
                    vec![("project", name.clone()), ("username", "helper".into())],
                ),
                Act::Archive => (
                    "set_project_status",
                    vec![("project", name.clone()), ("status", "archived".into())],
                ),
                Act::Quarantine => (
                    "set_project_status",
                    vec![("project", name.clone()), ("status", "quarantined".into())],
                ),
            };
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let before = snapshot(&app, &name).await;
            let mut request = app.client.post(app.url(&format!("/api/{endpoint}"))).form(&form);
            if let Some(session) = session {
                request = request.header("cookie", format!("cheeseshop_session={session}"));
            }
            if let Some(token) = token {
                request = request.basic_auth("__token__", Some(token));
            }
            let response = request.send().await.expect("post");
            let status = response.status().as_u16();
            let body = response.text().await.expect("body");
            let after = snapshot(&app, &name).await;
            if allowed(act, who) {
                assert_eq!(status, 200, "{act:?} by {who:?} should be allowed: {body}");
                if !matches!(act, Act::View) {
                    assert_ne!(before, after, "{act:?} by {who:?} changed nothing");
                }
            } else {
                let expected = if session.is_none() { 401 } else { 403 };
                assert_eq!(status, expected, "{act:?} by {who:?} should be refused: {body}");
                assert_eq!(before, after, "{act:?} by {who:?} was refused but changed the project");
            }
        }
    }
}

/// No insecure direct object references: an owner of one project cannot
/// reach another's files, releases or people by naming them in a form of
/// their own project, or by naming the other project.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_cannot_reach_other_projects() {
    let app = spawn_empty().await;
    let alice = person(&app, "alice").await;
    let bob = person(&app, "bob").await;
    upload(&app, &alice.token, "alices", "1.0").await;
    let (_, _, bobs_wheel) = upload(&app, &bob.token, "bobs", "1.0").await;
    let before = snapshot(&app, "bobs").await;
    // Bob's file named in a form of Alice's project: not hers.
    let (status, body) = call(
        &app,
        Some(&alice.session),
        "delete_file",
        &[
            ("project", "alices"),
            ("filename", &bobs_wheel),
            ("confirm", &bobs_wheel),
        ],
    )
    .await;
    assert_eq!(status, 404, "{body}");
    // Bob's project named: refused.
    for (endpoint, form) in [
        (
            "delete_file",
            vec![
                ("project", "bobs"),
                ("filename", bobs_wheel.as_str()),
                ("confirm", bobs_wheel.as_str()),
            ],
        ),
        ("remove_collaborator", vec![("project", "bobs"), ("username", "bob")]),
        ("yank_release", vec![("project", "bobs"), ("version", "1.0")]),
    ] {
        let (status, body) = call(&app, Some(&alice.session), endpoint, &form).await;
        assert_eq!(status, 403, "{endpoint}: {body}");
    }
    assert_eq!(before, snapshot(&app, "bobs").await);
}

/// A yank shows in every API and on the pages, with its reason; un-yanking
/// takes it back; both are in the security history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yanks_show_everywhere_and_can_be_taken_back() {
    let app = spawn_empty().await;
    let owner = person(&app, "owner").await;
    upload(&app, &owner.token, "yankee", "1.0").await;
    upload(&app, &owner.token, "yankee", "2.0").await;
    let (status, body) = call(
        &app,
        Some(&owner.session),
        "yank_release",
        &[
            ("project", "yankee"),
            ("version", "2.0"),
            ("reason", "broken <build> & \"worse\""),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (_, simple) = simple_json(&app, "yankee").await;
    let files = simple["files"].as_array().expect("files");
    let two = files
        .iter()
        .find(|f| f["filename"].as_str().is_some_and(|n| n.contains("-2.0-")))
        .expect("2.0");
    assert_eq!(two["yanked"], "broken <build> & \"worse\"");
    let one = files
        .iter()
        .find(|f| f["filename"].as_str().is_some_and(|n| n.contains("-1.0-")))
        .expect("1.0");
    assert_eq!(one["yanked"], false);
    let html = simple_html(&app, "yankee").await;
    assert!(
        html.contains("data-yanked=\"broken &lt;build&gt; &amp; &quot;worse&quot;\""),
        "{html}"
    );
    let json = app.get_json("/pypi/yankee/json").await;
    // The latest release is the newest one not yanked.
    assert_eq!(json["info"]["version"], "1.0");
    let release = app.get_json("/pypi/yankee/2.0/json").await;
    assert_eq!(release["info"]["yanked"], true);
    assert_eq!(release["info"]["yanked_reason"], "broken <build> & \"worse\"");
    assert_eq!(release["urls"][0]["yanked"], true);
    let (status, page) = app.get_text("/project/yankee/2.0/").await;
    assert!(
        page.contains("data-test-yanked"),
        "the version page says so: {status} {page}"
    );
    assert!(page.contains("broken &lt;build&gt; &amp;"), "with the reason, escaped");

    let (status, body) = call(
        &app,
        Some(&owner.session),
        "unyank_release",
        &[("project", "yankee"), ("version", "2.0")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, simple) = simple_json(&app, "yankee").await;
    assert!(
        simple["files"]
            .as_array()
            .expect("files")
            .iter()
            .all(|f| f["yanked"] == false)
    );
    assert_eq!(app.get_json("/pypi/yankee/json").await["info"]["version"], "2.0");

    let manage = call(&app, Some(&owner.session), "manage_project", &[("name", "yankee")]).await;
    let manage: Value = serde_json::from_str(&manage.1).expect("json");
    let what: Vec<&str> = manage["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["what"].as_str().expect("what"))
        .collect();
    assert_eq!(&what[..2], ["Release un-yanked", "Release yanked"], "{what:?}");
    assert!(what.contains(&"File uploaded"));
    // A reason longer than allowed, or a release that is not there.
    let long = "x".repeat(501);
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "yank_release",
        &[("project", "yankee"), ("version", "2.0"), ("reason", &long)],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "yank_release",
        &[("project", "yankee"), ("version", "9.9")],
    )
    .await;
    assert_eq!(status, 404);
}

/// Deleting a file, then a release, then the project: each needs its name
/// typed; a deleted filename can never be uploaded again; the deleted
/// file's URL answers 404 and its object is gone from storage; the
/// security history outlives the project.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_are_confirmed_final_and_free_their_storage() {
    let app = spawn_empty().await;
    let owner = person(&app, "owner").await;
    let (_, _, wheel1) = upload(&app, &owner.token, "goner", "1.0").await;
    let (_, _, wheel2) = upload(&app, &owner.token, "goner", "2.0").await;
    let (_, simple) = simple_json(&app, "goner").await;
    let url1 = simple["files"][0]["url"].as_str().expect("url").to_owned();
    assert_eq!(app.get(&url1).await.status(), 200);
    let stored = app.stored_files().len();

    // Without the filename typed: refused, nothing changed.
    let before = snapshot(&app, "goner").await;
    let (status, body) = call(
        &app,
        Some(&owner.session),
        "delete_file",
        &[("project", "goner"), ("filename", &wheel1), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("type the filename"), "{body}");
    assert_eq!(before, snapshot(&app, "goner").await);

    let (status, body) = call(
        &app,
        Some(&owner.session),
        "delete_file",
        &[("project", "goner"), ("filename", &wheel1), ("confirm", &wheel1)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.get(&url1).await.status(), 404, "the deleted file's URL");
    assert!(app.stored_files().len() < stored, "its object was removed");
    let (_, simple) = simple_json(&app, "goner").await;
    assert_eq!(simple["files"].as_array().expect("files").len(), 1);
    // The same filename again, even with the very same bytes: refused.
    let (status, body, _) = upload(&app, &owner.token, "goner", "1.0").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("deleted"), "{body}");

    // A release: its version typed.
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "delete_release",
        &[("project", "goner"), ("version", "2.0"), ("confirm", "2")],
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = call(
        &app,
        Some(&owner.session),
        "delete_release",
        &[("project", "goner"), ("version", "2.0"), ("confirm", "2.0")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let json = app.get_json("/pypi/goner/json").await;
    assert!(json["releases"].get("2.0").is_none(), "{json}");
    let (status, body, _) = upload(&app, &owner.token, "goner", "2.0").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(&wheel2), "{body}");
    // A new version is fine.
    let (status, body, _) = upload(&app, &owner.token, "goner", "3.0").await;
    assert_eq!(status, 200, "{body}");

    // The project: its name typed (any spelling of it).
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "delete_project",
        &[("project", "goner"), ("confirm", "gone")],
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = call(
        &app,
        Some(&owner.session),
        "delete_project",
        &[("project", "goner"), ("confirm", "Goner")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.get("/pypi/goner/json").await.status(), 404);
    assert_eq!(simple_json(&app, "goner").await.0, 404);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    // The account's history keeps what happened to the project.
    let account: Value = serde_json::from_str(&call(&app, Some(&owner.session), "account", &[]).await.1).expect("json");
    let events = account["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["what"] == "Project deleted" && e["project"] == "goner"),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["what"] == "File deleted"));
    // The name is free again; the old filenames are not.
    let (status, body, _) = upload(&app, &owner.token, "goner", "3.0").await;
    assert_eq!(status, 400, "{body}");
    let (status, body, _) = upload(&app, &owner.token, "goner", "4.0").await;
    assert_eq!(status, 200, "{body}");
}

/// An owner invites; the invitee sees it on their account page and
/// accepts (or declines); invitations expire; the last owner can neither
/// leave nor be demoted; a maintainer uploads but deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_and_roles() {
    use crate::helpers::execute_sql;

    let app = spawn_empty().await;
    let owner = person(&app, "owner").await;
    let bob = person(&app, "bob").await;
    let carol = person(&app, "carol").await;
    upload(&app, &owner.token, "shared", "1.0").await;

    // The manage page offers the last owner no demotion or removal.
    let page = app
        .client
        .get(app.url("/manage/project/shared/"))
        .header("accept", "text/html")
        .header("cookie", format!("cheeseshop_session={}", owner.session))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(page.contains("data-test-last-owner"), "{page}");
    assert!(!page.contains("Make owner maintainer"));
    // Bob cannot upload before he accepts.
    let (status, _, _) = upload(&app, &bob.token, "shared", "1.1").await;
    assert_eq!(status, 403);
    let (status, body) = call(
        &app,
        Some(&owner.session),
        "invite_collaborator",
        &[("project", "shared"), ("username", "bob"), ("role", "Maintainer")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "invite_collaborator",
        &[("project", "shared"), ("username", "nobody"), ("role", "Maintainer")],
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "invite_collaborator",
        &[("project", "shared"), ("username", "owner"), ("role", "Owner")],
    )
    .await;
    assert_eq!(status, 400, "already a collaborator");
    let account: Value = serde_json::from_str(&call(&app, Some(&bob.session), "account", &[]).await.1).expect("json");
    assert_eq!(account["invitations"][0]["project"], "shared");
    assert_eq!(account["invitations"][0]["role"], "Maintainer");
    assert_eq!(account["invitations"][0]["invited_by"], "owner");
    // Carol cannot answer Bob's invitation.
    let (status, _) = call(
        &app,
        Some(&carol.session),
        "answer_invitation",
        &[("project", "shared"), ("accept", "true")],
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = call(
        &app,
        Some(&bob.session),
        "answer_invitation",
        &[("project", "shared"), ("accept", "true")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = upload(&app, &bob.token, "shared", "1.1").await;
    assert_eq!(status, 200, "a maintainer uploads: {body}");
    let (status, _) = call(
        &app,
        Some(&bob.session),
        "delete_release",
        &[("project", "shared"), ("version", "1.1"), ("confirm", "1.1")],
    )
    .await;
    assert_eq!(status, 403, "a maintainer deletes nothing");
    let (status, _) = call(
        &app,
        Some(&bob.session),
        "invite_collaborator",
        &[("project", "shared"), ("username", "carol"), ("role", "Owner")],
    )
    .await;
    assert_eq!(status, 403, "a maintainer manages no people");

    // Declined, and expired, invitations give nothing.
    call(
        &app,
        Some(&owner.session),
        "invite_collaborator",
        &[("project", "shared"), ("username", "carol"), ("role", "Owner")],
    )
    .await;
    let (status, _) = call(
        &app,
        Some(&carol.session),
        "answer_invitation",
        &[("project", "shared"), ("accept", "false")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        Some(&carol.session),
        "answer_invitation",
        &[("project", "shared"), ("accept", "true")],
    )
    .await;
    assert_eq!(status, 404, "declined is gone");
    call(
        &app,
        Some(&owner.session),
        "invite_collaborator",
        &[("project", "shared"), ("username", "carol"), ("role", "Owner")],
    )
    .await;
    execute_sql(&app.db_url, "UPDATE role_invitations SET expires = 1", &[]).await;
    let (status, body) = call(
        &app,
        Some(&carol.session),
        "answer_invitation",
        &[("project", "shared"), ("accept", "true")],
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("expired"), "{body}");

    // The last owner stays.
    let (status, body) = call(
        &app,
        Some(&owner.session),
        "remove_collaborator",
        &[("project", "shared"), ("username", "owner")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "change_role",
        &[("project", "shared"), ("username", "owner"), ("role", "Maintainer")],
    )
    .await;
    assert_eq!(status, 400);
    // Once Bob is an owner too, the first may leave; Bob may not then.
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "change_role",
        &[("project", "shared"), ("username", "bob"), ("role", "Owner")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        &app,
        Some(&owner.session),
        "remove_collaborator",
        &[("project", "shared"), ("username", "owner")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(
        &app,
        Some(&bob.session),
        "remove_collaborator",
        &[("project", "shared"), ("username", "bob")],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = upload(&app, &owner.token, "shared", "1.2").await;
    assert_eq!(status, 403, "the one who left uploads no more");
}

/// Two owners removing each other at once: one wins, the project keeps an
/// owner (the project's row orders them; the rule is checked inside).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_removing_each_other_at_once_leave_one() {
    let app = spawn_empty().await;
    let a = person(&app, "ann").await;
    let b = person(&app, "ben").await;
    for round in 0..5 {
        let name = format!("duo-{round}");
        upload(&app, &a.token, &name, "1.0").await;
        let id = cheeseshop::server::db::catalog::project(&app.db, &name)
            .await
            .expect("p")
            .expect("p")
            .id;
        let mut tx = app.db.begin_write().await.expect("tx");
        tx.set_role(id, b.id, "Owner", false).await.expect("role");
        tx.commit().await.expect("commit");
        let remove_ben = [("project", name.as_str()), ("username", "ben")];
        let remove_ann = [("project", name.as_str()), ("username", "ann")];
        let (first, second) = tokio::join!(
            call(&app, Some(&a.session), "remove_collaborator", &remove_ben),
            call(&app, Some(&b.session), "remove_collaborator", &remove_ann),
        );
        let statuses = [first.0, second.0];
        assert!(statuses.contains(&200), "{first:?} {second:?}");
        let owners = cheeseshop::server::db::manage::collaborators(&app.db, id)
            .await
            .expect("people");
        assert_eq!(owners.len(), 1, "{owners:?} after {statuses:?}");
        assert_eq!(owners[0].role, "Owner");
    }
}

/// PEP 792: archived refuses uploads and says so in the Simple API;
/// quarantined (an administrator's) lists and serves no file; lifted, all
/// is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_status_in_the_index() {
    let app = spawn_empty().await;
    let owner = person(&app, "owner").await;
    let admin = person(&app, "admin").await;
    cheeseshop::server::db::accounts::set_flag(&app.db, admin.id, true, true)
        .await
        .expect("admin");
    upload(&app, &owner.token, "statusy", "1.0").await;
    let (_, simple) = simple_json(&app, "statusy").await;
    assert!(simple.get("project-status").is_none(), "active is not said: {simple}");
    assert_eq!(simple["meta"]["api-version"], "1.4");
    let url = simple["files"][0]["url"].as_str().expect("url").to_owned();

    let (status, body) = call(
        &app,
        Some(&owner.session),
        "set_project_status",
        &[
            ("project", "statusy"),
            ("status", "archived"),
            ("reason", "done & dusted"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, simple) = simple_json(&app, "statusy").await;
    assert_eq!(simple["project-status"]["status"], "archived");
    assert_eq!(simple["project-status"]["reason"], "done & dusted");
    assert_eq!(
        simple["files"].as_array().expect("files").len(),
        1,
        "archived files stay installable"
    );
    let html = simple_html(&app, "statusy").await;
    assert!(
        html.contains("<meta name=\"pypi:project-status\" content=\"archived\">"),
        "{html}"
    );
    assert!(
        html.contains("<meta name=\"pypi:project-status-reason\" content=\"done &amp; dusted\">"),
        "{html}"
    );
    assert_eq!(
        app.get_json("/pypi/statusy/json").await["info"]["project_status"]["status"],
        "archived"
    );
    let (status, body, _) = upload(&app, &owner.token, "statusy", "2.0").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("archived"), "{body}");

    // Only an administrator quarantines.
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "set_project_status",
        &[("project", "statusy"), ("status", "quarantined")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = call(
        &app,
        Some(&admin.session),
        "set_project_status",
        &[("project", "statusy"), ("status", "quarantined")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, simple) = simple_json(&app, "statusy").await;
    assert_eq!(simple["project-status"]["status"], "quarantined");
    assert_eq!(simple["files"], serde_json::json!([]));
    assert_eq!(simple["versions"], serde_json::json!([]));
    assert_eq!(app.get(&url).await.status(), 404, "no file served");
    assert_eq!(app.get(&format!("{url}.metadata")).await.status(), 404);
    assert_eq!(app.get("/pypi/statusy/json").await.status(), 404);
    let (status, _, _) = upload(&app, &owner.token, "statusy", "2.0").await;
    assert_eq!(status, 400);
    // Nor does the owner lift it.
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "set_project_status",
        &[("project", "statusy"), ("status", "active")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        Some(&admin.session),
        "set_project_status",
        &[("project", "statusy"), ("status", "active")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&url).await.status(), 200);
    let (status, body, _) = upload(&app, &owner.token, "statusy", "2.0").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "set_project_status",
        &[("project", "statusy"), ("status", "deleted")],
    )
    .await;
    assert_eq!(status, 400);
}

/// Tokens have scopes: a read-only token uploads nothing. A locked
/// account logs in no more, and its sessions and tokens stop working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_scopes_and_locked_accounts() {
    use cheeseshop::server::db::accounts;

    let app = spawn_empty().await;
    let owner = person(&app, "owner").await;
    let token = crate::helpers::token_with_scopes(&app, owner.id, true, false).await;
    let (status, body, _) = upload(&app, &token, "scoped", "1.0").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("upload scope"), "{body}");
    // Through the account page's form: the scope is chosen and shown.
    let (status, body) = call(
        &app,
        Some(&owner.session),
        "create_token",
        &[("name", "ci"), ("project", ""), ("scopes", "upload")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "create_token",
        &[("name", "bad"), ("project", ""), ("scopes", "admin")],
    )
    .await;
    assert_eq!(status, 422);
    let account: Value = serde_json::from_str(&call(&app, Some(&owner.session), "account", &[]).await.1).expect("json");
    let scopes: Vec<&str> = account["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| t["scopes"].as_str().expect("scopes"))
        .collect();
    assert!(scopes.contains(&"Upload") && scopes.contains(&"Read"), "{scopes:?}");

    accounts::set_flag(&app.db, owner.id, false, true).await.expect("lock");
    let (status, _, _) = upload(&app, &owner.token, "scoped", "1.0").await;
    assert_eq!(status, 403, "a locked account's token");
    let (status, _) = call(
        &app,
        Some(&owner.session),
        "create_token",
        &[("name", "x"), ("project", "")],
    )
    .await;
    assert_eq!(status, 401, "its session ended");
    let (status, body) = call(
        &app,
        None,
        "login",
        &[("identifier", "owner"), ("password", crate::helpers::TEST_PASSWORD)],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("locked"), "{body}");
    accounts::set_flag(&app.db, owner.id, false, false)
        .await
        .expect("unlock");
    let (status, body, _) = upload(&app, &owner.token, "scoped", "1.0").await;
    assert_eq!(status, 200, "{body}");
}

/// The security history cannot be changed or deleted, on either backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_history_is_append_only() {
    let app = spawn_empty().await;
    let owner = person(&app, "owner").await;
    upload(&app, &owner.token, "history", "1.0").await;
    for sql in [
        "UPDATE security_events SET detail = 'forged'",
        "DELETE FROM security_events",
    ] {
        let result = match app.db.backend() {
            cheeseshop::server::db::Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&app.db_url).await.expect("connect");
                sqlx::query(sql).execute(&pool).await.map(|_| ())
            }
            cheeseshop::server::db::Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&app.db_url).await.expect("connect");
                sqlx::query(sql).execute(&pool).await.map(|_| ())
            }
        };
        let error = result.expect_err(sql).to_string();
        assert!(error.contains("append-only"), "{error}");
    }
    let manage: Value = serde_json::from_str(
        &call(&app, Some(&owner.session), "manage_project", &[("name", "history")])
            .await
            .1,
    )
    .expect("json");
    assert_eq!(manage["events"][0]["what"], "File uploaded");
    assert!(
        manage["events"][0]["detail"]
            .as_str()
            .expect("detail")
            .contains("history-1.0")
    );
}

/// pip and uv skip a yanked release unless it is pinned exactly (PEP 592).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_and_uv_skip_a_yanked_release_unless_pinned() {
    use crate::clients::{
        Package as Built, build, make_pip_venv, make_uv_venv, pip_install, python_in, run, twine_upload, uv_install,
    };

    let work = tempfile::TempDir::new().expect("tempdir");
    let w = work.path();
    let app = spawn_empty().await;
    let owner = person(&app, "owner").await;
    for version in ["1.0", "2.0"] {
        let files = build(
            w,
            &Built {
                name: "yank-me",
                version,
                requires_python: ">=3.8",
                dependencies: &[],
            },
        )
        .await;
        twine_upload(&app, &owner.token, &files).await;
    }
    let (status, body) = call(
        &app,
        Some(&owner.session),
        "yank_release",
        &[("project", "yank-me"), ("version", "2.0"), ("reason", "broken")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let index = app.url("/simple/");
    let check = "import yank_me; print(yank_me.VERSION)";

    let pip_venv = w.join("venv-pip");
    make_pip_venv(&pip_venv).await;
    run(pip_install(&pip_venv, &index, "yank-me")).await;
    assert_eq!(python_in(&pip_venv, check).await, "1.0");
    run(pip_install(&pip_venv, &index, "yank-me==2.0")).await;
    assert_eq!(python_in(&pip_venv, check).await, "2.0");

    let cache = w.join("uv-cache");
    let uv_venv = w.join("venv-uv");
    make_uv_venv(&uv_venv, &cache).await;
    run(uv_install(&uv_venv, &index, &cache, &["yank-me"])).await;
    assert_eq!(python_in(&uv_venv, check).await, "1.0");
    run(uv_install(&uv_venv, &index, &cache, &["yank-me==2.0"])).await;
    assert_eq!(python_in(&uv_venv, check).await, "2.0");
}

/// An upload refused before its body is read (a bad or read-only token)
/// is answered with its message, not cut off: the body is read first, so
/// the client is not writing into a closed connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_gets_its_message_not_a_broken_pipe() {
    let app = spawn_empty().await;
    let owner = person(&app, "owner").await;
    let reader = crate::helpers::token_with_scopes(&app, owner.id, true, false).await;
    // Small and large bodies: a small one is what failed in CI-like runs
    // (the answer came while the client still wrote the multipart body).
    for (token, expected, size) in [
        ("not-a-token", "Invalid or revoked", 3_000),
        (reader.as_str(), "upload scope", 3_000),
        ("not-a-token", "Invalid or revoked", 3_000_000),
    ] {
        let bytes = vec![7u8; size];
        for _ in 0..30 {
            let form = crate::helpers::upload_form(
                "big-one",
                "1.0",
                "bdist_wheel",
                "big_one-1.0-py3-none-any.whl",
                &bytes,
                &[],
            );
            let (status, body) = app.upload(Some(token), form).await;
            assert_eq!(status, 403, "{body}");
            assert!(body.contains(expected), "{body}");
        }
    }
}
