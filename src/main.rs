//! sopbot command-line entry point: parse the arguments and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = sopbot::cli::Cli::parse();
    sopbot::cli::run(cli).await
}
