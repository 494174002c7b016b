//! WASM-safe domain types: they parse untrusted input into values that are
//! valid by construction ("parse, don't validate"). No I/O, no SQL.

pub mod access;
pub mod account;
pub mod dist;
pub mod escape;
pub mod format;
pub mod links;
pub mod project_name;
pub mod search;
pub mod text;
pub mod timeline;
pub mod version;

pub use account::{DisplayName, Email, Password, TokenName, Username};
pub use links::{safe_link, safe_next};
pub use project_name::{MAX_PROJECT_NAME_LEN, ProjectName, ProjectNameError, normalize_project_name};
pub use version::{LatestCandidate, ReleaseVersion, latest_index};
