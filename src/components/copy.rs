use leptos::prelude::*;

/// A command shown as code with a button that copies it to the clipboard.
/// Without JavaScript the command is still selectable text.
#[component]
pub fn CopyCommand(#[prop(into)] command: String) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    let text = command.clone();
    let on_click = move |_| {
        copy_to_clipboard(&text);
        set_copied.set(true);
    };
    view! {
        <div class="copy-command">
            <code data-test-pip-command>{command}</code>
            <button type="button" class="copy-button" on:click=on_click aria-live="polite" data-test-copy>
                {move || if copied.get() { "Copied" } else { "Copy command" }}
            </button>
        </div>
    }
}

#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    let _ = window().navigator().clipboard().write_text(text);
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: &str) {}
