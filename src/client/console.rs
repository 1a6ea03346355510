//! The client in a terminal. One thread — this one — owns the terminal:
//! it waits for a key or for a note from the reader thread, and it alone
//! writes. A received line is printed by clearing the one row that holds
//! the line being typed, writing the line and a line break, and drawing
//! the typed line again below it. Since nothing else writes, no line can
//! be drawn over, and lines appear in the order the reader sent them.
//!
//! (rustyline's external printer lost lines: while no `readline` call was
//! active it wrote them without a line break, and the next prompt erased
//! them.)

use super::cli::{act, Reconnect, BYE_WAIT};
use super::input::{interpret, Action, Composer};
use super::keys::KeyDecoder;
use super::line_editor::{LineEditor, Outcome};
use super::reader::{goodbye, spawn_reader, Note};
use super::reconnect::spawn_reconnect;
use super::tty::{self, RawMode};
use super::visible::visible_line;
use super::{Client, Receiver, Sender};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::mpsc::{self, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

/// Received events waiting to be printed, at most.
const NOTES_WAITING: usize = 1024;

/// What the screen shows below everything printed: the typed line.
struct Screen {
    /// Output not yet written.
    pending: String,
    /// Is the typed line on the screen now?
    shown: bool,
    prompt: String,
    editor: LineEditor,
}

impl Screen {
    /// Takes the typed line off its row (it is drawn again by `flush`).
    fn hide(&mut self) {
        if self.shown {
            self.pending.push_str("\r\x1b[K");
            self.shown = false;
        }
    }

    /// Prints `text` (lines separated by LF) above the typed line.
    fn print(&mut self, text: &str) {
        self.hide();
        for line in text.split('\n') {
            self.pending.push_str(line);
            self.pending.push_str("\r\n");
        }
    }

    /// Draws the typed line on its row, without letting it wrap, with the
    /// cursor where the terminal itself puts it after the text before it.
    fn draw(&mut self) {
        self.hide();
        let room = tty::width().saturating_sub(self.prompt.chars().count() + 1);
        let (before, after) = self.editor.view(room);
        let p = &self.prompt;
        self.pending.push_str(&format!(
            "\x1b[?7l\r\x1b[K{p}{before}{after}\r{p}{before}\x1b[?7h"
        ));
        self.shown = true;
    }

    /// Writes what is pending, with the typed line (unless leaving).
    fn flush(&mut self, with_line: bool) {
        if with_line {
            self.draw();
        } else {
            self.hide();
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.pending.as_bytes());
        let _ = out.flush();
        self.pending.clear();
    }
}

/// Where the reader and the reconnecting thread leave their notes, with
/// a byte on the socket the console waits on to wake it.
#[derive(Clone)]
struct Postbox {
    notes: SyncSender<Note>,
    waker: Arc<UnixStream>,
}

impl Postbox {
    fn deliverer(&self) -> impl FnMut(Note) + Send + 'static {
        let postbox = self.clone();
        move |note| {
            let _ = postbox.notes.send(note);
            // A full socket means the console has wake-ups waiting already.
            let _ = (&*postbox.waker).write(&[1]);
        }
    }
}

