//! HTTP on the chat port, on the same loop: a connection's first line
//! decides what it speaks ([`http::sniff`]). A line-protocol connection
//! goes on exactly as before; an HTTP one gets its answer — the page,
//! `/healthz`, `/metrics` — and is closed, or becomes a WebSocket at `/ws`
//! ([`super::websocket`]). Heads are bounded (431), slow ones closed by a
//! deadline of their own, whatever the idle timeout. When the server is
//! full a connection is still read up to its first line, so that a browser
//! is told so in HTTP or WebSocket, and a chat client in its own protocol.

use super::Hub;
use crate::protocol::reply::encode_err;
use crate::protocol::ErrorCode;
use crate::server::http::{self, Head, Sniff};
use crate::server::session::Protocol;
use std::io::Write;
use std::time::Duration;

/// How long a request's head may take to arrive.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);

impl<T: Write> Hub<T> {
    /// Input of a connection that is not (yet) known to speak the line
    /// protocol.
    pub(super) fn sniff_or_serve(&mut self, key: usize, data: &[u8]) {
        let now = self.now;
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        if session.protocol == Protocol::Undecided {
            // Whole, however long: a chat client's first read may carry a
            // burst, all of which is its input. (Undecided bytes stay
            // few: `sniff` decides past one short line.)
            session.head.extend_from_slice(data);
            match http::sniff(&session.head) {
                Sniff::Line => {
                    session.protocol = Protocol::Line;
                    session.head_deadline = None;
                    let first = std::mem::take(&mut session.head);
                    if let Some(refusal) = self.take_refusal(key) {
                        return self.refuse(key, &refusal);
                    }
                    return self.feed(key, &first);
                }
                Sniff::NeedMore => {
                    session.head_deadline.get_or_insert(now + HEAD_DEADLINE);
                    return;
                }
                Sniff::Http => {
                    session.protocol = Protocol::Http;
                    session.head_deadline.get_or_insert(now + HEAD_DEADLINE);
                }
            }
        } else {
            // Kept whole: what follows a head (a WebSocket's first frames)
            // is input. A head still incomplete past its bound is a 431 at
            // once, so this holds at most the bound and one read.
            session.head.extend_from_slice(data);
        }
        match http::parse(&session.head) {
            Head::Partial => {}
            Head::Bad(status) => self.answer(key, status, "text/plain", "bad request\n", false),
            Head::Complete(request) => self.route(key, &request),
        }
    }

    fn route(&mut self, key: usize, request: &http::Request) {
        if request.path == "/ws" {
            return self.upgrade(key, request);
        }
        let head_only = request.method == "HEAD";
        if request.method != "GET" && !head_only {
            return self.answer(key, 405, "text/plain", "only GET and HEAD\n", head_only);
        }
        if self.serve_page(key, &request.path, head_only) {
            return;
        }
        match request.path.as_str() {
            "/healthz" => {
                let cluster_down = self.cluster.as_ref().is_some_and(|c| !c.port.is_up());
                // Asked on a connection the server was too full to take.
                let full = self
                    .queues
                    .sessions
                    .get(key)
                    .is_some_and(|s| s.refusal.is_some());
                let why = if self.is_stopping() {
                    "shutting down"
                } else if cluster_down {
                    "the cluster link is down"
                } else if full {
                    "server full"
                } else {
                    return self.answer(key, 200, "text/plain", "ok\n", head_only);
                };
                let body = format!("unavailable: {why}\n");
                self.answer(key, 503, "text/plain", &body, head_only)
            }
            "/metrics" => {
                let body = http::metrics(&self.stats_line());
                let kind = "text/plain; version=0.0.4; charset=utf-8";
                self.answer(key, 200, kind, &body, head_only)
            }
            _ => self.answer(key, 404, "text/plain", "not found\n", head_only),
        }
    }

    /// Sends a whole response and closes the connection after it.
    pub(super) fn answer(
        &mut self,
        key: usize,
        status: u16,
        kind: &str,
        body: &str,
        head_only: bool,
    ) {
        self.respond(key, http::response(status, kind, body, head_only));
    }

    /// Sends a whole response and closes the connection after it.
    pub(super) fn respond(&mut self, key: usize, response: Vec<u8>) {
        self.take_refusal(key);
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.head = Vec::new();
            session.head_deadline = None;
        }
        self.queues
            .push_raw(key, true, |b| b.extend_from_slice(&response));
        self.close(key, None);
    }

    /// Closes connections whose head has not come whole in time (the
    /// tick finds them); one the server is too full for is told so first,
    /// in HTTP if it began a request, else in the line protocol.
    pub(super) fn close_late_heads(&mut self, late: Vec<usize>) {
        for key in late {
            let Some(session) = self.queues.sessions.get_mut(key) else {
                continue;
            };
            session.head = Vec::new();
            session.head_deadline = None;
            let http = session.protocol == Protocol::Http;
            match self.take_refusal(key) {
                // Started a request: told in HTTP.
                Some(refusal) if http => {
                    let body = format!("{refusal}\n");
                    self.answer(key, 503, "text/plain", &body, false)
                }
                Some(refusal) => self.refuse(key, &refusal),
                None => self.close(key, None),
            }
        }
    }

    /// Tells a connection the server cannot take it (`ERR 503`: full,
    /// shutting down), and closes it.
    pub(super) fn refuse(&mut self, key: usize, text: &str) {
        self.queues
            .push_final(key, |b| encode_err(b, ErrorCode::Unavailable, text));
        self.close(key, None);
    }

    /// Serves one of the page's files.
    fn serve_page(&mut self, key: usize, path: &str, head_only: bool) -> bool {
        let Some((kind, body)) = page(path) else {
            return false;
        };
        let csp = format!(
            "Content-Security-Policy: {}\r\nReferrer-Policy: no-referrer\r\n",
            http::CSP
        );
        let response = http::response_with(200, kind, &csp, body.as_bytes(), head_only);
        self.respond(key, response);
        true
    }
}

/// The page's files, built into the binary: (type, body) by path.
fn page(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/" | "/index.html" => Some((
            "text/html; charset=utf-8",
            include_str!("../../../web/index.html"),
        )),
        "/app.js" => Some((
            "text/javascript; charset=utf-8",
            include_str!("../../../web/app.js"),
        )),
        "/input.js" => Some((
            "text/javascript; charset=utf-8",
            include_str!("../../../web/input.js"),
        )),
        "/app.css" => Some((
            "text/css; charset=utf-8",
            include_str!("../../../web/app.css"),
        )),
        // Browsers ask for an icon on every page; /favicon.ico gets the
        // same one rather than a 404 in the console.
        "/favicon.svg" | "/favicon.ico" => {
            Some(("image/svg+xml", include_str!("../../../web/favicon.svg")))
        }
        _ => None,
    }
}
