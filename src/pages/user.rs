use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::get_user;
use crate::components::error_view::ErrorView;
use crate::pages::account::ProjectList;

#[component]
pub fn UserPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        let page = query.read().get("page").and_then(|p| p.trim().parse::<i64>().ok());
        (params.read().get("username").unwrap_or_default(), page)
    };
    let profile = Resource::new(key, |(username, page)| get_user(username, page));
    view! {
        <Suspense fallback=|| view! { <p class="container loading">"Loading profile…"</p> }>
            {Suspend::new(async move {
                match profile.await {
                    Ok(p) => {
                        let base = format!("/user/{}/", p.username);
                        let (page, pages) = (p.page, p.pages);
                        view! {
                        <Title text=p.name.clone()/>
                        <section class="container account-page">
                            <h1 data-test-profile-name>{p.name}</h1>
                            <p class="lead">"@" {p.username} " · member since " {p.member_since}</p>
                            <section class="card" aria-labelledby="projects-heading">
                                <h2 id="projects-heading">"Projects " <span class="count">{format!("({})", p.project_count)}</span></h2>
                                <ProjectList projects=p.projects empty="No projects yet."/>
                                {(pages > 1).then(|| view! {
                                    <nav class="pagination" aria-label="Project pages">
                                        <ul>
                                            {(1..=pages).map(|n| view! {
                                                <li><a href=format!("{base}?page={n}") aria-current=(n == page).then_some("page") class:active=n == page>{n.to_string()}</a></li>
                                            }).collect_view()}
                                        </ul>
                                    </nav>
                                })}
                            </section>
                        </section>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
