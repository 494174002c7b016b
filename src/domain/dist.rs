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

/// A PEP 440 version that an upload may use; legacy versions cannot be
/// uploaded any more (as on PyPI).
pub fn parse_upload_version(raw: &str) -> Result<Version, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Missing version.".into());
    }
    Version::from_str(raw).map_err(|_| {
        format!(
            "Invalid version {:?}: versions must follow PEP 440 (https://peps.python.org/pep-0440/).",
            truncate(raw)
        )
    })
}

fn same_version(candidate: &str, version: &Version) -> bool {
    // Wheel filenames escape `-` in versions as `_`; PEP 440 reads `_` as a separator.
    Version::from_str(candidate).is_ok_and(|v| &v == version)
}

impl DistFilename {
    /// Checks `filename` for an upload of `project` (any spelling) at `version`.
    pub fn parse(filename: &str, kind: DistKind, project: &str, version: &Version) -> Result<Self, String> {
        if filename.is_empty() {
            return Err("Missing filename.".into());
        }
        if filename.len() > MAX_FILENAME_LEN
            || filename.starts_with('.')
            || filename
                .chars()
                .any(|c| c.is_control() || matches!(c, '/' | '\\' | '"' | '<' | '>' | '#' | '?' | '%'))
        {
            return Err(format!("Invalid filename {:?}.", truncate(filename)));
        }
        let project = normalize_project_name(project);
        let mismatch = || {
            format!(
                "Filename {:?} does not match the project {project:?} at version {version}: \
                 expected {}.",
                truncate(filename),
                match kind {
                    DistKind::Wheel => "{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl",
                    DistKind::Sdist => "{name}-{version}.tar.gz",
                }
            )
        };
        match kind {
            DistKind::Wheel => {
                let stem = filename
                    .strip_suffix(".whl")
                    .ok_or_else(|| format!("Invalid wheel filename {:?}: it must end in .whl.", truncate(filename)))?;
                let parts: Vec<&str> = stem.split('-').collect();
                if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
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
                if normalize_project_name(parts[0]) != project || !same_version(parts[1], version) {
                    return Err(mismatch());
                }
                Ok(Self {
                    filename: filename.to_owned(),
                    kind,
                    python_version: parts[parts.len() - 3].to_owned(),
                })
            }
            DistKind::Sdist => {
                let stem = filename
                    .strip_suffix(".tar.gz")
                    .or_else(|| filename.strip_suffix(".zip"))
                    .ok_or_else(|| {
                        format!(
                            "Invalid source distribution filename {:?}: it must end in .tar.gz or .zip.",
                            truncate(filename)
                        )
                    })?;
                // Older sdists keep `-` inside the name: any split point where
                // the left part is the project and the right part the version.
                let matches = stem.match_indices('-').any(|(i, _)| {
                    normalize_project_name(&stem[..i]) == project && same_version(&stem[i + 1..], version)
                });
                if !matches {
                    return Err(mismatch());
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
            ok("tiny_pkg-1.0-x1-py3-none-any.whl", "tiny-pkg", "1.0").is_err(),
            "build tag"
        );
        assert!(
            ok("tiny_pkg-1.1-py3-none-any.whl", "tiny-pkg", "1.0").is_err(),
            "other version"
        );
        assert!(
            ok("other-1.0-py3-none-any.whl", "tiny-pkg", "1.0").is_err(),
            "other project"
        );
        assert!(
            ok("tiny_pkg-1.0-py3-none.whl", "tiny-pkg", "1.0").is_err(),
            "too few parts"
        );
        assert!(
            ok("tiny_pkg-1.0-py3-none-any.zip", "tiny-pkg", "1.0").is_err(),
            "not .whl"
        );
        assert!(
            ok("../tiny_pkg-1.0-py3-none-any.whl", "tiny-pkg", "1.0").is_err(),
            "path"
        );
    }

    #[test]
    fn sdists() {
        let ok = |f: &str, p: &str, ver: &str| DistFilename::parse(f, DistKind::Sdist, p, &v(ver));
        assert_eq!(
            ok("tiny_pkg-1.0.tar.gz", "tiny-pkg", "1.0").unwrap().python_version,
            "source"
        );
        assert!(
            ok("tiny-pkg-1.0.tar.gz", "tiny_pkg", "1.0").is_ok(),
            "old spelling with '-'"
        );
        assert!(ok("tiny-pkg-2.0rc1.zip", "tiny-pkg", "2.0rc1").is_ok());
        assert!(ok("tiny-pkg-1.0.tar.bz2", "tiny-pkg", "1.0").is_err());
        assert!(ok("tiny-pkg-1.1.tar.gz", "tiny-pkg", "1.0").is_err());
        assert!(ok("tiny-1.0.tar.gz", "tiny-pkg", "1.0").is_err());
        assert!(ok("tiny-pkg.tar.gz", "tiny-pkg", "1.0").is_err());
        assert!(ok("tiny-pkg-1.0.tar.gz\n", "tiny-pkg", "1.0").is_err());
    }

    #[test]
    fn kinds_and_versions() {
        assert_eq!(DistKind::from_filetype("sdist"), Ok(DistKind::Sdist));
        assert_eq!(DistKind::from_filetype("bdist_wheel"), Ok(DistKind::Wheel));
        assert!(DistKind::from_filetype("bdist_egg").is_err());
        assert!(parse_upload_version("1.0.post1").is_ok());
        assert!(parse_upload_version("2004d").is_err());
        assert!(parse_upload_version("").is_err());
    }
}
