use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn ComingSoon(title: &'static str, text: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <section class="container narrow">
            <h1>{title}</h1>
            <p class="notice">{text}</p>
            <p><a href="/">"Back to the home page"</a></p>
        </section>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    view! { <ComingSoon title="Log in" text="Accounts are coming soon: logging in is not available yet."/> }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    view! { <ComingSoon title="Register" text="Accounts are coming soon: registration is not open yet."/> }
}
