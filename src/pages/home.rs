use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};

use crate::api::get_home;
use crate::components::error_view::ErrorView;
use crate::components::search_form::SearchForm;
use crate::domain::format::thousands;
use crate::model::{ReleaseSummary, Stats};

#[component]
pub fn HomePage() -> impl IntoView {
    let home = Resource::new(|| (), |_| get_home());
    view! {
        <Title text="Find, install and publish Python packages"/>
        <Meta name="description" content="cheeseshop is a self-hosted Python package index: find, install and publish Python packages."/>
        <Link rel="alternate" type_="application/rss+xml" title="Recent updates" href="/rss/updates.xml"/>
        <Link rel="alternate" type_="application/rss+xml" title="Newest packages" href="/rss/packages.xml"/>
        <section class="hero">
            <div class="container hero-inner">
                <h1>"Find, install and publish Python packages"</h1>
                <p class="hero-lead">
                    "The packages your team depends on, on an index you run yourself. "
                    "Works with pip, uv and twine."
                </p>
                <SearchForm id="hero-search".to_owned() compact=false value=String::new()/>
                <p class="hero-hint">"Or " <a href="/about">"learn how to use this index"</a> "."</p>
            </div>
        </section>
        <Suspense fallback=|| view! { <p class="container loading">"Loading the index…"</p> }>
            {Suspend::new(async move {
                match home.await {
                    Ok(data) => view! {
                        <StatsBar stats=data.stats/>
                        <NewReleases releases=data.new_releases/>
                    }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn StatsBar(stats: Stats) -> impl IntoView {
    let items = [
        ("projects", stats.projects),
        ("releases", stats.releases),
        ("files", stats.files),
        ("users", stats.users),
    ];
    view! {
        <section class="stats" aria-label="Index statistics">
            <ul class="container stats-inner">
                {items.into_iter().map(|(label, n)| view! {
                    <li class="stat" data-test-stat=label>
                        <span class="stat-value">{thousands(n)}</span>
                        <span class="stat-label">{label}</span>
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn NewReleases(releases: Vec<ReleaseSummary>) -> impl IntoView {
    let empty = releases.is_empty();
    view! {
        <section class="container new-releases" aria-labelledby="new-releases-heading">
            <h2 id="new-releases-heading">"New releases"</h2>
            <p class="section-lead">"Recently updated projects on this index."</p>
            {empty.then(|| view! {
                <p class="empty">"Nothing here yet. Import projects with " <code>"cheeseshop import"</code> "."</p>
            })}
            <ul class="package-list">
                {releases.into_iter().map(|r| view! {
                    <li>
                        <a class="package-snippet" href=format!("/project/{}/", r.normalized_name) data-test-new-release=r.normalized_name.clone()>
                            <span class="package-snippet-title">
                                <span class="package-name">{r.name}</span>
                                " "
                                <span class="package-version">{r.version}</span>
                            </span>
                            <time class="package-snippet-time" datetime=r.released_at>{r.released_ago}</time>
                            <span class="package-snippet-summary">{r.summary}</span>
                        </a>
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}
