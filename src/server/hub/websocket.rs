//! The upgrade at `/ws`: a connection that asks for it, and may, speaks
//! WebSocket from then on ([`WsWire`]). After the upgrade a WebSocket
//! connection is a chat connection like any other: its text messages go
//! through the same command path as lines, its output through the same
//! queues in the WebSocket encoding (see [`wire`](crate::server::wire)).

use super::Hub;
use crate::protocol::ErrorCode;
use crate::server::wire::http::Request;
use crate::server::wire::websocket::{close, upgrade, WsWire, WEBSOCKET};
use crate::server::wire::Dialect;
use log::debug;
use std::io::Write;

impl<T: Write> Hub<T> {
    /// Answers a request for `/ws`: the WebSocket dialect from now on, or
    /// an error and `None`.
    pub(super) fn upgrade(&mut self, key: usize, request: &Request) -> Option<Box<dyn Dialect>> {
        let limits = &self.limits;
        let accept = match upgrade::check(request, &limits.allow_origins, limits.local_only) {
            Ok(accept) => accept,
            Err((status, why)) => {
                let head_only = request.method == "HEAD";
                self.answer(key, status, "text/plain", why, head_only);
                return None;
            }
        };
        self.push_wire(key, &upgrade::switching(&accept), true);
        let now = self.now;
        let session = self.queues.sessions.get_mut(key)?;
        session.intake.last_heard = now;
        // What is queued from now on is framed for it.
        session.out.set_encoding(&WEBSOCKET, Default::default());
        let mut ws = WsWire::new(self.limits.max_line);
        debug!("connection {key} is a WebSocket");
        if let Some(refusal) = self.take_refusal(key) {
            // The page can say why: the server is full.
            ws.end_with(close::TRY_LATER);
            self.close_with(key, ErrorCode::Unavailable, &refusal);
        }
        Some(Box::new(ws))
    }
}
