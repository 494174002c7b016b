//! Account input: e-mail addresses, usernames, display names and passwords,
//! each parsed once at the edge into a type that can only hold valid values.

use std::fmt;

/// A username, PEP-like: ASCII letters, digits, `.`, `_` and `-`, 1 to 50
/// characters, starting and ending with a letter or digit. Unique without
/// regard to case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

/// An e-mail address, compared without regard to case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// A person's name as shown on their profile.
#[derive(Clone, PartialEq, Eq)]
pub struct DisplayName(String);

/// The name of an API token, so its owner can tell it from their others.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenName(String);

/// A password in clear text: never serialized, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

pub const USERNAME_MAX: usize = 50;
pub const EMAIL_MAX: usize = 254;
pub const NAME_MAX: usize = 100;
pub const TOKEN_NAME_MAX: usize = 100;
pub const PASSWORD_MIN: usize = 8;
/// Long enough for any password manager, short enough that hashing is cheap.
pub const PASSWORD_MAX: usize = 128;

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Choose a username.".into());
        }
        if s.chars().count() > USERNAME_MAX {
            return Err(format!("A username can be at most {USERNAME_MAX} characters long."));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err("A username may only contain letters, digits, '.', '_' and '-'.".into());
        }
        let b = s.as_bytes();
        if !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
            return Err("A username must start and end with a letter or a digit.".into());
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is checked on.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter your e-mail address.".into());
        }
        if s.len() > EMAIL_MAX {
            return Err(format!("An e-mail address can be at most {EMAIL_MAX} characters long."));
        }
        let invalid = || "Enter a valid e-mail address, like name@example.org.".to_owned();
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>' | '"' | ',' | ';'));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter your name.".into());
        }
        if s.chars().count() > NAME_MAX {
            return Err(format!("A name can be at most {NAME_MAX} characters long."));
        }
        if s.chars().any(char::is_control) {
            return Err("A name cannot contain control characters.".into());
        }
        if s.chars()
            .any(|c| super::text::is_bidi_control(c) || super::text::is_invisible(c))
        {
            return Err("A name cannot contain invisible or text-direction characters.".into());
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TokenName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Give the token a name, so you can tell it from your others.".into());
        }
        if s.chars().count() > TOKEN_NAME_MAX || s.chars().any(char::is_control) {
            return Err(format!(
                "A token name is one line of at most {TOKEN_NAME_MAX} characters."
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Password {
    /// Passwords are not trimmed: every character counts.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < PASSWORD_MIN {
            return Err(format!("Use at least {PASSWORD_MIN} characters for your password."));
        }
        if n > PASSWORD_MAX {
            return Err(format!("A password can be at most {PASSWORD_MAX} characters long."));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($t), self.0)
            }
        }
    )*};
}
display_as_str!(Username, Email, DisplayName);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names() {
        assert_eq!(
            TokenName::parse("  build server ").map(|n| n.as_str().to_owned()),
            Ok("build server".into())
        );
        assert!(TokenName::parse(&"x".repeat(100)).is_ok());
        for bad in ["", "  ", "two\nlines", "tab\there", &"x".repeat(101)] {
            assert!(TokenName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usernames() {
        for ok in ["a", "Z9", "jane.doe", "jane_doe-2", &"x".repeat(50)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(Username::parse("  Jane  ").map(|u| u.normalized()), Ok("jane".into()));
        for bad in [
            "",
            "   ",
            "-jane",
            "jane.",
            "ja ne",
            "jané",
            "<script>",
            "a'b",
            &"x".repeat(51),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "Jane.Doe+pypi@Example.ORG",
            "x@sub.domain.example",
            "ü@exämple.de",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Email::parse("Jane@Example.ORG").map(|e| e.normalized()),
            Ok("jane@example.org".into())
        );
        for bad in [
            "",
            "plain",
            "@example.org",
            "jane@",
            "jane@localhost",
            "jane@-x.org",
            "ja ne@x.org",
            "a@b..org",
            "<a>@x.org",
            &format!("{}@x.org", "a".repeat(65)),
            &format!("a@{}.org", "b".repeat(250)),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").map(|n| n.as_str().to_owned()),
            Ok("Ada Lovelace".into())
        );
        assert!(
            DisplayName::parse("O'Brien <b>&amp;").is_ok(),
            "metacharacters are data, escaped on output"
        );
        assert!(DisplayName::parse("").is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
        assert!(DisplayName::parse("Ada\u{202E}ecalevol").is_err(), "bidi override");
        assert!(DisplayName::parse("Ad\u{200B}a").is_err(), "zero-width space");
        assert!(DisplayName::parse("\u{FEFF}Ada").is_err(), "byte order mark");
        assert!(
            DisplayName::parse("Zoë Ødegård 日本 محمد").is_ok(),
            "scripts of the world"
        );
        assert!(DisplayName::parse(&"n".repeat(1_000_000)).is_err());
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("correct horse").is_ok());
        assert!(Password::parse(" 1234567").is_ok(), "spaces count");
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"p".repeat(129)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("hunter2hunter2").unwrap()),
            "Password(<redacted>)"
        );
    }
}
