//! `POST /legacy/`: uploads as twine and `uv publish` send them (the
//! "legacy" upload API of PyPI: a multipart form with `:action=file_upload`,
//! the core metadata fields and the file as `content`).
//!
//! Order of work, so that a rejected upload leaves nothing behind:
//! 1. authenticate the API token and check the declared size (413 before
//!    reading anything);
//! 2. stream the file to a staging file, hashing it on the way;
//! 3. validate every field, the filename against name and version, the
//!    digests against the bytes, and the archive itself;
//! 4. check the uploader's role (again inside the write transaction);
//! 5. publish the file in storage, then commit the database rows; a failed
//!    commit removes the published file again.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use blake2::Blake2b;
use blake2::digest::consts::U32;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use super::IndexError;
use crate::domain::dist::{DistFilename, DistKind, parse_upload_version};
use crate::domain::{ProjectName, ReleaseVersion};
use crate::server::auth::hash_token;
use crate::server::db::catalog;
use crate::server::db::index::{self, TokenOwner};
use crate::server::db::write::{NewFile, NewRelease, ReleaseMetadata};
use crate::server::now_micros;
use crate::server::state::AppState;
use crate::server::storage::file_key;

/// Room for the form's other fields (descriptions can be long).
const FORM_SLACK: u64 = 16 * 1024 * 1024;
/// A wheel's METADATA larger than this is not plausible.
const MAX_METADATA: u64 = 8 * 1024 * 1024;
const MAX_SUMMARY: usize = 512;

/// The request body limit for an index that accepts files of `max_upload` bytes.
pub fn body_limit(max_upload: u64) -> usize {
    usize::try_from(max_upload.saturating_add(FORM_SLACK)).unwrap_or(usize::MAX)
}

fn too_large(max_upload: u64) -> IndexError {
    IndexError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "File too large. The limit of this index is {}.",
            crate::domain::format::human_size(i64::try_from(max_upload).unwrap_or(i64::MAX))
        ),
    )
}

/// The uploader, from HTTP Basic credentials `__token__:<API token>`.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<TokenOwner, IndexError> {
    let unauthorized = || {
        IndexError::new(
            StatusCode::UNAUTHORIZED,
            "Authentication required: upload with an API token (username __token__, the token as password).",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthorized)?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or_else(unauthorized)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(unauthorized)?;
    let (username, password) = decoded.split_once(':').ok_or_else(unauthorized)?;
    if username != "__token__" {
        return Err(IndexError::forbidden(
            "Username/password authentication is not supported for uploads. Use an API token: \
             username __token__ and the token as password. Create one on your account page.",
        ));
    }
    let owner = index::token_owner(&state.db, &hash_token(password.trim())).await?;
    owner.ok_or_else(|| IndexError::forbidden("Invalid or revoked API token."))
}

/// A staging file that is removed unless it was handed to storage.
struct Staged {
    path: PathBuf,
}

impl Staged {
    fn new(dir: &Path) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{}-{}-{}.part",
            std::process::id(),
            now_micros(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self { path: dir.join(name) }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Gone already when storage took it (a rename).
        let _ = std::fs::remove_file(&self.path);
    }
}

struct Received {
    filename: String,
    staged: Staged,
    size: u64,
    md5: String,
    sha256: String,
    blake2b_256: String,
}

/// The form: single fields and the repeated ones (classifiers, ...).
#[derive(Default)]
struct Form {
    fields: HashMap<String, Vec<String>>,
}

impl Form {
    fn one(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .and_then(|v| v.first())
            .map(|s| s.trim())
            .unwrap_or("")
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .get(name)
            .map(|v| {
                v.iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn receive(state: &AppState, request: Request) -> Result<(Form, Option<Received>), IndexError> {
    let max = state.max_upload_bytes;
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| IndexError::bad_request(format!("Invalid upload: {}", e.body_text())))?;
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(max)
        } else {
            IndexError::bad_request(format!("Invalid upload: {}", e.body_text()))
        }
    };
    let mut form = Form::default();
    let mut received = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_owned();
        if name != "content" {
            let value = field.text().await.map_err(multipart_error)?;
            form.fields.entry(name).or_default().push(value);
            continue;
        }
        if received.is_some() {
            return Err(IndexError::bad_request("Only one file may be uploaded per request."));
        }
        let filename = field.file_name().unwrap_or("").to_owned();
        let staged = Staged::new(state.storage.staging_dir());
        let mut file = tokio::fs::File::create(&staged.path).await?;
        let (mut md5, mut sha256, mut b2) = (Md5::new(), Sha256::new(), Blake2b::<U32>::new());
        let mut size: u64 = 0;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            size += chunk.len() as u64;
            if size > max {
                return Err(too_large(max));
            }
            md5.update(&chunk);
            sha256.update(&chunk);
            b2.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        received = Some(Received {
            filename,
            staged,
            size,
            md5: hex::encode(md5.finalize()),
            sha256: hex::encode(sha256.finalize()),
            blake2b_256: hex::encode(b2.finalize()),
        });
    }
    Ok((form, received))
}

