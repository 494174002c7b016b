use leptos::prelude::*;

use crate::error::FormErrors;

/// A labelled input with its error message, wired for assistive technology
/// (`aria-invalid`, `aria-describedby`). After a submission without
/// JavaScript, non-secret values come back from the server and are refilled.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] hint: &'static str,
    #[prop(into)] errors: Signal<FormErrors>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("field-{name}-error");
    let hint_id = format!("field-{name}-hint");
    let message = move || errors.read().get(name).map(str::to_owned);
    let value = move || {
        if kind == "password" {
            None
        } else {
            errors.read().value(name).map(str::to_owned)
        }
    };
    let described_by = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if !hint.is_empty() {
                ids.push(hint_id.clone());
            }
            if message().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:field-invalid=move || message().is_some()>
            <label for=id.clone()>{label}</label>
            {(!hint.is_empty()).then(|| view! { <p class="field-hint" id=hint_id.clone()>{hint}</p> })}
            <input
                id=id
                type=kind
                name=name
                autocomplete=autocomplete
                value=value
                aria-invalid=move || message().map(|_| "true")
                aria-describedby=described_by
                data-test-field=name
            />
            {move || message().map(|m| view! {
                <p class="field-error" id=error_id.clone() data-test-field-error=name>{m}</p>
            })}
        </div>
    }
}

/// The form-level message (role=alert so screen readers announce it).
#[component]
pub fn FormMessage(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    move || {
        message
            .get()
            .map(|m| view! { <p class="form-error" role="alert" data-test-form-error>{m}</p> })
    }
}
