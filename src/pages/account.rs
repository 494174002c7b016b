use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{
    ChangePassword, CreateToken, Login, Register, RevokeToken, SetUpstreamMerge, get_account, registration_open,
};
use crate::components::auth::{form_errors, form_message, use_auth};
use crate::components::copy::CopyButton;
use crate::components::error_view::ErrorView;
use crate::components::form::{Field, FormMessage};
use crate::error::AppError;
use crate::model::{AccountData, ApiTokenInfo, MaintainedProject, NewApiToken};
use crate::pages::manage::{EventList, InvitationsCard};

#[component]
pub fn RegisterPage() -> impl IntoView {
    let open = Resource::new(|| (), |_| registration_open());
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match open.await {
                    Ok(false) => view! {
                        <Title text="Create an account"/>
                        <section class="container auth-page">
                            <h1>"Create an account"</h1>
                            <p class="lead" data-test-registration-closed>
                                "This index is private: its administrators create the accounts. Ask one of them for an account."
                            </p>
                            <p>"Have an account? " <a href="/account/login">"Log in"</a></p>
                        </section>
                    }.into_any(),
                    _ => view! { <RegisterForm/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RegisterForm() -> impl IntoView {
    let register = use_auth().tracked::<Register>();
    let errors = form_errors(register);
    let message = form_message(register);
    let pending = register.pending();
    view! {
        <Title text="Create an account"/>
        <section class="container auth-page">
            <h1>"Create an account"</h1>
            <p class="lead">"An account lets you publish packages and manage the projects you maintain."</p>
            <div class="card">
                <ActionForm action=register>
                    <FormMessage message/>
                    <Field label="Name" name="name" autocomplete="name" errors/>
                    <Field
                        label="Username"
                        name="username"
                        autocomplete="username"
                        hint="Letters, digits, '.', '_' and '-'; up to 50 characters."
                        errors
                    />
                    <Field label="E-mail address" name="email" kind="email" autocomplete="email" errors/>
                    <Field
                        label="Password"
                        name="password"
                        kind="password"
                        autocomplete="new-password"
                        hint="At least 8 characters."
                        errors
                    />
                    <Field
                        label="Confirm password"
                        name="password_confirm"
                        kind="password"
                        autocomplete="new-password"
                        errors
                    />
                    <button type="submit" class="button button-primary" disabled=pending data-test-submit>
                        "Create account"
                    </button>
                </ActionForm>
            </div>
            <p>"Already have an account? " <a href="/account/login">"Log in"</a></p>
        </section>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = use_auth().tracked::<Login>();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let errors = form_errors(login);
    let message = form_message(login);
    let pending = login.pending();
    view! {
        <Title text="Log in"/>
        <section class="container auth-page">
            <h1>"Log in"</h1>
            <div class="card">
                <ActionForm action=login>
                    <FormMessage message/>
                    <input type="hidden" name="next" value=next/>
                    <Field label="Username or e-mail address" name="identifier" autocomplete="username" errors/>
                    <Field label="Password" name="password" kind="password" autocomplete="current-password" errors/>
                    <button type="submit" class="button button-primary" disabled=pending data-test-submit>
                        "Log in"
                    </button>
                </ActionForm>
            </div>
            <p>"No account yet? " <a href="/account/register">"Create an account"</a></p>
        </section>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let auth = use_auth();
    let account = Resource::new(move || auth.changed(), |_| get_account());
    // Owned by the page, not the view: a refetch after creating a token
    // re-renders the view, and the new token must stay on screen.
    let tokens = TokenActions {
        create: auth.tracked::<CreateToken>(),
        revoke: auth.tracked::<RevokeToken>(),
    };
    view! {
        <Title text="Your account"/>
        <Suspense fallback=|| view! { <p class="container loading">"Loading your account…"</p> }>
            {Suspend::new(async move {
                match account.await {
                    Ok(data) => view! { <AccountView data tokens/> }.into_any(),
                    Err(AppError::Unauthorized(message)) => view! {
                        <section class="container narrow">
                            <h1>"Your account"</h1>
                            <p>{message} " " <a href="/account/login?next=%2Faccount">"Log in"</a></p>
                        </section>
                    }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[derive(Clone, Copy)]
struct TokenActions {
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
}

#[component]
fn AccountView(data: AccountData, tokens: TokenActions) -> impl IntoView {
    let scopes = data.projects.clone();
    let token_list = data.tokens;
    let flash = data.new_token;
    let change = ServerAction::<ChangePassword>::new();
    let errors = form_errors(change);
    let message = form_message(change);
    let changed = move || matches!(change.value().get(), Some(Ok(())));
    let profile = format!("/user/{}", data.username);
    view! {
        <section class="container account-page">
            <h1>"Your account"</h1>
            <div class="account-grid">
                <section class="card" aria-labelledby="profile-heading">
                    <h2 id="profile-heading">"Profile"</h2>
                    <dl class="meta-list" data-test-account>
                        <dt>"Name"</dt><dd data-test-account-name>{data.name}</dd>
                        <dt>"Username"</dt><dd data-test-account-username>{data.username}</dd>
                        <dt>"E-mail address"</dt><dd data-test-account-email>{data.email}</dd>
                        <dt>"Member since"</dt><dd>{data.member_since}</dd>
                    </dl>
                    <p><a href=profile>"View your public profile"</a></p>
                    {data.is_admin.then(|| view! { <p><a href="/admin" data-test-admin-link>"Administration"</a></p> })}
                </section>
                <section class="card" aria-labelledby="projects-heading">
                    <h2 id="projects-heading">"Your projects"</h2>
                    <ProjectList projects=data.projects.clone() empty="You do not maintain any projects yet." manage=true/>
                    {data.upstream.then(|| view! { <UpstreamReleases projects=data.projects.clone()/> })}
                </section>
                <InvitationsCard invitations=data.invitations.clone()/>
                <TokensCard tokens=token_list scopes actions=tokens flash/>
                <section class="card" aria-labelledby="password-heading">
                    <h2 id="password-heading">"Change password"</h2>
                    <p class="field-hint">"Changing your password logs you out everywhere else."</p>
                    <ActionForm action=change>
                        <FormMessage message/>
                        {move || changed().then(|| view! {
                            <p class="form-success" role="status" data-test-password-changed>
                                "Your password was changed. Your other sessions were logged out."
                            </p>
                        })}
                        <Field label="Current password" name="current_password" kind="password" autocomplete="current-password" errors/>
                        <Field label="New password" name="new_password" kind="password" autocomplete="new-password" errors/>
                        <Field label="Confirm new password" name="new_password_confirm" kind="password" autocomplete="new-password" errors/>
                        <button type="submit" class="button button-primary">"Change password"</button>
                    </ActionForm>
                </section>
                <section class="card wide-card" aria-labelledby="account-history-heading">
                    <h2 id="account-history-heading">"Security history"</h2>
                    <EventList events=data.events.clone() show_project=true/>
                </section>
            </div>
        </section>
    }
}

/// With an upstream index: per project its owner decides whether the
/// upstream's releases of the same name are served beside its own (off:
/// never, so that no public package can pose as a release of it).
#[component]
fn UpstreamReleases(projects: Vec<MaintainedProject>) -> impl IntoView {
    let owned: Vec<MaintainedProject> = projects.into_iter().filter(|p| p.role == "Owner").collect();
    if owned.is_empty() {
        return ().into_any();
    }
    let merge = ServerAction::<SetUpstreamMerge>::new();
    let message = form_message(merge);
    view! {
        <h3>"Releases from the upstream index"</h3>
        <p class="field-hint">
            "A project's name is served from its releases here only, unless you let the upstream index's releases of that name be served beside them."
        </p>
        <FormMessage message/>
        <ul class="link-list">
            {owned.into_iter().map(|p| {
                let (allow, label) = if p.allow_upstream {
                    ("false", format!("Serve only {}'s own releases", p.name))
                } else {
                    ("true", format!("Serve {}'s upstream releases too", p.name))
                };
                let project = p.normalized_name.clone();
                view! {
                    <li data-test-upstream-merge=p.normalized_name>
                        {if p.allow_upstream { "Upstream releases served. " } else { "Local releases only. " }}
                        <ActionForm action=merge attr:class="inline-form">
                            <input type="hidden" name="project" value=project/>
                            <input type="hidden" name="allow" value=allow/>
                            <button type="submit" class="button button-secondary">{label}</button>
                        </ActionForm>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn TokensCard(
    tokens: Vec<ApiTokenInfo>,
    scopes: Vec<MaintainedProject>,
    actions: TokenActions,
    /// A token created without JavaScript, shown once by the server.
    flash: Option<NewApiToken>,
) -> impl IntoView {
    let create = actions.create;
    let errors = Signal::derive(move || match create.value().get() {
        Some(Err(AppError::Invalid(form))) => form,
        _ => Default::default(),
    });
    let message = Signal::derive(move || match create.value().get() {
        Some(Err(AppError::Invalid(_))) | Some(Ok(_)) | None => None,
        Some(Err(e)) => Some(e.to_string()),
    });
    let created = move || create.value().get().and_then(Result::ok).or_else(|| flash.clone());
    let revoke_message = Signal::derive(move || {
        actions
            .revoke
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.to_string())
    });
    let scope_error = move || errors.read().get("project").map(str::to_owned);
    view! {
        <section class="card tokens-card" aria-labelledby="tokens-heading" data-test-tokens>
            <h2 id="tokens-heading">"API tokens"</h2>
            <p class="field-hint">
                "Upload with twine or uv using the username " <code>"__token__"</code>
                " and a token as the password. A token is shown once, when you create it."
            </p>
            {move || created().map(|t| view! {
                <div class="form-success new-token" role="status" data-test-new-token>
                    <p>"Your new token “" {t.name.clone()} "”. Copy it now: it will not be shown again."</p>
                    <div class="copy-command">
                        <code data-test-new-token-value>{t.token.clone()}</code>
                        <CopyButton text=t.token.clone() label="Copy the token to the clipboard".to_owned()/>
                    </div>
                </div>
            })}
            <FormMessage message=revoke_message/>
            {if tokens.is_empty() {
                view! { <p class="empty" data-test-no-tokens>"You have no API tokens."</p> }.into_any()
            } else {
                view! {
                    <table class="tokens">
                        <caption class="visually-hidden">"Your API tokens"</caption>
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"Scope"</th><th scope="col">"May"</th>
                            <th scope="col">"Created"</th><th scope="col">"Last used"</th>
                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </tr></thead>
                        <tbody>
                            {tokens.into_iter().map(|t| {
                                let label = format!("Revoke the token {}", t.name);
                                view! {
                                    <tr data-test-token=t.name.clone()>
                                        <td>{t.name.clone()}</td>
                                        <td>{t.project.clone().unwrap_or_else(|| "All your projects".into())}</td>
                                        <td data-test-token-scopes>{t.scopes.clone()}</td>
                                        <td>{t.created.clone()}</td>
                                        <td>{t.last_used.clone().unwrap_or_else(|| "Never".into())}</td>
                                        <td>
                                            <ActionForm action=actions.revoke>
                                                <input type="hidden" name="id" value=t.id/>
                                                <button type="submit" class="button" aria-label=label data-test-revoke>"Revoke"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            <h3>"Create a token"</h3>
            <ActionForm action=create>
                <FormMessage message/>
                <Field label="Token name" name="name" hint="For example the machine or CI job that uses it." errors/>
                <div class="field">
                    <label for="field-project">"Scope"</label>
                    <select id="field-project" name="project" aria-describedby="field-project-error">
                        <option value="">"All your projects (and new ones)"</option>
                        {scopes.into_iter().map(|p| view! { <option value=p.normalized_name>{p.name}</option> }).collect_view()}
                    </select>
                    {move || scope_error().map(|m| view! { <p class="field-error" id="field-project-error">{m}</p> })}
                </div>
                <div class="field">
                    <label for="field-scopes">"May"</label>
                    <select id="field-scopes" name="scopes">
                        <option value="read,upload">"Read and upload"</option>
                        <option value="upload">"Upload only"</option>
                        <option value="read">"Read only (install from a private index)"</option>
                    </select>
                </div>
                <button type="submit" class="button button-primary" data-test-create-token>"Create token"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}

#[component]
pub fn ProjectList(
    projects: Vec<MaintainedProject>,
    empty: &'static str,
    /// Link each to its manage page (the owner's account page).
    #[prop(optional)]
    manage: bool,
) -> impl IntoView {
    if projects.is_empty() {
        return view! { <p class="empty" data-test-no-projects>{empty}</p> }.into_any();
    }
    view! {
        <ul class="link-list">
            {projects.into_iter().map(|p| view! {
                <li>
                    <a href=format!("/project/{}/", p.normalized_name)>{p.name.clone()}</a>
                    " " <span class="badge badge-legacy">{p.role}</span>
                    {manage.then(|| view! {
                        " " <a class="manage-link" href=format!("/manage/project/{}/", p.normalized_name) data-test-manage=p.normalized_name.clone()>{format!("Manage {}", p.name)}</a>
                    })}
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}
