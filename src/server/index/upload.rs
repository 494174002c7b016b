//! `POST /legacy/`: uploads as twine and `uv publish` send them (the
//! "legacy" upload API of PyPI: a multipart form with `:action=file_upload`,
//! the core metadata fields and the file as `content`).
//!
//! Order of work, so that a rejected upload leaves nothing behind and cheap
//! checks come before expensive ones:
//! 1. authenticate the API token and check the declared size (413 before
//!    reading anything);
//! 2. stream the file to a staging file, hashing it on the way; the other
//!    fields are bounded in size and number as they arrive;
//! 3. check the form's metadata (`server::index::metadata`), the filename
//!    against name and version, the uploader's role, the digests;
//! 4. read the archive's own metadata (a wheel's METADATA, an sdist's
//!    PKG-INFO), check it the same way and require it to agree with the
//!    form: it is what the index keeps and what pip and uv resolve from;
//! 5. render the description (bounded, off the async threads);
//! 6. publish the bytes under their content-addressed key, then commit the
//!    rows. The database decides between concurrent uploads: the same bytes
//!    again are a success (clients retry), other bytes under a filename
//!    already taken are refused. Published bytes are never deleted by an
//!    upload: a row committed by another upload may point at them. A failed
//!    or lost race leaves at most an unreferenced object behind.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use blake2::Blake2b;
use blake2::digest::consts::U32;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use super::IndexError;
use super::metadata::{self, CoreMetadata, MAX_METADATA_FILE, RawMetadata};
use crate::domain::ReleaseVersion;
use crate::domain::access::ProjectStatus;
use crate::domain::dist::{DistFilename, DistKind};
use crate::server::auth::hash_token;
use crate::server::db::catalog;
use crate::server::db::index::{self, TokenOwner};
use crate::server::db::write::maintain::NewEvent;
use crate::server::db::write::{InsertedFile, NewFile, NewRelease};
use crate::server::now_micros;
use crate::server::render::{MAX_DESCRIPTION_BYTES, render_off_thread};
use crate::server::state::AppState;
use crate::server::storage::file_key;

