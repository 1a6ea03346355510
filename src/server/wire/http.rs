//! HTTP on the chat port: telling a request from a chat line, reading its
//! head, and the small responses the server gives (`/healthz`,
//! `/metrics`).
//!
//! A connection whose first bytes are an upper-case token, a space and a
//! `/` is taken for HTTP — no evchat command looks like that — and anything
//! else for the line protocol, exactly as before. Requests are parsed with
//! `httparse`, headers bounded by [`MAX_HEAD`]; every response closes the
//! connection (`Connection: close`), or it becomes a WebSocket at `/ws`
//! (see [`super::websocket`]).

use super::line::LINES;
use super::{Deadline, Dialect, Input, Settings, Sniffed, WireKind};
use std::time::Instant;

/// Longest request line and headers together.
pub const MAX_HEAD: usize = 8 << 10;
/// The methods that start HTTP on the chat port: what browsers and HTTP
/// clients send. Only `GET` and `HEAD` are served; the others get `405`.
/// Any other first line is the line protocol's, however it looks.
pub const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// A connection sending an HTTP request: its head so far. The head is
/// kept whole, with what follows it (a WebSocket's first frames); one
/// still incomplete past its bound is a 431 at once, so this holds at most
/// the bound and one read.
#[derive(Debug, Default)]
pub struct HttpHead {
    head: Vec<u8>,
    deadline: Deadline,
    /// The request has been handed on: what comes after is not read.
    done: bool,
}

/// The HTTP dialect's sniffer, for [`super::DIALECTS`].
pub fn sniff_dialect(first: &[u8], settings: &Settings) -> Sniffed {
    if !settings.web {
        return Sniffed::NotMine;
    }
    match sniff(first) {
        Sniff::Http => Sniffed::Mine(Box::<HttpHead>::default()),
        Sniff::Line => Sniffed::NotMine,
        Sniff::NeedMore => Sniffed::NeedMore,
    }
}

impl Dialect for HttpHead {
    /// Only whole responses are written to it, as they are.
    fn encoding(&self) -> WireKind {
        &LINES
    }

    fn decode(
        &mut self,
        data: &[u8],
        _now: Instant,
        on: &mut dyn FnMut(Input<'_>) -> bool,
    ) -> usize {
        if self.done {
            return data.len();
        }
        self.head.extend_from_slice(data);
        let request = match parse(&self.head) {
            Head::Partial => return data.len(),
            Head::Bad(status) => Err(status),
            Head::Complete(request) => Ok(request),
        };
        self.done = true;
        let head = std::mem::take(&mut self.head);
        let after = match &request {
            Ok(r) => head.get(r.head_len..).unwrap_or_default().to_vec(),
            Err(_) => Vec::new(),
        };
        self.deadline.clear();
        on(Input::Request(Box::new((request, after))));
        data.len()
    }

    fn is_http(&self) -> bool {
        true
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline.at()
    }

    fn hurry(&mut self, by: Instant) {
        self.deadline.hurry(by);
    }

    fn buffered(&self) -> usize {
        self.head.capacity()
    }
}

/// What a connection's first bytes say it speaks.
#[derive(Debug, PartialEq, Eq)]
pub enum Sniff {
    Line,
    Http,
    /// Too few bytes to tell (an upper-case prefix, so far).
    NeedMore,
}

/// Tells HTTP from the line protocol by the first line: `METHOD /path
/// HTTP/1.x` is HTTP, anything else the line protocol. Until the line is
/// whole, bytes that could still become such a line need more.
pub fn sniff(data: &[u8]) -> Sniff {
    if data.is_empty() {
        return Sniff::NeedMore;
    }
    let line_end = memchr::memchr(b'\n', data);
    let line = &data[..line_end.unwrap_or(data.len())];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let whole = line_end.is_some();
    // METHOD: one this port answers (if only with 405), or, while the
    // line is not whole, the beginning of one.
    let token = line.iter().take_while(|b| b.is_ascii_uppercase()).count();
    let method = line.get(..token).unwrap_or_default();
    let rest = line.get(token..).unwrap_or_default();
    let known = METHODS.iter().any(|m| m.as_bytes() == method);
    let may_become =
        !whole && rest.is_empty() && METHODS.iter().any(|m| m.as_bytes().starts_with(method));
    if token == 0 || !(known || may_become) {
        return Sniff::Line;
    }
    let Some(rest) = rest.strip_prefix(b" /") else {
        return if !whole && (rest.is_empty() || rest == b" ") {
            Sniff::NeedMore
        } else {
            Sniff::Line
        };
    };
    // path, then " HTTP/1.x"
    let Some(space) = memchr::memchr(b' ', rest) else {
        return if whole || line.len() > MAX_HEAD {
            Sniff::Line
        } else {
            Sniff::NeedMore
        };
    };
    let version = &rest[space + 1..];
    const V: &[u8] = b"HTTP/1.";
    let fits = |v: &[u8]| {
        v.len() <= V.len() + 1
            && v.iter().zip(V).all(|(a, b)| a == b)
            && (v.len() <= V.len() || matches!(v[V.len()], b'0' | b'1'))
    };
    match (whole, fits(version), version.len() == V.len() + 1) {
        (true, true, true) => Sniff::Http,
        (false, true, _) => Sniff::NeedMore,
        _ => Sniff::Line,
    }
}

/// A parsed request: what the response depends on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Bytes of the head; what follows is the body, or WebSocket frames.
    pub head_len: usize,
    /// Headers a WebSocket upgrade is decided by (the last of each kept).
    pub host: Option<String>,
    pub origin: Option<String>,
    pub upgrade: Option<String>,
    pub connection: Option<String>,
    pub ws_key: Option<String>,
    pub ws_version: Option<String>,
}

