//! A bot that stores every message it receives — the seed use case of an
//! instrument reporting data to a client that keeps it in a database. It
//! shows the client library end to end: TLS, a login with a password, and
//! a receive loop that ends in one clear line. Run a server, then:
//!
//! ```text
//! cargo run --release --example logger -- --name logbot --file messages.jsonl --sqlite messages.db
//! ```
//!
//! Broadcasts and private messages to `logbot` are appended to the JSON
//! lines file (the default sink) and/or inserted into table `messages` of
//! the SQLite database, each as it arrives (see `sink.rs` for what a crash
//! can lose). The logger runs until the session ends — the server shuts
//! down, takes the name over, or goes away — and then says why in one line
//! on stderr and exits 1, so a supervisor can restart it.

mod sink;

use clap::Parser;
use evchat::client::{tls, Client, Error, Event};
use sink::{JsonLines, Record, Sinks, Sqlite};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where JSON lines go when no sink is named.
const DEFAULT_FILE: &str = "messages.jsonl";

#[derive(Parser)]
#[command(
    name = "logger",
    about = "Store every message an evchat server delivers to this bot, as JSON lines, SQLite rows or both",
    after_help = "Exit status: 1 when the session ends (the reason is printed in one line), 2 for bad arguments."
)]
struct Args {
    /// Name to log in as: 1-32 characters of A-Z a-z 0-9 _ - (case-sensitive).
    #[arg(long, default_value = "logbot")]
    name: String,
    /// Append one JSON object per message to FILE [default: messages.jsonl, unless --sqlite is given].
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Insert one row per message into table `messages` of this SQLite database (created if missing); may be given with --file.
    #[arg(long, value_name = "FILE")]
    sqlite: Option<PathBuf>,
    /// Server host; with --tls, also the name the server's certificate must carry.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 5555)]
    port: u16,
    /// Read the password from the first line of stdin, for servers started with --users (asked without echo on a terminal). A password never goes on the command line.
    #[arg(long)]
    password_stdin: bool,
    /// Connect with TLS, checking the server's certificate against the system's root certificates (or --ca).
    #[arg(long)]
    tls: bool,
    /// Trust this CA certificate (PEM) instead of the system's roots, e.g. for a private CA; implies --tls.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Join this room (#name) and log what is said there, its history included; repeat for more. The bot stays a member while it is away, and is sent what it missed when it comes back.
    #[arg(long, value_name = "ROOM")]
    join: Vec<String>,
}

/// Why the logger stopped, and its exit status.
struct Stop {
    status: u8,
    why: String,
}

fn stop(status: u8, why: impl Into<String>) -> Stop {
    Stop {
        status,
        why: why.into(),
    }
}

fn main() -> ExitCode {
    let Stop { status, why } = run(Args::parse());
    eprintln!("logger: {why}");
    ExitCode::from(status)
}

/// Runs until the session ends; only ever returns why it stopped.
fn run(args: Args) -> Stop {
    let password = if args.password_stdin {
        match read_password() {
            Ok(p) => Some(p),
            Err(why) => return stop(2, why),
        }
    } else {
        None
    };
    let mut sinks = match open_sinks(&args) {
        Ok(s) => s,
        Err(why) => return stop(1, why),
    };
    let mut client = match connect(&args) {
        Ok(c) => c,
        Err(why) => return stop(1, why),
    };
    match client.login_with(&args.name, password.as_deref()) {
        Ok(()) => {}
        Err(Error::Refused { code: 401, text }) if password.is_none() => {
            return stop(
                1,
                format!("login refused: {text} (give the password with --password-stdin)"),
            )
        }
        Err(Error::Invalid(why)) => return stop(2, why),
        Err(e) => return stop(1, format!("login as {} failed: {e}", args.name)),
    }
    for room in &args.join {
        if let Err(e) = client.sender().join(room) {
            return stop(2, format!("--join {room}: {e}"));
        }
    }
    eprintln!(
        "logger: logged in as {} at {}:{}; writing {}",
        args.name,
        args.host,
        args.port,
        sinks.describe()
    );
    loop {
        let record = match client.recv() {
            Ok(Event::Say { from, time, text }) => Record::say(from, time, text),
            Ok(Event::Msg {
                from,
                to,
                time,
                text,
            }) => Record::msg(from, to, time, text),
            // The logger sends nothing but answers to PINGs, so any ERR is
            // the server ending this session (409 replaced, 429, 503
            // shutting down, ...).
            Ok(Event::Error { code, text }) => {
                return stop(
                    1,
                    format!("the server ended the session: ERR {code} {text}"),
                )
            }
            Ok(Event::Bye) | Err(Error::Closed) => {
                return stop(1, "the server closed the connection")
            }
            Ok(_) => continue,
            Err(e) => return stop(1, format!("connection to the server lost: {e}")),
        };
        if let Err(why) = sinks.write(&record) {
            return stop(1, why);
        }
    }
}

/// The first line of stdin, without its line end; asked without echo when
/// stdin is a terminal.
fn read_password() -> Result<String, String> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("password: ").map_err(|e| format!("--password-stdin: {e}"))?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("--password-stdin: {e}"))?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if password.is_empty() {
        return Err("--password-stdin: the first line of stdin is empty".into());
    }
    Ok(password)
}

/// Opens the sinks before connecting, so a bad path fails before the bot
/// shows up online.
fn open_sinks(args: &Args) -> Result<Sinks, String> {
    let json = match (&args.file, &args.sqlite) {
        (Some(path), _) => Some(JsonLines::open(path)?),
        (None, None) => Some(JsonLines::open(DEFAULT_FILE.as_ref())?),
        (None, Some(_)) => None,
    };
    let sqlite = args.sqlite.as_deref().map(Sqlite::open).transpose()?;
    Ok(Sinks { json, sqlite })
}

fn connect(args: &Args) -> Result<Client, String> {
    let addr = (args.host.as_str(), args.port);
    let where_to = format!("{}:{}", args.host, args.port);
    let connected = if args.tls || args.ca.is_some() {
        let config = tls::client_config(args.ca.as_deref())?;
        Client::connect_tls(addr, &args.host, config)
    } else {
        Client::connect(addr)
    };
    connected.map_err(|e| format!("cannot connect to {where_to}: {e}"))
}
