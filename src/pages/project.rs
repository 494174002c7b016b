use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::get_project;
use crate::components::copy::{CopyButton, CopyCommand};
use crate::components::error_view::ErrorView;
use crate::domain::timeline::Timeline;
use crate::model::{FileEntry, ProjectDetail, VersionEntry};

/// `/project/{name}/` and `/project/{name}/{version}/`.
#[component]
pub fn ProjectPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        let p = params.read();
        // A page of the release history; anything but a number is page 1.
        let history = query.read().get("history").and_then(|h| h.trim().parse::<usize>().ok());
        (p.get("name").unwrap_or_default(), p.get("version"), history)
    };
    let project = Resource::new(key, |(name, version, history)| get_project(name, version, history));
    view! {
        <Suspense fallback=|| view! { <p class="container loading">"Loading project…"</p> }>
            {Suspend::new(async move {
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
        version,
        latest_version,
        is_latest,
        is_prerelease,
        yanked,
        yanked_reason,
        released_on,
        released_at,
        summary,
        description_html,
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
        release_count,
        history_page,
        history_pages,
        files,
        file_count,
        timeline,
        upstream,
        status,
        status_reason,
        ..
    } = project;
    let local = upstream.is_none();
    let status_notice = match status.as_str() {
        "archived" => Some((
            "notice",
            "This project is archived: its maintainers expect no more releases.",
        )),
        "deprecated" => Some((
            "notice",
            "This project is deprecated: its maintainers advise against using it.",
        )),
        "quarantined" => Some((
            "notice notice-danger",
            "This project is quarantined by the index's administrators: its files are not offered for download.",
        )),
        _ => None,
    };
    let base = format!("/project/{normalized_name}/");
    let canonical = if is_latest {
        base.clone()
    } else {
        format!("{base}{version}/")
    };
    let title = format!("{name} {version}");
    let meta_description = if summary.is_empty() {
        format!("{name} on cheeseshop")
    } else {
        summary.clone()
    };
    let pip = if is_latest {
        format!("pip install {name}")
    } else {
        format!("pip install {name}=={version}")
    };
    let feed = format!("/rss/project/{normalized_name}/releases.xml");
    let feed_title = format!("{name} releases");
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
    let files_not_shown = file_count.saturating_sub(files.len());
    let simple_url = format!("/simple/{normalized_name}/");
    let here = if is_latest {
        base.clone()
    } else {
        format!("{base}{version}/")
    };
    let history_link = move |page: usize| format!("{here}?history={page}#history");
    let timeline_name = name.clone();

    view! {
        <Title text=title/>
        <Meta name="description" content=meta_description/>
        <Link rel="canonical" href=canonical/>
        // Feeds are of local projects.
        {upstream.is_none().then(|| view! { <Link rel="alternate" type_="application/rss+xml" title=feed_title href=feed/> })}
        <section class="project-header">
            <div class="container project-header-inner">
                <div>
                    <h1 class="project-title" data-test-project-title>
                        <span>{name.clone()}</span> " " <span class="project-version">{version.clone()}</span>
                    </h1>
                    <CopyCommand command=pip/>
                </div>
                <div class="project-status">
                    {if is_latest {
                        view! { <span class="badge badge-latest" data-test-latest>"Latest version"</span> }.into_any()
                    } else {
                        view! {
                            <a class="badge badge-newer" href=base.clone() data-test-newer-version>
                                {format!("Newer version available ({latest_version})")}
                            </a>
                        }.into_any()
                    }}
                    {is_prerelease.then(|| view! { <span class="badge badge-pre">"Pre-release"</span> })}
                    {upstream.map(|u| view! {
                        <span class="badge badge-upstream" data-test-upstream>"From upstream"</span>
                        <p class="released">"Refreshed " <time datetime=u.fetched_at>{u.fetched_ago}</time></p>
                    })}
                    <p class="released">"Released: " <time datetime=released_at>{released_on}</time></p>
                </div>
            </div>
        </section>
        {status_notice.map(|(class, text)| view! {
            <div class="container">
                <p class=class role="note" data-test-project-status=status.clone()>
                    <strong>{text}</strong>
                    {(!status_reason.is_empty()).then(|| format!(" Reason: {status_reason}"))}
                </p>
            </div>
        })}
        {yanked.then(|| view! {
            <div class="container">
                <p class="notice notice-danger" role="note" data-test-yanked>
                    <strong>"This release has been yanked. "</strong>
                    {if yanked_reason.is_empty() { "No reason was given.".to_owned() } else { format!("Reason: {yanked_reason}") }}
                </p>
            </div>
        })}
        <section class="project-summary">
            <div class="container">
                <p data-test-summary>{if summary.is_empty() { "No project summary provided".to_owned() } else { summary }}</p>
            </div>
        </section>
        <div class="container project-layout tabs">
            <aside class="project-sidebar" aria-label="Project details">
                // rel="external": the router leaves these to the browser, whose
                // own fragment navigation updates :target (pushState would not).
                <nav class="sidebar-section project-tabs" aria-label="Project sections">
                    <h2 class="visually-hidden">"Sections"</h2>
                    <ul>
                        <li><a class="tab-link" href="#description" rel="external" data-test-tab="description">"Project description"</a></li>
                        <li><a class="tab-link" href="#history" rel="external" data-test-tab="history">"Release history"</a></li>
                        <li><a class="tab-link" href="#files" rel="external" data-test-tab="files">"Download files"</a></li>
                    </ul>
                </nav>
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
                {local.then(|| view! {
                    <section class="sidebar-section">
                        <h2>"Maintainers"</h2>
                        <p><a href=format!("/manage/project/{normalized_name}/") rel="nofollow" data-test-manage-link>"Manage this project"</a></p>
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
                <ReleaseTimeline timeline name=timeline_name current=version.clone()/>
                <section id="description" class="tab-panel tab-panel-default" aria-labelledby="description-heading">
                    <h2 id="description-heading">"Project description"</h2>
                    {if description_html.trim().is_empty() {
                        view! { <p class="empty">"The author of this package has not provided a project description."</p> }.into_any()
                    } else {
                        view! { <div class="description prose-content" data-test-description inner_html=description_html></div> }.into_any()
                    }}
                </section>
                <section id="history" class="tab-panel" aria-labelledby="history-heading">
                    <h2 id="history-heading">"Release history " <span class="count">{format!("({release_count})")}</span></h2>
                    <ol class="release-list" data-test-release-list>
                        {versions.into_iter().map(|v| view! {
                            <ReleaseItem entry=v base=base.clone() current=version.clone() latest=latest_version.clone()/>
                        }).collect_view()}
                    </ol>
                    {(history_pages > 1).then(|| view! {
                        <nav class="pagination" aria-label="Release history pages" data-test-history-pages>
                            <ul>
                                // The first, the last, and three either side of this one:
                                // as many links for ten thousand releases as for five hundred.
                                {(history_page > 1).then(|| view! {
                                    <li><a href=history_link(history_page - 1) rel="prev">"Newer"</a></li>
                                })}
                                {(1..=history_pages)
                                    .filter(|&p| p == 1 || p == history_pages || p.abs_diff(history_page) <= 3)
                                    .map(|p| view! {
                                        <li><a href=history_link(p) aria-current=(p == history_page).then_some("page") class:active=p == history_page>{p.to_string()}</a></li>
                                    })
                                    .collect_view()}
                                {(history_page < history_pages).then(|| view! {
                                    <li><a href=history_link(history_page + 1) rel="next">"Older"</a></li>
                                })}
                            </ul>
                        </nav>
                    })}
                </section>
                <section id="files" class="tab-panel" aria-labelledby="files-heading">
                    <h2 id="files-heading">"Download files " <span class="count">{format!("({file_count})")}</span></h2>
                    <p class="section-lead">"Files of version " {version.clone()} ". Verify downloads with their hashes."</p>
                    {if files.is_empty() {
                        view! { <p class="empty">"This release has no files."</p> }.into_any()
                    } else {
                        view! { <ul class="file-list" data-test-files>{files.into_iter().map(|f| view! { <FileItem file=f/> }).collect_view()}</ul> }.into_any()
                    }}
                    {(files_not_shown > 0).then(|| view! {
                        <p class="section-lead" data-test-more-files>
                            {format!("{files_not_shown} more files of this release are not shown here; ")}
                            <a href=simple_url>"the Simple API lists them all"</a> "."
                        </p>
                    })}
                </section>
            </div>
        </div>
    }
    .into_any()
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
fn ReleaseItem(entry: VersionEntry, base: String, current: String, latest: String) -> impl IntoView {
    let is_latest = entry.version == latest;
    let is_current = entry.version == current;
    let href = format!("{base}{}/", entry.version);
    let test_id = entry.version.clone();
    let reason = entry.yanked_reason.clone();
    view! {
        <li class="release" class:release-latest=is_latest class:release-current=is_current data-test-version=test_id>
            <a class="release-version" href=href aria-current=is_current.then_some("page")>{entry.version}</a>
            {is_latest.then(|| view! { <span class="badge badge-latest">"latest"</span> })}
            {entry.is_prerelease.then(|| view! { <span class="badge badge-pre">"pre-release"</span> })}
            {entry.is_legacy.then(|| view! { <span class="badge badge-legacy" title="Not a valid PEP 440 version">"legacy"</span> })}
            {entry.yanked.then(|| view! { <span class="badge badge-yanked" title=reason.clone()>"yanked"</span> })}
            {(entry.yanked && !reason.is_empty()).then(|| view! { <span class="yank-reason">{reason.clone()}</span> })}
            <span class="release-date">{entry.released_on}</span>
        </li>
    }
    .into_any()
}

#[component]
fn FileItem(file: FileEntry) -> impl IntoView {
    let FileEntry {
        filename,
        url,
        kind,
        python_version,
        size,
        uploaded_on,
        sha256,
        md5,
        blake2b_256,
    } = file;
    let test_id = filename.clone();
    let digests: Vec<(&'static str, String)> = [("SHA256", sha256), ("MD5", md5), ("BLAKE2b-256", blake2b_256)]
        .into_iter()
        .filter(|(_, d)| !d.is_empty())
        .collect();
    view! {
        <li class="file" data-test-file=test_id>
            <div class="file-head">
                <a class="file-name" href=url rel="nofollow">{filename}</a>
                <span class="file-meta">
                    <span class="badge badge-legacy">{kind}</span>
                    " " {python_version} " · " {size} " · uploaded " {uploaded_on}
                </span>
            </div>
            <details class="file-hashes">
                <summary>"Hashes"</summary>
                <table class="hash-table">
                    <thead><tr><th scope="col">"Algorithm"</th><th scope="col">"Hash digest"</th><th scope="col"><span class="visually-hidden">"Copy"</span></th></tr></thead>
                    <tbody>
                        {digests.into_iter().map(|(algorithm, digest)| view! {
                            <tr>
                                <th scope="row">{algorithm}</th>
                                <td><code class="digest" data-test-digest=algorithm>{digest.clone()}</code></td>
                                <td><CopyButton text=digest label=format!("Copy {algorithm} digest")/></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </details>
        </li>
    }
    .into_any()
}

/// Releases over time, drawn on the server as SVG (no JavaScript needed):
/// one dot per release, pre-releases hollow, yanked ones red.
#[component]
fn ReleaseTimeline(timeline: Timeline, name: String, current: String) -> impl IntoView {
    const WIDTH: f32 = 800.0;
    const PAD: f32 = 24.0;
    const ROW: f32 = 13.0;
    if timeline.points.is_empty() {
        return ().into_any();
    }
    let rows = f32::from(timeline.rows.max(1));
    let axis = 12.0 + rows * ROW;
    let height = axis + 26.0;
    let x = move |fraction: f32| format!("{:.1}", PAD + fraction * (WIDTH - 2.0 * PAD));
    let count = timeline.points.len();
    let first = timeline.points.first().map(|p| p.label.clone()).unwrap_or_default();
    let last = timeline.points.last().map(|p| p.label.clone()).unwrap_or_default();
    let description = format!("{count} releases of {name} between {first} and {last}");
    view! {
        <figure class="timeline" data-test-timeline>
            <svg
                class="timeline-chart"
                viewBox=format!("0 0 {WIDTH} {height}")
                role="img"
                aria-label=description
                preserveAspectRatio="xMidYMid meet"
            >
                <line class="timeline-axis" x1=x(0.0) x2=x(1.0) y1=axis.to_string() y2=axis.to_string()/>
                {timeline.ticks.into_iter().map(|(at, year)| view! {
                    <line class="timeline-tick" x1=x(at) x2=x(at) y1=axis.to_string() y2=(axis + 5.0).to_string()/>
                    <text class="timeline-year" x=x(at) y=(axis + 18.0).to_string() text-anchor="middle">{year}</text>
                }).collect_view()}
                {timeline.points.into_iter().map(|p| {
                    let class = if p.yanked { "dot dot-yanked" } else if p.is_prerelease { "dot dot-pre" } else { "dot dot-final" };
                    let class = if p.version == current { format!("{class} dot-current") } else { class.to_owned() };
                    let cy = format!("{:.1}", axis - 7.0 - f32::from(p.row) * ROW);
                    view! {
                        <circle class=class cx=x(p.x) cy=cy r="4.5">
                            <title>{format!("{} · {}", p.version, p.label)}</title>
                        </circle>
                    }
                }).collect_view()}
            </svg>
            <figcaption class="timeline-legend">
                "Release timeline: "
                <span class="legend legend-final">"release"</span>
                <span class="legend legend-pre">"pre-release"</span>
                <span class="legend legend-yanked">"yanked"</span>
            </figcaption>
        </figure>
    }
    .into_any()
}
