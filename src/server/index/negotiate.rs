//! Content negotiation for the Simple API (PEP 691): which of our three
//! representations a client's `Accept` header (or `?format=`) asks for.

pub const JSON_V1: &str = "application/vnd.pypi.simple.v1+json";
pub const HTML_V1: &str = "application/vnd.pypi.simple.v1+html";
pub const TEXT_HTML: &str = "text/html";

/// What we can answer, in the order that breaks ties (Warehouse's order):
/// a client that accepts anything gets the HTML every installer understands.
const OFFERS: [&str; 3] = [TEXT_HTML, HTML_V1, JSON_V1];

/// `latest` asks for the newest version of the API we speak.
fn canonical(range: &str) -> &str {
    match range {
        "application/vnd.pypi.simple.latest+json" => JSON_V1,
        "application/vnd.pypi.simple.latest+html" => HTML_V1,
        other => other,
    }
}

/// How specifically `range` names `offer`: exact 3, `type/*` 2, `*/*` 1, not at all `None`.
fn specificity(range: &str, offer: &str) -> Option<u8> {
    if range == offer {
        return Some(3);
    }
    if range == "*/*" {
        return Some(1);
    }
    let (range_type, range_sub) = range.split_once('/')?;
    let (offer_type, _) = offer.split_once('/')?;
    (range_sub == "*" && range_type == offer_type).then_some(2)
}

/// The content type to answer with, or `None` when nothing we have is
/// acceptable (answer 406). `format` (the `?format=` parameter) takes the
/// place of `Accept` when present; neither means `text/html`.
pub fn negotiate(accept: Option<&str>, format: Option<&str>) -> Option<&'static str> {
    let header = format.or(accept).map(str::trim).filter(|h| !h.is_empty());
    let Some(header) = header else {
        return Some(TEXT_HTML);
    };
    let ranges: Vec<(String, f32)> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim().to_ascii_lowercase();
            if range.is_empty() {
                return None;
            }
            let mut q = 1.0_f32;
            for param in parts {
                if let Some((key, value)) = param.split_once('=')
                    && key.trim().eq_ignore_ascii_case("q")
                {
                    q = value.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q))?;
                }
            }
            Some((canonical(&range).to_owned(), q))
        })
        .collect();
    let mut best: Option<(&'static str, f32)> = None;
    for offer in OFFERS {
        // The most specific range that matches decides the offer's quality.
        let quality = ranges
            .iter()
            .filter_map(|(range, q)| specificity(range, offer).map(|s| (s, *q)))
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
            .map(|(_, q)| q);
        if let Some(q) = quality
            && q > 0.0
            && best.is_none_or(|(_, best_q)| q > best_q)
        {
            best = Some((offer, q));
        }
    }
    best.map(|(offer, _)| offer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pip 23–25 sends this.
    const PIP: &str =
        "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
    /// uv 0.5+ sends this.
    const UV: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

    #[test]
    fn negotiation_table() {
        let table: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
            (None, None, Some(TEXT_HTML)),
            (Some(""), None, Some(TEXT_HTML)),
            (Some(PIP), None, Some(JSON_V1)),
            (Some(UV), None, Some(JSON_V1)),
            (Some("text/html"), None, Some(TEXT_HTML)),
            (Some("*/*"), None, Some(TEXT_HTML)),
            (Some("text/*"), None, Some(TEXT_HTML)),
            (Some("application/*"), None, Some(HTML_V1)),
            (Some("application/vnd.pypi.simple.v1+html"), None, Some(HTML_V1)),
            (Some("application/vnd.pypi.simple.latest+json"), None, Some(JSON_V1)),
            (Some("application/vnd.pypi.simple.latest+html"), None, Some(HTML_V1)),
            (
                Some("text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.6"),
                None,
                Some(JSON_V1),
            ),
            (
                Some("application/vnd.pypi.simple.v1+json;q=0, */*"),
                None,
                Some(TEXT_HTML),
            ),
            (Some("*/*, text/html;q=0"), None, Some(HTML_V1)),
            (Some("Application/Vnd.PyPI.Simple.V1+JSON"), None, Some(JSON_V1)),
            (Some("application/json"), None, None),
            (Some("application/vnd.pypi.simple.v2+json"), None, None),
            (Some("text/html;q=0"), None, None),
            (Some("image/png, text/plain"), None, None),
            (Some(PIP), Some("text/html"), Some(TEXT_HTML)),
            (None, Some("application/vnd.pypi.simple.v1+json"), Some(JSON_V1)),
            (
                Some("text/html"),
                Some("application/vnd.pypi.simple.latest+json"),
                Some(JSON_V1),
            ),
            (None, Some("application/xml"), None),
            (Some("text/html;q=2"), None, None),
        ];
        for (accept, format, expected) in table {
            assert_eq!(
                negotiate(*accept, *format),
                *expected,
                "Accept {accept:?}, format {format:?}"
            );
        }
    }
}
