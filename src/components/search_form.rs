use leptos::prelude::*;

use crate::model::Suggestion;

/// A search box: a plain `GET /search?q=` form, which is all it is until
/// the browser has the islands' code (loaded when the box is first focused
/// or hovered, see `src/islands.js`). Then it becomes an ARIA combobox:
/// suggestions appear while typing (debounced), arrows move through them,
/// Enter opens one, Escape closes. Answers to superseded requests are
/// dropped, so a slow early answer never replaces a newer one.
///
/// An island: the only code of the page that runs in the browser, with
/// the copy buttons. Its props travel in the page as JSON.
#[island]
pub fn SearchForm(
    /// Unique id of the input, tied to its label.
    id: String,
    /// The small variant of the header.
    compact: bool,
    /// Prefilled query.
    value: String,
) -> impl IntoView {
    let listbox_id = format!("{id}-suggestions");
    let items = RwSignal::new(Vec::<Suggestion>::new());
    let active = RwSignal::new(None::<usize>);
    let open = RwSignal::new(false);
    let ticket = StoredValue::new(0u64);
    // The text whose answer the list shows: browser tests wait on it
    // (`data-test-answer-for`) instead of waiting a while.
    let answered = RwSignal::new(String::new());

    // The box can be gone (the page changed) before a debounced call runs
    // or an answer arrives: both only touch its state through `try_`
    // accessors, which give `None` for disposed values instead of panicking.
    let fetch = move |q: String| {
        let Some(mine) = ticket.try_update_value(|n| {
            *n += 1;
            *n
        }) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let asked = q.clone();
            let answer = crate::api::suggest(q).await;
            if ticket.try_get_value() != Some(mine) {
                return; // a newer request is under way, or the box is gone
            }
            match answer {
                Ok(list) => {
                    // A name the visitor highlighted stays highlighted when
                    // the new answer still lists it: an answer that arrives
                    // between the arrow key and Enter must not turn Enter
                    // into a search.
                    let kept = active
                        .get_untracked()
                        .and_then(|i| items.with_untracked(|old| old.get(i).map(|s| s.normalized_name.clone())))
                        .and_then(|name| list.iter().position(|s| s.normalized_name == name));
                    open.set(!list.is_empty());
                    active.set(kept);
                    items.set(list);
                    answered.set(asked);
                }
                Err(_) => open.set(false),
            }
        });
    };
    let pending = StoredValue::new(None::<TimeoutHandle>);
    on_cleanup(move || {
        if let Some(Some(handle)) = pending.try_get_value() {
            handle.clear();
        }
    });
    let on_input = move |ev: leptos::ev::Event| {
        let q = event_target_value(&ev);
        if q.trim().is_empty() {
            ticket.update_value(|n| *n += 1);
            open.set(false);
            items.set(Vec::new());
            return;
        }
        debounce(pending, move || fetch(q));
    };
    let open_active = move |index: usize| {
        if let Some(name) = items.with_untracked(|l| l.get(index).map(|s| s.normalized_name.clone())) {
            open.set(false);
            go_to(&format!("/project/{name}/"));
        }
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let count = items.with_untracked(Vec::len);
        match ev.key().as_str() {
            "ArrowDown" if count > 0 => {
                ev.prevent_default();
                open.set(true);
                active.update(|a| *a = Some(a.map_or(0, |i| (i + 1) % count)));
            }
            "ArrowUp" if count > 0 => {
                ev.prevent_default();
                open.set(true);
                active.update(|a| *a = Some(a.map_or(count - 1, |i| (i + count - 1) % count)));
            }
            "Enter" => {
                if let (true, Some(index)) = (open.get_untracked(), active.get_untracked()) {
                    ev.prevent_default();
                    open_active(index);
                }
            }
            // With the list open, Escape only closes it (the combobox
            // pattern); otherwise the browser's own Escape clears the field.
            "Escape" if open.get_untracked() => {
                ev.prevent_default();
                open.set(false);
                active.set(None);
            }
            _ => {}
        }
    };
    // A submission is the form's own GET: a full page load, the same with
    // and without the islands' code. Only the suggestions are dropped.
    let on_submit = move |_: leptos::ev::SubmitEvent| {
        ticket.update_value(|n| *n += 1);
        open.set(false);
    };
    let option_id = {
        let id = id.clone();
        move |i: usize| format!("{id}-option-{i}")
    };
    let active_descendant = {
        let option_id = option_id.clone();
        move || active.get().filter(|_| open.get()).map(&option_id)
    };
    let class = if compact {
        "search-form search-compact"
    } else {
        "search-form"
    };

    view! {
        <form action="/search" method="get" class=class role="search" on:submit=on_submit data-hydrate="interaction">
            <label class="visually-hidden" for=id.clone()>"Search projects"</label>
            <div class="search-combo">
                <input
                    id=id.clone()
                    type="search"
                    name="q"
                    value=value
                    placeholder="Search projects"
                    autocomplete="off"
                    maxlength="200"
                    role="combobox"
                    aria-autocomplete="list"
                    aria-controls=listbox_id.clone()
                    aria-expanded=move || if open.get() { "true" } else { "false" }
                    aria-activedescendant=active_descendant
                    on:input=on_input
                    on:keydown=on_keydown
                    on:blur=move |_| open.set(false)
                    data-test-search-input=id.clone()
                />
                <ul
                    id=listbox_id
                    class="suggestions"
                    role="listbox"
                    aria-label="Suggested projects"
                    hidden=move || !open.get()
                    // Keep focus in the input while an option is clicked.
                    on:mousedown=|ev| ev.prevent_default()
                    data-test-suggestions
                    data-test-answer-for=move || answered.get()
                >
                    <For
                        each=move || items.get().into_iter().enumerate()
                        key=|(i, s)| (*i, s.normalized_name.clone())
                        let((i, s))
                    >
                        <li
                            id=option_id(i)
                            role="option"
                            class="suggestion"
                            class:active=move || active.get() == Some(i)
                            aria-selected=move || if active.get() == Some(i) { "true" } else { "false" }
                            data-test-suggestion=s.normalized_name.clone()
                        >
                            <a href=format!("/project/{}/", s.normalized_name) tabindex="-1" on:click=move |_| open.set(false)>
                                <span class="suggestion-name">{s.name}</span>
                                " " <span class="suggestion-version">{s.version}</span>
                                <span class="suggestion-summary">{s.summary}</span>
                            </a>
                        </li>
                    </For>
                </ul>
            </div>
            <button type="submit" class="button button-primary">"Search"</button>
        </form>
    }
}

/// Runs `f` after typing pauses: each call cancels the previous pending one
/// of the same search box.
#[cfg(feature = "hydrate")]
fn debounce(pending: StoredValue<Option<TimeoutHandle>>, f: impl FnOnce() + 'static) {
    /// How long typing must pause before suggestions are fetched.
    const DEBOUNCE_MS: u64 = 150;
    if let Some(Some(handle)) = pending.try_get_value() {
        handle.clear();
    }
    let handle = set_timeout_with_handle(f, std::time::Duration::from_millis(DEBOUNCE_MS)).ok();
    pending.set_value(handle);
}

#[cfg(not(feature = "hydrate"))]
fn debounce(_pending: StoredValue<Option<TimeoutHandle>>, _f: impl FnOnce() + 'static) {}

/// Opens a page: a full page load, as a link would.
#[cfg(feature = "hydrate")]
fn go_to(href: &str) {
    let _ = window().location().set_href(href);
}

#[cfg(not(feature = "hydrate"))]
fn go_to(_href: &str) {}