/// How reading a request's head went.
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    Complete(Request),
    Partial,
    /// Answer this status and close.
    Bad(u16),
}

/// Parses what has arrived of a request's head.
pub fn parse(data: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(data) {
        Ok(httparse::Status::Complete(head_len)) if head_len > MAX_HEAD => Head::Bad(431),
        Ok(httparse::Status::Complete(head_len)) => {
            let path = request.path.unwrap_or("/");
            let path = path.split('?').next().unwrap_or(path);
            let mut parsed = Request {
                method: request.method.unwrap_or_default().to_owned(),
                path: path.to_owned(),
                head_len,
                ..Request::default()
            };
            for header in request.headers.iter() {
                let slot = match header.name.to_ascii_lowercase().as_str() {
                    "host" => &mut parsed.host,
                    "origin" => &mut parsed.origin,
                    "upgrade" => &mut parsed.upgrade,
                    "connection" => &mut parsed.connection,
                    "sec-websocket-key" => &mut parsed.ws_key,
                    "sec-websocket-version" => &mut parsed.ws_version,
                    _ => continue,
                };
                *slot = Some(String::from_utf8_lossy(header.value).trim().to_owned());
            }
            Head::Complete(parsed)
        }
        Ok(httparse::Status::Partial) if data.len() > MAX_HEAD => Head::Bad(431),
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(httparse::Error::TooManyHeaders) => Head::Bad(431),
        Err(_) => Head::Bad(400),
    }
}

/// A whole response: status, type, body (left out for `HEAD`).
pub fn response(status: u16, content_type: &str, body: &str, head_only: bool) -> Vec<u8> {
    response_with(status, content_type, "", body.as_bytes(), head_only)
}

/// The policy every page is served with: its own script and style, its
/// own WebSocket, nothing else — so received text cannot become code —
/// and no framing by another site (clickjacking), no `<base>`, no form
/// posted anywhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       connect-src 'self'; img-src 'self'; frame-ancestors 'none'; \
                       base-uri 'none'; form-action 'none'";

/// A whole response with `extra` header lines (each ending in CRLF).
pub fn response_with(
    status: u16,
    content_type: &str,
    extra: &str,
    body: &[u8],
    head_only: bool,
) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n",
        body.len()
    );
    if status == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str(extra);
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

/// The `STATS` line in the Prometheus text format: `evchat_<key>`, with
/// HELP and TYPE lines.
pub fn metrics(stats_line: &str) -> String {
    let mut out = String::new();
    for field in stats_line.split_whitespace() {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let (kind, help) = describe(key);
        out.push_str(&format!(
            "# HELP evchat_{key} {help}\n# TYPE evchat_{key} {kind}\nevchat_{key} {value}\n"
        ));
    }
    out
}

/// `evchat-server health`: asks `GET /healthz` and says what came back;
/// an error unless the answer is 200.
pub fn check_health(host: &str, port: u16) -> Result<String, String> {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    let timeout = std::time::Duration::from_secs(5);
    let addr = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("no address for {host}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot reach {addr}: {e}"))?;
    let _ = stream.set_read_timeout(Some(timeout));
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: evchat\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("cannot ask {addr}: {e}"))?;
    let mut answer = Vec::new();
    let _ = stream.take(64 << 10).read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default().trim();
    if status.starts_with("HTTP/1.1 200") {
        Ok(format!("{addr}: {body}"))
    } else if status.is_empty() {
        Err(format!("{addr} did not answer"))
    } else if !status.starts_with("HTTP/") {
        Err(format!(
            "{addr} did not answer in HTTP: a TLS-only port, or --no-web? \
             `health` asks the plain port (--port)"
        ))
    } else {
        Err(format!("{addr}: {status}: {body}"))
    }
}