fn check_digests(form: &Form, file: &Received) -> Result<(), IndexError> {
    let given = [
        (form.one("md5_digest"), &file.md5),
        (form.one("sha256_digest"), &file.sha256),
        (form.one("blake2_256_digest"), &file.blake2b_256),
    ];
    if given.iter().all(|(g, _)| g.is_empty()) {
        return Err(IndexError::bad_request(
            "Include at least one message digest (sha256_digest) of the file.",
        ));
    }
    for (given, actual) in given {
        if !given.is_empty() && !given.eq_ignore_ascii_case(actual) {
            return Err(IndexError::bad_request(
                "The digest supplied does not match a digest calculated from the uploaded file.",
            ));
        }
    }
    Ok(())
}

/// Checks the archive and, for wheels, returns its METADATA.
fn inspect_archive(path: &Path, dist: &DistFilename) -> Result<Option<Vec<u8>>, IndexError> {
    let invalid = |why: &str| IndexError::bad_request(format!("Invalid distribution file {:?}: {why}", dist.filename));
    if dist.filename.ends_with(".tar.gz") {
        let mut magic = [0u8; 2];
        std::fs::File::open(path)?
            .read_exact(&mut magic)
            .map_err(|_| invalid("not a gzip file."))?;
        return if magic == [0x1f, 0x8b] {
            Ok(None)
        } else {
            Err(invalid("not a gzip file."))
        };
    }
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path)?).map_err(|_| invalid("not a zip archive."))?;
    if dist.kind != DistKind::Wheel {
        return Ok(None);
    }
    let expected = dist.wheel_metadata_path().unwrap_or_default();
    // The spec's path first; tools disagree on escaping, so also any
    // top-level `*.dist-info/METADATA`.
    let name = if archive.index_for_name(&expected).is_some() {
        expected
    } else {
        archive
            .file_names()
            .find(|n| {
                n.split('/').count() == 2
                    && n.ends_with("/METADATA")
                    && n.split('/').next().is_some_and(|d| d.ends_with(".dist-info"))
            })
            .map(str::to_owned)
            .ok_or_else(|| invalid("a wheel must contain {name}-{version}.dist-info/METADATA."))?
    };
    let entry = archive.by_name(&name).map_err(|_| invalid("unreadable METADATA."))?;
    if entry.size() > MAX_METADATA {
        return Err(invalid("METADATA is too large."));
    }
    let mut metadata = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry
        .take(MAX_METADATA)
        .read_to_end(&mut metadata)
        .map_err(|_| invalid("unreadable METADATA."))?;
    Ok(Some(metadata))
}

fn release_metadata(form: &Form) -> Result<ReleaseMetadata, IndexError> {
    let summary = form.one("summary");
    if summary.chars().count() > MAX_SUMMARY || summary.contains('\n') {
        return Err(IndexError::bad_request(format!(
            "'summary' must be a single line of at most {MAX_SUMMARY} characters."
        )));
    }
    let project_urls: Vec<(String, String)> = form
        .all("project_urls")
        .iter()
        .filter_map(|entry| {
            let (label, url) = entry.split_once(',')?;
            Some((label.trim().to_owned(), url.trim().to_owned()))
        })
        .collect();
    let license = match form.one("license") {
        "" => form.one("license_expression"),
        license => license,
    };
    // `description` keeps its own whitespace (Markdown needs it).
    let description = form
        .fields
        .get("description")
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_default();
    Ok(ReleaseMetadata {
        summary: summary.to_owned(),
        description_content_type: form.one("description_content_type").to_owned(),
        author: form.one("author").to_owned(),
        author_email: form.one("author_email").to_owned(),
        maintainer: form.one("maintainer").to_owned(),
        maintainer_email: form.one("maintainer_email").to_owned(),
        license: license.to_owned(),
        keywords: form.one("keywords").to_owned(),
        home_page: form.one("home_page").to_owned(),
        download_url: form.one("download_url").to_owned(),
        docs_url: String::new(),
        platform: form.all("platform").join(", "),
        requires_python: form.one("requires_python").to_owned(),
        project_urls_json: json(&project_urls),
        classifiers_json: json(&form.all("classifiers")),
        requires_dist_json: json(&form.all("requires_dist")),
        description_html: String::new(),
        description,
    })
}

