//! `evchat-client`: the terminal front end over the client library.
//!
//! Two threads: a reader that prints events as they arrive, and the input
//! side. On a terminal the input side is rustyline, and the reader prints
//! through rustyline's external printer, so incoming messages appear above
//! the line being typed without breaking it. With stdin a pipe, lines are
//! read plainly, so `printf 'hi\n' | evchat-client Bob` works in scripts:
//! at the end of input the client sends QUIT and exits once the server has
//! answered BYE (so everything piped in was processed).

use super::display::render;
use super::input::{interpret, Action, Composer, HELP};
use super::settings::settings;
use super::visible::visible_line;
use super::{Client, Error, Event, Receiver, Sender};
use clap::Parser;
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

/// How long to wait for BYE after QUIT before leaving anyway.
const BYE_WAIT: Duration = Duration::from_secs(5);

/// Command-line flags of `evchat-client`.
#[derive(Debug, Default, Parser)]
#[command(
    name = "evchat-client",
    version,
    about = "Chat through an evchat server",
    after_help = "Type /help once connected for how to send private messages."
)]
pub struct ClientArgs {
    /// Your name: 1-32 characters of A-Z a-z 0-9 _ - (case-sensitive).
    pub name: Option<String>,
    /// Server host [default: 127.0.0.1].
    #[arg(long)]
    pub host: Option<String>,
    /// Server port [default: 5555].
    #[arg(long)]
    pub port: Option<u16>,
    /// TOML file with keys name, host, port, to, tls, ca (flags win).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Send plain lines privately to these users (comma separated) instead of to everyone.
    #[arg(long, value_name = "NAME[,NAME...]", value_delimiter = ',')]
    pub to: Vec<String>,
    /// Read the password from the first line of stdin (for servers with accounts; the rest of stdin is chat). Without it, the client asks without echo when the server wants a password.
    #[arg(long)]
    pub password_stdin: bool,
    /// Connect with TLS, checking the server's certificate against the system's roots (or --ca).
    #[arg(long)]
    pub tls: bool,
    /// Trust this CA certificate (PEM) for --tls instead of the system's roots, e.g. for a private CA.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

/// Runs the client; the exit code is 0 after a normal goodbye, 1 when the
/// server could not be reached or went away, 2 for bad arguments.
pub fn run(args: ClientArgs) -> ExitCode {
    let settings = match settings(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("evchat-client: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = format!("{}:{}", settings.host, settings.port);
    let connected = if settings.tls {
        crate::client::tls::client_config(settings.ca.as_deref())
            .map_err(crate::client::Error::Invalid)
            .and_then(|config| Client::connect_tls(addr.as_str(), &settings.host, config))
    } else {
        Client::connect(addr.as_str())
    };
    let mut client = match connected {
        Ok(c) => c,
        Err(e) => {
            eprintln!("evchat-client: cannot connect to {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    let interactive = std::io::stdin().is_terminal();
    let password = match settings.password_stdin.then(read_password_line).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("evchat-client: {e}");
            return ExitCode::from(2);
        }
    };
    let name = match log_in(&mut client, settings.name, password, interactive) {
        Ok(name) => name,
        Err(e) => {
            eprintln!("evchat-client: {}", visible_line(&e));
            return ExitCode::from(1);
        }
    };
    let (sender, receiver) = client.split();
    if interactive {
        run_terminal(sender, receiver, &name, &settings.to, &addr)
    } else {
        run_pipe(sender, receiver, &name, &settings.to)
    }
}

/// The first line of stdin (without echo on a terminal).
fn read_password_line() -> Result<String, String> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("password: ").map_err(|e| e.to_string())?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if password.is_empty() {
        return Err("--password-stdin: the first line of stdin is empty".into());
    }
    Ok(password)
}

/// Logs in; on a terminal, a refused name may be replaced by another, and
/// a server that wants a password is asked for one without echo.
fn log_in(
    client: &mut Client,
    mut name: String,
    mut password: Option<String>,
    interactive: bool,
) -> Result<String, String> {
    loop {
        match client.login_with(&name, password.as_deref()) {
            Ok(()) => return Ok(name),
            Err(Error::Refused { code: 401, text }) if interactive => {
                if password.is_some() {
                    eprintln!("! {}", visible_line(&text));
                }
                let prompt = format!("password for {name}: ");
                password = Some(rpassword::prompt_password(prompt).map_err(|e| e.to_string())?);
            }
            Err(Error::Refused { code: 401, text }) if password.is_none() => {
                return Err(format!("{text} (give it with --password-stdin)"));
            }
            Err(Error::Refused { code, text }) if interactive && (code == 409 || code == 400) => {
                eprintln!("! {}", visible_line(&text));
                let mut editor = DefaultEditor::new().map_err(|e| e.to_string())?;
                name = editor
                    .readline("another name: ")
                    .map_err(|_| "no name given".to_owned())?
                    .trim()
                    .to_owned();
            }
            Err(e) => return Err(format!("login as {name} failed: {e}")),
        }
    }
}

/// Prints events until BYE (returns 0) or until the server goes away, in
/// which case the whole process exits with 1 (the input side may be stuck
/// in a blocking read of the terminal).
fn spawn_reader(
    mut receiver: Receiver,
    me: String,
    mut show: impl FnMut(String) + Send + 'static,
) -> mpsc::Receiver<()> {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || loop {
        match receiver.recv() {
            Ok(Event::Bye) => {
                let _ = done.send(());
                return;
            }
            Ok(event) => {
                if let Some(line) = render(&event, &me) {
                    show(line);
                }
            }
            Err(e) => {
                terminal::restore();
                let why = match e {
                    Error::Closed => "the server closed the connection".to_owned(),
                    e => visible_line(&e.to_string()).into_owned(),
                };
                eprintln!("\nevchat-client: connection to server lost: {why}");
                std::process::exit(1);
            }
        }
    });
    finished
}

/// Sends what the user typed; returns true when it was a /quit.
fn act(sender: &Sender, action: Action, show: &mut dyn FnMut(String)) -> bool {
    let sent = match action {
        Action::Say(text) => sender.say(&text),
        Action::Msg { to, text } => {
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            sender.msg(&to, &text)
        }
        Action::Who => sender.who(),
        Action::Stats => sender.stats(),
        Action::Quit(text) => {
            let _ = sender.quit(text.as_deref());
            return true;
        }
        Action::Help => {
            show(HELP.to_owned());
            Ok(())
        }
        Action::Nothing => Ok(()),
        Action::Problem(why) => {
            show(format!("! {why}"));
            Ok(())
        }
    };
    if let Err(e) = sent {
        show(format!("! not sent: {e}"));
    }
    false
}

fn finish(sender: &Sender, finished: &mpsc::Receiver<()>, quit_sent: bool) -> ExitCode {
    if !quit_sent {
        let _ = sender.quit(None);
    }
    // The reader exits the process itself if the server vanishes instead.
    let _ = finished.recv_timeout(BYE_WAIT);
    ExitCode::SUCCESS
}

fn run_pipe(sender: Sender, receiver: Receiver, me: &str, to: &[String]) -> ExitCode {
    let finished = spawn_reader(receiver, me.to_owned(), |line| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    });
    let mut show = |line: String| println!("{line}");
    let mut composer = Composer::default();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Some(message) = composer.push(&line) else {
            continue;
        };
        if act(&sender, interpret(&message, to), &mut show) {
            return finish(&sender, &finished, true);
        }
    }
    if let Some(message) = composer.finish() {
        act(&sender, interpret(&message, to), &mut show);
    }
    finish(&sender, &finished, false)
}

