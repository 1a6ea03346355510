//! WebSocket connections: the upgrade at `/ws`, their input cut into
//! protocol frames by [`WsDecoder`], and their close handshake.
//!
//! After the upgrade a WebSocket connection is a chat connection like any
//! other: its text messages go through the same command path as lines, its
//! output through the same queues, framed by [`super::wire`]. Only what is
//! WebSocket's own is here — pings answered with pongs, protocol errors
//! closed with their code, and a close frame after a connection's last
//! frame, whatever ended it.

use super::Hub;
use crate::protocol::reply::encode_err;
use crate::protocol::ErrorCode;
use crate::server::http::Request;
use crate::server::session::Protocol;
use crate::server::upgrade;
use crate::server::ws::{self, close, WsDecoder, WsEvent};
use log::debug;
use std::io::Write;

/// A message longer than this, even skipped, closes the connection (1009):
/// `--max-line` times this, and at least [`MIN_HARD_CAP`].
const HARD_CAP_FACTOR: u64 = 16;
const MIN_HARD_CAP: u64 = 1 << 20;

/// How a connection's WebSocket input ended.
enum Ended {
    /// The peer closed, with this code.
    Closed(Option<u16>),
    /// A protocol error: close with this code.
    Failed(u16),
}

impl<T: Write> Hub<T> {
    /// Answers a request for `/ws`: a WebSocket from now on, or an error.
    pub(super) fn upgrade(&mut self, key: usize, request: &Request) {
        let limits = &self.limits;
        let accept = match upgrade::check(request, &limits.allow_origins, limits.local_only) {
            Ok(accept) => accept,
            Err((status, why)) => {
                let head_only = request.method == "HEAD";
                return self.answer(key, status, "text/plain", why, head_only);
            }
        };
        let max_line = self.limits.max_line;
        let hard_cap = (max_line as u64 * HARD_CAP_FACTOR).max(MIN_HARD_CAP);
        let now = self.now;
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        // Frames a client sent right behind its request are its first input.
        let after = session
            .head
            .get(request.head_len..)
            .unwrap_or_default()
            .to_vec();
        session.head = Vec::new();
        session.head_deadline = None;
        session.last_heard = now;
        self.queues.push_raw(key, true, |b| {
            b.extend_from_slice(&upgrade::switching(&accept))
        });
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        session.protocol = Protocol::WebSocket;
        session.ws = Some(Box::new(WsDecoder::new(max_line, hard_cap)));
        debug!("connection {key} is a WebSocket");
        if let Some(refusal) = self.take_refusal(key) {
            // The page can say why: the server is full.
            self.queues
                .push_final(key, |b| encode_err(b, ErrorCode::Unavailable, &refusal));
            self.end_ws(key, close::TRY_LATER);
            return self.close(key, None);
        }
        if !after.is_empty() {
            self.feed(key, &after);
        }
    }

    /// Cuts WebSocket input into frames and acts on them, as long as the
    /// connection may go on; returns the bytes consumed.
    pub(super) fn decode_ws(&mut self, key: usize, data: &[u8]) -> usize {
        let Some(mut decoder) = self.queues.sessions.get_mut(key).and_then(|s| s.ws.take()) else {
            return data.len();
        };
        let mut ended = None;
        let used = decoder.feed(data, |event| match event {
            WsEvent::Frame(frame) => {
                self.on_frame(key, frame);
                self.may_go_on(key)
            }
            WsEvent::RawNewline => {
                self.counters.frames_in += 1;
                self.charge(key, 1);
                let text = "a raw LF or CR in a message: one message is one frame (escape a newline as \\n)";
                self.reply_err(key, ErrorCode::BadRequest, text);
                self.may_go_on(key)
            }
            WsEvent::Ping(payload) => {
                self.charge(key, 1);
                self.queues
                    .push_raw(key, false, |b| ws::encode_pong(b, payload));
                self.may_go_on(key)
            }
            WsEvent::Close(code) => {
                ended = Some(Ended::Closed(code));
                false
            }
            WsEvent::Fail(code) => {
                ended = Some(Ended::Failed(code));
                false
            }
        });
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.ws = Some(decoder);
        }
        match ended {
            None => {}
            Some(Ended::Closed(code)) => {
                debug!("connection {key}: the peer closed its WebSocket ({code:?})");
                // The close frame echoes the peer's code.
                self.end_ws_with(key, code);
                self.close(key, None);
            }
            Some(Ended::Failed(code)) => {
                debug!("connection {key}: WebSocket protocol error, closing with {code}");
                self.end_ws(key, code);
                self.close(key, None);
            }
        }
        used
    }

    /// Queues a close frame with `code` as the connection's last, once.
    pub(super) fn end_ws(&mut self, key: usize, code: u16) {
        self.end_ws_with(key, Some(code));
    }

    fn end_ws_with(&mut self, key: usize, code: Option<u16>) {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        if session.protocol != Protocol::WebSocket || session.ws_close_sent {
            return;
        }
        session.ws_close_sent = true;
        self.queues
            .push_raw(key, true, |b| ws::encode_close(b, code));
    }

    /// The close frame after a WebSocket connection's last frame, for
    /// whatever reason it is closed (BYE, an error, a cut, shutdown).
    pub(super) fn end_ws_on_close(&mut self, key: usize) {
        let code = if self.is_stopping() {
            close::GOING_AWAY
        } else {
            close::NORMAL
        };
        self.end_ws(key, code);
    }
}
