//! Core metadata of an upload, parsed and checked as PyPI checks it, from
//! either source: the upload form (what twine and uv send beside the file)
//! and the archive itself (a wheel's `METADATA`, an sdist's `PKG-INFO`).
//!
//! Every field is bounded in size and count and free of control
//! characters; `Requires-Python` is parsed as PEP 440 specifiers and each
//! `Requires-Dist` as a PEP 508 requirement (with their authors' crates);
//! classifiers must be on PyPA's trove list and not deprecated. The
//! archive's metadata is what the index keeps and serves (pip and uv
//! resolve from it), and it must name the same project and version as the
//! form and the filename.

use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};

use crate::domain::dist::{MAX_VERSION_LEN, parse_upload_version};
use crate::domain::text::{check_line, check_multiline};
use crate::domain::{ProjectName, normalize_project_name};
use crate::server::db::write::ReleaseMetadata;
use crate::server::render::MAX_DESCRIPTION_BYTES;
use crate::server::trove::{self, ClassifierError};

/// Metadata versions PyPI accepts (Warehouse's `SUPPORTED_METADATA_VERSIONS`).
pub const METADATA_VERSIONS: &[&str] = &["1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"];

const MAX_SUMMARY: usize = 512;
const MAX_SHORT: usize = 1024;
const MAX_URL: usize = 2048;
const MAX_LICENSE: usize = 64 * 1024;
const MAX_KEYWORDS: usize = 8 * 1024;
const MAX_REQUIREMENT: usize = 1024;
const MAX_REQUIRES_PYTHON: usize = 256;
const MAX_PROJECT_URL_LABEL: usize = 32;
const MAX_CLASSIFIERS: usize = 1000;
const MAX_REQUIREMENTS: usize = 1000;
const MAX_PROJECT_URLS: usize = 100;
const MAX_PLATFORMS: usize = 100;
/// Parentheses a marker may nest: the PEP 508 parser recurses on them.
const MAX_MARKER_NESTING: usize = 16;
/// Comparisons a marker may hold: the parser puts markers in a normal form
/// (decision diagrams) whose size can double with every comparison on a
/// new variable; 14 pairs of `extra == ... and extra == ...` or-ed together
/// took over 70 ms, 40 pairs longer than anyone waited. Real markers have a
/// handful.
const MAX_MARKER_COMPARISONS: usize = 16;
/// A METADATA or PKG-INFO file larger than this is not plausible.
pub const MAX_METADATA_FILE: usize = MAX_DESCRIPTION_BYTES + 1024 * 1024;

/// Metadata fields as strings, before any check.
#[derive(Debug, Default, Clone)]
pub struct RawMetadata {
    pub metadata_version: String,
    pub name: String,
    pub version: String,
    pub summary: String,
    pub description: String,
    pub description_content_type: String,
    pub author: String,
    pub author_email: String,
    pub maintainer: String,
    pub maintainer_email: String,
    pub license: String,
    pub license_expression: String,
    pub keywords: String,
    pub home_page: String,
    pub download_url: String,
    pub platforms: Vec<String>,
    /// `Label, https://...` entries.
    pub project_urls: Vec<String>,
    pub classifiers: Vec<String>,
    pub requires_dist: Vec<String>,
    pub requires_python: String,
}

/// Checked metadata: what a release row keeps (its description not yet rendered).
#[derive(Debug, Clone)]
pub struct CoreMetadata {
    pub name: ProjectName,
    pub version: Version,
    pub release: ReleaseMetadata,
}

