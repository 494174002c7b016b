use leptos::prelude::*;

/// A button that copies `text` to the clipboard and says so. An island:
/// the page that has one loads the islands' code at once (without it the
/// button does nothing, and the text beside it is still selectable).
#[island]
pub fn CopyButton(text: String, label: String) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    let on_click = move |_| {
        copy_to_clipboard(&text);
        set_copied.set(true);
    };
    view! {
        <button type="button" class="copy-button" on:click=on_click aria-label=label aria-live="polite" data-test-copy>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

/// A command shown as code with a copy button. Without JavaScript the
/// command is still selectable text.
#[component]
pub fn CopyCommand(#[prop(into)] command: String) -> impl IntoView {
    view! {
        <div class="copy-command">
            <code data-test-pip-command>{command.clone()}</code>
            <CopyButton text=command label="Copy the command to the clipboard".to_owned()/>
        </div>
    }
}

#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    let _ = window().navigator().clipboard().write_text(text);
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: &str) {}
