use leptos::prelude::*;

/// A search box that submits `GET /search?q=` (works without JavaScript).
#[component]
pub fn SearchForm(
    /// Unique id of the input, tied to its label.
    id: &'static str,
    /// The small variant of the header.
    #[prop(optional)]
    compact: bool,
    /// Prefilled query.
    #[prop(optional, into)]
    value: String,
) -> impl IntoView {
    view! {
        <form class="search-form" class:search-compact=compact action="/search" method="get" role="search">
            <label class="visually-hidden" for=id>"Search projects"</label>
            <input
                id=id
                type="search"
                name="q"
                value=value
                placeholder="Search projects"
                autocomplete="off"
                maxlength="200"
            />
            <button type="submit" class="button button-primary">"Search"</button>
        </form>
    }
}
