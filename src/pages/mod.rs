pub mod about;
pub mod account;
pub mod home;
pub mod manage;
pub mod not_found;
pub mod project;
pub mod search;
pub mod user;
