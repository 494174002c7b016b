//! `cheeseshop demo-data`: a deterministic, realistic synthetic catalogue.
//!
//! The same `--projects N` (and seed) always produces the same data: names,
//! summaries, markdown descriptions, release histories with pre-releases,
//! files with real digests of their (synthetic) content, dates over years.
//! Projects are written in batched transactions, so 100k projects take
//! seconds to minutes, not hours.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest as _};
use md5::Md5;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::Sha256;

use crate::domain::{ProjectName, ReleaseVersion};
use crate::server::db::Db;
use crate::server::db::write::{BulkFile, BulkProject, BulkRelease, ReleaseMetadata};

const ADJECTIVES: &[&str] = &[
    "async", "fast", "tiny", "smart", "lazy", "pure", "simple", "robust", "secure", "fuzzy", "rapid", "micro", "open",
    "deep", "easy", "clever", "quiet", "bright", "swift", "bold", "gentle", "happy", "sharp", "solid", "sturdy",
    "lucid", "nimble", "tidy", "brisk", "calm", "keen", "lean",
];
const NOUNS: &[&str] = &[
    "parser",
    "cache",
    "client",
    "router",
    "logger",
    "config",
    "queue",
    "scheduler",
    "crypto",
    "json",
    "yaml",
    "http",
    "cli",
    "orm",
    "graph",
    "image",
    "audio",
    "vector",
    "stream",
    "socket",
    "table",
    "matrix",
    "template",
    "mailer",
    "tokenizer",
    "profiler",
    "linter",
    "formatter",
    "validator",
    "serializer",
    "storage",
    "metrics",
    "tracer",
    "proxy",
    "bridge",
    "toolkit",
    "utils",
    "forms",
    "auth",
    "search",
];
const TOPICS: &[&str] = &[
    "web applications",
    "data pipelines",
    "command-line tools",
    "scientific computing",
    "network services",
    "machine learning",
    "testing",
    "documentation",
    "system administration",
    "text processing",
];
const LICENSES: &[&str] = &[
    "MIT",
    "BSD-3-Clause",
    "Apache-2.0",
    "GPL-3.0-or-later",
    "MPL-2.0",
    "ISC",
];
const FIRST_NAMES: &[&str] = &[
    "Ada", "Guido", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Radia", "Alan",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace", "Hopper", "Liskov", "Thompson", "Hamilton", "Ritchie", "Perlman", "Kay",
];
const CLASSIFIER_TOPICS: &[&str] = &[
    "Topic :: Internet :: WWW/HTTP",
    "Topic :: Software Development :: Libraries :: Python Modules",
    "Topic :: Scientific/Engineering",
    "Topic :: System :: Networking",
    "Topic :: Text Processing",
    "Topic :: Utilities",
    "Framework :: Django",
    "Framework :: Flask",
    "Framework :: AsyncIO",
];

/// 2012-01-01T00:00:00Z in microseconds.
const START: i64 = 1_325_376_000_000_000;
/// About 14 years, in microseconds.
const SPAN: i64 = 14 * 365 * 86_400 * 1_000_000;
const PROJECTS_PER_TRANSACTION: usize = 500;

/// The `i`-th project name: unique by construction for every `i`.
pub fn project_name(i: usize) -> String {
    let a = ADJECTIVES[i % ADJECTIVES.len()];
    let n = NOUNS[(i / ADJECTIVES.len()) % NOUNS.len()];
    let round = i / (ADJECTIVES.len() * NOUNS.len());
    if round == 0 {
        format!("{a}-{n}")
    } else {
        format!("{a}-{n}-{round}")
    }
}

struct DemoFile {
    filename: String,
    packagetype: &'static str,
    python_version: &'static str,
    size: i64,
    sha256: String,
    md5: String,
    blake2b_256: String,
    upload_time: i64,
}

struct DemoRelease {
    version: String,
    created: i64,
    files: Vec<DemoFile>,
}

