//! `/manage/project/{name}/`: a project's releases, collaborators, status
//! and security history, for its collaborators and site administrators;
//! `/manage/project/{name}/release/{version}`: one release's files. Every
//! action is a plain form (they work without JavaScript); deletions ask for
//! the name of what goes to be typed.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{
    AnswerInvitation, CancelInvitation, ChangeRole, DeleteFile, DeleteProject, DeleteRelease, InviteCollaborator,
    RemoveCollaborator, SetProjectStatus, UnyankRelease, YankRelease, get_manage_project, get_manage_release,
};
use crate::components::auth::form_message;
use crate::components::error_view::ErrorView;
use crate::components::form::FormMessage;
use crate::domain::access::REASON_MAX;
use crate::model::{ManageProject, ManageReleaseFiles, PendingInvitation, SecurityEvent};

/// Every action of the page, created once so that an error carried back by
/// a form posted without JavaScript is shown beside the forms.
#[derive(Clone, Copy)]
struct Actions {
    yank: ServerAction<YankRelease>,
    unyank: ServerAction<UnyankRelease>,
    delete_release: ServerAction<DeleteRelease>,
    delete_file: ServerAction<DeleteFile>,
    delete_project: ServerAction<DeleteProject>,
    invite: ServerAction<InviteCollaborator>,
    cancel: ServerAction<CancelInvitation>,
    change_role: ServerAction<ChangeRole>,
    remove: ServerAction<RemoveCollaborator>,
    status: ServerAction<SetProjectStatus>,
}

impl Actions {
    fn new() -> Self {
        Self {
            yank: ServerAction::new(),
            unyank: ServerAction::new(),
            delete_release: ServerAction::new(),
            delete_file: ServerAction::new(),
            delete_project: ServerAction::new(),
            invite: ServerAction::new(),
            cancel: ServerAction::new(),
            change_role: ServerAction::new(),
            remove: ServerAction::new(),
            status: ServerAction::new(),
        }
    }

    /// The last failed action's message, if any.
    fn message(self) -> Signal<Option<String>> {
        let messages = [
            form_message(self.yank),
            form_message(self.unyank),
            form_message(self.delete_release),
            form_message(self.delete_file),
            form_message(self.delete_project),
            form_message(self.invite),
            form_message(self.cancel),
            form_message(self.change_role),
            form_message(self.remove),
            form_message(self.status),
        ];
        Signal::derive(move || messages.iter().find_map(|m| m.get()))
    }
}

