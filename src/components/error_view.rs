use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::AppError;

/// A full error page. On the server it also sets the response status, so a
/// missing project is a real 404 for browsers, crawlers and tests.
#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status());
    }
    let status = error.status().as_u16();
    view! {
        <Title text=error.title()/>
        <section class="container error-page" data-test-error=status>
            <p class="error-code">{status}</p>
            <h1>{error.title()}</h1>
            <p class="error-message">{error.to_string()}</p>
            <p><a class="button button-primary" href="/">"Go to the home page"</a></p>
        </section>
    }
}
