use leptos::prelude::*;

use crate::components::error_view::ErrorView;
use crate::error::AppError;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! { <ErrorView error=AppError::NotFound("We couldn't find the page you were looking for.".into())/> }
}