/// Parses a `METADATA` or `PKG-INFO` file (the core metadata's email
/// format) with PyO3's `python-pkginfo`.
pub fn parse_metadata_file(bytes: &[u8]) -> Result<RawMetadata, String> {
    if bytes.len() > MAX_METADATA_FILE {
        return Err("it is too large".into());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("it is empty".into());
    }
    let m = python_pkginfo::Metadata::parse(bytes).map_err(|e| match e {
        python_pkginfo::Error::FieldNotFound(field) => format!("it has no {field} field"),
        _ => "it is not in the core metadata format".to_owned(),
    })?;
    // Before Metadata 2.1 the description was a header, each further line
    // indented by 8 spaces (or 7 and a `|`); a body is taken as it is.
    let body_is_empty = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .is_none_or(|at| bytes[at..].iter().all(u8::is_ascii_whitespace));
    let description = m.description.unwrap_or_default();
    let description = if body_is_empty {
        unfold_description(&description)
    } else {
        description
    };
    Ok(RawMetadata {
        metadata_version: m.metadata_version,
        name: m.name,
        version: m.version,
        summary: m.summary.unwrap_or_default(),
        description,
        description_content_type: m.description_content_type.unwrap_or_default(),
        author: m.author.unwrap_or_default(),
        author_email: m.author_email.unwrap_or_default(),
        maintainer: m.maintainer.unwrap_or_default(),
        maintainer_email: m.maintainer_email.unwrap_or_default(),
        license: m.license.unwrap_or_default(),
        license_expression: m.license_expression.unwrap_or_default(),
        keywords: m.keywords.unwrap_or_default(),
        home_page: m.home_page.unwrap_or_default(),
        download_url: m.download_url.unwrap_or_default(),
        platforms: m.platforms,
        project_urls: m.project_urls,
        classifiers: m.classifiers,
        requires_dist: m.requires_dist,
        requires_python: m.requires_python.unwrap_or_default(),
    })
}

/// A `Description:` header's text without the indentation that continued it.
fn unfold_description(header: &str) -> String {
    let mut lines = header.split('\n');
    let mut out = String::with_capacity(header.len());
    out.push_str(lines.next().unwrap_or("").trim_end_matches('\r'));
    for line in lines {
        out.push('\n');
        let line = line.trim_end_matches('\r');
        let line = line
            .strip_prefix("        ")
            .or_else(|| line.strip_prefix("       |"))
            .unwrap_or(line);
        out.push_str(line);
    }
    out
}

fn field_error(field: &str, why: impl std::fmt::Display) -> String {
    format!("'{field}' {why}.")
}

fn line(field: &str, value: &str, max: usize) -> Result<String, String> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(field_error(field, format_args!("must be {max} characters or less")));
    }
    check_line(value).map_err(|why| field_error(field, why))?;
    Ok(if value == "UNKNOWN" {
        String::new()
    } else {
        value.to_owned()
    })
}

fn list<'a>(field: &str, values: &'a [String], max_count: usize) -> Result<Vec<&'a str>, String> {
    let values: Vec<&str> = values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
    if values.len() > max_count {
        return Err(field_error(
            field,
            format_args!("may be given at most {max_count} times"),
        ));
    }
    Ok(values)
}

fn url(field: &str, value: &str) -> Result<String, String> {
    let value = line(field, value, MAX_URL)?;
    if value.contains(char::is_whitespace) {
        return Err(field_error(field, "is not a valid URL"));
    }
    Ok(value)
}

/// `Requires-Python`: PEP 440 version specifiers.
pub fn requires_python(value: &str) -> Result<String, String> {
    let value = line("requires_python", value, MAX_REQUIRES_PYTHON)?;
    if !value.is_empty() {
        VersionSpecifiers::from_str(&value).map_err(|e| {
            field_error(
                "requires_python",
                format_args!("is not a valid PEP 440 version specifier ({e})"),
            )
        })?;
    }
    Ok(value)
}

