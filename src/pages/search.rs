use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_query_map;

use crate::api::{get_classifiers, search};
use crate::components::error_view::ErrorView;
use crate::components::search_form::SearchForm;
use crate::domain::format::thousands;
use crate::domain::search::{RANK_WINDOW, SearchOrder, encode_query_value, search_url};
use crate::model::SearchResults;

/// `/search?q=&o=&c=&page=`: results (or, without a query, every project).
#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let params = move || {
        let q = query.read();
        (
            q.get("q").unwrap_or_default(),
            q.get("o").unwrap_or_default(),
            q.get_all("c").unwrap_or_default(),
            q.get("page").unwrap_or_default(),
        )
    };
    let results = Resource::new(params, |(q, o, c, page)| search(q, o, c, page));
    let initial = move || query.read_untracked().get("q").unwrap_or_default();
    view! {
        <Title text="Search"/>
        <Meta name="robots" content="noindex"/>
        <section class="search-header">
            <div class="container">
                <SearchForm id="search-page".to_owned() compact=false value=initial()/>
            </div>
        </section>
        <Suspense fallback=|| view! { <p class="container loading">"Searching…"</p> }>
            {Suspend::new(async move {
                match results.await {
                    Ok(results) => view! { <ResultsView results/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ResultsView(results: SearchResults) -> impl IntoView {
    let SearchResults {
        query,
        truncated,
        order,
        classifiers,
        page,
        pages,
        total,
        total_is_lower_bound,
        windowed,
        hits,
        facets,
        upstream,
    } = results;
    let browsing = query.is_empty();
    let heading = if browsing {
        "Browse projects".to_owned()
    } else {
        format!("Search results for “{query}”")
    };
    let summary = format!(
        "{}{} project{}{}",
        thousands(total),
        if total_is_lower_bound { "+" } else { "" },
        if total == 1 && !total_is_lower_bound { "" } else { "s" },
        if pages > 1 {
            format!(" · page {page} of {pages}")
        } else {
            String::new()
        }
    );
    let orders: Vec<(SearchOrder, &str)> = if browsing {
        vec![(SearchOrder::Name, "Name"), (SearchOrder::Newest, "Date last updated")]
    } else {
        vec![
            (SearchOrder::Relevance, "Relevance"),
            (SearchOrder::Newest, "Date last updated"),
        ]
    };
    let url = {
        let query = query.clone();
        move |order: SearchOrder, filters: &[String], page: i64| search_url(&query, order, filters, page)
    };
    let sort_links = orders
        .into_iter()
        .map(|(o, label)| {
            let href = url(o, &classifiers, 1);
            let current = o == order;
            view! {
                <li><a href=href aria-current=current.then_some("true") class:active=current data-test-sort=o.as_param()>{label}</a></li>
            }
        })
        .collect_view();
    let active_filters = classifiers
        .iter()
        .map(|c| {
            let rest: Vec<String> = classifiers.iter().filter(|x| *x != c).cloned().collect();
            let href = url(order, &rest, 1);
            view! { <li><a class="filter-chip" href=href data-test-active-filter=c.clone() aria-label=format!("Remove filter {c}")>{c.clone()} " ×"</a></li> }
        })
        .collect_view();
    let facet_links = facets
        .into_iter()
        .filter(|(c, _)| !classifiers.contains(c))
        .map(|(c, n)| {
            let mut with = classifiers.clone();
            with.push(c.clone());
            let href = url(order, &with, 1);
            let test_id = c.clone();
            view! {
                <li><a href=href data-test-facet=test_id>{c}</a> " " <span class="count" data-test-facet-count>{thousands(n)}</span></li>
            }
        })
        .collect_view();
    let pagination = (pages > 1).then(|| {
        let first = (page - 3).max(1);
        let last = (page + 3).min(pages);
        view! {
            <nav class="pagination" aria-label="Result pages">
                <ul>
                    {(page > 1).then(|| view! { <li><a href=url(order, &classifiers, page - 1) rel="prev" data-test-page="prev">"Previous"</a></li> })}
                    {(first..=last).map(|p| view! {
                        <li><a href=url(order, &classifiers, p) aria-current=(p == page).then_some("page") class:active=p == page data-test-page=p.to_string()>{p.to_string()}</a></li>
                    }).collect_view()}
                    {(page < pages).then(|| view! { <li><a href=url(order, &classifiers, page + 1) rel="next" data-test-page="next">"Next"</a></li> })}
                </ul>
            </nav>
        }
    });
    view! {
        <div class="container search-layout">
            <aside class="search-facets" aria-label="Filter by classifier">
                <h2>"Filter by classifier"</h2>
                {(!classifiers.is_empty()).then(|| view! { <ul class="active-filters">{active_filters}</ul> })}
                {windowed.then(|| view! { <p class="facet-note" data-test-facets-windowed>{format!("Counted in the first {RANK_WINDOW} matches.")}</p> })}
                <ul class="facet-list">{facet_links}</ul>
                <p><a href="/classifiers/">"All classifiers"</a></p>
            </aside>
            <section class="search-results" aria-labelledby="results-heading">
                <h1 id="results-heading">{heading}</h1>
                {truncated.then(|| view! { <p class="notice" data-test-truncated>"Your query was long, so only its first 200 characters were used."</p> })}
                {(windowed && order == SearchOrder::Relevance).then(|| view! {
                    <p class="notice" data-test-windowed>
                        {format!(
                            "Many projects match, so these are the closest names and the best of the first {RANK_WINDOW} \
                             matches. Add a word or a filter to narrow the search."
                        )}
                    </p>
                })}
                <div class="results-bar">
                    <p class="results-count" data-test-total=total.to_string()>{summary}</p>
                    <nav class="sort" aria-label="Sort results"><span>"Sort by:"</span><ul class="sort-links">{sort_links}</ul></nav>
                </div>
                {if hits.is_empty() {
                    view! {
                        <p class="empty" data-test-no-results>
                            "No projects match. Try fewer words, or remove a filter."
                        </p>
                    }.into_any()
                } else {
                    view! {
                        <ul class="result-list" data-test-results>
                            {hits.into_iter().map(|h| view! {
                                <li>
                                    <a class="package-snippet" href=format!("/project/{}/", h.normalized_name) data-test-hit=h.normalized_name.clone()>
                                        <span class="package-snippet-title">
                                            <span class="package-name">{h.name}</span> " " <span class="package-version">{h.version}</span>
                                        </span>
                                        <time class="package-snippet-time" datetime=h.released_at>{h.released_on}</time>
                                        <span class="package-snippet-summary">{h.summary}</span>
                                    </a>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                {(!upstream.is_empty()).then(|| view! {
                    <section class="upstream-results" aria-labelledby="upstream-results-heading">
                        <h2 id="upstream-results-heading">"From the upstream index"</h2>
                        <p class="field-hint">"Projects of the upstream index that this index has cached, by name."</p>
                        <ul class="result-list" data-test-upstream-results>
                            {upstream.into_iter().map(|h| {
                                let href = format!("/project/{}/", h.normalized_name);
                                let marker = h.normalized_name.clone();
                                view! {
                                <li>
                                    <a class="package-snippet" href=href data-test-upstream-hit=marker>
                                        <span class="package-snippet-title">
                                            <span class="package-name">{h.normalized_name}</span> " " <span class="package-version">{h.version}</span>
                                            " " <span class="badge badge-upstream">"From upstream"</span>
                                        </span>
                                        <span class="package-snippet-summary">{h.summary}</span>
                                    </a>
                                </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                })}
                {pagination}
            </section>
        </div>
    }
    .into_any()
}

/// `/classifiers/`: every classifier in use, with project counts.
#[component]
pub fn ClassifiersPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| get_classifiers());
    view! {
        <Title text="Classifiers"/>
        <section class="container prose">
            <h1>"Classifiers"</h1>
            <p class="lead">"Trove classifiers used by projects on this index. Pick one to see its projects."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {Suspend::new(async move {
                    match list.await {
                        Ok(items) if items.is_empty() => view! { <p class="empty">"No classifiers yet."</p> }.into_any(),
                        Ok(items) => view! {
                            <ul class="classifier-index" data-test-classifiers>
                                {items.into_iter().map(|(c, n)| {
                                    let href = format!("/search?c={}", encode_query_value(&c));
                                    let test_id = c.clone();
                                    view! {
                                    <li>
                                        <a href=href data-test-classifier=test_id>{c}</a>
                                        " " <span class="count">{format!("({})", thousands(n))}</span>
                                    </li>
                                }}).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
