//! Integration tests over HTTP against the real server: each test gets its
//! own server on a free port and its own SQLite database file.
#![cfg(feature = "ssr")]

mod accounts;
mod caching;
mod cli;
mod clients;
mod cluster;
mod concurrency;
mod conformance;
mod copy;
mod helpers;
mod hostile;
mod importer;
mod index;
mod manage;
mod pages;
mod postgres;
mod private;
mod project;
mod search;
mod storage;
mod upstream;
