//! The JSON API (`/pypi/{name}/json`) of an upstream project. PyPI serves
//! one beside its Simple API (`{root}/pypi/{name}/json` for
//! `{root}/simple/`): it is fetched and cached like the link lists, its file
//! URLs are rewritten to ours, and what is not in the (policy-filtered)
//! link list is left out. An upstream without one (pypiserver, devpi's
//! `+simple`) gets a document made from the link list.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::header;
use serde_json::{Map, Value, json};

use super::{LinkedFile, Served, Upstream, UpstreamError, file_url, read_bounded, unix_now, version_in_filename};
use crate::server::db::{self, Db};

/// The largest JSON API document read (PyPI's biggest are some 20 MB).
const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// An upstream project's JSON API document, ready to serve.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    /// When the link list it is checked against was fetched.
    pub fetched_at: i64,
    pub stale: bool,
}

/// Where the upstream's JSON API for a project is, if it has one.
fn json_api_url(upstream: &str, normalized: &str) -> Option<String> {
    let root = upstream.strip_suffix("/simple/")?;
    Some(format!("{root}/pypi/{normalized}/json"))
}

impl Upstream {
    /// The document of `normalized` (a name with no local project), with
    /// file URLs on `origin`.
    pub async fn document(
        self: &Arc<Self>,
        db: &Db,
        normalized: &str,
        origin: &str,
    ) -> Result<Option<Document>, UpstreamError> {
        let Some(served) = self.project(db, normalized).await? else {
            return Ok(None);
        };
        let theirs = match json_api_url(&served.upstream, normalized) {
            Some(url) => self.their_document(db, normalized, &url).await?,
            None => None,
        };
        let value = match theirs {
            Some(doc) => rewritten(doc, normalized, &served.listing.files, origin),
            None => made_from(&served, normalized, origin),
        };
        Ok(Some(Document {
            value,
            fetched_at: served.fetched_at,
            stale: served.stale,
        }))
    }

    /// The upstream's own document: cached while fresh, revalidated with
    /// its ETag, the cached one when the upstream fails; `None` when it has
    /// none.
    async fn their_document(&self, db: &Db, normalized: &str, url: &str) -> Result<Option<Value>, UpstreamError> {
        let cached = db::upstream::cached_document(db, normalized).await?;
        let parse = |c: &db::upstream::CachedDocument| {
            c.document
                .as_deref()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
        };
        let now = unix_now();
        if let Some(c) = &cached
            && (self.offline || now.saturating_sub(c.fetched_at) < self.ttl.as_secs() as i64)
        {
            return Ok(parse(c));
        }
        if self.offline {
            return Ok(None);
        }
        let mut request = self.client.get(url).timeout(self.timeout);
        if let Some(etag) = cached.as_ref().and_then(|c| c.etag.as_deref()) {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        let answer = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(project = normalized, %error, "upstream JSON API unavailable: the cached document");
                self.metrics.count(&self.metrics.upstream_errors);
                return Ok(cached.as_ref().and_then(parse));
            }
        };
        let status = answer.status().as_u16();
        let stored = match status {
            304 => match cached.clone() {
                Some(mut c) => {
                    c.fetched_at = now;
                    c
                }
                None => return Ok(None),
            },
            200 => {
                let etag = answer
                    .headers()
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| v.len() <= 512)
                    .map(str::to_owned);
                match read_bounded(answer, MAX_DOCUMENT_BYTES).await {
                    Ok(body) if serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.is_object()) => {
                        db::upstream::CachedDocument {
                            document: Some(String::from_utf8_lossy(&body).into_owned()),
                            etag,
                            fetched_at: now,
                        }
                    }
                    _ => {
                        self.metrics.count(&self.metrics.upstream_errors);
                        return Ok(cached.as_ref().and_then(parse));
                    }
                }
            }
            // No JSON API for it: made from the link list, and not asked
            // again until the TTL is over.
            404 | 410 => db::upstream::CachedDocument {
                document: None,
                etag: None,
                fetched_at: now,
            },
            _ => {
                self.metrics.count(&self.metrics.upstream_errors);
                return Ok(cached.as_ref().and_then(parse));
            }
        };
        db::upstream::store_document(db, normalized, &stored).await?;
        Ok(parse(&stored))
    }
}