/// A STATS key's Prometheus type and help text.
fn describe(key: &str) -> (&'static str, &'static str) {
    match key {
        "connections" => ("gauge", "Open connections, closing ones included."),
        "users" => ("gauge", "Logged-in users on this server."),
        "frames_in" => ("counter", "Frames received since start."),
        "deliveries" => ("counter", "Messages queued to recipients since start."),
        "bytes_in" => ("counter", "Bytes read since start."),
        "bytes_out" => ("counter", "Bytes written since start."),
        "queued" => ("gauge", "Bytes of memory output queues take."),
        "peak_queued" => ("gauge", "Highest queued since start."),
        "held" => (
            "gauge",
            "Messages held for offline users, once per recipient.",
        ),
        "held_bytes" => ("gauge", "Bytes charged against --held-bytes."),
        "known" => ("gauge", "Known names."),
        "rooms" => ("gauge", "Rooms."),
        "memberships" => ("gauge", "Room memberships, one per name and room."),
        "history_bytes" => ("gauge", "Bytes charged against --history-bytes."),
        "slow_cut" => (
            "counter",
            "Connections cut for being too slow, since start.",
        ),
        "closing" => ("gauge", "Connections closing now."),
        "throttled" => ("gauge", "Connections whose input waits for the next turn."),
        "logins_waiting" => ("gauge", "Logins waiting for or in their password check."),
        "uptime" => ("gauge", "Seconds since start."),
        "cluster_up" => ("gauge", "1 while the cluster link is up."),
        "nodes" => ("gauge", "Live cluster nodes, this one included."),
        "bus_in" => ("counter", "Messages received from other nodes."),
        "bus_out" => ("counter", "Messages published to other nodes."),
        "bus_lagged" => (
            "counter",
            "Bus messages lost because this node fell behind.",
        ),
        "bus_dropped" => ("counter", "Messages not handed to the cluster thread."),
        _ => ("gauge", "See docs/PROTOCOL.md, STATS."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_are_told_from_chat_lines() {
        assert_eq!(sniff(b"GET / HTTP/1.1\r\n"), Sniff::Http);
        assert_eq!(sniff(b"HEAD /healthz HTTP/1.0\r\n"), Sniff::Http);
        assert_eq!(sniff(b"LOGIN alice\n"), Sniff::Line);
        // Chat lines that start like a request are still chat lines.
        assert_eq!(sniff(b"PING /x\n"), Sniff::Line);
        assert_eq!(sniff(b"SAY /me waves\n"), Sniff::Line);
        assert_eq!(sniff(b"PING /x HTTP/2\n"), Sniff::Line);
        // Only methods start HTTP, however much a command looks like one.
        assert_eq!(sniff(b"QUIT /x HTTP/1.1\r\n"), Sniff::Line);
        assert_eq!(sniff(b"PING /x HTTP/1.1\n"), Sniff::Line);
        assert_eq!(sniff(b"OPTIONS / HTTP/1.1\r\n"), Sniff::Http);
        assert_eq!(sniff(b"LOG"), Sniff::Line, "no method begins so");
        assert_eq!(sniff(b"GE"), Sniff::NeedMore);
        assert_eq!(sniff(b"P"), Sniff::NeedMore);
        assert_eq!(sniff(b"GETS / HTTP/1.1\n"), Sniff::Line);
        assert_eq!(sniff(b"GET "), Sniff::NeedMore);
        assert_eq!(sniff(b"GET /a HTT"), Sniff::NeedMore);
        assert_eq!(sniff(b"GET /a HTTP/1.1"), Sniff::NeedMore);
        assert_eq!(sniff(b"LOGIN alice"), Sniff::Line);
        assert_eq!(sniff(b"login alice\n"), Sniff::Line);
        assert_eq!(sniff(b"\n"), Sniff::Line);
        assert_eq!(sniff(b""), Sniff::NeedMore, "nothing says nothing");
        assert_eq!(sniff(b"ABCDEFGHIJKLMNOPQ / x"), Sniff::Line);
    }

    #[test]
    fn heads_are_bounded_and_checked() {
        let ok = parse(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
        let want = Request {
            method: "GET".into(),
            path: "/metrics".into(),
            head_len: 38,
            host: Some("a".into()),
            ..Request::default()
        };
        assert_eq!(ok, Head::Complete(want));
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: a\r\n"), Head::Partial);
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(parse(long.as_bytes()), Head::Bad(431));
        // The bound is on the head, whole: at it is fine, past it is not.
        let sized = |n: usize| format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(n - 23));
        assert!(matches!(
            parse(sized(MAX_HEAD).as_bytes()),
            Head::Complete(_)
        ));
        assert_eq!(parse(sized(MAX_HEAD + 1).as_bytes()), Head::Bad(431));
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\x01bad\r\n\r\n"), Head::Bad(400));
    }

    #[test]
    fn metrics_have_help_and_type_lines() {
        let text = metrics("connections=3 frames_in=10");
        assert!(text.contains("# HELP evchat_connections "));
        assert!(text.contains("# TYPE evchat_connections gauge\nevchat_connections 3\n"));
        assert!(text.contains("# TYPE evchat_frames_in counter\nevchat_frames_in 10\n"));
    }

    proptest! {
        #[test]
        fn sniffing_and_parsing_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = sniff(&data);
            let _ = parse(&data);
        }
    }
}
