//! Characters that untrusted text may not carry, by kind of field.
//!
//! - Control characters (Unicode category Cc) never belong in a name, a
//!   summary or a URL, and break line-based formats (RSS, core metadata).
//! - Bidirectional embedding, override and isolate controls reorder what a
//!   reader sees ("Trojan Source"): a name that displays as `cheese.py`
//!   may be stored as something else.
//! - Invisible characters (zero-width space and joiners, word joiner, soft
//!   hyphen, byte order mark) make two names that look the same differ.

/// Bidirectional formatting controls: LRE, RLE, PDF, LRO, RLO and the
/// isolates LRI, RLI, FSI, PDI; and the marks LRM, RLM, ALM.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Characters that take no space and show nothing.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// A single line of text: no control characters at all and no bidi controls.
pub fn check_line(value: &str) -> Result<(), &'static str> {
    if value.chars().any(char::is_control) {
        return Err("must be a single line without control characters");
    }
    if value.chars().any(is_bidi_control) {
        return Err("must not contain bidirectional control characters");
    }
    Ok(())
}

/// Free text over several lines: tabs, line breaks and form feeds only.
pub fn check_multiline(value: &str) -> Result<(), &'static str> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0C}'))
    {
        return Err("must not contain control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert!(check_line("Flask – a micro framework, ünïcode, 日本語").is_ok());
        assert!(check_line("a\u{0}b").is_err());
        assert!(check_line("two\nlines").is_err());
        assert!(check_line("tab\there").is_err());
        assert!(check_line("evil\u{202E}txt.exe").is_err());
        assert!(check_line("\u{2067}isolate").is_err());
        assert!(check_line("\u{85}next line").is_err(), "C1 controls too");
    }

    #[test]
    fn multiline_text() {
        assert!(check_multiline("Title\r\n\n\tcode\u{0C}page").is_ok());
        assert!(check_multiline("a\u{1b}[31mred").is_err());
        assert!(check_multiline("nul\u{0}").is_err());
    }

    #[test]
    fn invisible_characters() {
        for c in ['\u{200B}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}'] {
            assert!(is_invisible(c), "{c:?}");
        }
        assert!(!is_invisible('a') && !is_invisible(' '));
        assert!(is_bidi_control('\u{202E}') && !is_bidi_control('א'));
    }
}