/// One `Requires-Dist`: a PEP 508 requirement on a project of an index
/// (not a direct URL, which PyPI refuses too).
pub fn requirement(value: &str) -> Result<(), String> {
    let nesting = value
        .chars()
        .scan(0usize, |depth, c| {
            match c {
                '(' => *depth += 1,
                ')' => *depth = depth.saturating_sub(1),
                _ => {}
            }
            Some(*depth)
        })
        .max()
        .unwrap_or(0);
    if nesting > MAX_MARKER_NESTING {
        return Err(field_error(
            "requires_dist",
            format_args!("nests parentheses more than {MAX_MARKER_NESTING} deep"),
        ));
    }
    if marker_comparisons(value) > MAX_MARKER_COMPARISONS {
        return Err(field_error(
            "requires_dist",
            format_args!("has a marker of more than {MAX_MARKER_COMPARISONS} comparisons"),
        ));
    }
    let requirement = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(value).map_err(|e| {
        let first_line = e.to_string().lines().next().unwrap_or("").to_owned();
        field_error(
            "requires_dist",
            format_args!(
                "has an invalid PEP 508 requirement {:?} ({first_line})",
                value.chars().take(80).collect::<String>()
            ),
        )
    })?;
    if matches!(requirement.version_or_url, Some(pep508_rs::VersionOrUrl::Url(_))) {
        return Err(field_error(
            "requires_dist",
            format_args!("cannot have a direct dependency: {value:?}"),
        ));
    }
    Ok(())
}

/// How many comparisons the environment marker of a requirement (after its
/// `;`) holds, counted by their operators (`==`, `<=`, `in`, ...); operators
/// inside quoted values count too, which only errs on the strict side.
fn marker_comparisons(requirement: &str) -> usize {
    let Some((_, marker)) = requirement.split_once(';') else {
        return 0;
    };
    let bytes = marker.as_bytes();
    let mut count = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' | b'>' | b'=' | b'!' | b'~' => {
                count += 1;
                // One operator, however many of its characters follow.
                while i < bytes.len() && matches!(bytes[i], b'<' | b'>' | b'=' | b'!' | b'~') {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    count
        + marker
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| *word == "in")
            .count()
}

fn classifier(value: &str) -> Result<(), String> {
    match trove::check(value) {
        Ok(()) => Ok(()),
        Err(ClassifierError::Unknown) => Err(format!(
            "Classifier {:?} is not a valid classifier.",
            value.chars().take(120).collect::<String>()
        )),
        Err(ClassifierError::Deprecated([])) => Err(format!("The classifier {value:?} has been deprecated.")),
        Err(ClassifierError::Deprecated(instead)) => Err(format!(
            "The classifier {value:?} has been deprecated, use one of {instead:?} instead."
        )),
    }
}

/// `text/plain`, `text/x-rst` or `text/markdown`, with `charset=UTF-8` and
/// for Markdown a `variant` (GFM or CommonMark), as the spec allows.
fn content_type(value: &str) -> Result<String, String> {
    let value = line("description_content_type", value, 128)?;
    if value.is_empty() {
        return Ok(value);
    }
    let mut parts = value.split(';').map(str::trim);
    let mime = parts.next().unwrap_or("").to_ascii_lowercase();
    let known = matches!(mime.as_str(), "text/plain" | "text/x-rst" | "text/markdown");
    let params_ok = parts.all(|p| {
        let (key, val) = p.split_once('=').unwrap_or((p, ""));
        match key.trim().to_ascii_lowercase().as_str() {
            "charset" => val.trim().eq_ignore_ascii_case("utf-8"),
            "variant" => mime == "text/markdown" && matches!(val.trim(), "GFM" | "CommonMark"),
            _ => false,
        }
    });
    if known && params_ok {
        Ok(value)
    } else {
        Err(field_error(
            "description_content_type",
            "must be text/plain, text/x-rst or text/markdown (with charset=UTF-8 and, for Markdown, variant=GFM or CommonMark)",
        ))
    }
}

