//! cheeseshop: a self-hostable Python package index.
//!
//! Pages render on the server (`ssr`); the few interactive parts are Leptos
//! islands, which hydrate in the browser (`hydrate`). `domain`, `model`, `error` and the pages compile for
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

/// Entry point of the WASM bundle: readies the reactive system for the
/// islands, which `src/islands.js` then hydrates one by one (each island is
/// an export of its own).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
