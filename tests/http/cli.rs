//! The `cheeseshop` binary as a user runs it.

use std::process::Command;

use tempfile::TempDir;

use crate::helpers::{dataset_dir, sqlite_url};

fn cheeseshop(dir: &TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cheeseshop"));
    cmd.env("DATABASE_URL", sqlite_url(&dir.path().join("cli.db")))
        .env("RUST_LOG", "warn");
    cmd
}

#[test]
fn help_is_available_for_every_verb() {
    let dir = TempDir::new().expect("tempdir");
    for args in [
        &["--help"][..],
        &["import", "--help"],
        &["demo-data", "--help"],
        &["serve", "--help"],
    ] {
        let out = cheeseshop(&dir).args(args).output().expect("run");
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{args:?}");
    }
}

#[test]
fn import_prints_a_summary_and_names_skipped_files() {
    let dir = TempDir::new().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "not json").expect("write");
    let out = cheeseshop(&dir)
        .arg("import")
        .arg(dataset_dir())
        .arg(&bad)
        .output()
        .expect("run");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Imported 96 projects, 5,547 releases and 19,160 files"),
        "{stdout}"
    );
    assert!(stdout.contains("skipped 1 input files"), "{stdout}");
    assert!(stdout.contains("bad.json"), "the bad file is named: {stdout}");

    let again = cheeseshop(&dir)
        .args(["import", "--if-empty"])
        .arg(dataset_dir())
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&again.stdout).contains("already has projects"));
}

#[test]
fn demo_data_is_deterministic() {
    let run = || {
        let dir = TempDir::new().expect("tempdir");
        let out = cheeseshop(&dir)
            .args(["demo-data", "--projects", "200"])
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run();
    assert!(first.contains("Generated 200 projects"), "{first}");
    assert_eq!(first, run(), "same seed, same data");
}

#[test]
fn a_broken_database_url_stops_start_up_with_a_clear_message() {
    let dir = TempDir::new().expect("tempdir");
    let out = cheeseshop(&dir)
        .env("DATABASE_URL", "sqlite:///nonexistent-dir/x/y.db")
        .arg("migrate")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not open the database"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_migration_stops_start_up_with_a_clear_message() {
    let dir = TempDir::new().expect("tempdir");
    assert!(cheeseshop(&dir).arg("migrate").output().expect("run").status.success());
    // Tamper with the record of an applied migration, as a hand-edited
    // migration file would: sqlx refuses to go on.
    let url = sqlite_url(&dir.path().join("cli.db"));
    let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
    sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00'")
        .execute(&pool)
        .await
        .expect("tamper");
    pool.close().await;

    // Serving (no verb) must stop before it listens.
    let mut child = cheeseshop(&dir)
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started despite a failed migration");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("read");
    assert!(stderr.contains("database migration failed"), "{stderr}");
}
