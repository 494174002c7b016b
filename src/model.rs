//! What server functions send to pages: plain serializable data, WASM-safe.
//! Values are already formatted for display where the server knows best
//! (relative times are computed against the server clock).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub projects: i64,
    pub releases: i64,
    pub files: i64,
    pub users: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSummary {
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub summary: String,
    /// e.g. "3 days ago"
    pub released_ago: String,
    /// ISO 8601, for `<time datetime>`
    pub released_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeData {
    pub stats: Stats,
    pub new_releases: Vec<ReleaseSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectLink {
    pub label: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    pub version: String,
    pub released_on: String,
    pub is_prerelease: bool,
    pub is_legacy: bool,
    pub yanked: bool,
    pub yanked_reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub filename: String,
    pub url: String,
    /// "Source" or "Built Distribution" (as pypi.org says).
    pub kind: String,
    pub python_version: String,
    /// Human units, e.g. "89.2 kB".
    pub size: String,
    pub uploaded_on: String,
    pub sha256: String,
    pub md5: String,
    pub blake2b_256: String,
}

/// A project as of one of its versions (the latest by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectDetail {
    pub name: String,
    pub normalized_name: String,
    /// The version this page shows.
    pub version: String,
    pub latest_version: String,
    pub is_latest: bool,
    pub is_prerelease: bool,
    pub yanked: bool,
    pub yanked_reason: String,
    /// e.g. "May 2, 2018"
    pub released_on: String,
    pub released_at: String,
    pub summary: String,
    /// Rendered and sanitized when the release was written.
    pub description_html: String,
    pub license: String,
    pub author: String,
    pub author_email: String,
    pub maintainer: String,
    pub maintainer_email: String,
    pub requires_python: String,
    pub keywords: String,
    pub classifiers: Vec<String>,
    pub requires_dist: Vec<String>,
    pub links: Vec<ProjectLink>,
    /// One page of the release history, newest first.
    pub versions: Vec<VersionEntry>,
    /// Releases in all (the history shows `versions` of them).
    pub release_count: usize,
    /// Which page of the history `versions` is (from 1), of how many.
    pub history_page: usize,
    pub history_pages: usize,
    /// Files of the shown version (at most `MAX_FILES_SHOWN`).
    pub files: Vec<FileEntry>,
    /// Files of the shown version in all.
    pub file_count: usize,
    /// The releases of this page of the history, on a time axis.
    pub timeline: crate::domain::timeline::Timeline,
    /// Set for a project of an upstream index (the pull-through cache):
    /// when its data was last fetched.
    #[serde(default)]
    pub upstream: Option<UpstreamOrigin>,
    /// PEP 792: `active`, `archived`, `deprecated` or `quarantined`, and
    /// the reason given.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub status_reason: String,
}

/// Where an upstream project's page comes from, and how fresh it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamOrigin {
    pub fetched_ago: String,
    pub fetched_at: String,
}

/// Releases per page of a project's release history, newest first: the
/// project page stays the same size however many releases a project has
/// (botocore's 537 made it 312 KB, half of it the same data again as
/// hydration state); older ones are pages of their own (`?history=N`).
pub const HISTORY_PAGE: usize = 50;
/// Files listed on a release's page; the Simple API lists all of them.
pub const MAX_FILES_SHOWN: usize = 1000;

/// The logged-in user, as the navigation shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub username: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintainedProject {
    pub name: String,
    pub normalized_name: String,
    pub role: String,
    /// The upstream index's releases are served beside its own.
    #[serde(default)]
    pub allow_upstream: bool,
}

/// What `/account` shows its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountData {
    pub username: String,
    pub name: String,
    pub email: String,
    pub member_since: String,
    pub projects: Vec<MaintainedProject>,
    pub tokens: Vec<ApiTokenInfo>,
    /// A token just created by a form without JavaScript: shown this once.
    pub new_token: Option<NewApiToken>,
    /// The index has an upstream (the pull-through cache).
    #[serde(default)]
    pub upstream: bool,
    /// Invitations to projects waiting for an answer.
    #[serde(default)]
    pub invitations: Vec<PendingInvitation>,
    /// The account's security history, newest first.
    #[serde(default)]
    pub events: Vec<SecurityEvent>,
    /// A site administrator (the page links to `/admin`).
    #[serde(default)]
    pub is_admin: bool,
}

