//! Python project names (PEP 508 syntax, PEP 503 normalization).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest name we accept. PyPI has no hard limit, but nothing real comes
/// close, and a bound keeps hostile input out of the database and the URLs.
pub const MAX_PROJECT_NAME_LEN: usize = 200;

/// A project name as its author spelled it, guaranteed to be valid per
/// PEP 508: ASCII letters and digits, with `.`, `_` and `-` allowed inside.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProjectName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectNameError {
    #[error("a project name cannot be empty")]
    Empty,
    #[error("a project name can be at most {MAX_PROJECT_NAME_LEN} characters long")]
    TooLong,
    #[error("a project name may only contain ASCII letters, digits, '.', '_' and '-'")]
    InvalidCharacter,
    #[error("a project name must start and end with a letter or digit")]
    BadEdge,
}

impl ProjectName {
    pub fn parse(raw: &str) -> Result<Self, ProjectNameError> {
        if raw.is_empty() {
            return Err(ProjectNameError::Empty);
        }
        if raw.len() > MAX_PROJECT_NAME_LEN {
            return Err(ProjectNameError::TooLong);
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(ProjectNameError::InvalidCharacter);
        }
        let bytes = raw.as_bytes();
        if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
            return Err(ProjectNameError::BadEdge);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The PEP 503 normalized form, used for uniqueness and URLs.
    pub fn normalized(&self) -> String {
        normalize_project_name(&self.0)
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// PEP 503: lowercase, and every run of `-`, `_` and `.` becomes one `-`.
///
/// Works on any text (URL segments are not necessarily valid names); the
/// result of a valid name is a valid name.
pub fn normalize_project_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_separator_run = false;
    for c in raw.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                out.push('-');
            }
            in_separator_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_as_pep_503_says() {
        for (raw, want) in [
            ("Flask", "flask"),
            ("zope.interface", "zope-interface"),
            ("Zope.Interface", "zope-interface"),
            ("friendly-bard", "friendly-bard"),
            ("Friendly-Bard", "friendly-bard"),
            ("FRIENDLY-BARD", "friendly-bard"),
            ("friendly.bard", "friendly-bard"),
            ("friendly_bard", "friendly-bard"),
            ("friendly--bard", "friendly-bard"),
            ("FrIeNdLy-._.-bArD", "friendly-bard"),
            ("ruamel.yaml", "ruamel-yaml"),
        ] {
            assert_eq!(normalize_project_name(raw), want, "{raw}");
        }
    }

    #[test]
    fn accepts_valid_names() {
        for raw in [
            "a",
            "A1",
            "zope.interface",
            "typing_extensions",
            "python-dateutil",
            "x.y-z_1",
        ] {
            let name = ProjectName::parse(raw).expect(raw);
            assert_eq!(name.as_str(), raw);
        }
        assert_eq!(
            ProjectName::parse("Zope.Interface").map(|n| n.normalized()),
            Ok("zope-interface".into())
        );
    }

    #[test]
    fn rejects_invalid_names() {
        assert_eq!(ProjectName::parse(""), Err(ProjectNameError::Empty));
        assert_eq!(ProjectName::parse("-flask"), Err(ProjectNameError::BadEdge));
        assert_eq!(ProjectName::parse("flask."), Err(ProjectNameError::BadEdge));
        assert_eq!(ProjectName::parse("fl ask"), Err(ProjectNameError::InvalidCharacter));
        assert_eq!(ProjectName::parse("flåsk"), Err(ProjectNameError::InvalidCharacter));
        assert_eq!(ProjectName::parse("a/b"), Err(ProjectNameError::InvalidCharacter));
        assert_eq!(ProjectName::parse(&"a".repeat(201)), Err(ProjectNameError::TooLong));
        assert!(ProjectName::parse(&"a".repeat(200)).is_ok());
    }
}
