use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::search_form::SearchForm;

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    view! {
        <Title text="Search"/>
        <section class="container narrow">
            <h1>"Search"</h1>
            <SearchForm id="search-page" value=q()/>
            <p class="notice" data-test-search-coming>
                "Full-text search is coming soon. Meanwhile, browse the newest releases on the "
                <a href="/">"home page"</a> "."
            </p>
            {move || {
                let q = q();
                (!q.trim().is_empty()).then(|| view! { <p>"You searched for " <strong>{q}</strong> "."</p> })
            }}
        </section>
    }
}
