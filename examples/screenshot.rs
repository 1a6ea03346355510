//! Makes `docs/screenshot.png`, the README's picture of the browser page,
//! from a real conversation rather than a mock-up, so it can be made again
//! whenever the page changes: a server, three users on TCP and one in
//! headless Chromium talk in rooms, in private and to everyone, then the
//! page is captured with a room shown and the others counting unread. It drives Chromium with the tests' DevTools driver. Run it
//! through `scripts/screenshot.sh`, which builds the server first.

#[path = "../tests/common/browser.rs"]
mod browser;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};

type Result<T> = std::result::Result<T, String>;

/// The server, killed on drop (with its data directory).
struct Server {
    child: Child,
    addr: String,
    _data: tempfile::TempDir,
}

impl Server {
    /// Starts `evchat-server` (built beside this example) on a free port.
    fn start() -> Result<Server> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let binary = exe
            .parent()
            .and_then(|examples| examples.parent())
            .map(|dir| dir.join("evchat-server"))
            .filter(|b| b.exists())
            .ok_or("no evchat-server beside this example: cargo build --bin evchat-server")?;
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut child = Command::new(binary)
            .args(["--port", "0", "--data-dir"])
            .arg(data.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start evchat-server: {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = lines
            .by_ref()
            .map_while(|l| l.ok())
            .find_map(|l| {
                Some(
                    l.split("listening on ")
                        .nth(1)?
                        .split(' ')
                        .next()?
                        .to_owned(),
                )
            })
            .ok_or("the server did not say where it listens")?;
        // Keep reading its log, so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Server {
            child,
            addr,
            _data: data,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A line-protocol user, answering nothing (the picture takes seconds).
struct User(TcpStream);

impl User {
    fn login(server: &Server, name: &str) -> Result<User> {
        let stream = TcpStream::connect(&server.addr).map_err(|e| e.to_string())?;
        let mut user = User(stream);
        user.send(&format!("LOGIN {name}"))?;
        Ok(user)
    }

    fn send(&mut self, frame: &str) -> Result<()> {
        writeln!(self.0, "{frame}").map_err(|e| e.to_string())
    }

    /// Waits until the server has done all this user sent (PING barrier).
    fn sync(&mut self) -> Result<()> {
        self.send("PING shot")?;
        let mut lines = BufReader::new(self.0.try_clone().map_err(|e| e.to_string())?).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line == "PONG shot" => return Ok(()),
                Some(Ok(_)) => continue,
                _ => return Err("the server closed a user's connection".into()),
            }
        }
    }
}

/// Waits until the conversation `key` shows `count` unread.
fn unread(tab: &mut browser::Tab, key: &str, count: &str) {
    let button = serde_json::json!(format!(
        "#chat-list button[data-key={}] .unread",
        serde_json::json!(key)
    ));
    let count = serde_json::json!(count);
    tab.wait(
        &format!("{key} to show {count} unread"),
        &format!("(document.querySelector({button}) || {{}}).textContent === {count}"),
    );
}

/// Waits until the page shows a message whose text starts with `text`.
fn shown(tab: &mut browser::Tab, text: &str) {
    let text = serde_json::json!(text);
    tab.wait(
        &format!("the message {text}"),
        &format!(
            "[...document.querySelectorAll('#messages .text')]
               .some((t) => t.textContent.startsWith({text}))"
        ),
    );
}

fn run(out: &PathBuf) -> Result<()> {
    let server = Server::start()?;
    let mut bob = User::login(&server, "bob")?;
    let mut carol = User::login(&server, "carol")?;
    for user in [&mut bob, &mut carol] {
        user.send("JOIN #release")?;
    }
    bob.send("MSG #release morning all! the 1.4 build is green")?;
    bob.sync()?;
    carol.send("MSG #release I'll watch the dashboards.\\nPing me if latency moves.")?;
    carol.sync()?;

    let mut browser = browser::Browser::launch().ok_or("no chromium to take the picture")?;
    let mut tab = browser.tab();
    tab.viewport(1000, 620, false);
    tab.goto(&format!("http://{}/", server.addr));
    tab.type_into("#name", "alice");
    tab.click("#login-button");
    tab.wait("the login", "document.body.dataset.state === 'online'");
    let mut dave = User::login(&server, "dave")?;
    dave.send("JOIN #ops")?;
    dave.sync()?;
    for typed in ["/join #ops", "/join #release"] {
        tab.type_into("#input", typed);
        tab.press_enter(false);
    }
    shown(&mut tab, "I'll watch");
    tab.type_into("#input", "Nice! Deploying it to staging now.");
    tab.press_enter(false);
    shown(&mut tab, "Nice!");
    carol.send("MSG #release <b>tags</b> show as text here, by design")?;
    shown(&mut tab, "<b>tags</b>");
    bob.send("MSG alice could you review my PR before lunch?")?;
    dave.send("MSG #ops disk alert on db-2 cleared")?;
    dave.send("MSG #ops backups ran at 04:00, all green")?;
    dave.send("SAY coffee's on in the kitchen")?;
    unread(&mut tab, "@bob", "1");
    unread(&mut tab, "#ops", "2");
    unread(&mut tab, "*", "1");
    tab.eval("document.activeElement.blur()");
    tab.call(
        "Input.dispatchMouseEvent",
        serde_json::json!({ "type": "mouseMoved", "x": 0, "y": 0 }),
    );

    let png = tab.screenshot();
    std::fs::write(out, png).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(())
}

fn main() -> ExitCode {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("docs/screenshot.png"));
    match run(&out) {
        Ok(()) => {
            println!("wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("screenshot: {why}");
            ExitCode::FAILURE
        }
    }
}