/// An API token as its owner sees it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub name: String,
    /// The project it is limited to, or `None` for all the user's projects.
    pub project: Option<String>,
    pub created: String,
    pub last_used: Option<String>,
    /// What it may do ("Read and upload", "Read", "Upload").
    #[serde(default)]
    pub scopes: String,
}

/// A token just created: the one time its value is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiToken {
    pub name: String,
    pub token: String,
}

/// What `/user/{username}` shows everyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicProfile {
    pub username: String,
    pub name: String,
    pub member_since: String,
    /// One page of the user's projects, by name.
    pub projects: Vec<MaintainedProject>,
    pub project_count: i64,
    pub page: i64,
    pub pages: i64,
}

/// Projects per page of a public profile.
pub const PROFILE_PAGE: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub summary: String,
    pub released_on: String,
    pub released_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    /// The query as understood (trimmed, possibly shortened).
    pub query: String,
    pub truncated: bool,
    pub order: crate::domain::search::SearchOrder,
    pub classifiers: Vec<String>,
    pub page: i64,
    pub pages: i64,
    /// Matching projects, up to a cap (10,000).
    pub total: i64,
    /// More than `total` match.
    pub total_is_lower_bound: bool,
    /// So many match that the ranking (and the facets) took only the
    /// first few hundred matches, after the closest names.
    pub windowed: bool,
    pub hits: Vec<SearchHit>,
    /// Classifiers among the matching projects, with counts.
    pub facets: Vec<(String, i64)>,
    /// With an upstream index: cached upstream projects whose names match
    /// (first page, no filters), shown apart from the index's own.
    #[serde(default)]
    pub upstream: Vec<UpstreamHit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamHit {
    pub normalized_name: String,
    pub version: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub summary: String,
}

/// What `/manage/project/{name}/` shows a project's collaborators (and
/// site administrators).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManageProject {
    pub name: String,
    pub normalized_name: String,
    /// PEP 792: `active`, `archived`, `deprecated` or `quarantined`.
    pub status: String,
    pub status_reason: String,
    /// The viewer's role, if any ("Owner" or "Maintainer"), and username.
    pub role: Option<String>,
    pub viewer: String,
    pub is_admin: bool,
    /// What the viewer may do here.
    pub can_yank: bool,
    pub can_delete: bool,
    pub can_manage_people: bool,
    pub can_set_status: bool,
    pub can_quarantine: bool,
    /// One page of releases, newest first.
    pub releases: Vec<ManageRelease>,
    pub release_count: i64,
    pub page: i64,
    pub pages: i64,
    pub collaborators: Vec<Collaborator>,
    pub invitations: Vec<PendingInvitation>,
    pub events: Vec<SecurityEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManageRelease {
    pub version: String,
    pub released_on: String,
    pub yanked: bool,
    pub yanked_reason: String,
    pub files: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collaborator {
    pub username: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvitation {
    pub project: String,
    pub normalized_name: String,
    pub username: String,
    pub role: String,
    pub invited_by: String,
    pub expires_on: String,
}

/// One entry of a security history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    pub when: String,
    pub when_iso: String,
    pub project: String,
    pub actor: String,
    pub what: String,
    pub detail: String,
    pub address: String,
}

/// `/manage/project/{name}/release/{version}`: one release's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManageReleaseFiles {
    pub name: String,
    pub normalized_name: String,
    pub version: String,
    pub yanked: bool,
    pub yanked_reason: String,
    pub can_yank: bool,
    pub can_delete: bool,
    pub files: Vec<ManageFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManageFile {
    pub filename: String,
    pub kind: String,
    pub size: String,
    pub uploaded_on: String,
    pub sha256: String,
}

/// `/admin`: what a site administrator finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminData {
    pub query: String,
    pub users: Vec<AdminUser>,
    pub projects: Vec<AdminProject>,
    pub reserved: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    pub username: String,
    pub name: String,
    pub email: String,
    pub member_since: String,
    pub is_admin: bool,
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminProject {
    pub name: String,
    pub normalized_name: String,
    pub status: String,
}