/// Room for the form's other fields: a description of the largest size
/// this index accepts and the rest, with margin (a larger description gets
/// its own 400 rather than a 413 about the file).
const FORM_SLACK: u64 = 16 * 1024 * 1024;
/// The largest single form field other than the file (the description).
const MAX_FIELD: usize = MAX_DESCRIPTION_BYTES + 64 * 1024;
/// How many fields a form may have (classifiers and requirements repeat).
const MAX_FIELDS: usize = 5000;
/// How much an sdist may decompress to while looking for PKG-INFO, as a
/// multiple of its size (Warehouse's zip-bomb ratio), and at least.
const DECOMPRESSION_RATIO: u64 = 50;
const MIN_DECOMPRESSION: u64 = 64 * 1024 * 1024;

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
    let (username, password) = crate::server::auth::basic_credentials(headers).ok_or_else(unauthorized)?;
    if username != "__token__" {
        return Err(IndexError::forbidden(
            "Username/password authentication is not supported for uploads. Use an API token: \
             username __token__ and the token as password. Create one on your account page.",
        ));
    }
    let owner = index::token_owner(&state.db, &hash_token(password.trim()))
        .await?
        .ok_or_else(|| IndexError::forbidden("Invalid or revoked API token."))?;
    if !crate::domain::access::TokenScopes::from_db(&owner.scopes).upload {
        return Err(IndexError::forbidden(
            "This API token may only read the index; uploads need a token with the upload scope.",
        ));
    }
    Ok(owner)
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
        self.fields.get(name).cloned().unwrap_or_default()
    }

    /// Fields that hold one value: given twice, which one is meant is
    /// unknown, so the upload is refused (as Warehouse does).
    fn check_single_values(&self) -> Result<(), IndexError> {
        const SINGLE: &[&str] = &[
            ":action",
            "protocol_version",
            "filetype",
            "metadata_version",
            "name",
            "version",
            "summary",
            "description",
            "description_content_type",
            "author",
            "author_email",
            "maintainer",
            "maintainer_email",
            "license",
            "license_expression",
            "keywords",
            "home_page",
            "download_url",
            "requires_python",
            "md5_digest",
            "sha256_digest",
            "blake2_256_digest",
        ];
        match SINGLE
            .iter()
            .find(|f| self.fields.get(**f).is_some_and(|v| v.len() > 1))
        {
            Some(field) => Err(IndexError::bad_request(format!("'{field}' may be given only once."))),
            None => Ok(()),
        }
    }

    /// The core metadata fields as twine and uv name them.
    fn raw_metadata(&self) -> RawMetadata {
        let mut platforms = self.all("platform");
        platforms.extend(self.all("supported_platform"));
        RawMetadata {
            metadata_version: self.one("metadata_version").to_owned(),
            name: self.one("name").to_owned(),
            version: self.one("version").to_owned(),
            summary: self.one("summary").to_owned(),
            // The description keeps its own whitespace (Markdown needs it).
            description: self
                .fields
                .get("description")
                .and_then(|v| v.first())
                .cloned()
                .unwrap_or_default(),
            description_content_type: self.one("description_content_type").to_owned(),
            author: self.one("author").to_owned(),
            author_email: self.one("author_email").to_owned(),
            maintainer: self.one("maintainer").to_owned(),
            maintainer_email: self.one("maintainer_email").to_owned(),
            license: self.one("license").to_owned(),
            license_expression: self.one("license_expression").to_owned(),
            keywords: self.one("keywords").to_owned(),
            home_page: self.one("home_page").to_owned(),
            download_url: self.one("download_url").to_owned(),
            platforms,
            project_urls: self.all("project_urls"),
            classifiers: self.all("classifiers"),
            requires_dist: self.all("requires_dist"),
            requires_python: self.one("requires_python").to_owned(),
        }
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
    let result = read_fields(state, &mut multipart, &mut form, &mut received, multipart_error).await;
    if let Err(error) = result {
        // Refused part-way: read (and drop) the rest of the body, which the
        // body limit bounds, so that the client gets to read the answer
        // instead of a connection closed while it was still sending.
        if error.status != StatusCode::PAYLOAD_TOO_LARGE {
            while let Ok(Some(mut field)) = multipart.next_field().await {
                while let Ok(Some(_)) = field.chunk().await {}
            }
        }
        return Err(error);
    }
    Ok((form, received))
}

