//! Who may do what to a project: roles (as on pypi.org), project status
//! (PEP 792), token scopes, and the rule that decides every maintainer's
//! action. WASM-safe: pages use it to show only the forms that will work,
//! the server to refuse everything else.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A collaborator's role on a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Manages the project: its people, releases, status; may delete it.
    Owner,
    /// Uploads releases and yanks them; manages no people, deletes nothing.
    Maintainer,
}

impl Role {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "Owner" | "owner" => Ok(Self::Owner),
            "Maintainer" | "maintainer" => Ok(Self::Maintainer),
            _ => Err("Choose the role Owner or Maintainer.".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "Owner",
            Self::Maintainer => "Maintainer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A project's status (PEP 792).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum ProjectStatus {
    #[default]
    Active,
    /// No new uploads; everything published stays installable.
    Archived,
    /// Still installable; its maintainers advise against it.
    Deprecated,
    /// An administrator's: hidden from installers, no file served.
    Quarantined,
}

impl ProjectStatus {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "active" => Ok(Self::Active),
            "archived" => Ok(Self::Archived),
            "deprecated" => Ok(Self::Deprecated),
            "quarantined" => Ok(Self::Quarantined),
            _ => Err("Choose the status active, archived, deprecated or quarantined.".into()),
        }
    }

    /// The PEP 792 name, as the Simple API and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
            Self::Deprecated => "deprecated",
            Self::Quarantined => "quarantined",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Archived => "Archived",
            Self::Deprecated => "Deprecated",
            Self::Quarantined => "Quarantined",
        }
    }

    /// Whether new files may be uploaded.
    pub fn accepts_uploads(self) -> bool {
        matches!(self, Self::Active | Self::Deprecated)
    }

    /// Whether the project's files are served and listed for installers.
    pub fn serves_files(self) -> bool {
        self != Self::Quarantined
    }
}

/// Something done to a project, as the permission rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProjectAction {
    /// See the manage page and the project's security history.
    View,
    Upload,
    /// Yank or un-yank a release.
    Yank,
    DeleteFile,
    DeleteRelease,
    DeleteProject,
    /// Invite, change roles, remove collaborators.
    ManagePeople,
    /// Archive, deprecate or make active again (not quarantine).
    SetStatus,
    /// Quarantine, or lift a quarantine.
    Quarantine,
    /// Let the upstream index's releases be served beside the project's own.
    SetUpstreamMerge,
}

impl ProjectAction {
    pub const ALL: [Self; 10] = [
        Self::View,
        Self::Upload,
        Self::Yank,
        Self::DeleteFile,
        Self::DeleteRelease,
        Self::DeleteProject,
        Self::ManagePeople,
        Self::SetStatus,
        Self::Quarantine,
        Self::SetUpstreamMerge,
    ];
}

/// Whether someone with `role` on a project (or none), who is a site
/// administrator or not, may do `action`. Administrators may do anything to
/// any project but upload to it (they publish as collaborators, like
/// everyone); only they quarantine.
pub fn may(role: Option<Role>, admin: bool, action: ProjectAction) -> bool {
    use ProjectAction::*;
    match action {
        Quarantine => admin,
        Upload => role.is_some(),
        View | Yank => admin || role.is_some(),
        DeleteFile | DeleteRelease | DeleteProject | ManagePeople | SetStatus | SetUpstreamMerge => {
            admin || role == Some(Role::Owner)
        }
    }
}

/// What an API token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenScopes {
    /// Read a private index (pages, Simple and JSON APIs, files).
    pub read: bool,
    /// Upload files to the projects the token may reach.
    pub upload: bool,
}

impl TokenScopes {
    pub const ALL: Self = Self {
        read: true,
        upload: true,
    };

    /// From the database's text form: comma-separated scope names. Unknown
    /// names are ignored (an older binary reading a newer database).
    pub fn from_db(raw: &str) -> Self {
        let mut scopes = Self {
            read: false,
            upload: false,
        };
        for name in raw.split(',') {
            match name.trim() {
                "read" => scopes.read = true,
                "upload" => scopes.upload = true,
                _ => {}
            }
        }
        scopes
    }

    /// From a form's choice: `read`, `upload` or `read,upload`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let scopes = Self::from_db(raw);
        let known = raw.split(',').map(str::trim).all(|n| matches!(n, "read" | "upload"));
        if !known || !(scopes.read || scopes.upload) {
            return Err("Choose what the token may do: read, upload, or both.".into());
        }
        Ok(scopes)
    }

    pub fn to_db(self) -> &'static str {
        match (self.read, self.upload) {
            (true, true) => "read,upload",
            (true, false) => "read",
            (false, true) => "upload",
            (false, false) => "",
        }
    }

    pub fn label(self) -> &'static str {
        match (self.read, self.upload) {
            (true, true) => "Read and upload",
            (true, false) => "Read",
            (false, true) => "Upload",
            (false, false) => "Nothing",
        }
    }
}

