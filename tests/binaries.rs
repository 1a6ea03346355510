//! The binaries as people and scripts use them: the client over a pipe, the
//! client when the server dies, start-up errors, config files; the logger
//! example is in `binaries/logger.rs`.

mod common;
#[path = "binaries/logger.rs"]
mod logger;
use common::{TestServer, PATIENCE};
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

fn client(port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evchat-client"));
    cmd.args(["--port", &port.to_string()]).args(args);
    cmd
}

/// Waits for a child with a hang guard, returning its output.
fn finish(mut child: Child) -> Output {
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A port that refuses connections and that nobody can take while the
/// returned socket lives: bound, but never listening. (Closing a listener
/// to free its port would leave it for any other process to grab.)
fn refusing_port() -> (OwnedFd, u16) {
    // SAFETY: socket(2), bind(2) and getsockname(2) on a descriptor this
    // function owns, with a sockaddr_in it owns and its true size; zeroed
    // is a valid bit pattern for that plain C struct.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let at = &mut addr as *mut libc::sockaddr_in as *mut libc::sockaddr;
        assert_eq!(libc::bind(fd.as_raw_fd(), at, len), 0, "bind");
        assert_eq!(libc::getsockname(fd.as_raw_fd(), at, &mut len), 0);
        (fd, u16::from_be(addr.sin_port))
    }
}

#[test]
fn client_over_a_pipe_sends_every_line_then_quits() {
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let mut child = client(server.addr.port(), &["bob"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"hello all\n@alice psst\\\nsecond line\n//slash\n/who\n@nobody hi\n")
        .unwrap();
    drop(stdin);
    let out = finish(child);
    // One line was refused: a script must be able to tell.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("* online (2): alice, bob"), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "! error 404: no such user: nobody; nothing was sent\n"
    );
    alice.expect("JOINED bob ");
    assert!(alice.expect("SAY bob ").ends_with(" hello all"));
    assert!(alice
        .expect("MSG bob alice ")
        .ends_with(" psst\\nsecond line"));
    assert!(alice.expect("SAY bob ").ends_with(" /slash"));
    alice.expect("LEFT bob ");
}

#[test]
fn a_piped_client_whose_lines_all_went_through_exits_0() {
    let server = TestServer::start(&[]);
    let out = common::run_with_stdin(&mut client(server.addr.port(), &["bob"]), b"hi\n/who\n");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[test]
fn client_with_to_sends_plain_lines_privately() {
    let server = TestServer::start(&[]);
    let mut eric = server.login("Eric");
    let mut other = server.login("other");
    eric.expect("JOINED other ");
    let mut child = client(server.addr.port(), &["Bob", "--to", "Eric"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"How's the weather?\n")
        .unwrap();
    assert!(finish(child).status.success());
    eric.expect("JOINED Bob ");
    assert!(eric
        .expect("MSG Bob Eric ")
        .ends_with(" How's the weather?"));
    other.expect("JOINED Bob ");
    other.expect("LEFT Bob ");
}

#[test]
fn client_exits_nonzero_with_one_line_when_the_server_dies() {
    let mut server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let child = client(server.addr.port(), &["bob"])
        .stdin(Stdio::piped()) // kept open: the client is waiting for input
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    alice.expect("JOINED bob ");
    server.kill();
    let out = finish(child);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("connection to server lost"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn client_reports_connection_refused_in_one_line() {
    let (_held, port) = refusing_port();
    let out = client(port, &["bob"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("evchat-client: cannot connect to 127.0.0.1:"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn server_on_a_busy_port_fails_with_one_line_and_exit_1() {
    // Held (listening) until the end, so the port stays busy throughout.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["--port", &port, "--data-dir", data.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("cannot listen on 127.0.0.1:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    drop(taken);
}

#[test]
fn server_restarts_at_once_on_the_same_port() {
    let server = TestServer::start(&[]);
    let port = server.addr.port().to_string();
    // The server closes first, leaving its side in TIME_WAIT.
    for i in 0..5 {
        let mut c = server.login(&format!("u{i}"));
        c.send("QUIT");
        c.until_closed();
    }
    drop(server);
    let again = TestServer::start(&["--port", &port]);
    assert_eq!(again.addr.port().to_string(), port);
    again.login("back");
}

#[test]
fn config_file_sets_defaults_and_flags_win() {
    let dir = std::env::temp_dir().join(format!("evchat-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.toml");
    std::fs::write(&path, "max-line = 100\nlog-level = \"warn\"\nport = 1\n").unwrap();
    let path = path.to_str().unwrap();
    // --port 0 (from the harness) overrides the file's port.
    let server = TestServer::start(&["--config", path, "--log-level", "info"]);
    let mut bob = server.login("bob");
    bob.send(&format!("SAY {}", "x".repeat(97)));
    bob.expect("ERR 413 ");
    std::fs::write(dir.join("bad.toml"), "max-lines = 5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["--config", dir.join("bad.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field"));
}

#[test]
fn help_explains_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--config",
        "--host",
        "--port",
        "--max-line",
        "--max-clients",
        "--max-queue",
        "--idle-timeout",
        "--log-level",
        "--mailbox-max",
        "--data-dir",
        "--fsync",
        "--users",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-client"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--host", "--port", "--config", "--to"] {
        assert!(help.contains(flag), "{flag} missing from client --help");
    }
}