fn version_key(v: &str) -> Option<pep440_rs::Version> {
    v.parse().ok()
}

/// The version a document describes: the highest final release with files,
/// else the highest with files.
fn latest<'a>(versions: impl Iterator<Item = &'a String>) -> Option<String> {
    let mut parsed: Vec<(pep440_rs::Version, &String)> =
        versions.filter_map(|v| version_key(v).map(|k| (k, v))).collect();
    parsed.sort_by(|a, b| a.0.cmp(&b.0));
    parsed
        .iter()
        .rev()
        .find(|(k, _)| !k.any_prerelease())
        .or(parsed.last())
        .map(|(_, v)| (*v).clone())
}

/// The upstream's document, its files checked against the link list (by
/// filename and SHA-256) and their URLs ours; releases whose files were all
/// left out go too.
fn rewritten(mut doc: Value, normalized: &str, files: &[LinkedFile], origin: &str) -> Value {
    let admitted: HashMap<(&str, &str), &LinkedFile> = files
        .iter()
        .map(|f| ((f.filename.as_str(), f.sha256.as_str()), f))
        .collect();
    let ours = |file: &Value| -> Option<Value> {
        let filename = file.get("filename")?.as_str()?;
        let sha256 = file.get("digests")?.get("sha256")?.as_str()?;
        let linked = admitted.get(&(filename, sha256))?;
        let mut file = file.clone();
        file.as_object_mut()?
            .insert("url".into(), json!(format!("{origin}{}", file_url(normalized, linked))));
        Some(file)
    };
    let mut releases = Map::new();
    if let Some(theirs) = doc.get("releases").and_then(Value::as_object) {
        // Versions go into our URLs (`release_url`, the pages' links): only
        // what a version can be spelled with.
        let plausible = |v: &str| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'!'))
        };
        for (version, files) in theirs.iter().filter(|(v, _)| plausible(v)) {
            let listed = files.as_array().map(Vec::as_slice).unwrap_or_default();
            let kept: Vec<Value> = listed.iter().filter_map(&ours).collect();
            if listed.is_empty() || !kept.is_empty() {
                releases.insert(version.clone(), Value::Array(kept));
            }
        }
    }
    let described = doc.pointer("/info/version").and_then(Value::as_str).map(str::to_owned);
    let version = match described {
        Some(v)
            if releases
                .get(&v)
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty()) =>
        {
            Some(v)
        }
        _ => latest(
            releases
                .iter()
                .filter(|(_, f)| f.as_array().is_some_and(|f| !f.is_empty()))
                .map(|(v, _)| v),
        ),
    };
    let urls = version
        .as_ref()
        .and_then(|v| releases.get(v).cloned())
        .unwrap_or_else(|| json!([]));
    if let Some(object) = doc.as_object_mut() {
        object.insert("releases".into(), Value::Object(releases));
        object.insert("urls".into(), urls);
        if let Some(info) = object.get_mut("info").and_then(Value::as_object_mut) {
            if let Some(v) = &version {
                info.insert("version".into(), json!(v));
                info.insert(
                    "release_url".into(),
                    json!(format!("{origin}/project/{normalized}/{v}/")),
                );
            }
            info.insert("package_url".into(), json!(format!("{origin}/project/{normalized}/")));
            info.insert("project_url".into(), json!(format!("{origin}/project/{normalized}/")));
        }
    }
    doc
}

