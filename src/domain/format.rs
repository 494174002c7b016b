//! Human-friendly formatting shared by the server and the browser.

/// `19160` → `"19,160"`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How long ago `then` was, seen from `now` (both in seconds since the
/// epoch): "just now", "5 minutes ago", "3 days ago", "2 years ago".
pub fn time_ago(now: i64, then: i64) -> String {
    let secs = (now - then).max(0);
    let (n, unit) = match secs {
        0..60 => return "just now".to_owned(),
        60..3_600 => (secs / 60, "minute"),
        3_600..86_400 => (secs / 3_600, "hour"),
        86_400..2_592_000 => (secs / 86_400, "day"),
        2_592_000..31_536_000 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// Bytes in human units: `91364` → `"89.2 kB"` (binary multiples, like pypi.org).
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration as people write it in configuration: seconds (`600`), or a
/// whole number with a unit: `30s`, `10m`, `12h`, `7d`. Up to a year.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let seconds = n.checked_mul(match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    })?;
    (seconds <= 366 * 86_400).then(|| std::time::Duration::from_secs(seconds))
}

/// A size as people write it in configuration: bytes (`1048576`), or a
/// number with a unit: `KB`, `MB`, `GB`, `TB` (powers of 1000) or `KiB`,
/// `MiB`, `GiB`, `TiB` (powers of 1024). Fractions allowed (`1.5GB`).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = n * factor;
    (bytes.is_finite() && (0.0..1e18).contains(&bytes)).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_configured() {
        assert_eq!(parse_size("1048576"), Some(1_048_576));
        assert_eq!(parse_size("500MB"), Some(500_000_000));
        assert_eq!(parse_size("10 GB"), Some(10_000_000_000));
        assert_eq!(parse_size("2GiB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("1.5kb"), Some(1500));
        for bad in ["", "MB", "-1GB", "1..2MB", "5 PB", "1e30"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_as_configured() {
        use std::time::Duration;
        assert_eq!(parse_duration("600"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration(" 12h "), Some(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        for bad in ["", "m", "-1", "1.5h", "10w", "7 days", "99999999999999999999d", "400d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(19160), "19,160");
        assert_eq!(thousands(5547), "5,547");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-1234), "-1,234");
    }

    #[test]
    fn time_ago_picks_the_largest_unit() {
        let now = 1_700_000_000;
        assert_eq!(time_ago(now, now), "just now");
        assert_eq!(time_ago(now, now + 30), "just now", "clock skew is not negative time");
        assert_eq!(time_ago(now, now - 60), "1 minute ago");
        assert_eq!(time_ago(now, now - 7_200), "2 hours ago");
        assert_eq!(time_ago(now, now - 3 * 86_400), "3 days ago");
        assert_eq!(time_ago(now, now - 65 * 86_400), "2 months ago");
        assert_eq!(time_ago(now, now - 8 * 365 * 86_400), "8 years ago");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(91364), "89.2 kB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MB");
    }
}
