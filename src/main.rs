#[tokio::main]
async fn main() -> std::process::ExitCode {
    cheeseshop::server::cli::run().await
}
