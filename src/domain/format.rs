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

#[cfg(test)]
mod tests {
    use super::*;

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
