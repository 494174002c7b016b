//! Layout of the release timeline chart: each release a dot along a time
//! axis, stacked into rows where dots would overlap.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    pub version: String,
    /// Position along the axis, 0.0 (first release) to 1.0 (last).
    pub x: f32,
    /// Stacking row, 0 at the axis.
    pub row: u8,
    pub is_prerelease: bool,
    pub yanked: bool,
    /// e.g. "May 2, 2018", for the tooltip.
    pub label: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub points: Vec<TimelinePoint>,
    /// Year marks: position and label.
    pub ticks: Vec<(f32, String)>,
    pub rows: u8,
}

/// A release as the chart needs it.
pub struct Dated<'a> {
    pub version: &'a str,
    pub at_micros: i64,
    pub is_prerelease: bool,
    pub yanked: bool,
    pub label: String,
}

const MAX_ROWS: usize = 5;
/// Dots closer than this (as a fraction of the axis) go to another row.
const MIN_GAP: f32 = 0.014;
const MICROS_PER_YEAR: f64 = 365.2425 * 86_400.0 * 1e6;
/// 1970-01-01 in microseconds is 0; year boundaries are computed from this.
const EPOCH_YEAR: i32 = 1970;

/// Lays out releases (any order; those without a date are left out).
pub fn layout(releases: &[Dated<'_>]) -> Timeline {
    let mut dated: Vec<&Dated> = releases.iter().collect();
    dated.sort_by_key(|r| r.at_micros);
    let (Some(first), Some(last)) = (dated.first(), dated.last()) else {
        return Timeline::default();
    };
    let (start, end) = (first.at_micros as f64, last.at_micros as f64);
    let span = (end - start).max(1.0);
    let position = |t: f64| if end > start { ((t - start) / span) as f32 } else { 0.5 };

    let mut row_ends: Vec<f32> = Vec::new();
    let mut points = Vec::with_capacity(dated.len());
    for r in dated {
        let x = position(r.at_micros as f64);
        let row = match row_ends.iter().position(|&end| x - end >= MIN_GAP) {
            Some(row) => row,
            None if row_ends.len() < MAX_ROWS => {
                row_ends.push(f32::NEG_INFINITY);
                row_ends.len() - 1
            }
            // Every row is crowded here: use the one that has been free longest.
            None => row_ends
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i),
        };
        row_ends[row] = x;
        points.push(TimelinePoint {
            version: r.version.to_owned(),
            x,
            row: row as u8,
            is_prerelease: r.is_prerelease,
            yanked: r.yanked,
            label: r.label.clone(),
        });
    }

    // Year ticks, thinned to at most about ten.
    let first_year = EPOCH_YEAR + (start / MICROS_PER_YEAR).floor() as i32;
    let last_year = EPOCH_YEAR + (end / MICROS_PER_YEAR).floor() as i32;
    let step = ((last_year - first_year) / 10 + 1).max(1);
    let ticks = (first_year + 1..=last_year)
        .filter(|y| (y - first_year) % step == 0)
        .map(|y| (position((y - EPOCH_YEAR) as f64 * MICROS_PER_YEAR), y.to_string()))
        .filter(|(x, _)| (0.0..=1.0).contains(x))
        .collect();
    Timeline {
        points,
        ticks,
        rows: row_ends.len() as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: &str, years_after_2010: f64) -> Dated<'_> {
        let at = ((2010 - EPOCH_YEAR) as f64 + years_after_2010) * MICROS_PER_YEAR;
        Dated {
            version,
            at_micros: at as i64,
            is_prerelease: version.contains("rc"),
            yanked: false,
            label: String::new(),
        }
    }

    #[test]
    fn spreads_releases_over_the_axis_in_time_order() {
        let t = layout(&[release("2.0", 8.0), release("1.0", 0.0), release("1.5", 4.0)]);
        let xs: Vec<(&str, f32)> = t.points.iter().map(|p| (p.version.as_str(), p.x)).collect();
        assert_eq!(xs, [("1.0", 0.0), ("1.5", 0.5), ("2.0", 1.0)]);
        assert_eq!(t.rows, 1);
        let years: Vec<&str> = t.ticks.iter().map(|(_, y)| y.as_str()).collect();
        assert_eq!(years, ["2011", "2012", "2013", "2014", "2015", "2016", "2017", "2018"]);
    }

    #[test]
    fn close_releases_stack_and_rows_are_bounded() {
        let versions: Vec<String> = (0..40).map(|i| format!("1.{i}")).collect();
        let mut releases: Vec<Dated> = versions.iter().map(|v| release(v, 0.0)).collect();
        releases.push(release("9.0", 10.0));
        let t = layout(&releases);
        assert_eq!(t.rows as usize, MAX_ROWS);
        assert!(t.points.iter().all(|p| (p.row as usize) < MAX_ROWS));
        assert_eq!(t.points.len(), 41);
    }

    #[test]
    fn one_release_sits_in_the_middle_and_none_is_empty() {
        assert_eq!(layout(&[release("1.0", 1.0)]).points[0].x, 0.5);
        assert_eq!(layout(&[]), Timeline::default());
    }
}
