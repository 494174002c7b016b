pub mod auth;
pub mod copy;
pub mod error_view;
pub mod form;
pub mod layout;
pub mod search_form;
