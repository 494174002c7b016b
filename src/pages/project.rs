use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::use_params_map;

use crate::api::get_project;
use crate::components::copy::CopyCommand;
use crate::components::error_view::ErrorView;
use crate::model::{ProjectDetail, VersionEntry};

#[component]
pub fn ProjectPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let project = Resource::new(name, get_project);
    view! {
        <Suspense fallback=|| view! { <p class="container loading">"Loading project…"</p> }>
            {move || Suspend::new(async move {
                match project.await {
                    Ok(project) => view! { <ProjectView project/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProjectView(project: ProjectDetail) -> impl IntoView {
    let ProjectDetail {
        name,
        normalized_name,
        latest_version,
        released_on,
        released_at,
        summary,
        description,
        license,
        author,
        author_email,
        maintainer,
        maintainer_email,
        requires_python,
        keywords,
        classifiers,
        links,
        versions,
        ..
    } = project;
    let title = format!("{name} {latest_version}");
    let canonical = format!("/project/{normalized_name}/");
    let meta_description = if summary.is_empty() {
        format!("{name} on cheeseshop")
    } else {
        summary.clone()
    };
    let pip = format!("pip install {name}");
    let meta_rows: Vec<(&'static str, String)> = [
        ("License", license),
        ("Author", person(&author, &author_email)),
        ("Maintainer", person(&maintainer, &maintainer_email)),
        ("Requires Python", requires_python),
        ("Keywords", keywords),
    ]
    .into_iter()
    .filter(|(_, v)| !v.trim().is_empty())
    .collect();
    let version_count = versions.len();

    view! {
        <Title text=title/>
        <Meta name="description" content=meta_description/>
        <Link rel="canonical" href=canonical/>
        <section class="project-header">
            <div class="container project-header-inner">
                <div>
                    <h1 class="project-title" data-test-project-title>
                        <span>{name.clone()}</span> " " <span class="project-version">{latest_version.clone()}</span>
                    </h1>
                    <CopyCommand command=pip/>
                </div>
                <div class="project-status">
                    <span class="badge badge-latest">"Latest version"</span>
                    <p class="released">
                        "Released: " <time datetime=released_at>{released_on}</time>
                    </p>
                </div>
            </div>
        </section>
        <section class="project-summary">
            <div class="container">
                <p data-test-summary>{if summary.is_empty() { "No project description provided".to_owned() } else { summary }}</p>
            </div>
        </section>
        <div class="container project-layout">
            <aside class="project-sidebar" aria-label="Project details">
                {(!links.is_empty()).then(|| view! {
                    <section class="sidebar-section">
                        <h2>"Project links"</h2>
                        <ul class="link-list">
                            {links.into_iter().map(|l| view! {
                                <li><a href=l.url rel="nofollow noopener">{l.label}</a></li>
                            }).collect_view()}
                        </ul>
                    </section>
                })}
                {(!meta_rows.is_empty()).then(|| view! {
                    <section class="sidebar-section">
                        <h2>"Meta"</h2>
                        <dl class="meta-list">
                            {meta_rows.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                        </dl>
                    </section>
                })}
                {(!classifiers.is_empty()).then(|| view! {
                    <section class="sidebar-section">
                        <h2>"Classifiers"</h2>
                        <ul class="classifier-list">
                            {classifiers.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
                        </ul>
                    </section>
                })}
            </aside>
            <div class="project-main">
                <section aria-labelledby="description-heading">
                    <h2 id="description-heading">"Project description"</h2>
                    {if description.trim().is_empty() {
                        view! { <p class="empty">"The author of this package has not provided a project description."</p> }.into_any()
                    } else {
                        view! { <pre class="description" data-test-description>{description}</pre> }.into_any()
                    }}
                </section>
                <section id="history" aria-labelledby="history-heading">
                    <h2 id="history-heading">"Release history " <span class="count">{format!("({version_count})")}</span></h2>
                    <ol class="release-list" data-test-release-list>
                        {versions.into_iter().map(|v| view! { <ReleaseItem entry=v latest=latest_version.clone()/> }).collect_view()}
                    </ol>
                </section>
            </div>
        </div>
    }
}

fn person(name: &str, email: &str) -> String {
    match (name.trim(), email.trim()) {
        ("", "") => String::new(),
        (n, "") => n.to_owned(),
        ("", e) => e.to_owned(),
        (n, e) => format!("{n} <{e}>"),
    }
}

#[component]
fn ReleaseItem(entry: VersionEntry, latest: String) -> impl IntoView {
    let is_latest = entry.version == latest;
    let test_id = entry.version.clone();
    view! {
        <li class="release" class:release-latest=is_latest data-test-version=test_id>
            <span class="release-version">{entry.version}</span>
            {is_latest.then(|| view! { <span class="badge badge-latest">"latest"</span> })}
            {entry.is_prerelease.then(|| view! { <span class="badge badge-pre">"pre-release"</span> })}
            {entry.is_legacy.then(|| view! { <span class="badge badge-legacy" title="Not a valid PEP 440 version">"legacy"</span> })}
            {entry.yanked.then(|| view! { <span class="badge badge-yanked">"yanked"</span> })}
            <span class="release-date">{entry.released_on}</span>
        </li>
    }
}
