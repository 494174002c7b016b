//! The application shell, layout and routes.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::components::auth::Auth;
use crate::components::layout::{SiteFooter, SiteHeader};
use crate::pages::about::AboutPage;
use crate::pages::account::{AccountPage, LoginPage, RegisterPage};
use crate::pages::admin::AdminPage;
use crate::pages::home::HomePage;
use crate::pages::manage::{ManageProjectPage, ManageReleasePage};
use crate::pages::not_found::NotFoundPage;
use crate::pages::project::ProjectPage;
use crate::pages::search::{ClassifiersPage, SearchPage};
use crate::pages::user::UserPage;

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // The bundle's names carry their content hash in release builds.
                <link rel="stylesheet" id="leptos" href=stylesheet_href(&options)/>
                <AutoReload options=options.clone()/>
                <IslandScripts options/>
                <SpeculationRules/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The loader of the islands' code (`src/islands.js`), given the bundle's
/// URLs. It runs after the page is parsed and starts loading the code at
/// once if the page has an island that must work from the start (a copy
/// button), and otherwise only when a visitor turns to the search box: a
/// page whose one interactive part is the search box needs no code before
/// it is usable, since the box is an ordinary form until then.
///
/// Leptos' own `HydrationScripts` loads the bundle on every page, and
/// preloads it ahead of the stylesheet's fetch.
#[component]
fn IslandScripts(options: LeptosOptions) -> impl IntoView {
    // Nothing outside an island hydrates, so nothing the server components
    // read is serialized into the page for the browser.
    if let Some(context) = Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
    let nonce = leptos::nonce::use_nonce();
    view! { <script type="module" nonce=nonce>{island_loader(&options)}</script> }
}

/// Navigation is a full page load, so the browser is told which links are
/// pages worth fetching ahead: when a pointer rests on a link to one (or
/// presses it), Chromium fetches the page before the click, and the click
/// shows it without waiting for the network (the Speculation Rules API;
/// browsers without it ignore the script). Only pages, never files, APIs,
/// feeds or the account pages.
#[component]
fn SpeculationRules() -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    view! { <script type="speculationrules" nonce=nonce>{SPECULATION_RULES}</script> }
}

const SPECULATION_RULES: &str = r#"{"prefetch":[{"source":"document","eagerness":"moderate","where":{"or":[{"href_matches":{"pathname":"/"}},{"href_matches":{"pathname":"/about"}},{"href_matches":{"pathname":"/classifiers"}},{"href_matches":{"pathname":"/search"}},{"href_matches":{"pathname":"/project/*"}},{"href_matches":{"pathname":"/user/*"}}]}}]}"#;

/// The loader applied to the bundle's URLs (JSON strings: our own file
/// names, never user input).
fn island_loader(options: &LeptosOptions) -> String {
    #[cfg(feature = "ssr")]
    {
        static SCRIPT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        SCRIPT
            .get_or_init(|| {
                let js = crate::server::http::bundle_file(options, "js", "js");
                let wasm = crate::server::http::bundle_file(options, "wasm", "wasm");
                format!(
                    "({})({},{});",
                    include_str!("islands.js").trim().trim_end_matches(';'),
                    serde_json::Value::from(js),
                    serde_json::Value::from(wasm),
                )
            })
            .clone()
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = options;
        String::new()
    }
}

/// The stylesheet's URL, with its content hash in release builds. The hash
/// file is read once: leptos_meta's `HashedStylesheet` reads it on every
/// render (a `readlink`, a `stat` and a read per page view).
fn stylesheet_href(options: &LeptosOptions) -> String {
    #[cfg(feature = "ssr")]
    {
        static HREF: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        HREF.get_or_init(|| crate::server::http::stylesheet_href(options))
            .clone()
    }
    #[cfg(not(feature = "ssr"))]
    format!("/{}/{}.css", options.site_pkg_dir, options.output_name)
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=title/>
        <Router>
            <Layout/>
        </Router>
    }
}

/// "Page · cheeseshop". On the server the text is escaped: leptos_meta
/// writes `<title>` verbatim, and titles carry user-supplied names. In the
/// browser it becomes `document.title`, which is plain text already.
fn title(text: String) -> String {
    let full = if text.is_empty() {
        "cheeseshop".to_owned()
    } else {
        format!("{text} · cheeseshop")
    };
    if cfg!(feature = "ssr") {
        crate::domain::escape::html_text(&full)
    } else {
        full
    }
}

/// Everything inside the router: auth state, header, routes, footer.
#[component]
fn Layout() -> impl IntoView {
    Auth::provide();
    view! {
        <a class="skip-link" href="#content">"Skip to content"</a>
        <SiteHeader/>
        <main id="content" class="site-main">
            <Routes fallback=NotFoundPage>
                <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                <Route path=path!("/about") view=AboutPage/>
                <Route path=path!("/search") view=SearchPage ssr=SsrMode::Async/>
                <Route path=path!("/classifiers") view=ClassifiersPage ssr=SsrMode::Async/>
                <Route path=path!("/project/:name") view=ProjectPage ssr=SsrMode::Async/>
                <Route path=path!("/project/:name/:version") view=ProjectPage ssr=SsrMode::Async/>
                <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                <Route path=path!("/account/login") view=LoginPage/>
                <Route path=path!("/account/register") view=RegisterPage ssr=SsrMode::Async/>
                <Route path=path!("/user/:username") view=UserPage ssr=SsrMode::Async/>
                <Route path=path!("/manage/project/:name") view=ManageProjectPage ssr=SsrMode::Async/>
                <Route path=path!("/admin") view=AdminPage ssr=SsrMode::Async/>
                <Route path=path!("/manage/project/:name/release/:version") view=ManageReleasePage ssr=SsrMode::Async/>
            </Routes>
        </main>
        <SiteFooter/>
    }
}