/// Checks every field; the first problem is the error.
pub fn validate(raw: &RawMetadata) -> Result<CoreMetadata, String> {
    let metadata_version = raw.metadata_version.trim();
    if metadata_version.is_empty() {
        return Err("Missing 'metadata_version'.".into());
    }
    if !METADATA_VERSIONS.contains(&metadata_version) {
        return Err(format!(
            "{:?} is not a valid metadata version: use one of {}.",
            metadata_version.chars().take(20).collect::<String>(),
            METADATA_VERSIONS.join(", ")
        ));
    }
    let name = ProjectName::parse(raw.name.trim()).map_err(|e| {
        format!(
            "Invalid project name {:?}: {e}.",
            raw.name.trim().chars().take(80).collect::<String>()
        )
    })?;
    let version = parse_upload_version(&line("version", &raw.version, MAX_VERSION_LEN)?)?;

    if raw.description.len() > MAX_DESCRIPTION_BYTES {
        return Err(format!(
            "'description' is {} bytes; the largest this index accepts is {MAX_DESCRIPTION_BYTES} bytes (1 MiB).",
            raw.description.len()
        ));
    }
    check_multiline(&raw.description).map_err(|why| field_error("description", why))?;
    let license = raw.license.trim();
    if license.len() > MAX_LICENSE {
        return Err(field_error(
            "license",
            format_args!("must be {MAX_LICENSE} bytes or less"),
        ));
    }
    check_multiline(license).map_err(|why| field_error("license", why))?;
    let license_expression = line("license_expression", &raw.license_expression, MAX_SHORT)?;

    let mut project_urls = Vec::new();
    for entry in list("project_urls", &raw.project_urls, MAX_PROJECT_URLS)? {
        let (label, target) = entry
            .split_once(',')
            .ok_or_else(|| field_error("project_urls", "entries must be 'Label, URL'"))?;
        let label = line("project_urls", label, MAX_PROJECT_URL_LABEL)?;
        if label.is_empty() {
            return Err(field_error("project_urls", "entries need a label"));
        }
        project_urls.push((label, url("project_urls", target)?));
    }
    let mut classifiers = Vec::new();
    for value in list("classifiers", &raw.classifiers, MAX_CLASSIFIERS)? {
        classifier(value)?;
        if !classifiers.iter().any(|c: &String| c == value) {
            classifiers.push(value.to_owned());
        }
    }
    let mut requires_dist = Vec::new();
    for value in list("requires_dist", &raw.requires_dist, MAX_REQUIREMENTS)? {
        let value = line("requires_dist", value, MAX_REQUIREMENT)?;
        requirement(&value)?;
        requires_dist.push(value);
    }
    let mut platforms = Vec::new();
    for value in list("platform", &raw.platforms, MAX_PLATFORMS)? {
        let value = line("platform", value, MAX_SHORT)?;
        if !value.is_empty() {
            platforms.push(value);
        }
    }

    let release = ReleaseMetadata {
        summary: line("summary", &raw.summary, MAX_SUMMARY)?,
        description: raw.description.clone(),
        description_content_type: content_type(&raw.description_content_type)?,
        author: line("author", &raw.author, MAX_SHORT)?,
        author_email: line("author_email", &raw.author_email, MAX_SHORT)?,
        maintainer: line("maintainer", &raw.maintainer, MAX_SHORT)?,
        maintainer_email: line("maintainer_email", &raw.maintainer_email, MAX_SHORT)?,
        license: if license.is_empty() || license == "UNKNOWN" {
            license_expression
        } else {
            license.to_owned()
        },
        keywords: line("keywords", &raw.keywords, MAX_KEYWORDS)?,
        home_page: url("home_page", &raw.home_page)?,
        download_url: url("download_url", &raw.download_url)?,
        docs_url: String::new(),
        platform: platforms.join(", "),
        requires_python: requires_python(&raw.requires_python)?,
        project_urls_json: json(&project_urls),
        classifiers_json: json(&classifiers),
        requires_dist_json: json(&requires_dist),
        description_html: String::new(),
    };
    Ok(CoreMetadata { name, version, release })
}