#[component]
pub fn ManageProjectPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        let page = query.read().get("page").and_then(|p| p.trim().parse::<i64>().ok());
        (params.read().get("name").unwrap_or_default(), page)
    };
    let data = Resource::new(key, |(name, page)| get_manage_project(name, page));
    let actions = Actions::new();
    view! {
        <Suspense fallback=|| view! { <p class="container loading">"Loading…"</p> }>
            {Suspend::new(async move {
                match data.await {
                    Ok(p) => view! { <ManageView p actions/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ManageView(p: ManageProject, actions: Actions) -> impl IntoView {
    let message = actions.message();
    let base = format!("/manage/project/{}/", p.normalized_name);
    let project = p.normalized_name.clone();
    let status_label = match p.status.as_str() {
        "archived" => "Archived",
        "deprecated" => "Deprecated",
        "quarantined" => "Quarantined",
        _ => "Active",
    };
    let role = p.role.clone().unwrap_or_else(|| {
        if p.is_admin {
            "Site administrator".into()
        } else {
            String::new()
        }
    });
    view! {
        <Title text=format!("Manage {}", p.name)/>
        <section class="container account-page manage-page">
            <h1>"Manage " <a href=format!("/project/{}/", p.normalized_name)>{p.name.clone()}</a></h1>
            <p class="lead">
                "Your role: " <strong data-test-role>{role}</strong>
                " · Status: " <strong data-test-status>{status_label}</strong>
                {(!p.status_reason.is_empty()).then(|| format!(" ({})", p.status_reason))}
            </p>
            <FormMessage message/>
            <div class="account-grid">
                <ReleasesCard p=p.clone() base=base.clone() actions/>
                <CollaboratorsCard p=p.clone() actions/>
                {(p.can_set_status || p.can_quarantine).then(|| view! { <StatusCard p=p.clone() actions/> })}
                {p.can_delete.then(|| view! {
                    <section class="card danger-zone" aria-labelledby="delete-heading">
                        <h2 id="delete-heading">"Delete the project"</h2>
                        <p>"Deletes every release and file of " {p.name.clone()} ". Its filenames can never be used again. This cannot be undone."</p>
                        <ActionForm action=actions.delete_project>
                            <input type="hidden" name="project" value=project.clone()/>
                            <div class="field">
                                <label for="confirm-project">"Type the project's name to confirm: " <code>{p.name.clone()}</code></label>
                                <input id="confirm-project" name="confirm" type="text" autocomplete="off" required data-test-confirm-project/>
                            </div>
                            <button type="submit" class="button button-danger" data-test-delete-project>"Delete the project"</button>
                        </ActionForm>
                    </section>
                })}
                <section class="card wide-card" aria-labelledby="history-heading">
                    <h2 id="history-heading">"Security history"</h2>
                    <EventList events=p.events.clone() show_project=false/>
                </section>
            </div>
        </section>
    }
}

#[component]
fn ReleasesCard(p: ManageProject, base: String, actions: Actions) -> impl IntoView {
    let project = p.normalized_name.clone();
    let (page, pages) = (p.page, p.pages);
    view! {
        <section class="card wide-card manage-releases" aria-labelledby="releases-heading">
            <h2 id="releases-heading">"Releases " <span class="count">{format!("({})", p.release_count)}</span></h2>
            {if p.releases.is_empty() {
                view! { <p class="empty">"No releases."</p> }.into_any()
            } else {
                view! {
                    <table class="tokens">
                        <caption class="visually-hidden">"Releases of " {p.name.clone()}</caption>
                        <thead><tr>
                            <th scope="col">"Version"</th><th scope="col">"Released"</th>
                            <th scope="col">"Files"</th><th scope="col">"Actions"</th>
                        </tr></thead>
                        <tbody>
                            {p.releases.iter().map(|r| {
                                let files_href = format!("{base}release/{}", crate::domain::escape::url_segment(&r.version));
                                let project = project.clone();
                                view! {
                                    <tr data-test-release=r.version.clone()>
                                        <th scope="row">
                                            {r.version.clone()}
                                            {r.yanked.then(|| view! { " " <span class="badge badge-yanked" data-test-yanked>"Yanked"</span> })}
                                            {(!r.yanked_reason.is_empty()).then(|| view! { <span class="field-hint">" " {r.yanked_reason.clone()}</span> })}
                                        </th>
                                        <td>{r.released_on.clone()}</td>
                                        <td>
                                            <a href=files_href>
                                                {format!("{} file{}", r.files, if r.files == 1 { "" } else { "s" })}
                                                <span class="visually-hidden">{format!(" of {}", r.version)}</span>
                                            </a>
                                        </td>
                                        <td>
                                            {(p.can_yank && !r.yanked).then(|| view! {
                                                <YankForm action=actions.yank project=project.clone() version=r.version.clone()/>
                                            })}
                                            {(p.can_yank && r.yanked).then(|| view! {
                                                <UnyankForm action=actions.unyank project=project.clone() version=r.version.clone()/>
                                            })}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {(pages > 1).then(|| view! {
                <nav class="pagination" aria-label="Release pages">
                    <ul>
                        {(1..=pages).map(|n| view! {
                            <li><a href=format!("{base}?page={n}") aria-current=(n == page).then_some("page") class:active=n == page>{n.to_string()}</a></li>
                        }).collect_view()}
                    </ul>
                </nav>
            })}
            {p.can_delete.then(|| view! {
                <h3>"Delete a release"</h3>
                <ActionForm action=actions.delete_release>
                    <input type="hidden" name="project" value=project.clone()/>
                    <div class="field">
                        <label for="delete-version">"Version to delete"</label>
                        <input id="delete-version" name="version" type="text" autocomplete="off" required data-test-delete-version/>
                    </div>
                    <div class="field">
                        <label for="confirm-version">"Type the version again to confirm"</label>
                        <input id="confirm-version" name="confirm" type="text" autocomplete="off" required data-test-confirm-version/>
                    </div>
                    <p class="field-hint">"Its files are deleted too, and their filenames can never be used again."</p>
                    <button type="submit" class="button button-danger" data-test-delete-release>"Delete the release"</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn CollaboratorsCard(p: ManageProject, actions: Actions) -> impl IntoView {
    let project = p.normalized_name.clone();
    let manage = p.can_manage_people;
    let me_role = p.role.clone();
    // The last owner can be neither demoted nor removed: no such buttons.
    let owners = p.collaborators.iter().filter(|c| c.role == "Owner").count();
    view! {
        <section class="card wide-card" aria-labelledby="people-heading">
            <h2 id="people-heading">"Collaborators"</h2>
            <table class="tokens">
                <caption class="visually-hidden">"Collaborators of " {p.name.clone()}</caption>
                <thead><tr><th scope="col">"User"</th><th scope="col">"Role"</th><th scope="col">"Actions"</th></tr></thead>
                <tbody>
                    {p.collaborators.iter().map(|c| {
                        let project = project.clone();
                        let other = if c.role == "Owner" { "Maintainer" } else { "Owner" };
                        view! {
                            <tr data-test-collaborator=c.username.clone()>
                                <th scope="row"><a href=format!("/user/{}", c.username)>{c.username.clone()}</a></th>
                                <td data-test-collaborator-role>{c.role.clone()}</td>
                                <td>
                                    {if c.role == "Owner" && owners == 1 {
                                        view! { <span class="field-hint" data-test-last-owner>"The last owner"</span> }.into_any()
                                    } else if manage {
                                        view! { <PersonForms actions project=project.clone() username=c.username.clone() other/> }.into_any()
                                    } else {
                                        ().into_any()
                                    }}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            {(!manage && me_role.is_some()).then(|| view! {
                <LeaveForm action=actions.remove project=project.clone() name=p.name.clone() username=p.viewer.clone()/>
            })}
            {(!p.invitations.is_empty()).then(|| view! {
                <h3>"Open invitations"</h3>
                <ul class="link-list">
                    {p.invitations.iter().map(|i| {
                        let project = project.clone();
                        view! {
                            <li data-test-invitation=i.username.clone()>
                                {i.username.clone()} " as " {i.role.clone()} ", until " {i.expires_on.clone()} " "
                                {manage.then(|| view! {
                                    <CancelForm action=actions.cancel project=project.clone() username=i.username.clone()/>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
            {manage.then(|| view! {
                <h3>"Invite a collaborator"</h3>
                <ActionForm action=actions.invite>
                    <input type="hidden" name="project" value=project.clone()/>
                    <div class="field">
                        <label for="invite-username">"Username"</label>
                        <input id="invite-username" name="username" type="text" autocomplete="off" required data-test-invite-username/>
                    </div>
                    <div class="field">
                        <label for="invite-role">"Role"</label>
                        <select id="invite-role" name="role">
                            <option value="Maintainer">"Maintainer: uploads and yanks releases"</option>
                            <option value="Owner">"Owner: also manages collaborators, status and deletion"</option>
                        </select>
                    </div>
                    <button type="submit" class="button button-primary" data-test-invite>"Send the invitation"</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn StatusCard(p: ManageProject, actions: Actions) -> impl IntoView {
    let mut choices = Vec::new();
    if p.can_set_status && p.status != "quarantined" {
        choices.extend([
            ("active", "Active: accepts uploads"),
            ("archived", "Archived: no new uploads; releases stay installable"),
            (
                "deprecated",
                "Deprecated: installable, but its maintainers advise against it",
            ),
        ]);
    }
    if p.can_quarantine {
        if p.status == "quarantined" {
            choices.push(("active", "Active: lift the quarantine"));
        } else {
            choices.push(("quarantined", "Quarantined: hidden from installers, no file served"));
        }
    }
    let current = p.status.clone();
    view! {
        <section class="card" aria-labelledby="status-heading">
            <h2 id="status-heading">"Project status"</h2>
            <ActionForm action=actions.status>
                <input type="hidden" name="project" value=p.normalized_name.clone()/>
                <fieldset>
                    <legend>"Status"</legend>
                    {choices.into_iter().map(|(value, label)| {
                        let id = format!("status-{value}");
                        view! {
                            <div class="choice">
                                <input type="radio" id=id.clone() name="status" value=value checked=value == current data-test-status-choice=value/>
                                <label for=id>{label}</label>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                <div class="field">
                    <label for="status-reason">"Reason (optional, shown to installers)"</label>
                    <input id="status-reason" name="reason" type="text" maxlength=REASON_MAX.to_string() value=p.status_reason.clone()/>
                </div>
                <button type="submit" class="button button-primary" data-test-set-status>"Change the status"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn ManageReleasePage() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        let p = params.read();
        (p.get("name").unwrap_or_default(), p.get("version").unwrap_or_default())
    };
    let data = Resource::new(key, |(name, version)| get_manage_release(name, version));
    let actions = Actions::new();
    view! {
        <Suspense fallback=|| view! { <p class="container loading">"Loading…"</p> }>
            {Suspend::new(async move {
                match data.await {
                    Ok(r) => view! { <ReleaseFilesView r actions/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ReleaseFilesView(r: ManageReleaseFiles, actions: Actions) -> impl IntoView {
    let message = actions.message();
    let project = r.normalized_name.clone();
    view! {
        <Title text=format!("Manage {} {}", r.name, r.version)/>
        <section class="container account-page manage-page">
            <h1>
                <a href=format!("/manage/project/{}/", r.normalized_name)>{r.name.clone()}</a>
                " " {r.version.clone()}
                {r.yanked.then(|| view! { " " <span class="badge badge-yanked">"Yanked"</span> })}
            </h1>
            {(!r.yanked_reason.is_empty()).then(|| view! { <p class="lead">"Yanked: " {r.yanked_reason.clone()}</p> })}
            <FormMessage message/>
            <section class="card" aria-labelledby="files-heading">
                <h2 id="files-heading">"Files"</h2>
                {if r.files.is_empty() {
                    view! { <p class="empty">"This release has no files."</p> }.into_any()
                } else {
                    view! {
                        <ul class="manage-files">
                            {r.files.iter().cloned().enumerate().map(|(n, f)| {
                                let id = format!("confirm-file-{n}");
                                let project = project.clone();
                                view! {
                                    <li data-test-file=f.filename.clone()>
                                        <p><code>{f.filename.clone()}</code> " · " {f.kind.clone()} " · " {f.size.clone()} " · " {f.uploaded_on.clone()}</p>
                                        {r.can_delete.then(|| view! {
                                            <DeleteFileForm action=actions.delete_file project=project.clone() filename=f.filename.clone() id=id.clone()/>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
        </section>
    }
}

/// A security history, newest first.
#[component]
pub fn EventList(events: Vec<SecurityEvent>, show_project: bool) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="empty">"Nothing yet."</p> }.into_any();
    }
    view! {
        <table class="tokens events" data-test-events>
            <caption class="visually-hidden">"Security history, newest first"</caption>
            <thead><tr>
                <th scope="col">"When"</th>
                {show_project.then(|| view! { <th scope="col">"Project"</th> })}
                <th scope="col">"What"</th><th scope="col">"By"</th><th scope="col">"Details"</th><th scope="col">"From"</th>
            </tr></thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr data-test-event=e.what.clone()>
                        <td><time datetime=e.when_iso.clone()>{e.when.clone()}</time></td>
                        {show_project.then(|| view! { <td>{e.project.clone()}</td> })}
                        <td>{e.what.clone()}</td>
                        <td>{e.actor.clone()}</td>
                        <td>{e.detail.clone()}</td>
                        <td>{e.address.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Invitations waiting for the user's answer, on the account page.
#[component]
pub fn InvitationsCard(invitations: Vec<PendingInvitation>) -> impl IntoView {
    let answer = ServerAction::<AnswerInvitation>::new();
    let message = form_message(answer);
    if invitations.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="card" aria-labelledby="invitations-heading" data-test-invitations>
            <h2 id="invitations-heading">"Invitations"</h2>
            <FormMessage message/>
            <ul class="link-list">
                {invitations.into_iter().map(|i| view! {
                    <li data-test-invitation-to=i.normalized_name.clone()>
                        {i.invited_by.clone()} " invites you to be " {i.role.clone()} " of "
                        <a href=format!("/project/{}/", i.normalized_name)>{i.project.clone()}</a>
                        " (until " {i.expires_on.clone()} "). "
                        <AnswerForm action=answer project=i.normalized_name.clone() name=i.project.clone() accept=true/>
                        <AnswerForm action=answer project=i.normalized_name.clone() name=i.project.clone() accept=false/>
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

#[component]
fn YankForm(action: ServerAction<YankRelease>, project: String, version: String) -> impl IntoView {
    let id = format!("reason-{version}");
    let label = format!("Reason for yanking {version}");
    let button = format!("Yank {version}");
    view! {
        <ActionForm action attr:class="inline-form">
            <input type="hidden" name="project" value=project/>
            <input type="hidden" name="version" value=version/>
            <label class="visually-hidden" for=id.clone()>{label}</label>
            <input id=id name="reason" type="text" placeholder="Reason (optional)" maxlength=REASON_MAX.to_string()/>
            <button type="submit" class="button" data-test-yank>{button}</button>
        </ActionForm>
    }
}

#[component]
fn UnyankForm(action: ServerAction<UnyankRelease>, project: String, version: String) -> impl IntoView {
    let button = format!("Un-yank {version}");
    view! {
        <ActionForm action attr:class="inline-form">
            <input type="hidden" name="project" value=project/>
            <input type="hidden" name="version" value=version/>
            <button type="submit" class="button" data-test-unyank>{button}</button>
        </ActionForm>
    }
}

#[component]
fn PersonForms(actions: Actions, project: String, username: String, other: &'static str) -> impl IntoView {
    let make = format!("Make {username} {}", other.to_lowercase());
    let remove = format!("Remove {username}");
    let (project2, username2) = (project.clone(), username.clone());
    view! {
        <ActionForm action=actions.change_role attr:class="inline-form">
            <input type="hidden" name="project" value=project/>
            <input type="hidden" name="username" value=username/>
            <input type="hidden" name="role" value=other/>
            <button type="submit" class="button button-secondary" data-test-change-role>{make}</button>
        </ActionForm>
        <ActionForm action=actions.remove attr:class="inline-form">
            <input type="hidden" name="project" value=project2/>
            <input type="hidden" name="username" value=username2/>
            <button type="submit" class="button button-secondary" data-test-remove>{remove}</button>
        </ActionForm>
    }
}

#[component]
fn CancelForm(action: ServerAction<CancelInvitation>, project: String, username: String) -> impl IntoView {
    let button = format!("Withdraw the invitation of {username}");
    view! {
        <ActionForm action attr:class="inline-form">
            <input type="hidden" name="project" value=project/>
            <input type="hidden" name="username" value=username/>
            <button type="submit" class="button button-secondary" data-test-cancel>{button}</button>
        </ActionForm>
    }
}

#[component]
fn DeleteFileForm(action: ServerAction<DeleteFile>, project: String, filename: String, id: String) -> impl IntoView {
    let button = format!("Delete {filename}");
    view! {
        <ActionForm action attr:class="inline-form">
            <input type="hidden" name="project" value=project/>
            <input type="hidden" name="filename" value=filename/>
            <label for=id.clone()>"Type the filename to confirm"</label>
            <input id=id name="confirm" type="text" autocomplete="off" required data-test-confirm-file/>
            <button type="submit" class="button button-danger" data-test-delete-file>{button}</button>
        </ActionForm>
    }
}

#[component]
fn AnswerForm(action: ServerAction<AnswerInvitation>, project: String, name: String, accept: bool) -> impl IntoView {
    let (value, class, button) = if accept {
        (
            "true",
            "button button-primary",
            format!("Accept the invitation to {name}"),
        )
    } else {
        (
            "false",
            "button button-secondary",
            format!("Decline the invitation to {name}"),
        )
    };
    view! {
        <ActionForm action attr:class="inline-form">
            <input type="hidden" name="project" value=project/>
            <input type="hidden" name="accept" value=value/>
            <button type="submit" class=class data-test-answer=value>{button}</button>
        </ActionForm>
    }
}

#[component]
fn LeaveForm(
    action: ServerAction<RemoveCollaborator>,
    project: String,
    name: String,
    username: String,
) -> impl IntoView {
    let button = format!("Leave {name}");
    view! {
        <ActionForm action>
            <input type="hidden" name="project" value=project/>
            <input type="hidden" name="username" value=username/>
            <p class="field-hint">"Leaving ends your role and your tokens scoped to this project."</p>
            <button type="submit" class="button button-secondary" data-test-leave>{button}</button>
        </ActionForm>
    }
}
