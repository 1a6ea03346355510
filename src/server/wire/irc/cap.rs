//! `CAP`: the capabilities a client may negotiate (docs/IRC.md).

use super::message::Message;
use super::Irc;

/// Offered in `CAP LS`.
pub const CAPS: &str =
    "server-time echo-message away-notify sasl multi-prefix cap-notify batch labeled-response message-tags";

/// What a client negotiated.
#[derive(Debug, Default, Clone, Copy)]
pub struct Caps {
    pub server_time: bool,
    /// Its own messages come back once the server has accepted them.
    pub echo_message: bool,
    /// `AUTHENTICATE PLAIN` before registration.
    pub sasl: bool,
    /// Told when anyone goes away or comes back.
    pub away_notify: bool,
    /// A voiced operator is `@+` in names lists.
    pub multi_prefix: bool,
    /// Nothing to do: the offer never changes while connected.
    pub cap_notify: bool,
    /// Held mail and room history in `chathistory` batches.
    pub batch: bool,
    /// A labeled command's response carries its label (with `batch`).
    pub labeled_response: bool,
    /// Other clients' client-only tags, and `TAGMSG`.
    pub message_tags: bool,
    /// Messages with line breaks as one `draft/multiline` batch, both
    /// ways (with `batch`).
    pub multiline: bool,
}

impl Caps {
    /// Turns `cap` (`-cap` to turn it off) on; false if it is not offered.
    fn set(&mut self, cap: &str) -> bool {
        let (name, on) = match cap.strip_prefix('-') {
            Some(name) => (name, false),
            None => (cap, true),
        };
        let flag = match name {
            "server-time" => &mut self.server_time,
            "echo-message" => &mut self.echo_message,
            "sasl" => &mut self.sasl,
            "away-notify" => &mut self.away_notify,
            "multi-prefix" => &mut self.multi_prefix,
            "cap-notify" => &mut self.cap_notify,
            "batch" => &mut self.batch,
            "labeled-response" => &mut self.labeled_response,
            "message-tags" => &mut self.message_tags,
            "draft/multiline" => &mut self.multiline,
            _ => return false,
        };
        *flag = on;
        true
    }

    /// The capabilities on, for `CAP LIST`.
    fn list(&self) -> String {
        let on = [
            (self.server_time, "server-time"),
            (self.echo_message, "echo-message"),
            (self.sasl, "sasl"),
            (self.away_notify, "away-notify"),
            (self.multi_prefix, "multi-prefix"),
            (self.cap_notify, "cap-notify"),
            (self.batch, "batch"),
            (self.labeled_response, "labeled-response"),
            (self.message_tags, "message-tags"),
            (self.multiline, "draft/multiline"),
        ];
        let names: Vec<&str> = on.iter().filter(|c| c.0).map(|c| c.1).collect();
        names.join(" ")
    }
}

impl Irc {
    pub(super) fn cap(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        let sub = m.param(0).unwrap_or_default().to_ascii_uppercase();
        let server = self.config.server.clone();
        let me = self.nick.clone().unwrap_or_else(|| "*".to_owned());
        let mut say = |what: &str| {
            answer.extend_from_slice(format!(":{server} CAP {me} {what}\r\n").as_bytes());
        };
        match sub.as_str() {
            "LS" => {
                self.negotiating = !self.registered;
                // Values only for clients that read them (`CAP LS 302`).
                let version: u32 = m.param(1).and_then(|v| v.parse().ok()).unwrap_or(0);
                let multiline = match version >= 302 {
                    true => format!(
                        "draft/multiline=max-bytes={},max-lines={}",
                        super::multiline::max_bytes(self.max_line),
                        super::multiline::MAX_LINES
                    ),
                    false => "draft/multiline".to_owned(),
                };
                say(&format!("LS :{CAPS} {multiline}"));
            }
            "LIST" => say(&format!("LIST :{}", self.caps.list())),
            "REQ" => {
                self.negotiating = !self.registered;
                let wanted = m.param(1).unwrap_or_default();
                // All or nothing (IRCv3 capability negotiation).
                let mut caps = self.caps;
                if wanted.split_whitespace().all(|cap| caps.set(cap)) {
                    self.caps = caps;
                    say(&format!("ACK :{wanted}"));
                } else {
                    say(&format!("NAK :{wanted}"));
                }
            }
            "END" => {
                self.negotiating = false;
                self.register();
            }
            _ => {
                let sub = m.param(0).filter(|s| !s.is_empty()).unwrap_or("*");
                let sub = sub.to_owned();
                self.numeric(answer, "410", &[&sub], "Invalid CAP command");
            }
        }
    }
}
