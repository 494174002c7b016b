//! The `cheeseshop` binary as a user runs it.

use std::process::Command;

use tempfile::TempDir;

use crate::helpers::{TestBackend, backend, dataset_dir, db_url_for_dir, execute_sql};

fn cheeseshop(dir: &TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cheeseshop"));
    cmd.env("DATABASE_URL", db_url_for_dir(dir.path()))
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
    // A PostgreSQL server that is not there: the message names it, without
    // the password.
    let out = cheeseshop(&dir)
        .env("DATABASE_URL", "postgres://app:hunter2@127.0.0.1:1/index")
        .arg("migrate")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not open the database"), "{stderr}");
    assert!(stderr.contains("postgres://app:***@127.0.0.1:1/index"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_migration_stops_start_up_with_a_clear_message() {
    let dir = TempDir::new().expect("tempdir");
    assert!(cheeseshop(&dir).arg("migrate").output().expect("run").status.success());
    // Tamper with the record of an applied migration, as a hand-edited
    // migration file would: sqlx refuses to go on.
    let tamper = match backend() {
        TestBackend::Sqlite => "UPDATE _sqlx_migrations SET checksum = x'00'",
        TestBackend::Postgres => "UPDATE _sqlx_migrations SET checksum = '\\x00'::BYTEA",
    };
    execute_sql(&db_url_for_dir(dir.path()), tamper, &[]).await;

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

#[tokio::test]
async fn users_and_tokens_are_created_from_the_command_line() {
    use std::io::Write as _;
    use std::process::Stdio;

    use cheeseshop::server::auth::hash_token;
    use cheeseshop::server::db::{Db, DbOptions, index};

    let dir = TempDir::new().expect("tempdir");
    let create_user = |password: &str| {
        let mut child = cheeseshop(&dir)
            .args(["user", "create", "--username", "ci-bot", "--email", "ci@example.org"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("write password");
        child.wait_with_output().expect("wait")
    };
    let short = create_user("short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("password"));
    let out = create_user("a long enough passphrase");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Created the user ci-bot."));
    assert!(
        !create_user("a long enough passphrase").status.success(),
        "the username is taken"
    );

    let out = cheeseshop(&dir)
        .args(["token", "create", "--user", "ci-bot"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("cheeseshop-") && token.len() == 11 + 64, "{token}");
    let missing = cheeseshop(&dir)
        .args(["token", "create", "--user", "nobody"])
        .output()
        .expect("run");
    assert!(!missing.status.success());
    let scoped = cheeseshop(&dir)
        .args(["token", "create", "--user", "ci-bot", "--project", "not-mine"])
        .output()
        .expect("run");
    assert!(!scoped.status.success(), "a project the user does not maintain");

    // Only the token's hash is stored, and it finds the user.
    let db = Db::open(&db_url_for_dir(dir.path()), &DbOptions::pool(1))
        .await
        .expect("open");
    let owner = index::token_owner(&db, &hash_token(&token))
        .await
        .expect("query")
        .expect("token");
    assert_eq!(owner.username, "ci-bot");
    assert_eq!(owner.project_id, None);
    assert!(index::token_owner(&db, &token).await.expect("query").is_none());
}

/// Drives `cheeseshop user create` through a pseudo-terminal, as a person
/// at a shell would: prints everything the terminal showed, exits with the
/// command's status.
const TTY_DRIVER: &str = r#"
import os, pty, signal, sys, termios, time
signal.alarm(60)
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
shown = b""
def read_until(marker):
    global shown
    while marker not in shown:
        chunk = os.read(fd, 1024)
        if not chunk:
            raise SystemExit("the terminal closed before " + repr(marker))
        shown += chunk
def type_when_echo_is_off(text):
    # The prompt is printed before echo is turned off: a person reads it
    # first, a script must wait for the terminal to stop echoing (as
    # pexpect's waitnoecho does), or what it types ahead is echoed.
    while termios.tcgetattr(fd)[3] & termios.ECHO:
        time.sleep(0.005)
    os.write(fd, text.encode() + b"\n")
read_until(b"Password for tty-user: ")
type_when_echo_is_off(os.environ["FIRST"])
read_until(b"again: ")
type_when_echo_is_off(os.environ["AGAIN"])
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    shown += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn on_a_terminal_the_password_is_asked_twice_and_never_shown() {
    let dir = TempDir::new().expect("tempdir");
    let run = |first: &str, again: &str| {
        Command::new("python3")
            .args(["-c", TTY_DRIVER, env!("CARGO_BIN_EXE_cheeseshop")])
            .args(["user", "create", "--username", "tty-user", "--email", "tty@example.org"])
            .env("DATABASE_URL", db_url_for_dir(dir.path()))
            .env("RUST_LOG", "warn")
            .env("FIRST", first)
            .env("AGAIN", again)
            .output()
            .expect("run python3")
    };
    let out = run("correct horse battery", "correct horse batteyr");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("do not match"), "{shown}");

    let out = run("correct horse battery", "correct horse battery");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}{}", String::from_utf8_lossy(&out.stderr));
    assert!(shown.contains("Created the user tty-user."), "{shown}");
    assert!(!shown.contains("correct horse"), "the password was echoed: {shown}");
}

#[test]
fn a_bad_setting_stops_start_up_and_names_its_variable() {
    let dir = TempDir::new().expect("tempdir");
    for (variable, value) in [
        ("CHEESESHOP_MAX_UPLOAD_MB", "abc"),
        ("CHEESESHOP_BASE_URL", "pypi.example.org"),
        ("CHEESESHOP_PAGE_CACHE_MB", "-1"),
        ("CHEESESHOP_SECURE_COOKIES", "maybe"),
        ("LEPTOS_SITE_ADDR", "not an address"),
    ] {
        for verb in [&["serve"][..], &["migrate"]] {
            let out = cheeseshop(&dir)
                .args(verb)
                .env(variable, value)
                .env(
                    "LEPTOS_SITE_ADDR",
                    if variable == "LEPTOS_SITE_ADDR" {
                        value
                    } else {
                        "127.0.0.1:0"
                    },
                )
                .output()
                .expect("run");
            let stderr = String::from_utf8_lossy(&out.stderr);
            if verb == ["migrate"] && variable == "LEPTOS_SITE_ADDR" {
                // Only serving needs an address.
                assert!(out.status.success(), "{stderr}");
                continue;
            }
            assert!(!out.status.success(), "{variable}={value} {verb:?} must not start");
            assert!(stderr.contains(variable), "{variable}: {stderr}");
            assert!(stderr.contains(value), "{variable}: {stderr}");
        }
    }
}