fn run_terminal(
    sender: Sender,
    receiver: Receiver,
    me: &str,
    to: &[String],
    addr: &str,
) -> ExitCode {
    terminal::save();
    let mut editor = match DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("evchat-client: cannot use the terminal: {e}");
            return ExitCode::from(1);
        }
    };
    let finished = match editor.create_external_printer() {
        Ok(mut printer) => spawn_reader(receiver, me.to_owned(), move |line| {
            let _ = printer.print(line);
        }),
        Err(_) => spawn_reader(receiver, me.to_owned(), |line| println!("{line}")),
    };
    println!("* connected to {addr} as {me}; /help lists commands");
    if !to.is_empty() {
        println!("* plain lines go privately to {}", to.join(", "));
    }
    let prompt = format!("{me}> ");
    let mut show = |line: String| println!("{line}");
    let mut composer = Composer::default();
    loop {
        let prompt = if composer.is_continuing() {
            "... "
        } else {
            prompt.as_str()
        };
        match editor.readline(prompt) {
            Ok(line) => {
                let Some(message) = composer.push(&line) else {
                    continue;
                };
                let _ = editor.add_history_entry(message.as_str());
                if act(&sender, interpret(&message, to), &mut show) {
                    return finish(&sender, &finished, true);
                }
            }
            Err(ReadlineError::Interrupted) if composer.is_continuing() => composer.clear(),
            Err(_) => return finish(&sender, &finished, false),
        }
    }
}

/// Saving and restoring the terminal's mode: the reader thread may have to
/// exit while rustyline holds the terminal in raw mode.
mod terminal {
    use std::sync::Mutex;

    static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

    pub fn save() {
        // SAFETY: tcgetattr writes into a termios we own; zeroed is a valid
        // bit pattern for this plain C struct.
        let mut mode: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut mode) } == 0 {
            *SAVED.lock().unwrap_or_else(|p| p.into_inner()) = Some(mode);
        }
    }

    pub fn restore() {
        if let Some(mode) = *SAVED.lock().unwrap_or_else(|p| p.into_inner()) {
            // SAFETY: tcsetattr reads the termios saved by `save`.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &mode) };
        }
    }
}
