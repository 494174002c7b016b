//! cheeseshop: a self-hostable Python package index.
//!
//! The same components render on the server (`ssr`) and hydrate in the
//! browser (`hydrate`). `domain`, `model`, `error` and the pages compile for
//! both; `server` (database, HTTP, command line) only for `ssr`.

// Deeply nested view types of release builds (debug builds erase them).
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
pub mod domain;
pub mod error;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the WASM bundle: hydrate the server-rendered page, then
/// mark it (`<body data-hydrated>`) so tests and tools know it is live.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
