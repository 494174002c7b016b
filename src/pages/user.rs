use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::get_user;
use crate::components::error_view::ErrorView;
use crate::pages::account::ProjectList;

#[component]
pub fn UserPage() -> impl IntoView {
    let params = use_params_map();
    let username = move || params.read().get("username").unwrap_or_default();
    let profile = Resource::new(username, get_user);
    view! {
        <Suspense fallback=|| view! { <p class="container loading">"Loading profile…"</p> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Ok(p) => view! {
                        <Title text=p.name.clone()/>
                        <section class="container account-page">
                            <h1 data-test-profile-name>{p.name}</h1>
                            <p class="lead">"@" {p.username} " · member since " {p.member_since}</p>
                            <section class="card" aria-labelledby="projects-heading">
                                <h2 id="projects-heading">"Projects"</h2>
                                <ProjectList projects=p.projects empty="No projects yet."/>
                            </section>
                        </section>
                    }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
