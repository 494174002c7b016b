//! `/admin`: the site administrators' area (see `api::admin`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{ReleaseName, ReserveName, SetAccountLock, get_admin};
use crate::components::auth::form_message;
use crate::components::error_view::ErrorView;
use crate::components::form::FormMessage;
use crate::model::{AdminData, AdminUser};

#[component]
pub fn AdminPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let data = Resource::new(q, get_admin);
    let lock = ServerAction::<SetAccountLock>::new();
    let reserve = ServerAction::<ReserveName>::new();
    let release = ServerAction::<ReleaseName>::new();
    view! {
        <Title text="Administration"/>
        <Suspense fallback=|| view! { <p class="container loading">"Loading…"</p> }>
            {Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <AdminView data lock reserve release/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AdminView(
    data: AdminData,
    lock: ServerAction<SetAccountLock>,
    reserve: ServerAction<ReserveName>,
    release: ServerAction<ReleaseName>,
) -> impl IntoView {
    let messages = [form_message(lock), form_message(reserve), form_message(release)];
    let message = Signal::derive(move || messages.iter().find_map(|m| m.get()));
    view! {
        <section class="container account-page">
            <h1>"Administration"</h1>
            <FormMessage message/>
            <form action="/admin" method="get" role="search" class="admin-search">
                <label for="admin-q">"Find accounts and projects"</label>
                <input id="admin-q" type="search" name="q" value=data.query.clone() maxlength="100"/>
                <button type="submit" class="button button-primary">"Find"</button>
            </form>
            <div class="account-grid">
                <section class="card wide-card" aria-labelledby="users-heading">
                    <h2 id="users-heading">"Accounts"</h2>
                    {if data.users.is_empty() {
                        view! { <p class="empty">"No account matches."</p> }.into_any()
                    } else {
                        view! {
                            <table class="tokens">
                                <caption class="visually-hidden">"Accounts found"</caption>
                                <thead><tr>
                                    <th scope="col">"Username"</th><th scope="col">"Name"</th><th scope="col">"E-mail address"</th>
                                    <th scope="col">"Since"</th><th scope="col">"State"</th><th scope="col">"Actions"</th>
                                </tr></thead>
                                <tbody>
                                    {data.users.into_iter().map(|u| view! { <UserRow u lock/> }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }}
                </section>
                <section class="card" aria-labelledby="projects-heading">
                    <h2 id="projects-heading">"Projects"</h2>
                    <p class="field-hint">"Quarantine or delete a project on its manage page."</p>
                    {if data.projects.is_empty() {
                        view! { <p class="empty">"No project matches."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="link-list">
                                {data.projects.into_iter().map(|p| view! {
                                    <li data-test-admin-project=p.normalized_name.clone()>
                                        <a href=format!("/project/{}/", p.normalized_name)>{p.name.clone()}</a>
                                        " " <span class="badge badge-legacy">{p.status.clone()}</span> " "
                                        <a href=format!("/manage/project/{}/", p.normalized_name)>{format!("Manage {}", p.name)}</a>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                </section>
                <section class="card" aria-labelledby="reserved-heading">
                    <h2 id="reserved-heading">"Reserved names"</h2>
                    <p class="field-hint">"Nobody may create a project of a reserved name, and no upstream index serves one."</p>
                    <ul class="link-list" data-test-reserved>
                        {data.reserved.into_iter().map(|name| view! { <ReservedName name release/> }).collect_view()}
                    </ul>
                    <ActionForm action=reserve>
                        <div class="field">
                            <label for="reserve-name">"Name to reserve"</label>
                            <input id="reserve-name" name="name" type="text" autocomplete="off" required/>
                        </div>
                        <button type="submit" class="button button-primary" data-test-reserve>"Reserve the name"</button>
                    </ActionForm>
                </section>
            </div>
        </section>
    }
}

#[component]
fn UserRow(u: AdminUser, lock: ServerAction<SetAccountLock>) -> impl IntoView {
    let state = match (u.is_admin, u.locked) {
        (_, true) => "Locked",
        (true, false) => "Administrator",
        (false, false) => "Active",
    };
    let (value, label) = if u.locked {
        ("false", format!("Unlock {}", u.username))
    } else {
        ("true", format!("Lock {}", u.username))
    };
    let (marker, href, shown) = (u.username.clone(), format!("/user/{}", u.username), u.username.clone());
    view! {
        <tr data-test-admin-user=marker>
            <th scope="row"><a href=href>{shown}</a></th>
            <td>{u.name}</td>
            <td>{u.email}</td>
            <td>{u.member_since}</td>
            <td data-test-admin-user-state>{state}</td>
            <td>
                <ActionForm action=lock attr:class="inline-form">
                    <input type="hidden" name="username" value=u.username/>
                    <input type="hidden" name="lock" value=value/>
                    <button type="submit" class="button button-secondary" data-test-lock=value>{label}</button>
                </ActionForm>
            </td>
        </tr>
    }
}

#[component]
fn ReservedName(name: String, release: ServerAction<ReleaseName>) -> impl IntoView {
    let label = format!("Release the name {name}");
    let (shown, marker) = (name.clone(), name.clone());
    view! {
        <li data-test-reserved-name=marker>
            <code>{shown}</code> " "
            <ActionForm action=release attr:class="inline-form">
                <input type="hidden" name="name" value=name/>
                <button type="submit" class="button button-secondary">{label}</button>
            </ActionForm>
        </li>
    }
}
