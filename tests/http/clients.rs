//! The real clients against the real server: packages built with `python -m
//! build`, published with twine and `uv publish`, installed with pip and
//! `uv pip` into fresh virtual environments, and imported.
//!
//! The clients live in `.tools/python` (made by `scripts/setup.sh`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use crate::helpers::{TestApp, spawn_empty, user_with_token};

pub(crate) fn tools() -> PathBuf {
    let dir = std::env::var_os("CHEESESHOP_PYTOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/python"));
    assert!(
        dir.join("bin/twine").exists() && dir.join("bin/uv").exists(),
        "the Python clients are missing from {}: run scripts/setup.sh",
        dir.display()
    );
    dir
}

pub(crate) fn tool(name: &str) -> Command {
    let mut cmd = Command::new(tools().join("bin").join(name));
    // Nothing from the user's configuration or from pypi.org.
    cmd.env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("UV_NO_CONFIG", "1")
        .env_remove("PIP_INDEX_URL")
        .env_remove("UV_INDEX_URL")
        .env_remove("UV_DEFAULT_INDEX")
        .env("TWINE_NON_INTERACTIVE", "1");
    cmd
}

/// Runs a command off the async threads (the server shares the runtime).
pub(crate) async fn run(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    if !out.status.success() {
        panic!(
            "{shown} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

pub(crate) struct Package<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub requires_python: &'a str,
    pub dependencies: &'a [&'a str],
}

/// An sdist and a wheel of a one-module package, built by `python -m build`.
pub(crate) async fn build(work: &Path, p: &Package<'_>) -> Vec<PathBuf> {
    let module = p.name.replace('-', "_");
    let src = work.join(format!("src-{}-{}", p.name, p.version));
    std::fs::create_dir_all(&src).expect("mkdir");
    let deps = p
        .dependencies
        .iter()
        .map(|d| format!("{d:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        src.join("pyproject.toml"),
        format!(
            "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"{}\"\nversion = \"{}\"\ndescription = \"A tiny package for cheeseshop's tests\"\n\
             readme = \"README.md\"\nrequires-python = \"{}\"\ndependencies = [{deps}]\n\
             classifiers = [\"Programming Language :: Python :: 3\"]\n\n\
             [project.urls]\nSource = \"https://example.org/{}\"\n\n\
             [tool.setuptools]\npy-modules = [\"{module}\"]\n",
            p.name, p.version, p.requires_python, p.name
        ),
    )
    .expect("pyproject");
    std::fs::write(
        src.join("README.md"),
        format!("# {}\n\nVersion {}.\n", p.name, p.version),
    )
    .expect("readme");
    std::fs::write(src.join(format!("{module}.py")), format!("VERSION = {:?}\n", p.version)).expect("module");
    let dist = work.join(format!("dist-{}-{}", p.name, p.version));
    let mut cmd = tool("python");
    cmd.args(["-m", "build", "--no-isolation", "--outdir"])
        .arg(&dist)
        .arg(&src);
    run(cmd).await;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dist)
        .expect("dist")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "an sdist and a wheel: {files:?}");
    files
}

pub(crate) async fn twine_upload(app: &TestApp, token: &str, files: &[PathBuf]) -> Output {
    let mut cmd = tool("twine");
    cmd.arg("upload")
        .args(["--repository-url", &app.url("/legacy/")])
        .args(["-u", "__token__", "-p", token])
        .arg("--disable-progress-bar")
        .args(files);
    run(cmd).await
}

async fn uv_publish(app: &TestApp, token: &str, files: &[PathBuf], cache: &Path) -> Output {
    let mut cmd = tool("uv");
    cmd.arg("publish")
        .args(["--publish-url", &app.url("/legacy/")])
        .args(["--token", token])
        .args(["--trusted-publishing", "never"])
        .arg("--cache-dir")
        .arg(cache)
        .args(files);
    run(cmd).await
}

/// A fresh venv at `venv`, made by the tools' Python (with pip).
pub(crate) async fn make_pip_venv(venv: &Path) {
    let mut cmd = tool("python");
    cmd.args(["-m", "venv"]).arg(venv);
    run(cmd).await;
}

/// `pip install requirement` into `venv` from `index` only, with no cache
/// and nothing from the user's configuration.
pub(crate) fn pip_install(venv: &Path, index: &str, requirement: &str) -> Command {
    let mut cmd = Command::new(venv.join("bin/pip"));
    cmd.env("PIP_CONFIG_FILE", "/dev/null")
        .args([
            "install",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--index-url",
            index,
        ])
        .arg(requirement);
    cmd
}

