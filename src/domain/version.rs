//! Release versions: PEP 440 (parsed by `pep440_rs`) or legacy strings that
//! PyPI accepted before PEP 440 existed (`2004d`, `0.1-bulbasaur`).
//!
//! A release's position in history is captured by [`ReleaseVersion::sort_key`],
//! a string whose byte order equals PEP 440 order. Storing it lets the database
//! do `ORDER BY sort_key` (SQLite and PostgreSQL alike, with a binary
//! collation) instead of loading every version into memory to sort.

use pep440_rs::{LocalSegment, PrereleaseKind, Version};
use std::cmp::Ordering;
use std::str::FromStr;

/// A version as published: valid PEP 440, or a legacy string we keep verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseVersion {
    Pep440(Version),
    Legacy(String),
}

impl ReleaseVersion {
    /// Never fails: anything that is not PEP 440 is kept as a legacy version.
    pub fn parse(raw: &str) -> Self {
        match Version::from_str(raw.trim()) {
            Ok(v) => Self::Pep440(v),
            Err(_) => Self::Legacy(raw.to_owned()),
        }
    }

    pub fn is_legacy(&self) -> bool {
        matches!(self, Self::Legacy(_))
    }

    /// PEP 440 pre-release: alpha, beta, rc or dev. Legacy versions are not.
    pub fn is_prerelease(&self) -> bool {
        match self {
            Self::Pep440(v) => v.any_prerelease(),
            Self::Legacy(_) => false,
        }
    }

    /// A key whose lexicographic (byte) order is the release order: legacy
    /// versions first, ordered by upload time (microseconds since the epoch,
    /// 0 when unknown), then every PEP 440 version in PEP 440 order.
    /// Versions that PEP 440 considers equal (`1.0` and `1.0.0`) get equal keys.
    pub fn sort_key(&self, upload_time_micros: i64) -> String {
        let mut key = String::with_capacity(48);
        match self {
            Self::Legacy(_) => {
                key.push('0');
                key.push_str(&format!("{:016x}", upload_time_micros.max(0)));
            }
            Self::Pep440(v) => {
                key.push('1');
                push_number(&mut key, v.epoch());
                // Release: trailing zeros do not count (1.0 == 1.0.0).
                let release = v.release();
                let significant = release.iter().rposition(|&n| n != 0).map_or(0, |i| i + 1);
                for &n in &release[..significant] {
                    key.push('1');
                    push_number(&mut key, n);
                }
                key.push('0');
                // Pre-release phase: a bare dev release sorts before alphas,
                // no pre-release sorts after every rc.
                match (v.pre(), v.post(), v.dev()) {
                    (None, None, Some(_)) => key.push('0'),
                    (Some(pre), _, _) => {
                        key.push(match pre.kind {
                            PrereleaseKind::Alpha => '1',
                            PrereleaseKind::Beta => '2',
                            PrereleaseKind::Rc => '3',
                        });
                        push_number(&mut key, pre.number);
                    }
                    (None, _, _) => key.push('4'),
                }
                // Post-release: none sorts before any.
                match v.post() {
                    None => key.push('0'),
                    Some(n) => {
                        key.push('1');
                        push_number(&mut key, n);
                    }
                }
                // Dev-release: any sorts before none.
                match v.dev() {
                    Some(n) => {
                        key.push('0');
                        push_number(&mut key, n);
                    }
                    None => key.push('1'),
                }
                // Local version: none sorts first; numbers beat strings;
                // fewer segments sort first when one is a prefix of the other.
                for segment in v.local() {
                    match segment {
                        LocalSegment::String(s) => {
                            key.push('1');
                            for b in s.to_ascii_lowercase().bytes() {
                                key.push_str(&format!("{b:02x}"));
                            }
                            key.push_str("00");
                        }
                        LocalSegment::Number(n) => {
                            key.push('2');
                            push_number(&mut key, *n);
                        }
                    }
                }
                key.push('0');
            }
        }
        key
    }
}

impl std::fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pep440(v) => write!(f, "{v}"),
            Self::Legacy(s) => f.write_str(s),
        }
    }
}

/// An order-preserving encoding of a number: its hex digit count, then the
/// digits. Longer numbers are larger, so the text compares like the number.
fn push_number(key: &mut String, n: u64) {
    let digits = format!("{n:x}");
    key.push(char::from_digit(digits.len() as u32 - 1, 16).unwrap_or('f'));
    key.push_str(&digits);
}

/// What the index needs to know about a release to pick the project's latest.
#[derive(Debug, Clone)]
pub struct LatestCandidate<'a> {
    pub sort_key: &'a str,
    pub is_prerelease: bool,
    pub yanked: bool,
}