/// Runs the session in the terminal until BYE or a /quit (0), or the
/// connection is lost for good (1): a lost connection is made again, with
/// the typed line kept, unless the name was taken over or the login is
/// refused. `greeting` is printed first.
pub fn run(
    sender: Sender,
    receiver: Receiver,
    me: &str,
    to: &[String],
    greeting: &[String],
    again: Reconnect,
) -> ExitCode {
    let fail = |e: std::io::Error| {
        eprintln!("evchat-client: cannot use the terminal: {e}");
        ExitCode::from(1)
    };
    let (wake, waker) = match UnixStream::pair() {
        Ok(pair) => pair,
        Err(e) => return fail(e),
    };
    if let Err(e) = wake.set_nonblocking(true).and(waker.set_nonblocking(true)) {
        return fail(e);
    }
    let raw = match RawMode::enter() {
        Ok(raw) => raw,
        Err(e) => return fail(e),
    };
    // Bounded: a terminal slower than the chat stops the reader, the
    // socket fills, and the server — not this process — decides (a client
    // too far behind is cut with 429).
    let (notes_in, notes) = mpsc::sync_channel(NOTES_WAITING);
    let postbox = Postbox {
        notes: notes_in,
        waker: Arc::new(waker),
    };
    spawn_reader(receiver, me.to_owned(), postbox.deliverer());
    let mut session = Session {
        sender,
        offline: false,
        again,
        postbox,
        screen: Screen {
            pending: String::new(),
            shown: false,
            prompt: String::new(),
            editor: LineEditor::default(),
        },
        me: me.to_owned(),
        to: to.to_vec(),
        composer: Composer::default(),
        quit_at: None,
        away: None,
    };
    session.set_prompt();
    for line in greeting {
        session.screen.print(line);
    }
    session.ask_who();
    let (code, lost) = session.run(&raw, &wake, &notes);
    drop(raw);
    if let Some(why) = lost {
        eprintln!("{}", goodbye(&why));
    }
    code
}

/// How the session ended: the exit code, and why the connection was lost
/// (if it was), for the goodbye printed once the terminal is restored.
type Ending = (ExitCode, Option<String>);

struct Session {
    sender: Sender,
    /// The connection was lost and is being made again.
    offline: bool,
    again: Reconnect,
    postbox: Postbox,
    screen: Screen,
    me: String,
    to: Vec<String>,
    composer: Composer,
    /// When QUIT was sent; from then on keys are ignored.
    quit_at: Option<Instant>,
    /// The away text last sent: away is the session's, so a reconnection
    /// says it again.
    away: Option<String>,
}

impl Session {
    fn set_prompt(&mut self) {
        self.screen.prompt = if self.composer.is_continuing() {
            "... ".to_owned()
        } else {
            match self.to.first().filter(|t| t.starts_with('#')) {
                Some(room) => format!("{} {room}> ", self.me),
                None => format!("{}> ", self.me),
            }
        };
    }