/// Lists of strings and pairs serialize infallibly; `[]` keeps the column valid regardless.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// The archive's metadata must describe what the form and the filename say.
pub fn check_agreement(form: &CoreMetadata, archive: &CoreMetadata, source: &str) -> Result<(), String> {
    if normalize_project_name(archive.name.as_str()) != normalize_project_name(form.name.as_str()) {
        return Err(format!(
            "The {source} names the project {:?}, but the upload is for {:?}.",
            archive.name.as_str(),
            form.name.as_str()
        ));
    }
    if archive.version != form.version {
        return Err(format!(
            "The {source} says version {}, but the upload is for version {}.",
            archive.version, form.version
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawMetadata {
        RawMetadata {
            metadata_version: "2.1".into(),
            name: "Cheese-Shop".into(),
            version: "1.0".into(),
            summary: "A cheese shop".into(),
            description: "# Cheese\n\nAll of it.".into(),
            description_content_type: "text/markdown; charset=UTF-8; variant=GFM".into(),
            classifiers: vec!["Programming Language :: Python :: 3".into()],
            requires_dist: vec!["requests>=2; python_version >= \"3.8\" and extra == 'web'".into()],
            requires_python: ">=3.8, <4".into(),
            project_urls: vec!["Source, https://example.org/src".into()],
            ..RawMetadata::default()
        }
    }

    fn error_of(change: impl FnOnce(&mut RawMetadata)) -> String {
        let mut m = raw();
        change(&mut m);
        validate(&m).expect_err("invalid")
    }

    #[test]
    fn good_metadata_passes() {
        let m = validate(&raw()).unwrap();
        assert_eq!(m.name.as_str(), "Cheese-Shop");
        assert_eq!(m.version.to_string(), "1.0");
        assert_eq!(m.release.requires_python, ">=3.8, <4");
        assert!(m.release.requires_dist_json.contains("requests>=2"));
        assert_eq!(m.release.project_urls_json, r#"[["Source","https://example.org/src"]]"#);
    }

    #[test]
    fn each_field_is_checked() {
        type Change = Box<dyn FnOnce(&mut RawMetadata)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|m| m.metadata_version = "3.0".into()),
                "not a valid metadata version",
            ),
            (
                Box::new(|m| m.metadata_version = String::new()),
                "Missing 'metadata_version'",
            ),
            (Box::new(|m| m.version = "1.0+evil".into()), "local versions"),
            (Box::new(|m| m.version = "one".into()), "PEP 440"),
            (Box::new(|m| m.name = "-bad-".into()), "Invalid project name"),
            (
                Box::new(|m| m.requires_python = ">=3\" autofocus onfocus=\"alert(1)".into()),
                "requires_python",
            ),
            (Box::new(|m| m.requires_python = "three".into()), "requires_python"),
            (
                Box::new(|m| m.requires_dist = vec!["requests >=< 2".into()]),
                "requires_dist",
            ),
            (
                Box::new(|m| m.requires_dist = vec!["pkg @ https://evil.example/pkg.whl".into()]),
                "direct dependency",
            ),
            (
                Box::new(|m| {
                    m.requires_dist = vec![format!(
                        "pkg; {}python_version > '3'{}",
                        "(".repeat(100),
                        ")".repeat(100)
                    )]
                }),
                "nests parentheses",
            ),
            (
                Box::new(|m| {
                    let pairs: Vec<String> = (0..20)
                        .map(|i| format!("(extra == 'a{i}' and extra == 'b{i}')"))
                        .collect();
                    m.requires_dist = vec![format!("pkg; {}", pairs.join(" or "))];
                }),
                "comparisons",
            ),
            (
                Box::new(|m| m.classifiers = vec!["Cheese :: Brie".into()]),
                "not a valid classifier",
            ),
            (
                Box::new(|m| m.classifiers = vec!["Programming Language :: Python :: 3".into(); 1001]),
                "at most 1000",
            ),
            (Box::new(|m| m.summary = "two\nlines".into()), "'summary'"),
            (Box::new(|m| m.summary = "x".repeat(513)), "512 characters"),
            (Box::new(|m| m.author = "evil\u{202E}".into()), "bidirectional"),
            (Box::new(|m| m.author_email = "a\u{0}@example.org".into()), "control"),
            (Box::new(|m| m.description = "a\u{1b}[2J".into()), "'description'"),
            (
                Box::new(|m| m.description = "x".repeat(MAX_DESCRIPTION_BYTES + 1)),
                "1 MiB",
            ),
            (
                Box::new(|m| m.description_content_type = "text/html".into()),
                "description_content_type",
            ),
            (Box::new(|m| m.project_urls = vec!["no url here".into()]), "Label, URL"),
            (
                Box::new(|m| m.project_urls = vec![format!("{}, https://x.example", "l".repeat(33))]),
                "32",
            ),
            (Box::new(|m| m.home_page = "https://a b".into()), "not a valid URL"),
        ];
        for (change, expected) in cases {
            let error = error_of(change);
            assert!(error.contains(expected), "{error:?} should mention {expected:?}");
        }
    }

    #[test]
    fn marker_comparisons_are_counted() {
        assert_eq!(super::marker_comparisons("requests>=2"), 0);
        assert_eq!(super::marker_comparisons("a; python_version >= '3.8'"), 1);
        assert_eq!(
            super::marker_comparisons("a>=1,<2; (python_version < '3.10' or os_name != 'nt') and extra == 'x'"),
            3
        );
        assert_eq!(
            super::marker_comparisons("a; 'linux' in sys_platform and 'x' not in extra"),
            2
        );
        // Real requirements pass: the longest of the shared dataset.
        assert!(requirement(
            r#"win-inet-pton; sys_platform == "win32" and (python_version == "2.7" or python_version == "2.6") and extra == 'socks'"#
        )
        .is_ok());
        // And the costliest marker under the limit is still cheap.
        let pairs: Vec<String> = (0..8)
            .map(|i| format!("(extra == 'a{i}' and extra == 'b{i}')"))
            .collect();
        let started = std::time::Instant::now();
        assert!(requirement(&format!("pkg; {}", pairs.join(" or "))).is_ok());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn metadata_files_parse() {
        let file = b"Metadata-Version: 2.1\nName: cheese\nVersion: 1.0\nRequires-Python: >=3.9\nRequires-Dist: brie>=1\nClassifier: Framework :: Django\n\nThe description.\n";
        let raw = parse_metadata_file(file).unwrap();
        assert_eq!((raw.name.as_str(), raw.version.as_str()), ("cheese", "1.0"));
        assert_eq!(raw.requires_python, ">=3.9");
        assert_eq!(raw.requires_dist, ["brie>=1"]);
        assert_eq!(raw.description.trim(), "The description.");
        assert!(validate(&raw).is_ok());
        assert!(parse_metadata_file(b"").unwrap_err().contains("empty"));
        assert!(parse_metadata_file(b"\n\n").unwrap_err().contains("empty"));
        assert!(
            parse_metadata_file(b"Name: x\nVersion: 1\n")
                .unwrap_err()
                .contains("Metadata-Version")
        );
    }

    #[test]
    fn an_old_style_description_header_is_unfolded() {
        let file = b"Metadata-Version: 1.1\nName: old\nVersion: 1.0\nDescription: Title\n        =====\n        \n        Text.\n       |    indented\nPlatform: UNKNOWN\n";
        let raw = parse_metadata_file(file).unwrap();
        assert_eq!(raw.description, "Title\n=====\n\nText.\n    indented");
        assert!(raw.platforms.is_empty(), "UNKNOWN is nothing");
    }

    #[test]
    fn archive_and_form_must_agree() {
        let form = validate(&raw()).unwrap();
        let mut other = raw();
        other.name = "cheese_shop".into();
        other.version = "1.0.0".into();
        assert!(
            check_agreement(&form, &validate(&other).unwrap(), "METADATA").is_ok(),
            "same after normalization"
        );
        other.name = "other".into();
        assert!(check_agreement(&form, &validate(&other).unwrap(), "METADATA").is_err());
        let mut other = raw();
        other.version = "2.0".into();
        assert!(check_agreement(&form, &validate(&other).unwrap(), "METADATA").is_err());
    }
}
