//! What of an upstream may be served: a minimum age (a supply-chain
//! cooldown: a file uploaded more recently than `CHEESESHOP_UPSTREAM_MIN_AGE`
//! is not offered yet) and a deny list of projects and versions
//! (`CHEESESHOP_UPSTREAM_DENY`). Applied when a list is served and when a
//! file is asked for, not when it is cached, so a change of policy applies
//! to what is cached already.

use std::time::Duration;

use pep440_rs::Version;

use super::LinkedFile;
use crate::domain::normalize_project_name;

/// A deny-list entry: a whole project, or one version of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyRule {
    pub project: String,
    pub version: Option<Version>,
}

impl DenyRule {
    /// `name` or `name==version`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (name, version) = match text.split_once("==") {
            Some((name, version)) => (name.trim(), Some(version.trim().parse::<Version>().ok()?)),
            None => (text, None),
        };
        let valid = !name.is_empty()
            && name.len() <= 200
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        valid.then(|| Self {
            project: normalize_project_name(name),
            version,
        })
    }
}

/// Parses a comma-separated deny list.
pub fn parse_deny_list(text: &str) -> Option<Vec<DenyRule>> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(DenyRule::parse)
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub min_age: Option<Duration>,
    pub deny: Vec<DenyRule>,
}

impl Policy {
    /// Whether nothing of the project may come from upstream.
    pub fn denies_project(&self, normalized: &str) -> bool {
        self.deny.iter().any(|r| r.project == normalized && r.version.is_none())
    }

    /// Whether the file may be offered, `now` in Unix seconds. A file whose
    /// upload time the upstream did not give (an HTML page) cannot be judged
    /// by age and is offered.
    pub fn admits(&self, normalized: &str, file: &LinkedFile, now: i64) -> bool {
        if self.denies_project(normalized) {
            return false;
        }
        if let Some(min_age) = self.min_age
            && let Some(uploaded) = file.upload_time.as_deref().and_then(unix_seconds)
            && now.saturating_sub(uploaded) < min_age.as_secs() as i64
        {
            return false;
        }
        let denied_versions: Vec<&Version> = self
            .deny
            .iter()
            .filter(|r| r.project == normalized)
            .filter_map(|r| r.version.as_ref())
            .collect();
        if !denied_versions.is_empty()
            && let Some(version) = super::version_in_filename(normalized, &file.filename)
            && let Ok(version) = version.parse::<Version>()
            && denied_versions.contains(&&version)
        {
            return false;
        }
        true
    }

    pub fn is_empty(&self) -> bool {
        self.min_age.is_none() && self.deny.is_empty()
    }
}

fn unix_seconds(iso: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(iso).ok().map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(filename: &str, uploaded: Option<&str>) -> LinkedFile {
        LinkedFile {
            filename: filename.into(),
            url: String::new(),
            sha256: String::new(),
            requires_python: None,
            yanked: None,
            metadata_sha256: None,
            size: None,
            upload_time: uploaded.map(str::to_owned),
        }
    }

    #[test]
    fn deny_rules_parse_names_and_versions() {
        assert_eq!(
            DenyRule::parse("Evil_Pkg"),
            Some(DenyRule {
                project: "evil-pkg".into(),
                version: None
            })
        );
        let rule = DenyRule::parse(" requests == 2.32.0 ").expect("rule");
        assert_eq!(rule.project, "requests");
        assert_eq!(rule.version, Some("2.32".parse().expect("version")), "PEP 440 equality");
        assert_eq!(DenyRule::parse("requests==not a version"), None);
        assert_eq!(DenyRule::parse("a/b"), None);
        assert_eq!(DenyRule::parse(""), None);
        assert_eq!(parse_deny_list("a, b==1.0,,").map(|l| l.len()), Some(2));
        assert_eq!(parse_deny_list("a, !b"), None);
    }

    #[test]
    fn young_files_and_denied_versions_are_not_offered() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-06-10T00:00:00Z")
            .expect("time")
            .timestamp();
        let policy = Policy {
            min_age: Some(Duration::from_secs(7 * 86_400)),
            deny: vec![DenyRule::parse("demo==2.0").expect("rule")],
        };
        let old = file("demo-1.0.tar.gz", Some("2024-05-01T00:00:00.000000Z"));
        let young = file("demo-3.0-py3-none-any.whl", Some("2024-06-09T00:00:00Z"));
        let denied = file("demo-2.0.tar.gz", Some("2024-05-01T00:00:00Z"));
        let unknown_age = file("demo-1.1.tar.gz", None);
        assert!(policy.admits("demo", &old, now));
        assert!(!policy.admits("demo", &young, now), "uploaded a day ago");
        assert!(!policy.admits("demo", &denied, now), "denied version");
        assert!(policy.admits("demo", &unknown_age, now));
        assert!(policy.admits("other", &file("other-2.0.tar.gz", None), now));
        let whole = Policy {
            min_age: None,
            deny: vec![DenyRule::parse("demo").expect("rule")],
        };
        assert!(whole.denies_project("demo"));
        assert!(!whole.admits("demo", &old, now));
    }
}