/// The text a person must type to confirm a deletion: the very name of
/// what goes (a project's name, a version, a filename), as on pypi.org.
/// Compared after trimming, and for project names as PEP 503 normalizes
/// them.
pub fn confirms(typed: &str, expected: &str, is_project_name: bool) -> bool {
    let typed = typed.trim();
    if typed.is_empty() {
        return false;
    }
    if is_project_name {
        crate::domain::normalize_project_name(typed) == crate::domain::normalize_project_name(expected)
    } else {
        typed == expected
    }
}

/// A reason (for a yank, or a status): optional, one line, bounded.
pub fn parse_reason(raw: &str) -> Result<Option<String>, String> {
    let reason = raw.trim();
    if reason.chars().count() > REASON_MAX {
        return Err(format!("A reason can be at most {REASON_MAX} characters long."));
    }
    if reason.chars().any(char::is_control) {
        return Err("A reason must be one line of text.".into());
    }
    Ok((!reason.is_empty()).then(|| reason.to_owned()))
}

pub const REASON_MAX: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        assert_eq!(Role::parse("Owner"), Ok(Role::Owner));
        assert_eq!(Role::parse(" maintainer "), Ok(Role::Maintainer));
        assert!(Role::parse("admin").is_err());
        assert_eq!(Role::Maintainer.to_string(), "Maintainer");
    }

    #[test]
    fn statuses_round_trip_and_decide() {
        for s in [
            ProjectStatus::Active,
            ProjectStatus::Archived,
            ProjectStatus::Deprecated,
            ProjectStatus::Quarantined,
        ] {
            assert_eq!(ProjectStatus::parse(s.as_str()), Ok(s));
        }
        assert!(ProjectStatus::parse("deleted").is_err());
        assert!(!ProjectStatus::Archived.accepts_uploads());
        assert!(!ProjectStatus::Quarantined.accepts_uploads());
        assert!(ProjectStatus::Deprecated.accepts_uploads());
        assert!(!ProjectStatus::Quarantined.serves_files());
        assert!(ProjectStatus::Archived.serves_files());
    }

    #[test]
    fn the_permission_table() {
        use ProjectAction::*;
        for action in ProjectAction::ALL {
            // Nobody without a role or the admin flag may do anything.
            assert!(!may(None, false, action), "{action:?}");
        }
        let owner = |a| may(Some(Role::Owner), false, a);
        let maintainer = |a| may(Some(Role::Maintainer), false, a);
        let admin = |a| may(None, true, a);
        for a in [
            View,
            Upload,
            Yank,
            DeleteFile,
            DeleteRelease,
            DeleteProject,
            ManagePeople,
            SetStatus,
        ] {
            assert!(owner(a), "{a:?}");
        }
        assert!(!owner(Quarantine));
        for a in [View, Upload, Yank] {
            assert!(maintainer(a), "{a:?}");
        }
        for a in [
            DeleteFile,
            DeleteRelease,
            DeleteProject,
            ManagePeople,
            SetStatus,
            Quarantine,
            SetUpstreamMerge,
        ] {
            assert!(!maintainer(a), "{a:?}");
        }
        assert!(admin(Quarantine) && admin(DeleteProject) && admin(ManagePeople));
        assert!(!admin(Upload));
    }

    #[test]
    fn token_scopes() {
        assert_eq!(
            TokenScopes::parse("read"),
            Ok(TokenScopes {
                read: true,
                upload: false
            })
        );
        assert_eq!(TokenScopes::parse("read,upload"), Ok(TokenScopes::ALL));
        assert!(TokenScopes::parse("").is_err());
        assert!(TokenScopes::parse("read,admin").is_err());
        assert_eq!(
            TokenScopes::from_db("upload,future"),
            TokenScopes {
                read: false,
                upload: true
            }
        );
        assert_eq!(TokenScopes::from_db(TokenScopes::ALL.to_db()), TokenScopes::ALL);
    }

    #[test]
    fn confirmations() {
        assert!(confirms(" Foo_Bar ", "foo-bar", true));
        assert!(!confirms("foo", "foo-bar", true));
        assert!(!confirms("", "", true));
        assert!(confirms("1.0", "1.0", false));
        assert!(!confirms("1.0.0", "1.0", false));
    }

    #[test]
    fn reasons() {
        assert_eq!(parse_reason("  "), Ok(None));
        assert_eq!(parse_reason(" broken "), Ok(Some("broken".into())));
        assert!(parse_reason("a\nb").is_err());
        assert!(parse_reason(&"x".repeat(REASON_MAX + 1)).is_err());
    }
}
