//! Distribution files as uploaded: the kinds an index accepts and the rules
//! that tie a filename to its project and version (the binary distribution
//! format spec for wheels, PEP 625 and the source distribution format for
//! sdists). Parsed once, so nothing downstream re-checks a filename.

use std::str::FromStr;

use pep440_rs::Version;

use super::project_name::normalize_project_name;

/// Longest filename we accept (a common filesystem limit).
pub const MAX_FILENAME_LEN: usize = 255;

/// What an upload's `filetype` field may say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistKind {
    Sdist,
    Wheel,
}

impl DistKind {
    pub fn from_filetype(filetype: &str) -> Result<Self, String> {
        match filetype {
            "sdist" => Ok(Self::Sdist),
            "bdist_wheel" => Ok(Self::Wheel),
            "" => Err("Missing filetype: expected 'sdist' or 'bdist_wheel'.".into()),
            other => Err(format!(
                "Unsupported filetype {:?}: only 'sdist' and 'bdist_wheel' can be uploaded.",
                truncate(other)
            )),
        }
    }

    /// The `packagetype` of the JSON API.
    pub fn packagetype(self) -> &'static str {
        match self {
            Self::Sdist => "sdist",
            Self::Wheel => "bdist_wheel",
        }
    }
}

/// A filename checked against the project and version it was uploaded for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFilename {
    pub filename: String,
    pub kind: DistKind,
    /// The wheel's Python tag (`py3`, `cp312.cp313`); `source` for sdists.
    pub python_version: String,
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Longest version string an upload may carry.
pub const MAX_VERSION_LEN: usize = 128;

/// A PEP 440 version that an upload may use: legacy versions cannot be
/// uploaded any more, and local versions (`1.0+ubuntu1`) are for local use
/// only (both as on PyPI).
pub fn parse_upload_version(raw: &str) -> Result<Version, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Missing version.".into());
    }
    let invalid = || {
        format!(
            "Invalid version {:?}: versions must follow PEP 440 (https://peps.python.org/pep-0440/).",
            truncate(raw)
        )
    };
    if raw.len() > MAX_VERSION_LEN {
        return Err(invalid());
    }
    let version = Version::from_str(raw).map_err(|_| invalid())?;
    if !version.local().is_empty() {
        return Err(format!(
            "The use of local versions in {:?} is not allowed: upload a public version (without '+...').",
            truncate(raw)
        ));
    }
    Ok(version)
}

fn same_version(candidate: &str, version: &Version) -> bool {
    // Wheel filenames escape `-` in versions as `_`; PEP 440 reads `_` as a separator.
    Version::from_str(candidate).is_ok_and(|v| &v == version)
}

/// What a component of a distribution filename may hold: ASCII letters,
/// digits, `_` and `.` (and `!` for a version's epoch).
fn filename_component(part: &str, epoch_allowed: bool) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || (epoch_allowed && b == b'!'))
}

