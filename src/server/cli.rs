//! The `cheeseshop` command line. No verb: serve.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::server::config::Config;
use crate::server::config::StorageLocation;
use crate::server::db::{Db, catalog};
use crate::server::http::Shutdown;
use crate::server::http::{Server, leptos_options};
use crate::server::object_storage::ObjectStorage;
use crate::server::page_cache::PageCache;
use crate::server::state::{AppState, Shared, search_concurrency};
use crate::server::storage::{LocalStorage, Storage};
use crate::server::{demo, import};

#[derive(Debug, Parser)]
#[command(name = "cheeseshop", version, about = "A self-hostable Python package index.", long_about = None)]
#[command(
    after_help = "Configuration comes from the environment: DATABASE_URL (default sqlite://cheeseshop.db), \
LEPTOS_SITE_ADDR (default 127.0.0.1:3000), CHEESESHOP_DB_MAX_CONNECTIONS, RUST_LOG."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web site and APIs (the default when no verb is given).
    Serve,
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Import PyPI JSON API documents (files, or directories of *.json).
    Import {
        /// Files or directories to import.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Do nothing when the index already has projects.
        #[arg(long)]
        if_empty: bool,
    },
    /// Manage user accounts (for scripted set-ups).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens for uploads (for scripted set-ups).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Generate a deterministic synthetic catalogue.
    DemoData {
        /// How many projects to generate.
        #[arg(long, default_value_t = 1000)]
        projects: usize,
        /// Seed of the generator: the same seed gives the same data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Do nothing when the index already has projects.
        #[arg(long)]
        if_empty: bool,
        /// Give every project exactly this many releases (default: a
        /// realistic random history of 1 to 40).
        #[arg(long)]
        releases_per_project: Option<usize>,
    },
    /// Reserve names that no upstream index may serve.
    Name {
        #[command(subcommand)]
        command: NameCommand,
    },
    /// The pull-through cache of upstream indexes (CHEESESHOP_UPSTREAM_URL).
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Copy a whole index to another database (SQLite to PostgreSQL, or
    /// back): every table, keeping ids; the target is migrated first, and
    /// running it again finishes an interrupted copy and adds nothing twice.
    /// Or, given two file stores (a directory as file:///path, a bucket as
    /// s3://bucket/prefix), copy every package file to the second: files
    /// already there with the same size are skipped, so running it again
    /// finishes an interrupted copy.
    Copy {
        /// The database or file store to copy from, e.g. sqlite://cheeseshop.db
        /// or file:///srv/cheeseshop-files.
        #[arg(long)]
        from: String,
        /// The database or file store to copy to, e.g.
        /// postgres://cheeseshop@db.example/cheeseshop or s3://packages/cheeseshop.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. The password is asked for twice without echo on a
    /// terminal, or read as one line from standard input when piped in;
    /// never from the command line, where other users could see it.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Display name (default: the username).
        #[arg(long)]
        name: Option<String>,
    },
    /// Make a user a site administrator, or no longer one.
    Admin {
        #[arg(value_parser = ["grant", "revoke"])]
        action: String,
        username: String,
    },
    /// Lock an account (no login; its sessions and tokens stop working), or unlock it.
    Lock {
        username: String,
    },
    Unlock {
        username: String,
    },
}

