//! Test harness: runs the real `evchat-server` binary on a free port and
//! talks to it over TCP, as users do.
#![allow(dead_code)] // each test file uses a different part of the harness

pub mod browser;
pub mod certs;
pub mod cluster;
pub mod inspircd;
pub mod irc;
pub mod irc_client;
pub mod irc_clients;
pub mod irc_message;
pub mod nats;
pub mod page;
pub mod pair;
pub mod ws;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any single expected event may take before the test fails. This
/// is a hang guard, not a speed assertion.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct TestServer {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    /// Copies the server's stderr into `log`; joined once the server has
    /// exited, so the log is then whole.
    reader: Option<std::thread::JoinHandle<()>>,
    /// The data directory the harness made (none when the test chose one).
    _data: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on a free port with a fresh data directory, unless
    /// `args` name them.
    pub fn start(args: &[&str]) -> TestServer {
        TestServer::start_within(args, PATIENCE)
    }

    /// As [`start`](Self::start), for a server that may take up to
    /// `patience` to listen (a cluster node waiting for JetStream).
    pub fn start_within(args: &[&str], patience: Duration) -> TestServer {
        if args.contains(&"--data-dir") {
            return TestServer::spawn(args, None, patience);
        }
        let data = tempfile::tempdir().expect("temporary data directory");
        let dir = data.path().to_str().expect("UTF-8 temp path").to_owned();
        let args: Vec<&str> = args.iter().copied().chain(["--data-dir", &dir]).collect();
        TestServer::spawn(&args, Some(data), patience)
    }

    fn spawn(args: &[&str], data: Option<tempfile::TempDir>, patience: Duration) -> TestServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_evchat-server"));
        if !args.contains(&"--port") {
            command.args(["--port", "0"]);
        }
        let mut child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start evchat-server");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let addr = line.split("listening on ").nth(1);
                if let Some(addr) = addr.and_then(|a| a.split_whitespace().next()) {
                    let _ = tx.send(addr.to_owned());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(patience)
            .unwrap_or_else(|_| panic!("server did not start: {}", log.lock().unwrap()));
        TestServer {
            child,
            addr: addr.parse().expect("address in log"),
            log,
            reader: Some(reader),
            _data: data,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The address logged after `marker` (e.g. "listening for TLS on ").
    pub fn logged_addr(&self, marker: &str) -> SocketAddr {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log();
            let found = log
                .split(marker)
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|a| a.parse().ok());
            if let Some(addr) = found {
                return addr;
            }
            assert!(Instant::now() < deadline, "no {marker:?} in log: {log}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What the server has logged so far (as far as this process has read
    /// it: to check for a line logged after the start, use
    /// [`log_with`](Self::log_with)).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The log once it holds `marker` (hang guard: PATIENCE): a line the
    /// server wrote a moment ago may not have been read from its stderr yet.
    pub fn log_with(&self, marker: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log();
            if log.contains(marker) {
                return log;
            }
            assert!(Instant::now() < deadline, "no {marker:?} in log: {log}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// After an exit: the rest of stderr has been read into the log.
    fn read_to_end(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// A field of /proc/<pid>/status, in KiB (VmRSS, VmHWM).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            .unwrap_or_else(|| panic!("no {field} in status"))
    }

    /// Open file descriptors of the server process.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal (SIGTERM, SIGHUP, ...) to the server.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let sent = unsafe { libc::kill(self.pid() as i32, signal) };
        assert_eq!(sent, 0, "kill failed");
    }

    /// Waits for the server to exit (hang guard: PATIENCE).
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                self.read_to_end();
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGKILL: the server gets no chance to write anything more.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.read_to_end();
    }

    pub fn connect(&self) -> Line {
        Line::connect(self.addr)
    }

    /// Connects and logs in, checking the server's `OK LOGIN`.
    pub fn login(&self, name: &str) -> Line {
        let mut line = self.connect();
        line.send(&format!("LOGIN {name}"));
        line.expect(&format!("OK LOGIN {name}"));
        line
    }

    /// A STATS figure, asked through a fresh anonymous connection.
    pub fn stat(&self, key: &str) -> u64 {
        stat_of(&self.stats(), key)
    }

    /// The whole STATS line, asked through a fresh anonymous connection.
    pub fn stats(&self) -> String {
        let mut probe = self.connect();
        probe.send("STATS");
        let line = probe.expect("STATS ");
        probe.send("QUIT");
        line
    }

    /// Stops the server's process (SIGSTOP) until [`resume`](Self::resume):
    /// the kernel keeps taking connections and bytes meanwhile, so what a
    /// test sends then arrives all at once.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }
}

/// A figure of a STATS line.
pub fn stat_of(line: &str, key: &str) -> u64 {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A raw line-protocol connection.
pub struct Line {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    next_token: u64,
}

impl Line {
    pub fn connect(addr: SocketAddr) -> Line {
        Line::over(TcpStream::connect(addr).expect("connect"))
    }

    /// Connects from the local address `source` (any of 127.0.0.0/8 is
    /// this host's): how a test plays many clients on many addresses.
    pub fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> Line {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
        socket
            .bind(&SocketAddr::new(source, 0).into())
            .expect("bind the source address");
        socket.connect(&addr.into()).expect("connect");
        Line::over(socket.into())
    }

    fn over(stream: TcpStream) -> Line {
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Line {
            stream,
            reader,
            next_token: 0,
        }
    }

    /// Sends `text` plus LF.
    pub fn send(&mut self, text: &str) {
        self.send_raw(format!("{text}\n").as_bytes());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// The next line, without LF; panics on EOF or after PATIENCE.
    pub fn recv(&mut self) -> String {
        self.try_recv()
            .unwrap_or_else(|| panic!("connection closed while a line was expected"))
    }

    /// The next line, or None at EOF / reset.
    pub fn try_recv(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                assert_eq!(buf.pop(), Some(b'\n'), "line without LF: {buf:?}");
                Some(String::from_utf8(buf).expect("server sent invalid UTF-8"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("no line within {PATIENCE:?}")
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                panic!("no line within {PATIENCE:?}")
            }
            Err(_) => None,
        }
    }

    /// Receives a line and checks that it starts with `prefix`.
    pub fn expect(&mut self, prefix: &str) -> String {
        let line = self.recv();
        assert!(
            line.starts_with(prefix),
            "expected {prefix:?}, got {line:?}"
        );
        line
    }

    /// PING barrier: every line that arrives before our PONG. The
    /// server's own PINGs are answered on the way, as clients do (one
    /// follows held mail, and its answer acknowledges the mail), and left
    /// out.
    pub fn sync(&mut self) -> Vec<String> {
        self.next_token += 1;
        let token = format!("t{}", self.next_token);
        self.send(&format!("PING {token}"));
        let pong = format!("PONG {token}");
        let mut lines = Vec::new();
        loop {
            let line = self.recv();
            if line == pong {
                return lines;
            }
            match line.strip_prefix("PING ") {
                Some(theirs) => self.send(&format!("PONG {theirs}")),
                None => lines.push(line),
            }
        }
    }

    /// Reads up to a frame starting with `prefix` and returns it,
    /// answering the server's `PING`s on the way.
    pub fn until(&mut self, prefix: &str) -> String {
        loop {
            let got = self.recv();
            if got.starts_with(prefix) {
                return got;
            }
            if let Some(token) = got.strip_prefix("PING ") {
                self.send(&format!("PONG {token}"));
            }
        }
    }

    /// Reads until the server closes; returns what came before.
    pub fn until_closed(&mut self) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        while let Some(line) = self.try_recv() {
            lines.push(line);
            assert!(Instant::now() < deadline, "server did not close");
        }
        lines
    }

    /// Drains raw bytes until EOF (for floods); returns the byte count.
    pub fn drain(&mut self) -> usize {
        let mut total = 0;
        let mut buf = [0u8; 65536];
        while let Ok(n) = self.reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    }
}

/// Runs `command` with `input` on its stdin (then closed) and collects
/// its output.
/// A users file in `dir` with these `(name, password)` accounts, made by
/// `evchat-server user add` as an operator would.
pub fn users_file(dir: &std::path::Path, accounts: &[(&str, &str)]) -> std::path::PathBuf {
    let users = dir.join("users");
    for (name, password) in accounts {
        let mut add = Command::new(env!("CARGO_BIN_EXE_evchat-server"));
        add.args(["user", "add", name, "--users"]).arg(&users);
        let out = run_with_stdin(&mut add, format!("{password}\n").as_bytes());
        assert!(out.status.success(), "{out:?}");
    }
    users
}

pub fn run_with_stdin(command: &mut Command, input: &[u8]) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // A program may exit without reading (a usage error): a broken pipe
    // here is its answer, not the test's failure.
    let _ = child.stdin.take().expect("stdin").write_all(input);
    child.wait_with_output().expect("wait")
}

/// Splits `SAY <from> <time> <text>` / `MSG <from> <to> <time> <text>` into
/// (from, time, text), dropping `<to>`.
pub fn fields(line: &str) -> (String, String, String) {
    let mut parts = line.splitn(5, ' ');
    let verb = parts.next().unwrap();
    let from = parts.next().unwrap().to_owned();
    if verb == "MSG" {
        parts.next();
    }
    let rest: Vec<&str> = parts.collect();
    let rest = rest.join(" ");
    let (time, text) = rest.split_once(' ').unwrap();
    (from, time.to_owned(), text.to_owned())
}