async fn read_fields(
    state: &AppState,
    multipart: &mut Multipart,
    form: &mut Form,
    received: &mut Option<Received>,
    multipart_error: impl Fn(axum::extract::multipart::MultipartError) -> IndexError,
) -> Result<(), IndexError> {
    let max = state.max_upload_bytes;
    let mut count = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(&multipart_error)? {
        count += 1;
        if count > MAX_FIELDS {
            return Err(IndexError::bad_request(format!(
                "Invalid upload: more than {MAX_FIELDS} form fields."
            )));
        }
        let name = field.name().unwrap_or("").to_owned();
        if name != "content" {
            let mut value = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(&multipart_error)? {
                if value.len() + chunk.len() > MAX_FIELD {
                    return Err(IndexError::bad_request(format!(
                        "The form field {:?} is larger than {} bytes.",
                        name.chars().take(40).collect::<String>(),
                        MAX_FIELD
                    )));
                }
                value.extend_from_slice(&chunk);
            }
            let value = String::from_utf8(value).map_err(|_| {
                IndexError::bad_request(format!(
                    "The form field {:?} is not valid UTF-8.",
                    name.chars().take(40).collect::<String>()
                ))
            })?;
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
        while let Some(chunk) = field.chunk().await.map_err(&multipart_error)? {
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
        *received = Some(Received {
            filename,
            staged,
            size,
            md5: hex::encode(md5.finalize()),
            sha256: hex::encode(sha256.finalize()),
            blake2b_256: hex::encode(b2.finalize()),
        });
    }
    Ok(())
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

/// What the archive says about itself.
struct Inspected {
    /// The wheel's METADATA, served beside it (PEP 658); `None` for sdists.
    served_metadata: Option<Vec<u8>>,
    /// The archive's core metadata, checked.
    core: CoreMetadata,
}

/// Reads at most `MAX_METADATA_FILE` bytes of an archive member.
fn read_member(member: impl std::io::Read, invalid: impl Fn(&str) -> IndexError) -> Result<Vec<u8>, IndexError> {
    let mut bytes = Vec::new();
    member
        .take(MAX_METADATA_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| invalid("its metadata cannot be read."))?;
    if bytes.len() > MAX_METADATA_FILE {
        return Err(invalid("its metadata file is too large."));
    }
    Ok(bytes)
}

/// A wheel's `{name}-{version}.dist-info/METADATA` (the filename's own
/// spelling; tools disagree on escaping, so also the one top-level
/// `*.dist-info/METADATA`).
fn wheel_metadata(
    path: &Path,
    dist: &DistFilename,
    invalid: impl Fn(&str) -> IndexError,
) -> Result<Vec<u8>, IndexError> {
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(path)?).map_err(|_| invalid("it is not a zip archive."))?;
    let expected = dist.wheel_metadata_path().unwrap_or_default();
    let name = if archive.index_for_name(&expected).is_some() {
        expected
    } else {
        let candidates: Vec<String> = archive
            .file_names()
            .filter_map(Result::ok)
            .filter(|n| {
                n.split('/').count() == 2
                    && n.ends_with("/METADATA")
                    && n.split('/').next().is_some_and(|d| d.ends_with(".dist-info"))
            })
            .map(|n| n.into_owned())
            .collect();
        match candidates.as_slice() {
            [one] => one.clone(),
            _ => {
                return Err(invalid(
                    "a wheel must contain exactly one {name}-{version}.dist-info/METADATA.",
                ));
            }
        }
    };
    let entry = archive
        .by_name(&name)
        .map_err(|_| invalid("its METADATA cannot be read."))?;
    read_member(entry, invalid)
}

/// An sdist's `{name}-{version}/PKG-INFO`, reading the tar no further than
/// a bounded amount of decompressed data (a gzip bomb stops there).
fn sdist_pkg_info(path: &Path, size: u64, invalid: impl Fn(&str) -> IndexError) -> Result<Vec<u8>, IndexError> {
    let limit = size.saturating_mul(DECOMPRESSION_RATIO).max(MIN_DECOMPRESSION);
    let file = std::fs::File::open(path)?;
    let decoder = flate2::read::GzDecoder::new(std::io::BufReader::new(file)).take(limit);
    let mut archive = tar::Archive::new(decoder);
    let entries = archive.entries().map_err(|_| invalid("it is not a tar.gz archive."))?;
    for entry in entries {
        let entry = entry.map_err(|_| invalid("it is not a complete tar.gz archive, or no PKG-INFO was found."))?;
        let is_pkg_info = entry.path().is_ok_and(|p| {
            let parts: Vec<_> = p.components().collect();
            parts.len() == 2
                && matches!(parts[0], std::path::Component::Normal(_))
                && parts[1].as_os_str() == "PKG-INFO"
        });
        if is_pkg_info {
            return read_member(entry, invalid);
        }
    }
    Err(invalid("an sdist must contain {name}-{version}/PKG-INFO."))
}

/// Checks the archive and reads its core metadata.
fn inspect_archive(path: &Path, size: u64, dist: &DistFilename, form: &CoreMetadata) -> Result<Inspected, IndexError> {
    let invalid = |why: &str| IndexError::bad_request(format!("Invalid distribution file {:?}: {why}", dist.filename));
    let (source, bytes) = match dist.kind {
        DistKind::Wheel => ("METADATA", wheel_metadata(path, dist, invalid)?),
        DistKind::Sdist => ("PKG-INFO", sdist_pkg_info(path, size, invalid)?),
    };
    let raw = metadata::parse_metadata_file(&bytes)
        .map_err(|why| invalid(&format!("its {source} cannot be used: {why}.")))?;
    let core = metadata::validate(&raw).map_err(|why| IndexError::bad_request(format!("{source}: {why}")))?;
    metadata::check_agreement(form, &core, source).map_err(IndexError::bad_request)?;
    Ok(Inspected {
        served_metadata: (dist.kind == DistKind::Wheel).then_some(bytes),
        core,
    })
}

/// Runs blocking work (parsing, decompression) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, IndexError> + Send + 'static,
) -> Result<T, IndexError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| IndexError::internal())?
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

