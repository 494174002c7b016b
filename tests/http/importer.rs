use std::path::PathBuf;

use cheeseshop::server::db::{Db, DbOptions, catalog};
use cheeseshop::server::import::{collect_inputs, import_files};
use tempfile::TempDir;

use crate::helpers::{dataset_dir, db_url_for_dir};

async fn fresh_db(dir: &TempDir) -> Db {
    Db::open(&db_url_for_dir(dir.path()), &DbOptions::pool(2))
        .await
        .expect("db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_the_dataset_exactly_and_idempotently() {
    let dir = TempDir::new().expect("tempdir");
    let db = fresh_db(&dir).await;
    let inputs = collect_inputs(&[dataset_dir()]).expect("inputs");
    assert_eq!(inputs.len(), 96);

    let first = import_files(&db, &inputs, false).await;
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);
    assert_eq!((first.projects, first.releases, first.files), (96, 5_547, 19_160));
    assert_eq!(
        (first.new_projects, first.new_releases, first.new_files),
        (96, 5_547, 19_160)
    );
    let stats = catalog::stats(&db).await.expect("stats");
    assert_eq!((stats.projects, stats.releases, stats.files), (96, 5_547, 19_160));

    let second = import_files(&db, &inputs, false).await;
    assert_eq!((second.new_projects, second.new_releases, second.new_files), (0, 0, 0));
    assert_eq!(
        catalog::stats(&db).await.expect("stats"),
        stats,
        "importing twice changes no counts"
    );
    assert!(second.summary().contains("0 new releases"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_documents_are_reported_by_name_and_skipped() {
    let dir = TempDir::new().expect("tempdir");
    let input = dir.path().join("input");
    std::fs::create_dir(&input).expect("mkdir");
    // Two good documents (copied to a temp dir only, never into the repo)...
    for name in ["flask.json", "six.json"] {
        std::fs::copy(dataset_dir().join(name), input.join(name)).expect("copy");
    }
    // ...an invalid JSON file, a document missing fields, and a bad name.
    std::fs::write(input.join("broken.json"), b"{\"info\": ").expect("write");
    std::fs::write(input.join("missing.json"), br#"{"info": {"name": "x"}}"#).expect("write");
    std::fs::write(
        input.join("badname.json"),
        br#"{"info": {"name": "no way!", "version": "1"}, "releases": {}}"#,
    )
    .expect("write");
    let db = fresh_db(&dir).await;
    let report = import_files(
        &db,
        &collect_inputs(std::slice::from_ref(&input)).expect("inputs"),
        false,
    )
    .await;

    let skipped: Vec<PathBuf> = report.skipped.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(
        skipped,
        vec![
            input.join("badname.json"),
            input.join("broken.json"),
            input.join("missing.json")
        ]
    );
    assert_eq!(report.projects, 2, "the good documents are imported");
    assert!(report.summary().contains("skipped 3 input files"));
    let stats = catalog::stats(&db).await.expect("stats");
    assert_eq!(stats.projects, 2, "nothing half-written from the bad ones");
}