/// Lists of strings and pairs serialize infallibly; `[]` keeps the column valid regardless.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

pub async fn upload(State(state): State<AppState>, request: Request) -> Response {
    match handle(&state, request).await {
        Ok(response) => response,
        Err(error) => {
            if error.status.is_server_error() {
                tracing::error!(message = %error.message, "upload failed");
            } else {
                tracing::info!(status = %error.status, message = %error.message, "upload refused");
            }
            error.into_response()
        }
    }
}

async fn handle(state: &AppState, request: Request) -> Result<Response, IndexError> {
    let owner = authenticate(state, request.headers()).await?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > body_limit(state.max_upload_bytes) as u64) {
        return Err(too_large(state.max_upload_bytes));
    }

    let (form, file) = receive(state, request).await?;
    match form.one(":action") {
        "file_upload" => {}
        "" => return Err(IndexError::bad_request("Missing ':action': expected 'file_upload'.")),
        other => {
            return Err(IndexError::bad_request(format!(
                "Unsupported ':action' {:?}: only 'file_upload' is.",
                other.chars().take(40).collect::<String>()
            )));
        }
    }
    if !matches!(form.one("protocol_version"), "" | "1") {
        return Err(IndexError::bad_request("Unknown protocol_version: expected 1."));
    }
    let file = file.ok_or_else(|| IndexError::bad_request("Upload payload does not have a file ('content')."))?;
    if form.one("metadata_version").is_empty() {
        return Err(IndexError::bad_request("Missing 'metadata_version'."));
    }
    let name = ProjectName::parse(form.one("name"))
        .map_err(|e| IndexError::bad_request(format!("Invalid project name {:?}: {e}.", form.one("name"))))?;
    let version = parse_upload_version(form.one("version")).map_err(IndexError::bad_request)?;
    let kind = DistKind::from_filetype(form.one("filetype")).map_err(IndexError::bad_request)?;
    let dist = DistFilename::parse(&file.filename, kind, name.as_str(), &version).map_err(IndexError::bad_request)?;
    if file.size == 0 {
        return Err(IndexError::bad_request("The uploaded file is empty."));
    }
    check_digests(&form, &file)?;
    let mut metadata = release_metadata(&form)?;

    // Permissions, before anything is published (re-checked in the transaction).
    let normalized = name.normalized();
    let existing = catalog::project(&state.db, &normalized).await?;
    check_permission(&owner, existing.as_ref().map(|p| p.id), |project_id| {
        index::has_role(&state.db, owner.user_id, project_id)
    })
    .await?;

    if let Some(existing) = index::file_by_name(&state.db, &dist.filename).await? {
        if existing.sha256 == file.sha256 {
            // The same file again: PyPI answers OK, and twine's --skip-existing relies on it.
            return Ok((StatusCode::OK, "OK\n").into_response());
        }
        return Err(IndexError::bad_request(format!(
            "File already exists ('{}', with sha256 hash '{}'). A filename can be used only once, even after \
             deletion; upload a new version.",
            dist.filename, existing.sha256
        )));
    }

    let staged_path = file.staged.path.clone();
    let inspect_dist = dist.clone();
    let core_metadata = tokio::task::spawn_blocking(move || inspect_archive(&staged_path, &inspect_dist))
        .await
        .map_err(|_| IndexError::internal())??;
    let description = std::mem::take(&mut metadata.description);
    let content_type = metadata.description_content_type.clone();
    let (description, html) = tokio::task::spawn_blocking(move || {
        let html = crate::server::render::render_description(&description, &content_type);
        (description, html)
    })
    .await
    .map_err(|_| IndexError::internal())?;
    metadata.description = description;
    metadata.description_html = html;

    // Publish the bytes, then the rows.
    let key = file_key(&file.blake2b_256, &dist.filename);
    let metadata_key = format!("{key}.metadata");
    let metadata_sha256 = match &core_metadata {
        Some(bytes) => {
            let staged = Staged::new(state.storage.staging_dir());
            let mut out = tokio::fs::File::create(&staged.path).await?;
            out.write_all(bytes).await?;
            out.sync_all().await?;
            state.storage.put(&metadata_key, &staged.path).await?;
            Some(hex::encode(Sha256::digest(bytes)))
        }
        None => None,
    };
    if let Err(error) = state.storage.put(&key, &file.staged.path).await {
        let _ = state.storage.delete(&metadata_key).await;
        return Err(error.into());
    }
    let written = write_rows(
        state,
        &owner,
        &name,
        &version,
        &dist,
        &file,
        &metadata,
        &key,
        metadata_sha256.as_deref(),
    )
    .await;
    if let Err(error) = written {
        let _ = state.storage.delete(&key).await;
        let _ = state.storage.delete(&metadata_key).await;
        return Err(error);
    }
    if let Err(error) = index::touch_token(&state.db, owner.token_id, now_micros()).await {
        tracing::warn!(%error, "could not record the token's last use");
    }
    tracing::info!(user = %owner.username, filename = %dist.filename, "file uploaded");
    Ok((StatusCode::OK, "OK\n").into_response())
}

