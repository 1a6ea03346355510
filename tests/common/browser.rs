//! A real browser for tests: Debian's headless Chromium, driven through
//! the DevTools protocol (CDP) over a synchronous WebSocket (tungstenite),
//! so a test types, clicks and reads the page as a person would, without
//! an async runtime. Self-contained (no `super::`), so the screenshot
//! example can share it with `#[path]`.
//!
//! Waiting is done inside the page: [`Tab::wait`] evaluates a promise that
//! polls a condition until it holds or a deadline passes, so a test never
//! sleeps to let something happen. Chromium runs in its own process group
//! and a fresh profile; [`Browser`]'s `Drop` kills the group and removes it.
#![allow(dead_code)] // the tests and the example use different parts

use serde_json::{json, Value};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// How long one awaited thing may take: a hang guard, not a speed limit.
const PATIENCE: Duration = Duration::from_secs(20);

/// The Chromium to run: `$CHROMIUM` if set (a path that does not exist
/// counts as no browser), else Debian's `/usr/bin/chromium`, else
/// `chromium` on the PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path)).filter(|p| p.exists());
    }
    let debian = Path::new("/usr/bin/chromium");
    if debian.exists() {
        return Some(debian.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.exists())
}

/// One CDP connection (to the browser or to one page), with the events
/// that came while it waited for answers.
struct Cdp {
    ws: WebSocket<TcpStream>,
    next_id: u64,
    events: Vec<Value>,
}

impl Cdp {
    fn connect(port: u16, path: &str) -> Cdp {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to DevTools");
        // Longer than any in-page wait, so only a hung browser trips it.
        stream
            .set_read_timeout(Some(PATIENCE * 2))
            .expect("read timeout");
        let url = format!("ws://127.0.0.1:{port}{path}");
        let (ws, _) = tungstenite::client(url.as_str(), stream).expect("DevTools handshake");
        Cdp {
            ws,
            next_id: 0,
            events: Vec::new(),
        }
    }

    fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(Message::text(request.to_string()))
            .unwrap_or_else(|e| panic!("CDP {method}: {e}"));
        id
    }

    fn recv(&mut self) -> Value {
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str()).expect("CDP sent bad JSON")
                }
                Ok(_) => continue,
                Err(e) => panic!("DevTools connection: {e}"),
            }
        }
    }

    /// Calls `method` and returns its result; events that come meanwhile
    /// are kept. A JavaScript dialog (alert...) is dismissed at once, so
    /// it cannot block the page, and stays recorded among the events.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        loop {
            let message = self.recv();
            if message["id"].as_u64() == Some(id) {
                if let Some(error) = message.get("error") {
                    panic!("CDP {method} failed: {error}");
                }
                return message["result"].clone();
            }
            if message["method"] == "Page.javascriptDialogOpening" {
                self.send("Page.handleJavaScriptDialog", json!({ "accept": false }));
            }
            if message.get("method").is_some() {
                self.events.push(message);
            }
        }
    }
}

/// A headless Chromium with a fresh profile, killed on drop.
pub struct Browser {
    child: Child,
    port: u16,
    control: Cdp,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium. Without one: `None` after saying why, unless the
    /// `CI` variable is set, where a missing browser is a failure.
    pub fn launch() -> Option<Browser> {
        let Some(program) = chromium() else {
            if std::env::var_os("CI").is_some() {
                panic!("chromium is not installed, and CI needs the browser tests: apt-get install chromium");
            }
            eprintln!(
                "SKIPPED: no chromium (apt-get install chromium); set CI=1 to make this a failure"
            );
            return None;
        };
        let profile = tempfile::tempdir().expect("profile directory");
        let mut child = Command::new(&program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-background-timer-throttling",
                "--disable-backgrounding-occluded-windows",
                "--disable-renderer-backgrounding",
                "--password-store=basic",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let (port, path) = match devtools_port(profile.path(), &mut child) {
            Ok(found) => found,
            Err(why) => {
                kill_group(&mut child);
                panic!("{} did not open DevTools: {why}", program.display());
            }
        };
        let control = Cdp::connect(port, &path);
        Some(Browser {
            child,
            port,
            control,
            _profile: profile,
        })
    }

    /// A new tab (its own window, so it is never in the background).
    pub fn tab(&mut self) -> Tab {
        let made = self.control.call(
            "Target.createTarget",
            json!({ "url": "about:blank", "newWindow": true }),
        );
        let target = made["targetId"].as_str().expect("targetId").to_owned();
        let mut cdp = Cdp::connect(self.port, &format!("/devtools/page/{target}"));
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            cdp.call(domain, json!({}));
        }
        Tab { cdp, target }
    }