impl DistFilename {
    /// Checks `filename` for an upload of `project` (any spelling) at
    /// `version`, as PyPI does: wheels by the binary distribution format
    /// (the name part normalized, `-` escaped as `_`), sdists by PEP 625
    /// (`{normalized_name}-{normalized_version}.tar.gz`). Only ASCII letters,
    /// digits and `._-!` can appear, so a filename is safe in a URL, a
    /// storage key and a header as it is.
    pub fn parse(filename: &str, kind: DistKind, project: &str, version: &Version) -> Result<Self, String> {
        if filename.is_empty() {
            return Err("Missing filename.".into());
        }
        if filename.len() > MAX_FILENAME_LEN
            || filename.starts_with('.')
            || !filename
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'!'))
        {
            return Err(format!(
                "Invalid filename {:?}: a distribution filename has only ASCII letters, digits and '._-!'.",
                truncate(filename)
            ));
        }
        let dist_name = normalize_project_name(project).replace('-', "_");
        match kind {
            DistKind::Wheel => {
                let stem = filename
                    .strip_suffix(".whl")
                    .ok_or_else(|| format!("Invalid wheel filename {:?}: it must end in .whl.", truncate(filename)))?;
                let parts: Vec<&str> = stem.split('-').collect();
                let shape_ok = (parts.len() == 5 || parts.len() == 6)
                    && parts.iter().enumerate().all(|(i, p)| filename_component(p, i == 1));
                if !shape_ok {
                    return Err(format!(
                        "Invalid wheel filename {:?}: expected {{name}}-{{version}}(-{{build}})?-{{python}}-{{abi}}-{{platform}}.whl.",
                        truncate(filename)
                    ));
                }
                if parts.len() == 6 && !parts[2].starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(format!(
                        "Invalid wheel filename {:?}: a build tag must start with a digit.",
                        truncate(filename)
                    ));
                }
                if parts[0] != dist_name {
                    return Err(format!(
                        "The filename {:?} should start with the normalized project name {dist_name:?}, not {:?}.",
                        truncate(filename),
                        parts[0]
                    ));
                }
                if !same_version(parts[1], version) {
                    return Err(format!(
                        "Version in filename {:?} should be {version}, not {:?}.",
                        truncate(filename),
                        parts[1]
                    ));
                }
                Ok(Self {
                    filename: filename.to_owned(),
                    kind,
                    python_version: parts[parts.len() - 3].to_owned(),
                })
            }
            DistKind::Sdist => {
                let expected = format!("{dist_name}-{version}.tar.gz");
                if filename != expected {
                    return Err(format!(
                        "Invalid source distribution filename {:?}: it should be {expected:?} (PEP 625).",
                        truncate(filename)
                    ));
                }
                Ok(Self {
                    filename: filename.to_owned(),
                    kind,
                    python_version: "source".to_owned(),
                })
            }
        }
    }

    /// Where a wheel keeps its core metadata: `{name}-{version}.dist-info/METADATA`,
    /// with the filename's own spelling of both.
    pub fn wheel_metadata_path(&self) -> Option<String> {
        let stem = self.filename.strip_suffix(".whl")?;
        let mut parts = stem.split('-');
        let (name, version) = (parts.next()?, parts.next()?);
        Some(format!("{name}-{version}.dist-info/METADATA"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    #[test]
    fn wheels() {
        let ok = |f: &str, p: &str, ver: &str| DistFilename::parse(f, DistKind::Wheel, p, &v(ver));
        let w = ok("tiny_pkg-1.0-py3-none-any.whl", "Tiny-Pkg", "1.0").unwrap();
        assert_eq!(w.python_version, "py3");
        assert_eq!(
            w.wheel_metadata_path().as_deref(),
            Some("tiny_pkg-1.0.dist-info/METADATA")
        );
        assert!(
            ok("tiny_pkg-1.0.0-py3-none-any.whl", "tiny-pkg", "1.0").is_ok(),
            "PEP 440 equality"
        );
        assert!(
            ok(
                "tiny_pkg-1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl",
                "tiny.pkg",
                "1.0"
            )
            .is_ok()
        );
        assert!(
            ok("tiny_pkg-1!2.0-py3-none-any.whl", "tiny-pkg", "1!2.0").is_ok(),
            "epoch"
        );
        assert!(
            ok(
                "tiny_pkg-1.0-cp312-abi3-macosx_11_0_arm64.macosx_11_0_x86_64.whl",
                "tiny-pkg",
                "1.0"
            )
            .is_ok()
        );
        for (bad, why) in [
            ("tiny_pkg-1.0-x1-py3-none-any.whl", "build tag"),
            ("tiny_pkg-1.1-py3-none-any.whl", "other version"),
            ("other-1.0-py3-none-any.whl", "other project"),
            ("Tiny_Pkg-1.0-py3-none-any.whl", "name not normalized"),
            ("tiny.pkg-1.0-py3-none-any.whl", "name not normalized"),
            ("tiny_pkg-1.0-py3-none.whl", "too few parts"),
            ("tiny_pkg-1.0-py3-none-any.zip", "not .whl"),
            ("../tiny_pkg-1.0-py3-none-any.whl", "path"),
            ("tiny_pkg-1.0-py3-none-any .whl", "space"),
            ("tiny_pkg-1.0-py3-none-'any'.whl", "quote"),
            ("tiny_pkg-1.0-py3-none-a&y.whl", "ampersand"),
            ("tiny_pkg-1.0-py3-none-any\u{202E}lhw.whl", "bidi override"),
            ("\u{212A}iny_pkg-1.0-py3-none-any.whl", "Kelvin sign"),
            ("tiny_pkg-1.0+local-py3-none-any.whl", "local version"),
            ("tiny_pkg-1.0--py3-none-any.whl", "empty part"),
        ] {
            assert!(ok(bad, "tiny-pkg", "1.0").is_err(), "{why}: {bad}");
        }
    }

    #[test]
    fn sdists_follow_pep_625() {
        let ok = |f: &str, p: &str, ver: &str| DistFilename::parse(f, DistKind::Sdist, p, &v(ver));
        assert_eq!(
            ok("tiny_pkg-1.0.tar.gz", "tiny-pkg", "1.0").unwrap().python_version,
            "source"
        );
        assert!(ok("tiny_pkg-1.0.tar.gz", "Tiny.Pkg", "1.0").is_ok());
        assert!(
            ok("tiny_pkg-2.0rc1.tar.gz", "tiny-pkg", "2.0-rc1").is_ok(),
            "normalized version"
        );
        for bad in [
            "tiny-pkg-1.0.tar.gz",
            "Tiny_Pkg-1.0.tar.gz",
            "tiny_pkg-1.0.zip",
            "tiny_pkg-1.0.tar.bz2",
            "tiny_pkg-1.1.tar.gz",
            "tiny_pkg-1.0.0.tar.gz",
            "tiny-1.0.tar.gz",
            "tiny_pkg.tar.gz",
            "tiny_pkg-1.0.tar.gz\n",
            "tiny_pkg-1.0 .tar.gz",
        ] {
            assert!(ok(bad, "tiny-pkg", "1.0").is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds_and_versions() {
        assert_eq!(DistKind::from_filetype("sdist"), Ok(DistKind::Sdist));
        assert_eq!(DistKind::from_filetype("bdist_wheel"), Ok(DistKind::Wheel));
        assert!(DistKind::from_filetype("bdist_egg").is_err());
        assert!(parse_upload_version("1.0.post1").is_ok());
        assert!(parse_upload_version("2004d").is_err());
        assert!(parse_upload_version("").is_err());
        assert!(parse_upload_version("1.0+evil").is_err(), "local versions");
        assert!(
            parse_upload_version(&format!("1.{}", "0".repeat(200))).is_err(),
            "bounded"
        );
    }
}