/// The token's scope and the user's role decide; `has_role` asks the database.
async fn check_permission<F, Fut>(owner: &TokenOwner, project_id: Option<i64>, has_role: F) -> Result<(), IndexError>
where
    F: FnOnce(i64) -> Fut,
    Fut: std::future::Future<Output = Result<bool, sqlx::Error>>,
{
    match (project_id, owner.project_id) {
        (None, Some(_)) => Err(IndexError::forbidden(
            "This API token is scoped to one project; it cannot create a new project.",
        )),
        (Some(project), Some(scope)) if project != scope => {
            Err(IndexError::forbidden("This API token is scoped to another project."))
        }
        (Some(project), _) => {
            if has_role(project).await? {
                Ok(())
            } else {
                Err(IndexError::forbidden(format!(
                    "The user '{}' isn't allowed to upload to this project.",
                    owner.username
                )))
            }
        }
        (None, None) => Ok(()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_rows(
    state: &AppState,
    owner: &TokenOwner,
    name: &ProjectName,
    version: &pep440_rs::Version,
    dist: &DistFilename,
    file: &Received,
    metadata: &ReleaseMetadata,
    key: &str,
    metadata_sha256: Option<&str>,
) -> Result<(), IndexError> {
    let now = now_micros();
    let mut tx = state.db.begin_write().await?;
    let (project_id, created) = tx.ensure_project(name.as_str(), &name.normalized(), now).await?;
    if created {
        tx.add_role(owner.user_id, project_id, "Owner").await?;
    }
    // Again under the write lock: a project created meanwhile by someone else.
    let has_role = tx.has_role(owner.user_id, project_id).await?;
    check_permission(owner, Some(project_id), |_| async { Ok(has_role) }).await?;

    let parsed = ReleaseVersion::Pep440(version.clone());
    let sort_key = parsed.sort_key(now);
    let release_id = match tx.release_by_sort_key(project_id, &sort_key).await? {
        Some(id) => id,
        None => {
            let version_string = version.to_string();
            tx.ensure_release(
                project_id,
                &NewRelease {
                    version: &version_string,
                    sort_key: &sort_key,
                    is_prerelease: parsed.is_prerelease(),
                    is_legacy: false,
                    created: Some(now),
                    yanked: false,
                    yanked_reason: None,
                },
            )
            .await?
            .0
        }
    };
    if !tx.release_has_metadata(release_id).await? {
        tx.upsert_metadata(release_id, metadata).await?;
    }
    let url = format!("/files/{key}");
    let added = tx
        .insert_file(
            release_id,
            &NewFile {
                filename: &dist.filename,
                packagetype: dist.kind.packagetype(),
                python_version: &dist.python_version,
                size: i64::try_from(file.size).unwrap_or(i64::MAX),
                sha256: &file.sha256,
                md5: Some(&file.md5),
                blake2b_256: Some(&file.blake2b_256),
                upload_time: now,
                url: &url,
                requires_python: Some(metadata.requires_python.as_str()).filter(|s| !s.is_empty()),
                yanked: false,
                storage_key: Some(key),
                metadata_sha256,
                uploaded_by: Some(owner.user_id),
            },
        )
        .await?;
    if !added {
        return Err(IndexError::bad_request(format!(
            "File already exists ('{}').",
            dist.filename
        )));
    }
    tx.refresh_project(project_id).await?;
    let action = format!("add {} file {}", dist.kind.packagetype(), dist.filename);
    tx.journal(
        project_id,
        &action,
        Some(&version.to_string()),
        Some(owner.user_id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