/// A document made from the link list alone: names, versions and files.
fn made_from(served: &Served, normalized: &str, origin: &str) -> Value {
    let mut releases: Map<String, Value> = Map::new();
    for f in &served.listing.files {
        let Some(version) = version_in_filename(normalized, &f.filename) else {
            continue;
        };
        let wheel = f.filename.ends_with(".whl");
        let file = json!({
            "filename": f.filename,
            "url": format!("{origin}{}", file_url(normalized, f)),
            "digests": {"sha256": f.sha256},
            "packagetype": if wheel { "bdist_wheel" } else { "sdist" },
            "python_version": if wheel { f.filename.rsplit('-').nth(2).unwrap_or("py3") } else { "source" },
            "requires_python": f.requires_python,
            "size": f.size,
            "upload_time_iso_8601": f.upload_time,
            "yanked": f.yanked.is_some(),
            "yanked_reason": f.yanked.as_deref().filter(|r| !r.is_empty()),
        });
        if let Some(Value::Array(list)) = releases.get_mut(&version) {
            list.push(file);
        } else {
            releases.insert(version, Value::Array(vec![file]));
        }
    }
    let version = latest(releases.keys());
    let urls = version
        .as_ref()
        .and_then(|v| releases.get(v).cloned())
        .unwrap_or_else(|| json!([]));
    let requires_python = urls
        .as_array()
        .and_then(|files| {
            files
                .iter()
                .find_map(|f| f.get("requires_python").and_then(Value::as_str))
        })
        .map(str::to_owned);
    json!({
        "info": {
            "name": served.listing.name,
            "version": version,
            "summary": null,
            "description": null,
            "requires_python": requires_python,
            "package_url": format!("{origin}/project/{normalized}/"),
            "project_url": format!("{origin}/project/{normalized}/"),
            "release_url": version.as_ref().map(|v| format!("{origin}/project/{normalized}/{v}/")),
        },
        "releases": releases,
        "urls": urls,
        "vulnerabilities": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linked(filename: &str, sha256: &str) -> LinkedFile {
        LinkedFile {
            filename: filename.into(),
            url: format!("https://files.example/{filename}"),
            sha256: sha256.into(),
            requires_python: Some(">=3.8".into()),
            yanked: None,
            metadata_sha256: None,
            size: Some(10),
            upload_time: None,
        }
    }

    #[test]
    fn their_document_gets_our_urls_and_loses_what_is_not_listed() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let doc = json!({
            "info": {"name": "Demo", "version": "2.0", "summary": "A demo"},
            "releases": {
                "0.1": [],
                "../../account": [],
                "1.0": [{"filename": "demo-1.0.tar.gz", "digests": {"sha256": a}, "url": "https://x/1"}],
                "2.0": [{"filename": "demo-2.0.tar.gz", "digests": {"sha256": b}, "url": "https://x/2"}],
            },
            "urls": [{"filename": "demo-2.0.tar.gz", "digests": {"sha256": b}, "url": "https://x/2"}],
        });
        // 2.0 is hidden (not in the filtered link list).
        let out = rewritten(doc, "demo", &[linked("demo-1.0.tar.gz", &a)], "https://us.example");
        assert_eq!(out["info"]["version"], "1.0");
        assert_eq!(out["info"]["summary"], "A demo");
        assert!(out["releases"].get("2.0").is_none());
        assert!(out["releases"].get("../../account").is_none(), "not a version");
        assert_eq!(out["releases"]["0.1"], json!([]));
        assert_eq!(
            out["releases"]["1.0"][0]["url"],
            format!("https://us.example/files/upstream/demo/{a}/demo-1.0.tar.gz")
        );
        assert_eq!(out["urls"], out["releases"]["1.0"]);
        assert_eq!(out["info"]["package_url"], "https://us.example/project/demo/");
    }

    #[test]
    fn a_document_is_made_from_the_link_list() {
        let served = Served {
            listing: crate::server::upstream::Listing {
                name: "Demo".into(),
                files: vec![
                    linked("demo-1.0.tar.gz", &"a".repeat(64)),
                    linked("demo-1.1rc1-py3-none-any.whl", &"b".repeat(64)),
                ],
                versions: vec![],
            },
            fetched_at: 0,
            stale: false,
            upstream: "https://up.example/+simple/".into(),
        };
        let doc = made_from(&served, "demo", "https://us.example");
        assert_eq!(doc["info"]["version"], "1.0", "the final release");
        assert_eq!(doc["info"]["requires_python"], ">=3.8");
        assert_eq!(doc["releases"]["1.1rc1"][0]["packagetype"], "bdist_wheel");
        assert_eq!(doc["urls"][0]["filename"], "demo-1.0.tar.gz");
    }

    #[test]
    fn pypi_has_a_json_api_beside_its_simple_api() {
        assert_eq!(
            json_api_url("https://pypi.org/simple/", "demo").as_deref(),
            Some("https://pypi.org/pypi/demo/json")
        );
        assert_eq!(json_api_url("https://devpi.example/root/dev/+simple/", "demo"), None);
    }
}