/// A fresh venv at `venv`, made by uv for the tools' Python.
pub(crate) async fn make_uv_venv(venv: &Path, cache: &Path) {
    let mut cmd = tool("uv");
    cmd.arg("venv")
        .arg(venv)
        .arg("--python")
        .arg(tools().join("bin/python"))
        .arg("--cache-dir")
        .arg(cache);
    run(cmd).await;
}

/// `uv pip install args…` into `venv` from `index` only.
pub(crate) fn uv_install(venv: &Path, index: &str, cache: &Path, args: &[&str]) -> Command {
    let mut cmd = tool("uv");
    cmd.args(["pip", "install", "--index-url", index, "--python"])
        .arg(venv.join("bin/python"))
        .arg("--cache-dir")
        .arg(cache)
        .args(args);
    cmd
}

/// `python -c code` in the venv at `venv`.
pub(crate) async fn python_in(venv: &Path, code: &str) -> String {
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.args(["-c", code]);
    String::from_utf8_lossy(&run(cmd).await.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twine_and_uv_publish_then_pip_and_uv_install() {
    let app = spawn_empty().await;
    let (_, token) = user_with_token(&app, "publisher", None).await;
    let work = TempDir::new().expect("tempdir");
    let w = work.path();
    let uv_cache = w.join("uv-cache");

    // Several versions of `cheese-curd`: 1.6 needs a Python that does not exist.
    let mut curd = Vec::new();
    for (version, requires_python) in [("1.0", ">=3.8"), ("1.5", ">=3.8"), ("1.6", ">=4"), ("2.0", ">=3.8")] {
        curd.push(
            build(
                w,
                &Package {
                    name: "cheese-curd",
                    version,
                    requires_python,
                    dependencies: &[],
                },
            )
            .await,
        );
    }
    // `cheese-board` depends on a range of cheese-curd.
    let board = build(
        w,
        &Package {
            name: "cheese-board",
            version: "0.1",
            requires_python: ">=3.8",
            dependencies: &["cheese-curd>=1,<2"],
        },
    )
    .await;

    // twine uploads the curds (both files each); uv publishes the board.
    for files in &curd {
        twine_upload(&app, &token, files).await;
    }
    // Uploading the same files again is accepted (same bytes).
    twine_upload(&app, &token, &curd[0]).await;
    uv_publish(&app, &token, &board, &uv_cache).await;

    // A wrong token: twine fails, and says why.
    let mut cmd = tool("twine");
    cmd.arg("upload")
        .args(["--repository-url", &app.url("/legacy/")])
        .args(["-u", "__token__", "-p", "cheeseshop-wrong"])
        .arg("--disable-progress-bar")
        .args(&board);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("twine");
    assert!(!out.status.success());
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("Invalid or revoked API token"),
        "twine shows our reason:\n{shown}"
    );

    let index = app.url("/simple/");

    // pip: a fresh venv, only our index; resolution picks 1.5 (1.6 needs
    // Python 4, 2.0 is out of range).
    let pip_venv = w.join("venv-pip");
    make_pip_venv(&pip_venv).await;
    run(pip_install(&pip_venv, &index, "cheese-board")).await;
    assert_eq!(
        python_in(
            &pip_venv,
            "import cheese_board, cheese_curd; print(cheese_curd.VERSION)"
        )
        .await,
        "1.5"
    );

    // uv: another fresh venv; an explicit range, then the newest.
    let uv_venv = w.join("venv-uv");
    make_uv_venv(&uv_venv, &uv_cache).await;
    run(uv_install(&uv_venv, &index, &uv_cache, &["cheese-curd>=1,<2"])).await;
    assert_eq!(
        python_in(&uv_venv, "import cheese_curd; print(cheese_curd.VERSION)").await,
        "1.5"
    );
    run(uv_install(&uv_venv, &index, &uv_cache, &["--upgrade", "cheese-curd"])).await;
    assert_eq!(
        python_in(&uv_venv, "import cheese_curd; print(cheese_curd.VERSION)").await,
        "2.0"
    );

    // What was published is what the JSON API describes.
    let doc = app.get_json("/pypi/cheese-curd/json").await;
    assert_eq!(doc["info"]["version"], "2.0");
    assert_eq!(doc["releases"].as_object().expect("releases").len(), 4);
    assert_eq!(doc["releases"]["1.6"][0]["requires_python"], ">=4");
    let board = app.get_json("/pypi/cheese-board/json").await;
    assert_eq!(board["info"]["requires_dist"], serde_json::json!(["cheese-curd<2,>=1"]));
    assert_eq!(board["urls"].as_array().expect("urls").len(), 2, "{board:#}");
}
