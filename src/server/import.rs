//! `cheeseshop import`: load PyPI JSON API documents (`/pypi/{name}/json`).
//!
//! Each document is parsed completely before anything is written, then
//! written in one transaction: a bad document is reported by name and skipped
//! without leaving half a project behind. Importing is idempotent: projects,
//! releases and files are matched by normalized name, version and filename.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use crate::domain::{ProjectName, ReleaseVersion};
use crate::server::db::Db;
use crate::server::db::write::{InsertedFile, NewFile, NewRelease, ReleaseMetadata};

#[derive(Debug, Deserialize)]
struct Document {
    info: Info,
    releases: BTreeMap<String, Vec<FileDoc>>,
}

#[derive(Debug, Deserialize)]
struct Info {
    name: String,
    version: String,
    summary: Option<String>,
    description: Option<String>,
    description_content_type: Option<String>,
    author: Option<String>,
    author_email: Option<String>,
    maintainer: Option<String>,
    maintainer_email: Option<String>,
    license: Option<String>,
    keywords: Option<String>,
    home_page: Option<String>,
    download_url: Option<String>,
    docs_url: Option<String>,
    platform: Option<String>,
    requires_python: Option<String>,
    project_urls: Option<serde_json::Map<String, serde_json::Value>>,
    classifiers: Option<Vec<String>>,
    requires_dist: Option<Vec<String>>,
    yanked: Option<bool>,
    yanked_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FileDoc {
    filename: String,
    packagetype: String,
    python_version: Option<String>,
    size: i64,
    digests: Digests,
    upload_time: String,
    upload_time_iso_8601: Option<String>,
    url: String,
    requires_python: Option<String>,
    yanked: Option<bool>,
    yanked_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Digests {
    sha256: String,
    md5: Option<String>,
    blake2b_256: Option<String>,
}

/// A document checked and converted, ready to write.
#[derive(Debug)]
struct Parsed {
    name: ProjectName,
    info_version: String,
    metadata: ReleaseMetadata,
    releases: Vec<ParsedRelease>,
}

#[derive(Debug)]
struct ParsedRelease {
    version: String,
    sort_key: String,
    is_prerelease: bool,
    is_legacy: bool,
    created: Option<i64>,
    yanked: bool,
    yanked_reason: Option<String>,
    files: Vec<ParsedFile>,
}

#[derive(Debug)]
struct ParsedFile {
    doc: FileDoc,
    upload_time: i64,
}

/// Parses PyPI's `upload_time` (`2018-05-02T14:26:26`, UTC without offset)
/// or `upload_time_iso_8601` (`2018-05-02T14:26:26.123456Z`) to microseconds.
pub fn parse_upload_time(raw: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.timestamp_micros());
    }
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

/// A text field of an imported document. Uploads refuse control
/// characters; documents from elsewhere keep their text with each control
/// character (but tab and line breaks) shown as U+FFFD, so none reaches a
/// page or a feed.
fn nonempty(s: &Option<String>) -> String {
    s.as_deref()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let doc: Document = serde_json::from_slice(bytes).map_err(|e| format!("not a PyPI JSON document: {e}"))?;
    let name = ProjectName::parse(doc.info.name.trim())
        .map_err(|e| format!("invalid project name {:?}: {e}", doc.info.name))?;
    let info = &doc.info;
    let project_urls: Vec<(String, String)> = info
        .project_urls
        .iter()
        .flatten()
        .filter_map(|(label, url)| url.as_str().map(|u| (label.clone(), u.to_owned())))
        .collect();
    let metadata = ReleaseMetadata {
        summary: nonempty(&info.summary),
        description: nonempty(&info.description),
        description_content_type: nonempty(&info.description_content_type),
        author: nonempty(&info.author),
        author_email: nonempty(&info.author_email),
        maintainer: nonempty(&info.maintainer),
        maintainer_email: nonempty(&info.maintainer_email),
        license: nonempty(&info.license),
        keywords: nonempty(&info.keywords),
        home_page: nonempty(&info.home_page),
        download_url: nonempty(&info.download_url),
        docs_url: nonempty(&info.docs_url),
        platform: nonempty(&info.platform),
        requires_python: nonempty(&info.requires_python),
        project_urls_json: json(&project_urls)?,
        classifiers_json: json(&info.classifiers.clone().unwrap_or_default())?,
        requires_dist_json: json(&info.requires_dist.clone().unwrap_or_default())?,
        description_html: crate::server::render::render_description(
            info.description.as_deref().unwrap_or(""),
            info.description_content_type.as_deref().unwrap_or(""),
        ),
    };

    let mut releases = Vec::with_capacity(doc.releases.len());
    for (version, files) in doc.releases {
        let mut parsed_files = Vec::with_capacity(files.len());
        for file in files {
            let raw_time = file.upload_time_iso_8601.as_deref().unwrap_or(&file.upload_time);
            let upload_time = parse_upload_time(raw_time)
                .ok_or_else(|| format!("file {:?} has an invalid upload_time {raw_time:?}", file.filename))?;
            if file.filename.is_empty() || file.digests.sha256.len() != 64 {
                return Err(format!(
                    "file {:?} has no filename or no valid sha256 digest",
                    file.filename
                ));
            }
            if crate::domain::escape::url_attr(&file.url).is_none() || !file.url.starts_with("http") {
                return Err(format!("file {:?} has no http(s) URL: {:?}", file.filename, file.url));
            }
            parsed_files.push(ParsedFile { doc: file, upload_time });
        }
        let created = parsed_files.iter().map(|f| f.upload_time).min();
        let parsed_version = ReleaseVersion::parse(&version);
        let is_info_release = version == info.version;
        // A release is yanked when all of its files are (PyPI's JSON marks files).
        let yanked = (is_info_release && info.yanked.unwrap_or(false))
            || (!parsed_files.is_empty() && parsed_files.iter().all(|f| f.doc.yanked.unwrap_or(false)));
        let yanked_reason = if is_info_release {
            info.yanked_reason.clone()
        } else {
            None
        }
        .or_else(|| parsed_files.iter().find_map(|f| f.doc.yanked_reason.clone()))
        .filter(|_| yanked);
        releases.push(ParsedRelease {
            sort_key: parsed_version.sort_key(created.unwrap_or(0)),
            is_prerelease: parsed_version.is_prerelease(),
            is_legacy: parsed_version.is_legacy(),
            version,
            created,
            yanked,
            yanked_reason,
            files: parsed_files,
        });
    }
    Ok(Parsed {
        name,
        info_version: doc.info.version,
        metadata,
        releases,
    })
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub documents: usize,
    pub projects: usize,
    pub releases: usize,
    pub files: usize,
    pub new_projects: usize,
    pub new_releases: usize,
    pub new_files: usize,
    /// Input files that were not imported, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

impl ImportReport {
    pub fn summary(&self) -> String {
        use crate::domain::format::thousands as t;
        format!(
            "Imported {} projects, {} releases and {} files from {} documents \
             ({} new projects, {} new releases, {} new files); skipped {} input files.",
            t(self.projects as i64),
            t(self.releases as i64),
            t(self.files as i64),
            t(self.documents as i64),
            t(self.new_projects as i64),
            t(self.new_releases as i64),
            t(self.new_files as i64),
            self.skipped.len(),
        )
    }
}

/// Expands directories into their `*.json` files (sorted, not recursive).
pub fn collect_inputs(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// Imports every document; never stops at a bad one. Database errors are
/// reported per document too (the transaction of that document rolls back).
pub async fn import_files(db: &Db, inputs: &[PathBuf], show_progress: bool) -> ImportReport {
    let bar = if show_progress {
        ProgressBar::new(inputs.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} importing [{bar:30}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut report = ImportReport::default();
    for path in inputs {
        bar.set_message(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        match import_one(db, path, &mut report).await {
            Ok(()) => report.documents += 1,
            Err(reason) => {
                bar.suspend(|| eprintln!("skipped {}: {reason}", path.display()));
                report.skipped.push((path.clone(), reason));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    report
}

async fn import_one(db: &Db, path: &Path, report: &mut ImportReport) -> Result<(), String> {
    let bytes = tokio::fs::read(path).await.map_err(|e| format!("cannot read: {e}"))?;
    let parsed = parse(&bytes)?;
    let counts = write(db, &parsed).await.map_err(|e| format!("database error: {e}"))?;
    report.projects += 1;
    report.releases += parsed.releases.len();
    report.files += parsed.releases.iter().map(|r| r.files.len()).sum::<usize>();
    report.new_projects += counts.0;
    report.new_releases += counts.1;
    report.new_files += counts.2;
    Ok(())
}

async fn write(db: &Db, doc: &Parsed) -> Result<(usize, usize, usize), sqlx::Error> {
    let now = crate::server::now_micros();
    let mut tx = db.begin_write().await?;
    let (project_id, new_project) = tx
        .ensure_project(doc.name.as_str(), &doc.name.normalized(), now)
        .await?;
    let (mut new_releases, mut new_files) = (0, 0);
    for release in &doc.releases {
        let (release_id, created) = tx
            .ensure_release(
                project_id,
                &NewRelease {
                    version: &release.version,
                    sort_key: &release.sort_key,
                    is_prerelease: release.is_prerelease,
                    is_legacy: release.is_legacy,
                    created: release.created,
                    yanked: release.yanked,
                    yanked_reason: release.yanked_reason.as_deref(),
                },
            )
            .await?;
        new_releases += usize::from(created);
        if release.version == doc.info_version {
            tx.upsert_metadata(release_id, &doc.metadata).await?;
        }
        for file in &release.files {
            let f = &file.doc;
            let added = tx
                .insert_file(
                    release_id,
                    &NewFile {
                        filename: &f.filename,
                        packagetype: &f.packagetype,
                        python_version: f.python_version.as_deref().unwrap_or(""),
                        size: f.size,
                        sha256: &f.digests.sha256,
                        md5: f.digests.md5.as_deref(),
                        blake2b_256: f.digests.blake2b_256.as_deref(),
                        upload_time: file.upload_time,
                        url: &f.url,
                        requires_python: f.requires_python.as_deref(),
                        yanked: f.yanked.unwrap_or(false),
                        storage_key: None,
                        metadata_sha256: None,
                        uploaded_by: None,
                    },
                )
                .await?;
            new_files += usize::from(added == InsertedFile::Added);
        }
    }
    tx.refresh_project(project_id).await?;
    if new_project || new_releases > 0 || new_files > 0 {
        tx.journal(project_id, "import", None, None, crate::server::now_micros())
            .await?;
    }
    tx.commit().await?;
    Ok((usize::from(new_project), new_releases, new_files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_upload_time_forms() {
        assert_eq!(parse_upload_time("1970-01-01T00:00:01"), Some(1_000_000));
        assert_eq!(parse_upload_time("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(parse_upload_time("yesterday"), None);
    }

    #[test]
    fn rejects_documents_without_required_fields() {
        assert!(parse(b"{").unwrap_err().contains("not a PyPI JSON document"));
        assert!(
            parse(br#"{"info": {"name": "x"}, "releases": {}}"#).is_err(),
            "info.version missing"
        );
        assert!(
            parse(br#"{"info": {"name": "-bad-", "version": "1"}, "releases": {}}"#)
                .unwrap_err()
                .contains("invalid project name")
        );
    }

    #[test]
    fn keeps_legacy_versions() {
        let doc = br#"{"info": {"name": "pytz", "version": "2018.5"}, "releases": {"2004d": [], "2018.5": []}}"#;
        let parsed = parse(doc).expect("valid");
        let legacy: Vec<_> = parsed
            .releases
            .iter()
            .filter(|r| r.is_legacy)
            .map(|r| r.version.as_str())
            .collect();
        assert_eq!(legacy, ["2004d"]);
    }
}
