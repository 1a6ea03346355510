//! A bot that stores every message it receives, one JSON object per line —
//! the seed use case of an instrument reporting data to a client that keeps
//! it. Run a server, then:
//!
//! ```text
//! cargo run --example logger -- --name logbot --file messages.jsonl
//! ```
//!
//! Broadcasts and private messages to `logbot` are appended to the file and
//! flushed line by line, so `tail -f messages.jsonl` shows them as they come.

use clap::Parser;
use evchat::client::{Client, Event};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
struct Args {
    /// Name to log in as.
    #[arg(long, default_value = "logbot")]
    name: String,
    /// File to append JSON lines to.
    #[arg(long, default_value = "messages.jsonl")]
    file: PathBuf,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 5555)]
    port: u16,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut file = match OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.file)
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("logger: cannot open {}: {e}", args.file.display());
            return ExitCode::from(1);
        }
    };
    let addr = (args.host.as_str(), args.port);
    let mut client = match Client::connect_as(addr, &args.name) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("logger: cannot log in as {}: {e}", args.name);
            return ExitCode::from(1);
        }
    };
    eprintln!("logger: logging messages to {}", args.file.display());
    loop {
        let record = match client.recv() {
            Ok(Event::Say { from, time, text }) => serde_json::json!({
                "kind": "say", "from": from, "time": time.to_rfc3339(), "text": text,
            }),
            Ok(Event::Msg {
                from,
                to,
                time,
                text,
            }) => serde_json::json!({
                "kind": "msg", "from": from, "to": to, "time": time.to_rfc3339(), "text": text,
            }),
            Ok(Event::Bye) => return ExitCode::SUCCESS,
            Ok(_) => continue,
            Err(e) => {
                eprintln!("logger: {e}");
                return ExitCode::from(1);
            }
        };
        // One write per record, so a reader tailing the file never sees
        // half a line.
        if let Err(e) = file.write_all(format!("{record}\n").as_bytes()) {
            eprintln!("logger: cannot write {}: {e}", args.file.display());
            return ExitCode::from(1);
        }
    }
}