fn archived(name: &str, status: ProjectStatus) -> IndexError {
    IndexError::bad_request(format!(
        "The project {name} is {}: it accepts no new uploads.",
        status.as_str()
    ))
}

fn reserved_name(normalized: &str) -> IndexError {
    IndexError::forbidden(format!(
        "The name '{normalized}' is reserved by the index's administrators."
    ))
}

fn deleted_filename(filename: &str) -> IndexError {
    IndexError::bad_request(format!(
        "The filename '{filename}' was used by a file that has been deleted. A filename can be used only once, \
         even after deletion; upload a new version."
    ))
}

fn already_exists(filename: &str, sha256: &str) -> IndexError {
    IndexError::bad_request(format!(
        "File already exists ('{filename}', with sha256 hash '{sha256}'). A filename can be used only once, even \
         after deletion; upload a new version."
    ))
}

fn ok() -> Response {
    (StatusCode::OK, "OK\n").into_response()
}

/// How much of a refused request's body is read before the refusal is
/// sent, and for how long at most: a client that is still sending when
/// the server answers and closes gets a broken pipe instead of the
/// message (twine would print a connection error, not "Invalid or revoked
/// API token"). Bigger bodies are not worth receiving for a refusal.
const DRAIN_LIMIT: usize = 4 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and drops up to [`DRAIN_LIMIT`] bytes of `body`.
async fn drain(body: axum::body::Body) {
    use futures_util::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut read = 0usize;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len();
            if read > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

async fn handle(state: &AppState, request: Request) -> Result<Response, IndexError> {
    let owner = match authenticate(state, request.headers()).await {
        Ok(owner) => owner,
        Err(refusal) => {
            drain(request.into_body()).await;
            return Err(refusal);
        }
    };
    let address = crate::server::auth::client_address_of(request.headers(), request.extensions(), state.trust_proxy);
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
    form.check_single_values()?;
    let kind = DistKind::from_filetype(form.one("filetype")).map_err(IndexError::bad_request)?;

    // The form's metadata and the filename (PEP 508 parsing is bounded, but
    // not free: off the async threads).
    let raw = form.raw_metadata();
    let filename = file.filename.clone();
    let (declared, dist) = blocking(move || {
        let declared = metadata::validate(&raw).map_err(IndexError::bad_request)?;
        let dist = DistFilename::parse(&filename, kind, declared.name.as_str(), &declared.version)
            .map_err(IndexError::bad_request)?;
        Ok((declared, dist))
    })
    .await?;
    if file.size == 0 {
        return Err(IndexError::bad_request("The uploaded file is empty."));
    }

    // Permissions, before any heavy work (checked again in the transaction).
    let normalized = declared.name.normalized();
    let existing = catalog::project(&state.db, &normalized).await?;
    // A name the administrators reserved is nobody's to take.
    if existing.is_none() && crate::server::db::upstream::is_reserved(&state.db, &normalized).await? {
        return Err(reserved_name(&normalized));
    }
    check_permission(&owner, existing.as_ref().map(|p| p.id), |project_id| {
        index::has_role(&state.db, owner.user_id, project_id)
    })
    .await?;
    if let Some(project) = &existing {
        let status = ProjectStatus::parse(&project.status).unwrap_or_default();
        if !status.accepts_uploads() {
            return Err(archived(&project.name, status));
        }
    }
    check_digests(&form, &file)?;
    // A deleted file's name, refused before its bytes are stored: they
    // would make the deleted file's URL serve again.
    if index::filename_was_deleted(&state.db, &dist.filename).await? {
        return Err(deleted_filename(&dist.filename));
    }

    if let Some(existing) = index::file_by_name(&state.db, &dist.filename).await? {
        if existing.sha256 == file.sha256 {
            // The same file again: PyPI answers OK, and twine's --skip-existing relies on it.
            return Ok(ok());
        }
        return Err(already_exists(&dist.filename, &existing.sha256));
    }
    if dist.kind == DistKind::Sdist
        && let Some(project) = &existing
        && index::release_has_sdist(&state.db, project.id, &declared.version).await?
    {
        return Err(IndexError::bad_request("Only one sdist may be uploaded per release."));
    }

    let staged_path = file.staged.path.clone();
    let size = file.size;
    let inspect_dist = dist.clone();
    let Inspected { served_metadata, core } =
        blocking(move || inspect_archive(&staged_path, size, &inspect_dist, &declared)).await?;
    let CoreMetadata {
        name,
        version,
        release: mut metadata,
    } = core;
    let (description, html) = render_off_thread(
        std::mem::take(&mut metadata.description),
        metadata.description_content_type.clone(),
    )
    .await;
    metadata.description = description;
    metadata.description_html = html;

    // Publish the bytes (content-addressed: the same bytes, the same key),
    // then the rows. Nothing published is deleted below, whatever happens.
    let key = file_key(&file.blake2b_256, &dist.filename);
    let metadata_key = format!("{key}.metadata");
    let metadata_sha256 = match &served_metadata {
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
    state.storage.put(&key, &file.staged.path).await?;
    let upload = Upload {
        owner: &owner,
        name: &name,
        version: &version,
        dist: &dist,
        file: &file,
        metadata: &metadata,
        key: &key,
        metadata_sha256: metadata_sha256.as_deref(),
        address: Some(&address),
    };
    write_rows(state, &upload).await?;
    if let Err(error) = index::touch_token(&state.db, owner.token_id, now_micros()).await {
        tracing::warn!(%error, "could not record the token's last use");
    }
    tracing::info!(user = %owner.username, filename = %dist.filename, "file uploaded");
    Ok(ok())
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

/// Everything the rows of one upload are made of.
struct Upload<'a> {
    owner: &'a TokenOwner,
    name: &'a crate::domain::ProjectName,
    version: &'a pep440_rs::Version,
    dist: &'a DistFilename,
    file: &'a Received,
    metadata: &'a crate::server::db::write::ReleaseMetadata,
    key: &'a str,
    metadata_sha256: Option<&'a str>,
    /// The client's address, for the security history.
    address: Option<&'a str>,
}

/// Commits the upload's rows in one write transaction. The unique filename
/// decides between concurrent uploads of one file: the same bytes are a
/// success for every one of them, other bytes a refusal.
async fn write_rows(state: &AppState, u: &Upload<'_>) -> Result<(), IndexError> {
    let now = now_micros();
    let mut tx = state.db.begin_write().await?;
    let normalized = u.name.normalized();
    let (project_id, created) = tx.ensure_project(u.name.as_str(), &normalized, now).await?;
    // Checked before the transaction too; this is the check that decides
    // (a reservation made meanwhile).
    if created && tx.name_is_reserved(&normalized).await? {
        return Err(reserved_name(&normalized));
    }
    // Every writer of a project (uploads, maintainers' actions) holds its
    // row first, so they run one after another (`WriteTx::lock_project`).
    let locked = tx.lock_project_id(project_id).await?.ok_or_else(|| {
        IndexError::new(
            StatusCode::CONFLICT,
            "The project was deleted while this file was uploaded; upload it again.",
        )
    })?;
    if created {
        tx.add_role(u.owner.user_id, project_id, "Owner").await?;
    }
    let status = ProjectStatus::parse(&locked.status).unwrap_or_default();
    if !status.accepts_uploads() {
        return Err(archived(&locked.name, status));
    }
    // Again under the write lock: a project created meanwhile by someone else.
    let has_role = tx.has_role(u.owner.user_id, project_id).await?;
    check_permission(u.owner, Some(project_id), |_| async { Ok(has_role) }).await?;

    let parsed = ReleaseVersion::Pep440(u.version.clone());
    let sort_key = parsed.sort_key(now);
    let release_id = match tx.release_by_sort_key(project_id, &sort_key).await? {
        Some(id) => id,
        None => {
            let version_string = u.version.to_string();
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
    if u.dist.kind == DistKind::Sdist && tx.release_has_sdist(release_id).await? {
        // The same sdist again is a success; another one is refused.
        return match tx.file_sha256(u.dist.filename.as_str()).await? {
            Some(sha256) if sha256 == u.file.sha256 => Ok(()),
            _ => Err(IndexError::bad_request("Only one sdist may be uploaded per release.")),
        };
    }
    if !tx.release_has_metadata(release_id).await? {
        tx.upsert_metadata(release_id, u.metadata).await?;
    }
    let url = format!("/files/{}", u.key);
    let inserted = tx
        .insert_file(
            release_id,
            &NewFile {
                filename: &u.dist.filename,
                packagetype: u.dist.kind.packagetype(),
                python_version: &u.dist.python_version,
                size: i64::try_from(u.file.size).unwrap_or(i64::MAX),
                sha256: &u.file.sha256,
                md5: Some(&u.file.md5),
                blake2b_256: Some(&u.file.blake2b_256),
                upload_time: now,
                url: &url,
                requires_python: Some(u.metadata.requires_python.as_str()).filter(|s| !s.is_empty()),
                yanked: false,
                storage_key: Some(u.key),
                metadata_sha256: u.metadata_sha256,
                uploaded_by: Some(u.owner.user_id),
            },
        )
        .await?;
    match inserted {
        // Checked after the insert: a deletion of this filename that
        // committed meanwhile is seen by this statement (PostgreSQL's read
        // committed takes a new snapshot; SQLite's writers are serialized).
        InsertedFile::Added if tx.filename_was_deleted(&u.dist.filename).await? => {
            drop(tx);
            // The key names the filename, which no row can ever use again:
            // its objects are nobody's (the file's deletion removed its
            // own before this upload stored them again).
            for key in [format!("{}.metadata", u.key), u.key.to_owned()] {
                if let Err(error) = state.storage.delete(&key).await {
                    tracing::warn!(%error, key, "could not remove a refused upload's object");
                }
            }
            return Err(deleted_filename(&u.dist.filename));
        }
        InsertedFile::Added => {}
        // A concurrent upload of the very same file won the race: done.
        InsertedFile::Exists { sha256 } if sha256 == u.file.sha256 => return Ok(()),
        InsertedFile::Exists { sha256 } => return Err(already_exists(&u.dist.filename, &sha256)),
    }
    tx.refresh_project(project_id).await?;
    let action = format!("add {} file {}", u.dist.kind.packagetype(), u.dist.filename);
    tx.journal(
        project_id,
        &action,
        Some(&u.version.to_string()),
        Some(u.owner.user_id),
        now,
    )
    .await?;
    tx.record(
        &NewEvent {
            project: Some((project_id, &locked.name)),
            actor: Some((u.owner.user_id, &u.owner.username)),
            subject_id: None,
            kind: "file:upload",
            detail: format!("{} with the API token “{}”", u.dist.filename, u.owner.token_name),
            address: u.address.map(str::to_owned),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