/// PyPI's "latest version": the newest non-yanked final release, else the
/// newest non-yanked pre-release, else (everything yanked) the newest release.
/// Returns the index of the chosen candidate.
pub fn latest_index(candidates: &[LatestCandidate<'_>]) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| {
            // Preference: not yanked, then final over pre-release, then newest.
            (!a.yanked)
                .cmp(&!b.yanked)
                .then((!a.is_prerelease).cmp(&!b.is_prerelease))
                .then(a.sort_key.cmp(b.sort_key))
                .then(Ordering::Equal)
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: &str) -> String {
        ReleaseVersion::parse(v).sort_key(0)
    }

    #[test]
    fn sort_key_orders_like_pep_440() {
        // Each entry is strictly greater than the one before it.
        let ordered = [
            "0.9",
            "1.0.dev0",
            "1.0.dev1",
            "1.0a1.dev1",
            "1.0a1",
            "1.0a1.post1.dev1",
            "1.0a1.post1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0rc1.post1",
            "1.0",
            "1.0+abc",
            "1.0+abc.5",
            "1.0+abd",
            "1.0+1",
            "1.0+5",
            "1.0.post1.dev0",
            "1.0.post1",
            "1.0.post2",
            "1.0.1",
            "1.1.dev1",
            "1.1",
            "1.2",
            "1.10",
            "1.100",
            "2",
            "10",
            "2018.4",
            "1!0.1",
            "1!1.0",
        ];
        for pair in ordered.windows(2) {
            assert!(key(pair[0]) < key(pair[1]), "{} < {}", pair[0], pair[1]);
            let (a, b) = (Version::from_str(pair[0]).unwrap(), Version::from_str(pair[1]).unwrap());
            assert_eq!(a.cmp(&b), Ordering::Less, "pep440_rs agrees: {} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn equal_versions_have_equal_keys() {
        assert_eq!(key("1.0"), key("1.0.0"));
        assert_eq!(key("1.0"), key("1"));
        assert_eq!(key("1.0a1"), key("1.0alpha1"));
        assert_eq!(key("1.0.post1"), key("1.0-1"));
        assert_eq!(key("v1.0"), key("1.0"));
    }

    #[test]
    fn large_numbers_keep_their_order() {
        assert!(key("20180101") > key("9999999"));
        assert!(key(&format!("{}", u64::MAX)) > key(&format!("{}", u64::MAX / 2)));
    }

    #[test]
    fn legacy_versions_sort_first_by_upload_time() {
        let bulbasaur = ReleaseVersion::parse("0.1-bulbasaur");
        let pytz = ReleaseVersion::parse("2004d");
        assert!(bulbasaur.is_legacy() && pytz.is_legacy());
        assert!(!bulbasaur.is_prerelease());
        let early = pytz.sort_key(1_000_000);
        let late = bulbasaur.sort_key(2_000_000);
        assert!(early < late);
        assert!(late < key("0.0.1.dev0"), "legacy sorts before every valid version");
        assert_eq!(bulbasaur.to_string(), "0.1-bulbasaur", "kept verbatim");
    }

    #[test]
    fn prerelease_detection() {
        assert!(ReleaseVersion::parse("1.0rc1").is_prerelease());
        assert!(ReleaseVersion::parse("1.0.dev3").is_prerelease());
        assert!(!ReleaseVersion::parse("1.0.post1").is_prerelease());
        assert!(!ReleaseVersion::parse("1.0").is_prerelease());
    }

    fn latest(versions: &[(&str, bool)]) -> Option<String> {
        let keys: Vec<(String, bool, bool)> = versions
            .iter()
            .map(|(v, yanked)| (key(v), ReleaseVersion::parse(v).is_prerelease(), *yanked))
            .collect();
        let candidates: Vec<LatestCandidate> = keys
            .iter()
            .map(|(k, pre, yanked)| LatestCandidate {
                sort_key: k,
                is_prerelease: *pre,
                yanked: *yanked,
            })
            .collect();
        latest_index(&candidates).map(|i| versions[i].0.to_owned())
    }

    #[test]
    fn latest_prefers_final_over_newer_prerelease() {
        assert_eq!(
            latest(&[("1.0", false), ("2.0rc1", false), ("1.1", false)]),
            Some("1.1".into())
        );
    }

    #[test]
    fn latest_falls_back_to_prerelease_when_no_final() {
        assert_eq!(
            latest(&[("1.0a1", false), ("1.0b2", false), ("0.9.dev1", false)]),
            Some("1.0b2".into())
        );
    }

    #[test]
    fn latest_skips_yanked() {
        assert_eq!(
            latest(&[("1.0", false), ("1.1", true), ("1.2rc1", false)]),
            Some("1.0".into())
        );
        assert_eq!(
            latest(&[("1.0", true), ("1.1", true)]),
            Some("1.1".into()),
            "all yanked: newest"
        );
        assert_eq!(latest(&[]), None);
    }

    #[test]
    fn latest_counts_legacy_as_final_but_older() {
        let (old, new) = (
            ReleaseVersion::parse("2004d").sort_key(1),
            ReleaseVersion::parse("2004e").sort_key(2),
        );
        assert!(ReleaseVersion::parse("2004e").is_legacy());
        let candidate = |k| LatestCandidate {
            sort_key: k,
            is_prerelease: false,
            yanked: false,
        };
        assert_eq!(
            latest_index(&[candidate(&new), candidate(&old)]),
            Some(0),
            "newest upload among legacy"
        );
        // "2005a" is valid PEP 440 (an alpha): a legacy final release beats it.
        assert!(ReleaseVersion::parse("2005a").is_prerelease());
        assert_eq!(latest(&[("2004d", false), ("2005a", false)]), Some("2004d".into()));
        assert_eq!(latest(&[("2004d", false), ("0.1", false)]), Some("0.1".into()));
    }
}
