use leptos::prelude::*;

use super::auth::use_auth;
use super::search_form::SearchForm;

/// The cheese wedge: our own mark, inline so it costs no request.
#[component]
pub fn Logo() -> impl IntoView {
    view! {
        <svg class="logo-mark" viewBox="0 0 32 32" width="32" height="32" aria-hidden="true">
            <path d="M3 22 L29 12 L29 26 L3 26 Z" fill="#ffd166" stroke="#8a5a00" stroke-width="1.5" stroke-linejoin="round"/>
            <path d="M3 22 L29 12 L20 7 Z" fill="#ffe29a" stroke="#8a5a00" stroke-width="1.5" stroke-linejoin="round"/>
            <circle cx="11" cy="23" r="1.6" fill="#e0a800"/>
            <circle cx="20" cy="20" r="2.2" fill="#e0a800"/>
            <circle cx="25" cy="23.5" r="1.3" fill="#e0a800"/>
        </svg>
    }
}

#[component]
pub fn SiteHeader() -> impl IntoView {
    view! {
        <header class="site-header">
            <div class="container header-inner">
                <a class="brand" href="/" aria-label="cheeseshop home">
                    <Logo/>
                    <span class="brand-name">"cheeseshop"</span>
                </a>
                <div class="header-search">
                    <SearchForm id="nav-search".to_owned() compact=true value=String::new()/>
                </div>
                <nav class="site-nav" aria-label="Main">
                    <ul>
                        <li><a href="/about">"About"</a></li>
                        <AccountLinks/>
                    </ul>
                </nav>
            </div>
        </header>
    }
}

#[component]
pub fn SiteFooter() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <div class="container footer-inner">
                <div class="footer-brand">
                    <Logo/>
                    <p>"cheeseshop — a self-hostable Python package index, in one Rust binary."</p>
                </div>
                <nav aria-label="Footer">
                    <h2 class="footer-heading">"Using cheeseshop"</h2>
                    <ul>
                        <li><a href="/about">"About this index"</a></li>
                        <li><a href="/about#install">"Installing packages"</a></li>
                        <li><a href="/about#publish">"Publishing packages"</a></li>
                    </ul>
                </nav>
            </div>
        </footer>
    }
}

/// Log in / Register, or the user's name and Log out: rendered on the
/// server from the session, and refreshed after every login or logout.
#[component]
fn AccountLinks() -> impl IntoView {
    let auth = use_auth();
    let anonymous = || {
        view! {
            <li><a href="/account/login" data-test-nav-login>"Log in"</a></li>
            <li><a class="button button-light" href="/account/register" data-test-nav-register>"Register"</a></li>
        }
    };
    view! {
        <Transition fallback=anonymous>
            {Suspend::new(async move {
                match auth.user.await {
                    Ok(Some(user)) => view! {
                        <li><a href="/account" data-test-nav-user>{user.name}</a></li>
                        <li>
                            <ActionForm action=auth.logout>
                                <button type="submit" class="button button-light" data-test-logout>"Log out"</button>
                            </ActionForm>
                        </li>
                    }.into_any(),
                    _ => anonymous().into_any(),
                }
            })}
        </Transition>
    }
}
