//! The `cheeseshop` command line. No verb: serve.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::server::config::Config;
use crate::server::db::{Db, catalog};
use crate::server::http::{Server, leptos_options};
use crate::server::state::AppState;
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
    let config = Config::from_env();
    match execute(cli.command.unwrap_or(Command::Serve), &config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, config: &Config) -> Result<(), String> {
    let db = Db::open(&config.database_url, config.max_connections)
        .await
        .map_err(|e| e.to_string())?;
    let result = match command {
        Command::Serve => serve(db.clone(), config).await,
        Command::Migrate => {
            println!("Database {} is up to date.", config.database_url);
            Ok(())
        }
        Command::Import { paths, if_empty } => {
            if if_empty && !catalog::is_empty(&db).await.map_err(|e| e.to_string())? {
                println!("The index already has projects; nothing imported.");
                return Ok(());
            }
            let inputs = import::collect_inputs(&paths).map_err(|e| format!("cannot list inputs: {e}"))?;
            let report = import::import_files(&db, &inputs, std::io::stderr().is_terminal()).await;
            println!("{}", report.summary());
            for (path, reason) in &report.skipped {
                println!("skipped {}: {reason}", path.display());
            }
            Ok(())
        }
        Command::DemoData {
            projects,
            seed,
            if_empty,
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
            let report = demo::generate(&db, projects, seed, &bar)
                .await
                .map_err(|e| format!("database error: {e}"))?;
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

async fn serve(db: Db, config: &Config) -> Result<(), String> {
    let leptos_options = leptos_options();
    let addr = leptos_options.site_addr;
    let state = AppState {
        secure_cookies: config.secure_cookies,
        trust_proxy: config.trust_proxy,
        ..AppState::new(leptos_options, db)
    };
    let server = Server::bind(addr, state)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(
        "cheeseshop listening on http://{}",
        server.local_addr().map_err(|e| e.to_string())?
    );
    server.run().await.map_err(|e| format!("server error: {e}"))
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