/// A project's release history: `exactly` releases, or a random number.
fn releases_for(rng: &mut ChaCha8Rng, name: &str, exactly: Option<usize>) -> Vec<DemoRelease> {
    let random = 1
        + rng.random_range(0..12usize)
        + if rng.random_bool(0.1) {
            rng.random_range(0..30)
        } else {
            0
        };
    let count = exactly.unwrap_or(random);
    let mut t = START + rng.random_range(0..SPAN / 2);
    let step = ((START + SPAN - t) / (count as i64 + 1)).max(1);
    let (mut major, mut minor, mut patch) = (0u32, 1u32, 0u32);
    let dist = name.replace('-', "_");
    let mut out = Vec::with_capacity(count + 4);
    for _ in 0..count {
        match rng.random_range(0..10) {
            0 => (major, minor, patch) = (major + 1, 0, 0),
            1..=3 => (minor, patch) = (minor + 1, 0),
            _ => patch += 1,
        }
        let final_version = format!("{major}.{minor}.{patch}");
        // Some releases are preceded by a release candidate or a beta.
        if patch == 0 && rng.random_bool(0.3) {
            let pre = if rng.random_bool(0.5) { "rc1" } else { "b1" };
            out.push(release(rng, &dist, format!("{major}.{minor}.{patch}{pre}"), t));
            t += rng.random_range(1..=step / 4 + 1);
        }
        out.push(release(rng, &dist, final_version, t));
        t += rng.random_range(step / 2..=step + 1);
    }
    if exactly.is_some() {
        // Pre-releases come in addition: keep the newest `count`.
        out.drain(..out.len().saturating_sub(count));
    }
    out
}

fn release(rng: &mut ChaCha8Rng, dist: &str, version: String, created: i64) -> DemoRelease {
    let mut files = Vec::with_capacity(2);
    let sdist = format!("{dist}-{version}.tar.gz");
    let wheel = format!("{dist}-{version}-py3-none-any.whl");
    for (i, (filename, packagetype, python_version)) in [(sdist, "sdist", "source"), (wheel, "bdist_wheel", "py3")]
        .into_iter()
        .enumerate()
    {
        // The digests are real digests of deterministic synthetic content.
        let content = format!("{filename}:{}", rng.random::<u64>());
        files.push(DemoFile {
            size: rng.random_range(4_000..2_000_000),
            sha256: hex::encode(Sha256::digest(content.as_bytes())),
            md5: hex::encode(Md5::digest(content.as_bytes())),
            blake2b_256: hex::encode(Blake2b::<U32>::digest(content.as_bytes())),
            upload_time: created + i as i64 * 1_000_000,
            filename,
            packagetype,
            python_version,
        });
    }
    DemoRelease {
        version,
        created,
        files,
    }
}

fn metadata(rng: &mut ChaCha8Rng, name: &str) -> ReleaseMetadata {
    let pick = |rng: &mut ChaCha8Rng, list: &[&'static str]| list[rng.random_range(0..list.len())];
    let topic = pick(rng, TOPICS);
    let noun = name.split('-').nth(1).unwrap_or("toolkit");
    let author = format!("{} {}", pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES));
    let license = pick(rng, LICENSES);
    let summary = format!("A {} {noun} for {topic}", name.split('-').next().unwrap_or("small"));
    let description = format!(
        "# {name}\n\n{summary}.\n\n## Installation\n\n```console\n$ pip install {name}\n```\n\n\
         ## Usage\n\n```python\nimport {module}\n\n{module}.run()\n```\n\n\
         ## Features\n\n- Works with Python 3.9 and later\n- Fully typed\n- No dependencies beyond the standard library\n\n\
         ## License\n\n{license}\n",
        module = name.replace('-', "_"),
    );
    let mut classifiers = vec![
        "Development Status :: 5 - Production/Stable".to_owned(),
        "Intended Audience :: Developers".to_owned(),
        "Programming Language :: Python :: 3".to_owned(),
        format!("License :: OSI Approved :: {license}"),
    ];
    classifiers.push(pick(rng, CLASSIFIER_TOPICS).to_owned());
    let slug = name.to_owned();
    let urls = vec![
        ("Documentation".to_owned(), format!("https://{slug}.readthedocs.io/")),
        ("Source".to_owned(), format!("https://git.example.org/{slug}")),
    ];
    ReleaseMetadata {
        description_html: crate::server::render::render_description(&description, "text/markdown"),
        summary,
        description,
        description_content_type: "text/markdown".to_owned(),
        author_email: format!("{}@example.org", author.to_lowercase().replace(' ', ".")),
        author,
        license: license.to_owned(),
        keywords: format!("{noun},{}", topic.replace(' ', "-")),
        home_page: format!("https://{slug}.example.org/"),
        requires_python: ">=3.9".to_owned(),
        project_urls_json: serde_json::to_string(&urls).unwrap_or_else(|_| "[]".into()),
        classifiers_json: serde_json::to_string(&classifiers).unwrap_or_else(|_| "[]".into()),
        requires_dist_json: "[]".to_owned(),
        ..ReleaseMetadata::default()
    }
}