    fn run(&mut self, raw: &RawMode, wake: &UnixStream, notes: &mpsc::Receiver<Note>) -> Ending {
        let mut bytes = [0u8; 4096];
        let mut keys = KeyDecoder::default();
        loop {
            self.screen.flush(self.quit_at.is_none());
            let timeout = match self.quit_at {
                None => -1,
                Some(at) => match BYE_WAIT.checked_sub(at.elapsed()) {
                    Some(left) => i32::try_from(left.as_millis()).unwrap_or(i32::MAX),
                    None => return self.leave(ExitCode::SUCCESS, None),
                },
            };
            let (typed, noted) =
                match tty::wait_readable(self.quit_at.is_none(), wake.as_raw_fd(), timeout) {
                    Ok(ready) => ready,
                    Err(e) => return self.leave(ExitCode::from(1), Some(e.to_string())),
                };
            if noted {
                let mut sink = [0u8; 512];
                while matches!((&*wake).read(&mut sink), Ok(n) if n > 0) {}
            }
            loop {
                match notes.try_recv() {
                    Ok(Note::Show(text) | Note::Refused(text)) => self.screen.print(&text),
                    Ok(Note::Bye) => return self.leave(ExitCode::SUCCESS, None),
                    Ok(Note::Lost { why, again }) if again && self.quit_at.is_none() => {
                        self.lost(why)
                    }
                    Ok(Note::Lost { why, .. }) => return self.leave(ExitCode::from(1), Some(why)),
                    Ok(Note::Reconnected(client)) => self.reconnected(client),
                    Ok(Note::Renamed(name)) => {
                        self.me = name;
                        self.set_prompt();
                    }
                    Ok(Note::OutOf(room)) => {
                        let here = self
                            .to
                            .first()
                            .is_some_and(|t| t.eq_ignore_ascii_case(&room));
                        if here && self.to.len() == 1 {
                            self.to.clear();
                            self.set_prompt();
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        let why = "the reader stopped".to_owned();
                        return self.leave(ExitCode::from(1), Some(why));
                    }
                }
            }
            if typed {
                let n = tty::read_stdin(&mut bytes).unwrap_or(0);
                if n == 0 {
                    self.quit();
                }
                for key in keys.feed(bytes.get(..n).unwrap_or_default()) {
                    if self.quit_at.is_some() {
                        break;
                    }
                    let outcome = self.screen.editor.apply(key);
                    self.on_key(outcome, raw);
                }
            }
            // Nobody to say goodbye to.
            if self.offline && self.quit_at.is_some() {
                return self.leave(ExitCode::SUCCESS, None);
            }
        }
    }

    fn on_key(&mut self, outcome: Outcome, raw: &RawMode) {
        match outcome {
            Outcome::Changed => {}
            Outcome::Submit(line) if self.offline => {
                if matches!(interpret(&line, &[]), Action::Quit(_)) {
                    self.quit_at = Some(Instant::now());
                } else {
                    // Kept to be sent once connected again, not lost.
                    self.screen.editor.restore(&line);
                    self.screen
                        .print("! not connected; press Enter again once reconnected");
                }
            }
            Outcome::Submit(line) => {
                let echo = format!("{}{}", self.screen.prompt, visible_line(&line));
                self.screen.print(&echo);
                if let Some(message) = self.composer.push(&line) {
                    let action = interpret(&message, &self.to);
                    if let Action::Away(text) = &action {
                        self.away = text.clone();
                    }
                    let screen = &mut self.screen;
                    if act(&self.sender, action, &mut self.to, &mut |text| {
                        screen.print(&text)
                    }) {
                        self.quit_at = Some(Instant::now());
                    }
                }
                self.set_prompt();
            }
            Outcome::Interrupt { cleared } => {
                if self.composer.is_continuing() {
                    self.screen
                        .print("(the message being continued was dropped)");
                } else if !cleared {
                    self.screen.print("(type /quit or press Ctrl-D to leave)");
                }
                self.composer.clear();
                self.set_prompt();
            }
            Outcome::EndOfInput => self.quit(),
            Outcome::Suspend => {
                self.screen.flush(false);
                let _ = raw.suspend();
            }
        }
    }

    fn quit(&mut self) {
        if self.quit_at.is_none() {
            let _ = self.sender.quit(None);
            self.quit_at = Some(Instant::now());
        }
    }

    fn ask_who(&mut self) {
        if let Err(e) = self.sender.who() {
            self.screen.print(&format!("! not sent: {e}"));
        }
    }

    /// The connection is gone, but not for good: make it again, in the
    /// background, while the line being typed stays as it is.
    fn lost(&mut self, why: String) {
        self.offline = true;
        let dialer = Arc::clone(&self.again.dialer);
        let password = self.again.password.clone();
        let deliver = self.postbox.deliverer();
        spawn_reconnect(dialer, self.me.clone(), password, why, deliver);
    }

    fn reconnected(&mut self, client: Client) {
        let (sender, receiver) = client.split();
        spawn_reader(receiver, self.me.clone(), self.postbox.deliverer());
        self.sender = sender;
        self.offline = false;
        self.screen.print(&format!("* reconnected as {}", self.me));
        if let Some(text) = self.away.clone() {
            if let Err(e) = self.sender.away(Some(&text)) {
                self.screen.print(&format!("! away not said again: {e}"));
            }
        }
        self.ask_who();
    }

    /// Prints everything pending and takes the typed line away, so the
    /// cursor ends at the start of an empty row.
    fn leave(&mut self, code: ExitCode, lost: Option<String>) -> Ending {
        self.screen.flush(false);
        (code, lost)
    }
}
