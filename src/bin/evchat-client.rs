//! `evchat-client <name>`: chat from a terminal or a script.

use clap::Parser;
use evchat::client::cli::{run, ClientArgs};
use std::process::ExitCode;

fn main() -> ExitCode {
    run(ClientArgs::parse())
}