#[derive(Debug, Default)]
pub struct DemoReport {
    pub projects: usize,
    pub releases: usize,
    pub files: usize,
}

/// Generates `projects` projects (existing names are left as they are),
/// each with its own release history or, with `releases_per_project`,
/// exactly that many releases (for catalogues of a given shape, as the
/// bench's million projects with five million releases).
pub async fn generate(
    db: &Db,
    projects: usize,
    seed: u64,
    releases_per_project: Option<usize>,
    bar: &indicatif::ProgressBar,
) -> Result<DemoReport, sqlx::Error> {
    let mut report = DemoReport::default();
    let now = crate::server::now_micros();
    let mut start = 0;
    while start < projects {
        let end = (start + PROJECTS_PER_TRANSACTION).min(projects);
        let batch: Vec<BulkProject> = (start..end)
            .filter_map(|i| demo_project(i, seed, releases_per_project))
            .collect();
        let mut tx = db.begin_write().await?;
        let added = tx.add_projects(&batch, now).await?;
        tx.commit().await?;
        report.projects += added.projects;
        report.releases += added.releases;
        report.files += added.files;
        bar.inc((end - start) as u64);
        start = end;
    }
    Ok(report)
}

/// Project `i` of the catalogue: one RNG stream per project, so project `i`
/// is the same whatever N is.
fn demo_project(i: usize, seed: u64, releases_per_project: Option<usize>) -> Option<BulkProject> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let name = ProjectName::parse(&project_name(i)).ok()?;
    let releases = releases_for(&mut rng, name.as_str(), releases_per_project);
    let metadata = metadata(&mut rng, name.as_str());
    let releases = releases
        .into_iter()
        .map(|r| {
            let v = ReleaseVersion::parse(&r.version);
            BulkRelease {
                sort_key: v.sort_key(r.created),
                is_prerelease: v.is_prerelease(),
                is_legacy: v.is_legacy(),
                created: r.created,
                files: r
                    .files
                    .into_iter()
                    .map(|f| BulkFile {
                        url: format!(
                            "https://files.example.org/packages/{}/{}/{}",
                            &f.blake2b_256[..2],
                            &f.blake2b_256[2..4],
                            f.filename
                        ),
                        filename: f.filename,
                        packagetype: f.packagetype.to_owned(),
                        python_version: f.python_version.to_owned(),
                        size: f.size,
                        sha256: f.sha256,
                        md5: f.md5,
                        blake2b_256: f.blake2b_256,
                        upload_time: f.upload_time,
                        requires_python: Some(">=3.9".to_owned()),
                    })
                    .collect(),
                version: r.version,
            }
        })
        .collect();
    Some(BulkProject {
        name: name.as_str().to_owned(),
        normalized_name: name.normalized(),
        releases,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_valid() {
        let names: std::collections::HashSet<String> = (0..5_000).map(project_name).collect();
        assert_eq!(names.len(), 5_000);
        assert!(names.iter().all(|n| ProjectName::parse(n).is_ok()));
    }

    #[test]
    fn generation_is_deterministic() {
        let run = || {
            let mut rng = ChaCha8Rng::seed_from_u64(42);
            releases_for(&mut rng, "fast-parser", None)
                .into_iter()
                .map(|r| (r.version, r.files[0].sha256.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
        assert!(!run().is_empty());
        for n in [1, 5, 40] {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            assert_eq!(releases_for(&mut rng, "fast-parser", Some(n)).len(), n);
        }
    }
}
