//! `evchat-client`: the terminal front end over the client library.
//!
//! Two threads: a reader that receives and renders events (see
//! [`super::reader`]), and the input side. In a terminal the input side is
//! the [`super::console`], which alone writes to the terminal and prints
//! the reader's lines above the line being typed. With stdin a pipe, lines
//! are read plainly and the reader prints, so `printf 'hi\n' |
//! evchat-client Bob` works in scripts: at the end of input the client
//! sends QUIT and exits once the server has answered BYE (so everything
//! piped in was processed).

use super::input::{interpret, Action, Composer, HELP};
use super::reader::{goodbye, spawn_reader, Note};
use super::reconnect::Dialer;
use super::settings::settings;
use super::visible::visible_line;
use super::{Client, Error, Receiver, Sender};
use clap::Parser;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// How long to wait for BYE after QUIT before leaving anyway.
pub(crate) const BYE_WAIT: Duration = Duration::from_secs(5);

/// Command-line flags of `evchat-client`.
#[derive(Debug, Default, Parser)]
#[command(
    name = "evchat-client",
    version,
    about = "Chat through an evchat server",
    after_help = "Type /help once connected for how to send private messages."
)]
pub struct ClientArgs {
    /// Your name: 1-32 characters of A-Z a-z 0-9 _ - (any case is the same name).
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
/// server could not be reached, refused the login or went away, 2 for bad
/// arguments.
pub fn run(args: ClientArgs) -> ExitCode {
    let settings = match settings(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("evchat-client: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = format!("{}:{}", settings.host, settings.port);
    let tls = if settings.tls {
        match crate::client::tls::client_config(settings.ca.as_deref()) {
            Ok(config) => Some(config),
            Err(e) => {
                eprintln!("evchat-client: cannot connect to {addr}: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    let dialer = Dialer {
        addr: addr.clone(),
        host: settings.host.clone(),
        tls,
    };
    let mut client = match dialer.connect() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "evchat-client: cannot connect to {addr}: {e}{}",
                tls_hint(&e.to_string(), settings.tls)
            );
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
    let (name, password) = match log_in(&mut client, settings.name, password, interactive) {
        Ok(logged_in) => logged_in,
        Err(e) => {
            eprintln!(
                "evchat-client: {}{}",
                visible_line(&e),
                tls_hint(&e, settings.tls)
            );
            return ExitCode::from(1);
        }
    };
    let (sender, receiver) = client.split();
    if interactive && std::io::stdout().is_terminal() {
        let mut greeting = vec![format!(
            "* connected to {addr} as {name}; /help lists commands"
        )];
        if !settings.to.is_empty() {
            greeting.push(format!(
                "* plain lines go privately to {}",
                settings.to.join(", ")
            ));
        }
        let again = Reconnect {
            dialer: Arc::new(dialer),
            password,
        };
        super::console::run(sender, receiver, &name, &settings.to, &greeting, again)
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

/// What logging in again after a lost connection takes.
pub(crate) struct Reconnect {
    pub dialer: Arc<Dialer>,
    /// The password that was given or typed, if any.
    pub password: Option<String>,
}

/// Logs in (returning the name and password it took); on a terminal, a refused name may be replaced by another, and
/// a server that wants a password is asked for one without echo — unless
/// it has closed the connection (after too many failures), which ends the
/// client with the server's reason.
fn log_in(
    client: &mut Client,
    mut name: String,
    mut password: Option<String>,
    interactive: bool,
) -> Result<(String, Option<String>), String> {
    loop {
        match client.login_as(&name, password.as_deref()) {
            // The server's spelling: `Bob` may be the known `bob`.
            Ok(shown) => return Ok((shown, password)),
            Err(Error::Refused { code: 401, text }) if interactive => {
                // PING is a barrier: no PONG means the server hung up.
                if client.sync().is_err() {
                    return Err(format!("login refused: {text}"));
                }
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
                eprint!("another name: ");
                let mut line = String::new();
                match std::io::stdin().lock().read_line(&mut line) {
                    Ok(n) if n > 0 => name = line.trim().to_owned(),
                    _ => return Err("no name given".to_owned()),
                }
            }
            Err(e) => return Err(format!("login as {name} failed: {e}")),
        }
    }
}

/// What a TLS mix-up looks like, and what to do about it.
fn tls_hint(error: &str, tls: bool) -> &'static str {
    if tls && error.contains("InvalidContentType") {
        " (this port does not seem to speak TLS: try without --tls)"
    } else if tls && error.contains("UnknownIssuer") {
        " (the server's certificate is not signed by a CA this client trusts: give it with --ca FILE)"
    } else if !tls && error.contains("closed the connection") {
        " (if this port speaks TLS, add --tls)"
    } else {
        ""
    }
}

/// Sends what the user typed; returns true when it was a /quit. `to` is
/// where plain lines go: the current room, the `--to` users, or nobody
/// (everyone).
pub(crate) fn act(
    sender: &Sender,
    action: Action,
    to: &mut Vec<String>,
    show: &mut dyn FnMut(String),
) -> bool {
    let current = to.first().filter(|t| t.starts_with('#')).cloned();
    let sent = match action {
        Action::Say(text) => sender.say(&text),
        Action::Msg { to, text } => {
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            sender.msg(&to, &text)
        }
        Action::Who => sender.who(),
        Action::WhoIn(room) => sender.who_in(&room),
        Action::Join { room, key } => {
            *to = vec![room.clone()];
            match key {
                Some(key) => sender.join_with_key(&room, &key),
                None => sender.join(&room),
            }
        }
        Action::Topic { room, text } => in_room(room, &current, "/topic #room [text]", show)
            .map_or(Ok(()), |room| sender.topic(&room, text.as_deref())),
        Action::Mode { room, changes } => in_room(room, &current, "/mode #room +o bob", show)
            .map_or(Ok(()), |room| sender.mode(&room, changes.as_deref())),
        Action::Kick { room, name, text } => in_room(room, &current, "/kick #room bob [why]", show)
            .map_or(Ok(()), |room| sender.kick(&room, &name, text.as_deref())),
        Action::Invite { name, room } => in_room(room, &current, "/invite bob #room", show)
            .map_or(Ok(()), |room| sender.invite(&name, &room)),
        Action::Part { room, text } => match room.or(current.clone()) {
            Some(room) => {
                if current.as_ref() == Some(&room) {
                    to.clear();
                }
                sender.part(&room, text.as_deref())
            }
            None => {
                show("! which room? /part #room".to_owned());
                Ok(())
            }
        },
        Action::Rooms => sender.rooms(),
        Action::List => sender.list(),
        Action::Away(text) => sender.away(text.as_deref()),
        Action::Nick(name) => sender.nick(&name),
        Action::Whois(name) => sender.whois(&name),
        Action::Go(room) => {
            match &room {
                Some(room) => show(format!("* plain lines now go to {room}")),
                None => show("* plain lines now go to everyone".to_owned()),
            }
            *to = room.into_iter().collect();
            Ok(())
        }
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

/// The room a command names, else the current one; `None` (and a word on
/// what to type) when there is neither.
fn in_room(
    room: Option<String>,
    current: &Option<String>,
    usage: &str,
    show: &mut dyn FnMut(String),
) -> Option<String> {
    let room = room.or_else(|| current.clone());
    if room.is_none() {
        show(format!("! which room? {usage} (or /go #room first)"));
    }
    room
}

/// Over a pipe the reader prints (whole lines, flushed), so its lines and
/// its goodbye come out in order — refusals on stderr, so a script sees
/// them apart; when the server goes away it ends the process, since this
/// thread may be blocked reading stdin.
fn print_note(note: Note, done: &mpsc::Sender<()>, failed: &AtomicBool) {
    match note {
        Note::Show(text) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
        Note::Refused(text) => {
            failed.store(true, Ordering::Relaxed);
            let _ = std::io::stdout().lock().flush();
            eprintln!("{text}");
        }
        Note::Bye => {
            let _ = done.send(());
        }
        Note::Lost { why, .. } => {
            let _ = std::io::stdout().lock().flush();
            eprintln!("{}", goodbye(&why));
            std::process::exit(1);
        }
        // A script is told the server went away (above), not kept waiting;
        // a rename is shown as its event.
        Note::Reconnected(_) | Note::Renamed(_) | Note::OutOf(_) => {}
    }
}

/// Piped: exits 0 once the server has confirmed the end and refused
/// nothing, 1 otherwise (each refusal on stderr).
fn run_pipe(sender: Sender, receiver: Receiver, me: &str, to: &[String]) -> ExitCode {
    let (done, finished) = mpsc::channel();
    let failed = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&failed);
    spawn_reader(receiver, me.to_owned(), move |note| {
        print_note(note, &done, &seen)
    });
    // What this side finds wrong (a bad name, say) goes to stderr too.
    let mut show = |line: String| {
        if line.starts_with('!') {
            failed.store(true, Ordering::Relaxed);
            eprintln!("{line}");
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    };
    let mut composer = Composer::default();
    let mut quit_sent = false;
    let mut to = to.to_vec();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Some(message) = composer.push(&line) else {
            continue;
        };
        let action = interpret(&message, &to);
        if act(&sender, action, &mut to, &mut show) {
            quit_sent = true;
            break;
        }
    }
    if !quit_sent {
        if let Some(message) = composer.finish() {
            let action = interpret(&message, &to);
            act(&sender, action, &mut to, &mut show);
        }
        let _ = sender.quit(None);
    }
    // The reader ends the process itself if the server vanishes instead.
    match finished.recv_timeout(BYE_WAIT) {
        Ok(()) if failed.load(Ordering::Relaxed) => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => {
            eprintln!(
                "evchat-client: the server did not confirm the end within {} s; \
                 what was sent may not all have been processed",
                BYE_WAIT.as_secs()
            );
            ExitCode::from(1)
        }
    }
}