#[derive(Debug, Subcommand)]
enum NameCommand {
    /// Reserve names: never served from an upstream index.
    Reserve {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Release reserved names.
    Release {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// List the reserved names.
    List,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// How many upstream projects and files are cached, and their size.
    Stats,
    /// Forget an upstream project's cached list and its stored files (they
    /// are fetched again when asked for).
    Purge {
        /// The project's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API token and print it (it is shown only this once).
    Create {
        /// The user the token belongs to.
        #[arg(long)]
        user: String,
        /// Limit the token to one existing project the user maintains.
        #[arg(long)]
        project: Option<String>,
        /// A name to recognize the token by on the account page.
        #[arg(long, default_value = "command line")]
        name: String,
        /// What the token may do: read (a private index), upload, or both.
        #[arg(long, default_value = "read,upload")]
        scope: String,
    },
}

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match execute(cli.command.unwrap_or(Command::Serve), &config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, config: &Config) -> Result<(), String> {
    let db = match &command {
        Command::Copy { from, to } => return copy(from, to, config).await,
        _ => Db::open(&config.database_url, &config.db_options())
            .await
            .map_err(|e| e.to_string())?,
    };
    let result = match command {
        Command::Copy { .. } => Ok(()),
        Command::Serve => serve(db.clone(), config).await,
        Command::Migrate => {
            println!(
                "Database {} ({}) is up to date.",
                crate::server::db::postgres::redacted(&config.database_url),
                db.backend().name()
            );
            Ok(())
        }
        Command::Import { paths, if_empty } => {
            if if_empty && !catalog::is_empty(&db).await.map_err(|e| e.to_string())? {
                println!("The index already has projects; nothing imported.");
                return Ok(());
            }
            let inputs = import::collect_inputs(&paths).map_err(|e| format!("cannot list inputs: {e}"))?;
            let report = import::import_files(&db, &inputs, std::io::stderr().is_terminal()).await;
            db.after_bulk_load().await;
            println!("{}", report.summary());
            for (path, reason) in &report.skipped {
                println!("skipped {}: {reason}", path.display());
            }
            Ok(())
        }
        Command::User {
            command: UserCommand::Create { username, email, name },
        } => create_user(&db, &username, &email, name.as_deref()).await,
        Command::Token {
            command:
                TokenCommand::Create {
                    user,
                    project,
                    name,
                    scope,
                },
        } => create_token(&db, &user, project.as_deref(), &name, &scope).await,
        Command::User {
            command: UserCommand::Admin { action, username },
        } => set_user_flag(&db, &username, UserFlag::Admin, action == "grant").await,
        Command::User {
            command: UserCommand::Lock { username },
        } => set_user_flag(&db, &username, UserFlag::Locked, true).await,
        Command::User {
            command: UserCommand::Unlock { username },
        } => set_user_flag(&db, &username, UserFlag::Locked, false).await,
        Command::Cache { command } => cache(&db, command, config).await,
        Command::Name { command } => names(&db, command).await,
        Command::DemoData {
            projects,
            seed,
            if_empty,
            releases_per_project,
        } => {
            if if_empty && !catalog::is_empty(&db).await.map_err(|e| e.to_string())? {
                println!("The index already has projects; no demo data generated.");
                return Ok(());
            }
            let bar = if std::io::stderr().is_terminal() {
                indicatif::ProgressBar::new(projects as u64)
            } else {
                indicatif::ProgressBar::hidden()
            };
            let report = demo::generate(&db, projects, seed, releases_per_project, &bar)
                .await
                .map_err(|e| format!("database error: {e}"))?;
            db.after_bulk_load().await;
            bar.finish_and_clear();
            println!(
                "Generated {} projects, {} releases and {} files.",
                crate::domain::format::thousands(report.projects as i64),
                crate::domain::format::thousands(report.releases as i64),
                crate::domain::format::thousands(report.files as i64)
            );
            Ok(())
        }
    };
    db.close().await;
    result
}

/// `cheeseshop copy`: the copy with a progress bar on a terminal, a summary
/// per table, and the proof that both sides now hold the same rows.
async fn copy(from_url: &str, to_url: &str, config: &Config) -> Result<(), String> {
    use crate::server::db::copy;
    use crate::server::db::postgres::redacted;

    if from_url == to_url {
        return Err("--from and --to name the same database".into());
    }
    let is_store = |url: &str| url.starts_with("file://") || url.starts_with("s3://");
    if is_store(from_url) || is_store(to_url) {
        return copy_files(from_url, to_url, config).await;
    }
    let from = Db::open(from_url, &config.db_options())
        .await
        .map_err(|e| e.to_string())?;
    let to = Db::open(to_url, &config.db_options())
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "Copying {} ({}) to {} ({}).",
        redacted(from_url),
        from.backend().name(),
        redacted(to_url),
        to.backend().name()
    );
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template("{msg:>18} [{bar:40}] {pos}/{len} rows ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    let progress = |table: &str, done: u64, total: u64| {
        if bar.message() != table {
            bar.set_message(table.to_owned());
            bar.set_length(total);
        }
        bar.set_position(done);
    };
    let report = copy::copy(&from, &to, &progress)
        .await
        .map_err(|e| format!("database error: {e}"))?;
    to.after_bulk_load().await;
    bar.finish_and_clear();
    for (table, rows, added) in &report.tables {
        println!("  {table:<18} {rows:>10} rows, {added:>10} added");
    }
    println!("  search documents rebuilt for {} projects", report.projects_refreshed);
    if report.nul_stripped > 0 {
        println!(
            "  {} text values had NUL characters, which PostgreSQL cannot store: dropped",
            report.nul_stripped
        );
    }
    let (source, target) = tokio::try_join!(copy::table_counts(&from), copy::table_counts(&to))
        .map_err(|e| format!("database error: {e}"))?;
    from.close().await;
    to.close().await;
    let differ: Vec<String> = source
        .iter()
        .zip(&target)
        .filter(|(a, b)| a != b)
        .map(|((table, a), (_, b))| format!("{table}: {a} rows in the source, {b} in the target"))
        .collect();
    if differ.is_empty() {
        println!("Verified: every table holds the same number of rows on both sides.");
        Ok(())
    } else {
        Err(format!(
            "the target does not match the source (it held other rows before?): {}",
            differ.join("; ")
        ))
    }
}

async fn create_user(db: &Db, username: &str, email: &str, name: Option<&str>) -> Result<(), String> {
    use crate::domain::{DisplayName, Email, Password, Username};
    use crate::server::auth::{CreateAccountError, create_account};

    let username = Username::parse(username).map_err(|e| format!("username: {e}"))?;
    let email = Email::parse(email).map_err(|e| format!("email: {e}"))?;
    let name = DisplayName::parse(name.unwrap_or(username.as_str())).map_err(|e| format!("name: {e}"))?;
    let password = read_new_password(&username)?;
    let password = Password::parse(&password).map_err(|e| format!("password: {e}"))?;
    if let Some(why) =
        crate::server::auth::check_password_strength(&password, &[username.as_str(), email.as_str(), name.as_str()])
            .await
            .map_err(|e| format!("password: {e}"))?
    {
        return Err(format!("password: {why}"));
    }
    match create_account(db, &username, &email, &name, password).await {
        Ok(_) => {
            println!("Created the user {}.", username.as_str());
            Ok(())
        }
        Err(CreateAccountError::UsernameTaken) => Err(format!("the username {} is taken", username.as_str())),
        Err(CreateAccountError::EmailTaken) => {
            Err(format!("an account with the e-mail address {} exists", email.as_str()))
        }
        Err(CreateAccountError::Failed(e)) => Err(format!("cannot create the user: {e}")),
    }
}

/// The new user's password: asked twice without echo on a terminal, or the
/// first line of standard input when it is piped in (scripts, tests). Never
/// from argv, where other local users could read it in the process list.
fn read_new_password(username: &crate::domain::Username) -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {}: ", username.as_str()))
            .map_err(|e| format!("cannot read the password from the terminal: {e}"))?;
        let again = rpassword::prompt_password("The same password again: ")
            .map_err(|e| format!("cannot read the password from the terminal: {e}"))?;
        if first != again {
            return Err("the two passwords do not match".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn create_token(db: &Db, user: &str, project: Option<&str>, name: &str, scope: &str) -> Result<(), String> {
    use crate::server::db::{accounts, index};

    let name = crate::domain::TokenName::parse(name).map_err(|e| format!("token name: {e}"))?;
    let scopes = crate::domain::access::TokenScopes::parse(scope).map_err(|e| format!("scope: {e}"))?;
    let user_id = accounts::user_by_username(db, &user.trim().to_lowercase())
        .await
        .map_err(|e| format!("database error: {e}"))?
        .ok_or_else(|| format!("no user {user:?}"))?
        .id;
    let project_id = match project {
        None => None,
        Some(project) => {
            let normalized = crate::domain::normalize_project_name(project);
            let id = accounts::own_project_id(db, user_id, &normalized)
                .await
                .map_err(|e| format!("database error: {e}"))?;
            Some(id.ok_or_else(|| format!("{user} does not maintain a project {project:?}"))?)
        }
    };
    let (token, hash) = crate::server::auth::new_api_token();
    index::create_token(
        db,
        user_id,
        name.as_str(),
        &hash,
        project_id,
        scopes,
        crate::server::now_micros(),
    )
    .await
    .map_err(|e| format!("database error: {e}"))?;
    println!("{token}");
    Ok(())
}

#[derive(Clone, Copy)]
enum UserFlag {
    Admin,
    Locked,
}

/// `user admin grant|revoke`, `user lock|unlock`: recorded in the account's
/// security history.
async fn set_user_flag(db: &Db, username: &str, flag: UserFlag, on: bool) -> Result<(), String> {
    use crate::server::db::{accounts, manage};

    let username = crate::domain::Username::parse(username).map_err(|e| format!("username: {e}"))?;
    let user = accounts::user_by_username(db, &username.normalized())
        .await
        .map_err(|e| format!("database error: {e}"))?
        .ok_or_else(|| format!("no user {:?}", username.as_str()))?;
    let changed = accounts::set_flag(db, user.id, matches!(flag, UserFlag::Admin), on)
        .await
        .map_err(|e| format!("database error: {e}"))?;
    let (kind, detail, said) = match (flag, on) {
        (UserFlag::Admin, true) => ("account:admin", "granted", "is now a site administrator"),
        (UserFlag::Admin, false) => ("account:admin", "revoked", "is no longer a site administrator"),
        (UserFlag::Locked, true) => ("account:lock", "", "is locked"),
        (UserFlag::Locked, false) => ("account:unlock", "", "is unlocked"),
    };
    if changed {
        let event = crate::server::db::write::maintain::NewEvent {
            subject_id: Some(user.id),
            kind,
            detail: format!("{detail} from the command line").trim().to_owned(),
            ..Default::default()
        };
        manage::record(db, &event, crate::server::now_micros())
            .await
            .map_err(|e| format!("database error: {e}"))?;
    }
    println!("{} {said}", user.username);
    Ok(())
}

async fn serve(db: Db, config: &Config) -> Result<(), String> {
    let leptos_options = leptos_options()?;
    let addr = leptos_options.site_addr;
    let storage = open_storage(&config.storage, config)?;
    if let Err(error) = storage.check().await {
        // Served anyway: `/_health` says so until the store answers.
        tracing::warn!(%error, "the file store does not answer");
    }
    let upstream = match &config.upstream {
        Some(options) => Some(Arc::new(
            crate::server::upstream::Upstream::new(options).map_err(|e| format!("CHEESESHOP_UPSTREAM_URL: {e}"))?,
        )),
        None => None,
    };
    let state = AppState::from(Shared {
        upstream,
        secure_cookies: config.secure_cookies,
        cache_notify: config.cache_notify,
        trust_proxy: config.trust_proxy,
        private: config.private,
        max_upload_bytes: config.max_upload_bytes,
        base_url: config.base_url.clone(),
        page_concurrency: config.page_concurrency,
        request_deadline: config.request_deadline,
        page_cache: Arc::new(PageCache::new(config.page_cache_bytes)),
        search_cache: Arc::new(crate::server::search_cache::SearchCache::new(config.search_cache_bytes)),
        search_slots: Arc::new(tokio::sync::Semaphore::new(search_concurrency(
            config.search_concurrency,
        ))),
        ..Shared::new(leptos_options, db, storage)
    });
    let server = Server::bind(addr, state)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(
        "cheeseshop listening on http://{}",
        server.local_addr().map_err(|e| e.to_string())?
    );
    let shutdown = Shutdown {
        drain: config.drain,
        grace: config.shutdown_grace,
    };
    server.run(shutdown).await.map_err(|e| format!("server error: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// Copies every package file of one store to another, skipping those
/// already there with the same size; prints a summary.
async fn copy_files(from_url: &str, to_url: &str, config: &Config) -> Result<(), String> {
    let Some(root) = from_url.strip_prefix("file://") else {
        return Err("files are copied from a directory (--from file:///path) to a store".into());
    };
    let location = StorageLocation::parse(to_url)
        .ok_or_else(|| format!("--to {to_url:?} is not a file store: expected file:///path or s3://bucket/prefix"))?;
    let to = open_storage(&location, config)?;
    to.check()
        .await
        .map_err(|e| format!("the store {to_url} does not answer: {e}"))?;
    let root = PathBuf::from(root);
    let keys = crate::server::storage::keys_in(&root).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    println!("Copying {} files from {} to {to_url}.", keys.len(), root.display());
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(keys.len() as u64).with_style(
            indicatif::ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} files ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_message("files");
    let (mut copied, mut skipped, mut bytes) = (0u64, 0u64, 0u64);
    for key in &keys {
        let source = root.join(key);
        let size = tokio::fs::metadata(&source)
            .await
            .map_err(|e| format!("{}: {e}", source.display()))?
            .len();
        let present = to.open(key).await.map_err(|e| format!("{key}: {e}"))?;
        if present.is_some_and(|object| object.size == size) {
            skipped += 1;
        } else {
            // `put` consumes a staged file: stage a copy, keep the source.
            let staged = to.staging_dir().join(format!("copy-{:016x}", rand::random::<u64>()));
            tokio::fs::copy(&source, &staged)
                .await
                .map_err(|e| format!("{}: {e}", source.display()))?;
            if let Err(e) = to.put(key, &staged).await {
                let _ = tokio::fs::remove_file(&staged).await;
                return Err(format!("{key}: {e}"));
            }
            copied += 1;
            bytes += size;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "Copied {copied} files ({:.1} MiB); {skipped} were there already.",
        bytes as f64 / 1024.0 / 1024.0
    );
    Ok(())
}

/// The package file store at `location`, with the configuration's other
/// storage settings (staging, redirects; the AWS variables are read by the
/// store itself).
async fn names(db: &Db, command: NameCommand) -> Result<(), String> {
    use crate::server::db::upstream;
    let database = |e: sqlx::Error| format!("database error: {e}");
    let parse = |name: &str| {
        crate::domain::ProjectName::parse(name)
            .map(|_| crate::domain::normalize_project_name(name))
            .map_err(|_| format!("{name:?} is not a project name"))
    };
    match command {
        NameCommand::Reserve { names } => {
            for name in &names {
                let normalized = parse(name)?;
                let reserved = upstream::reserve(db, &normalized, crate::server::now_micros())
                    .await
                    .map_err(database)?;
                if reserved.newly {
                    println!("Reserved {normalized}.");
                } else {
                    println!("{normalized} was reserved already.");
                }
                if reserved.project_exists {
                    println!("  A project of that name exists: it keeps its releases and its uploads.");
                }
            }
        }
        NameCommand::Release { names } => {
            for name in &names {
                let normalized = parse(name)?;
                if upstream::release_name(db, &normalized).await.map_err(database)? {
                    println!("Released {normalized}.");
                } else {
                    println!("{normalized} was not reserved.");
                }
            }
        }
        NameCommand::List => {
            for name in upstream::reserved_names(db).await.map_err(database)? {
                println!("{name}");
            }
        }
    }
    Ok(())
}

async fn cache(db: &Db, command: CacheCommand, config: &Config) -> Result<(), String> {
    use crate::domain::format::{human_size, thousands};
    let database = |e: sqlx::Error| format!("database error: {e}");
    match command {
        CacheCommand::Stats => {
            let stats = crate::server::db::upstream::stats(db).await.map_err(database)?;
            println!(
                "Upstream projects cached: {} (and {} names the upstream does not have)",
                thousands(stats.projects),
                thousands(stats.missing)
            );
            println!(
                "Upstream files stored: {} ({})",
                thousands(stats.files),
                human_size(stats.bytes)
            );
            if let Some(max) = config.upstream.as_ref().and_then(|u| u.max_bytes) {
                println!("Size cap: {}", human_size(i64::try_from(max).unwrap_or(i64::MAX)));
            }
            Ok(())
        }
        CacheCommand::Purge { name } => {
            if crate::domain::ProjectName::parse(&name).is_err() {
                return Err(format!("{name:?} is not a project name"));
            }
            let normalized = crate::domain::normalize_project_name(&name);
            let storage = open_storage(&config.storage, config)?;
            let (listed, files, bytes) = crate::server::upstream::purge(db, &*storage, &normalized)
                .await
                .map_err(database)?;
            if !listed && files == 0 {
                println!("{normalized} is not in the cache.");
            } else {
                println!(
                    "Forgot {normalized}: its list{} and {} stored files ({}).",
                    if listed { "" } else { " (none cached)" },
                    thousands(files as i64),
                    human_size(bytes as i64)
                );
            }
            Ok(())
        }
    }
}

pub fn open_storage(location: &StorageLocation, config: &Config) -> Result<Arc<dyn Storage>, String> {
    match location {
        StorageLocation::Local(dir) => LocalStorage::open(dir)
            .map(|storage| Arc::new(storage) as Arc<dyn Storage>)
            .map_err(|e| format!("cannot open the file storage {dir:?}: {e}")),
        StorageLocation::S3(location) => ObjectStorage::open(location, &config.staging_dir, config.storage_redirect)
            .map(|storage| Arc::new(storage) as Arc<dyn Storage>)
            .map_err(|e| format!("cannot use the bucket {:?}: {e}", location.bucket)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