    /// Closes a tab as a person closing it would (its page unloads).
    pub fn close(&mut self, tab: Tab) {
        let target = tab.target.clone();
        drop(tab);
        self.control
            .call("Target.closeTarget", json!({ "targetId": target }));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// Kills Chromium and its helpers (renderers, zygote): the whole group.
fn kill_group(child: &mut Child) {
    // SAFETY: kill(2) on the process group our own child leads.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for Chromium to write `DevToolsActivePort`: its port, then the
/// browser endpoint's path.
fn devtools_port(profile: &Path, child: &mut Child) -> Result<(u16, String), String> {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                let port = port.trim().parse().map_err(|_| format!("port {port:?}"))?;
                return Ok((port, path.trim().to_owned()));
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("it exited: {status}"));
        }
        if Instant::now() > deadline {
            return Err(format!("no {} within {PATIENCE:?}", file.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One page of the browser.
pub struct Tab {
    cdp: Cdp,
    target: String,
}

impl Tab {
    /// A raw CDP call on this page.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.cdp.call(method, params)
    }

    /// Loads `url` and waits until its scripts have run.
    pub fn goto(&mut self, url: &str) {
        let nav = self.call("Page.navigate", json!({ "url": url }));
        if let Some(error) = nav.get("errorText") {
            panic!("navigate to {url}: {error}");
        }
        self.wait("the page to load", "document.readyState === 'complete'");
    }

    /// Evaluates `js` in the page (awaiting a promise) and returns its value.
    pub fn eval(&mut self, js: &str) -> Value {
        let reply = self.call(
            "Runtime.evaluate",
            json!({ "expression": js, "awaitPromise": true, "returnByValue": true }),
        );
        if let Some(details) = reply.get("exceptionDetails") {
            panic!("{js}\nthrew: {details}");
        }
        reply["result"]["value"].clone()
    }

    /// Waits, inside the page, until the expression `cond` is truthy, and
    /// returns its value; after PATIENCE the test fails, showing `what` and
    /// the page's text.
    pub fn wait(&mut self, what: &str, cond: &str) -> Value {
        self.wait_for(what, cond, PATIENCE)
    }

    /// [`Tab::wait`] with a deadline of its own: for what must come soon,
    /// as a page that is not frozen shows it.
    pub fn wait_for(&mut self, what: &str, cond: &str, within: Duration) -> Value {
        let js = format!(
            "new Promise((resolve) => {{
               const end = Date.now() + {ms};
               const poll = () => {{
                 let v = null;
                 try {{ v = (() => ({cond}))(); }} catch (e) {{ v = null; }}
                 if (v) return resolve(v);
                 if (Date.now() > end) return resolve(null);
                 setTimeout(poll, 20);
               }};
               poll();
             }})",
            ms = within.as_millis()
        );
        let value = self.eval(&js);
        if value.is_null() || value == false {
            let text = self.eval("document.body ? document.body.innerText : ''");
            panic!(
                "gave up waiting for {what} ({cond})\npage text:\n{}",
                text.as_str().unwrap_or("")
            );
        }
        value
    }

    /// Focuses the element `selector` and types `text` into it.
    pub fn type_into(&mut self, selector: &str, text: &str) {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({s}); if (e) e.focus(); return !!e; }})()",
            s = json!(selector)
        ));
        assert_eq!(found, true, "no {selector} to type into");
        self.call("Input.insertText", json!({ "text": text }));
    }

    /// Presses a key (with `modifiers`: 8 is Shift) in the focused element.
    pub fn press(&mut self, key: &str, code: u32, text: &str, modifiers: u32) {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({
                    "type": kind, "key": key, "code": key, "modifiers": modifiers,
                    "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code,
                    "text": if kind == "keyDown" { text } else { "" },
                }),
            );
        }
    }

    pub fn press_enter(&mut self, shift: bool) {
        self.press("Enter", 13, "\r", if shift { 8 } else { 0 });
    }

    /// Clicks the middle of the element `selector`, as a mouse would.
    pub fn click(&mut self, selector: &str) {
        let point = self.wait(
            &format!("{selector} to be clickable"),
            &format!(
                "(() => {{ const e = document.querySelector({s}); if (!e) return null;
                   e.scrollIntoView({{block: 'nearest'}});
                   const r = e.getBoundingClientRect();
                   return r.width > 0 ? [r.x + r.width / 2, r.y + r.height / 2] : null; }})()",
                s = json!(selector)
            ),
        );
        let (x, y) = (point[0].as_f64(), point[1].as_f64());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// The events of `method` seen so far (e.g. `Page.javascriptDialogOpening`).
    pub fn events(&self, method: &str) -> Vec<Value> {
        self.cdp
            .events
            .iter()
            .filter(|e| e["method"] == method)
            .cloned()
            .collect()
    }

    /// Uncaught exceptions and Content-Security-Policy violations so far:
    /// a clean page has none.
    pub fn problems(&self) -> Vec<String> {
        let mut found: Vec<String> = self
            .events("Runtime.exceptionThrown")
            .iter()
            .map(|e| e["params"]["exceptionDetails"].to_string())
            .collect();
        for entry in self.events("Log.entryAdded") {
            let text = entry["params"]["entry"]["text"].as_str().unwrap_or("");
            if text.contains("Content Security Policy") {
                found.push(text.to_owned());
            }
        }
        found
    }

    /// Sets the viewport (CSS pixels) as a device of that size would.
    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        );
    }

    /// A PNG of what the page shows now.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let data = shot["data"].as_str().expect("screenshot data");
        base64_decode(data)
    }
}

/// Standard base64, as CDP sends binary data (no crate needed for this).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|&c| u32::from(value(c))).collect();
        let n = v.iter().fold(0, |acc, x| acc << 6 | x) << (6 * (4 - v.len()));
        out.extend(&n.to_be_bytes()[1..v.len()]);
    }
    out
}
