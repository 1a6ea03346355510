//! `evchat-server`: parses settings, sets up logging, runs the loop.

use clap::Parser;
use evchat::server::{Server, ServerArgs, ServerConfig};
use log::{error, LevelFilter};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = ServerArgs::parse();
    let config = ServerConfig::from_args(&args);
    let level = config.as_ref().map_or(LevelFilter::Info, |c| c.log_level);
    // Logging to stderr with UTC timestamps; failure here means a logger
    // was already set, which cannot happen in this binary.
    let _ = simple_logger::SimpleLogger::new()
        .with_level(level)
        .with_utc_timestamps()
        .init();
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(&config) {
        Ok(server) => server,
        Err(e) => {
            error!("cannot listen on {}:{}: {e}", config.host, config.port);
            return ExitCode::from(1);
        }
    };
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("server stopped: {e}");
            ExitCode::from(1)
        }
    }
}
