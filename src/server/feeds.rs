//! RSS 2.0 feeds, as on pypi.org: the latest releases of the index, the
//! newest projects, and the latest releases of one project.
//!
//! Every string from the catalogue goes through [`xml_chars`] (the `rss`
//! crate escapes markup, but passes characters XML 1.0 cannot carry, and one
//! of them makes the whole feed ill-formed). A description is HTML to feed
//! readers, so summaries are escaped as HTML text first: a summary is
//! shown, never interpreted.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use rss::{ChannelBuilder, GuidBuilder, Item, ItemBuilder};

use crate::domain::escape::{html_text, url_segment, xml_chars};
use crate::domain::normalize_project_name;
use crate::server::db::catalog::{self, FeedItem};
use crate::server::state::AppState;

const UPDATES: i64 = 100;
const PACKAGES: i64 = 40;
const PROJECT_RELEASES: i64 = 40;

fn pub_date(micros: Option<i64>) -> Option<String> {
    micros.and_then(DateTime::from_timestamp_micros).map(|t| t.to_rfc2822())
}

/// An item's text fields, made safe for XML (and the description for HTML).
fn item(title: &str, link: String, summary: &str, author_email: &str, at: Option<i64>) -> Item {
    let link = xml_chars(&link);
    ItemBuilder::default()
        .title(Some(xml_chars(title)))
        .link(Some(link.clone()))
        .guid(Some(GuidBuilder::default().value(link).permalink(true).build()))
        .description(Some(xml_chars(&html_text(summary))))
        .author(Some(xml_chars(author_email)).filter(|a| !a.is_empty()))
        .pub_date(pub_date(at))
        .build()
}

fn release_item(origin: &str, r: &FeedItem) -> Item {
    let link = format!(
        "{origin}/project/{}/{}/",
        url_segment(&r.normalized_name),
        url_segment(&r.version)
    );
    item(
        &format!("{} {}", r.name, r.version),
        link,
        &r.summary,
        &r.author_email,
        r.at,
    )
}

fn rss(title: &str, link: String, description: &str, items: Vec<Item>) -> Response {
    let channel = ChannelBuilder::default()
        .title(xml_chars(title))
        .link(xml_chars(&link))
        .description(xml_chars(description))
        .language(Some("en".to_owned()))
        .items(items)
        .build();
    (
        [
            (header::CONTENT_TYPE, "application/rss+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300, public"),
        ],
        channel.to_string(),
    )
        .into_response()
}

fn failed(error: sqlx::Error) -> Response {
    let status = crate::error::AppError::from(error).status();
    (status, "The feed is unavailable right now.").into_response()
}

/// `/rss/updates.xml`: the latest releases of every project.
pub async fn updates(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let origin = state.origin(&headers);
    match catalog::recent_releases(&state.db, UPDATES).await {
        Ok(rows) => rss(
            "cheeseshop recent updates",
            format!("{origin}/"),
            "Latest releases on this index",
            rows.iter().map(|r| release_item(&origin, r)).collect(),
        ),
        Err(e) => failed(e),
    }
}

/// `/rss/packages.xml`: the newest projects.
pub async fn packages(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let origin = state.origin(&headers);
    match catalog::newest_projects(&state.db, PACKAGES).await {
        Ok(rows) => {
            let items = rows
                .iter()
                .map(|p| {
                    item(
                        &format!("{} added to cheeseshop", p.name),
                        format!("{origin}/project/{}/", url_segment(&p.normalized_name)),
                        &p.summary,
                        &p.author_email,
                        p.at,
                    )
                })
                .collect();
            rss(
                "cheeseshop newest packages",
                format!("{origin}/"),
                "Newest projects on this index",
                items,
            )
        }
        Err(e) => failed(e),
    }
}

/// `/rss/project/{name}/releases.xml`: the latest releases of one project.
pub async fn project_releases(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let origin = state.origin(&headers);
    let project = match catalog::project(&state.db, &normalize_project_name(&name)).await {
        Ok(Some(p)) => p,
        Ok(None) => return (StatusCode::NOT_FOUND, "No such project.").into_response(),
        Err(e) => return failed(e),
    };
    match catalog::project_releases_feed(&state.db, project.id, PROJECT_RELEASES).await {
        Ok(rows) => rss(
            &format!("{} releases on cheeseshop", project.name),
            format!("{origin}/project/{}/", url_segment(&project.normalized_name)),
            &format!("Latest releases of {}", project.name),
            rows.iter().map(|r| release_item(&origin, r)).collect(),
        ),
        Err(e) => failed(e),
    }
}
