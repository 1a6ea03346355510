//! HTTP on the chat port, on the same loop: what a request is answered —
//! the page, `/healthz`, `/metrics` — before the connection is closed, or
//! the WebSocket it becomes at `/ws` ([`super::websocket`]). Reading and
//! bounding the request's head is the HTTP dialect's
//! ([`wire::http`](crate::server::wire::http)); a head that does not come
//! whole in time is closed here, and when the server is full a browser is
//! told so in HTTP or WebSocket, and a chat client in its own protocol.

use super::Hub;
use crate::protocol::ErrorCode;
use crate::server::wire::http::{self, Request};
use crate::server::wire::Dialect;
use std::io::Write;

impl<T: Write> Hub<T> {
    /// Answers a request (or refuses a bad one with `status`); returns
    /// the dialect the connection speaks from now on if it became a
    /// WebSocket.
    pub(super) fn serve(
        &mut self,
        key: usize,
        request: Result<Request, u16>,
    ) -> Option<Box<dyn Dialect>> {
        let request = match request {
            Ok(request) => request,
            Err(status) => {
                self.answer(key, status, "text/plain", "bad request\n", false);
                return None;
            }
        };
        if request.path == "/ws" {
            return self.upgrade(key, &request);
        }
        self.route(key, &request);
        None
    }

    fn route(&mut self, key: usize, request: &Request) {
        let head_only = request.method == "HEAD";
        if request.method != "GET" && !head_only {
            return self.answer(key, 405, "text/plain", "only GET and HEAD\n", head_only);
        }
        if self.serve_page(key, &request.path, head_only) {
            return;
        }
        match request.path.as_str() {
            "/healthz" => {
                // Asked on a connection the server was too full to take.
                let full = self
                    .queues
                    .sessions
                    .get(key)
                    .is_some_and(|s| s.life.is_refused());
                let why = if self.is_stopping() {
                    "shutting down"
                } else if self.backplane_down() {
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
        self.push_wire(key, &response, true);
        self.close(key, None);
    }

    /// Closes connections whose head has not come whole in time (the
    /// tick finds them); one the server is too full for is told so first,
    /// in HTTP if it began a request, else in the line protocol.
    pub(super) fn close_late_heads(&mut self, late: Vec<usize>) {
        for key in late {
            let Some(session) = self.queues.sessions.get(key) else {
                continue;
            };
            let http = session.dialect.is_http();
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
        self.close_with(key, ErrorCode::Unavailable, text);
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
        "/chats.js" => Some((
            "text/javascript; charset=utf-8",
            include_str!("../../../web/chats.js"),
        )),
        "/rows.js" => Some((
            "text/javascript; charset=utf-8",
            include_str!("../../../web/rows.js"),
        )),
        "/rooms.js" => Some((
            "text/javascript; charset=utf-8",
            include_str!("../../../web/rooms.js"),
        )),
        "/ops.js" => Some((
            "text/javascript; charset=utf-8",
            include_str!("../../../web/ops.js"),
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
