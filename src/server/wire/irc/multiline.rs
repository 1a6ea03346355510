//! `draft/multiline` from a client: `BATCH +<ref> draft/multiline
//! <target>`, `PRIVMSG`s tagged `batch=<ref>` (each a line, or with
//! `draft/multiline-concat` the rest of the one before), `BATCH -<ref>` —
//! one message with line breaks, sent as one `SAY` or `MSG` (evchat's
//! text holds line breaks). Bounded as the capability says
//! (`max-bytes`, `max-lines`); errors are `FAIL BATCH` (IRCv3 standard
//! replies) and drop the batch.

use super::message::Message;
use super::{asked, Irc};
use crate::protocol::{is_valid_name, is_valid_room};
use std::rc::Rc;

/// Most lines in one multiline message: as many as a message becomes.
pub use super::text_out::MAX_LINES;

/// A multiline batch being received.
#[derive(Debug)]
pub(super) struct Incoming {
    reference: String,
    target: String,
    /// The client-only tags of its `BATCH` line (`@<tags> ` or empty).
    tags: Vec<u8>,
    text: String,
    lines: usize,
    /// Refused (`FAIL` sent): its remaining lines are dropped.
    failed: bool,
    /// The `FAIL` that refused it, kept to answer its `BATCH -` when the
    /// batch is labeled (a labeled batch is answered there, whole).
    failure: Vec<u8>,
}

/// The most text a multiline message may hold: escaped (at worst twice
/// as long), after `MSG <target> `, it fits a line.
pub fn max_bytes(max_line: usize) -> usize {
    max_line.saturating_sub(64) / 2
}

impl Irc {
    /// Does this client send and receive multiline messages?
    pub(super) fn multiline(&self) -> bool {
        self.caps.multiline && self.caps.batch
    }

    /// `BATCH +<ref> draft/multiline <target>` or `BATCH -<ref>`.
    pub(super) fn batch(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        let opening = m.param(0).unwrap_or_default();
        if let Some(reference) = opening.strip_prefix('+') {
            if self.incoming.take().is_some() {
                self.fail_batch(answer, "MULTILINE_INVALID", &[], "Batch left open");
            }
            let (kind, target) = (m.param(1), m.param(2));
            let (Some("draft/multiline"), Some(target)) = (kind, target) else {
                return self.fail_batch(answer, "MULTILINE_INVALID", &[], "Unknown batch type");
            };
            // Both go back in a `FAIL`'s middle parameters: one word each.
            let word = |w: &str| {
                !w.is_empty() && !w.starts_with(':') && w.bytes().all(|b| b.is_ascii_graphic())
            };
            if !word(reference) || !(is_valid_name(target) || is_valid_room(target)) {
                return self.fail_batch(answer, "MULTILINE_INVALID", &[], "Invalid batch");
            }
            self.incoming = Some(Incoming {
                reference: reference.to_owned(),
                target: target.to_owned(),
                tags: self.client_tags(m.tags),
                text: String::new(),
                lines: 0,
                failed: false,
                failure: Vec::new(),
            });
        } else if let Some(reference) = opening.strip_prefix('-') {
            let Some(open) = self.incoming.take() else {
                return self.fail_batch(answer, "MULTILINE_INVALID", &[], "No batch open");
            };
            if open.reference != reference {
                return self.fail_batch(answer, "MULTILINE_INVALID", &[], "Not the open batch");
            }
            if open.failed {
                answer.extend_from_slice(&open.failure);
                return;
            }
            if open.text.trim().is_empty() {
                return self.fail_batch(answer, "MULTILINE_INVALID", &[], "Empty message");
            }
            self.send_text(asked::PRIVMSG, &open.target, &open.text, open.tags);
        } else {
            self.need_more(answer, "BATCH");
        }
    }

    /// Takes a line of a client's batch (tagged `batch=<ref>`): a line of
    /// the open multiline message, or, for a batch not open (refused and
    /// ended, or never opened), dropped with a `FAIL`. Any other line is
    /// left to be taken as usual, a batch open or not (a client may answer
    /// a `PING` while it sends one). Returns whether it took the line.
    pub(super) fn multiline_line(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) -> bool {
        let tags = m.tags.unwrap_or_default();
        let Some(reference) = tags.split(';').find_map(|t| t.strip_prefix("batch=")) else {
            return false;
        };
        // Work of its own, with no answer: activity, and charged.
        self.quiet_work = true;
        let Some(open) = self.incoming.as_mut().filter(|o| o.reference == reference) else {
            self.fail_batch(answer, "MULTILINE_INVALID", &[], "No such batch open");
            return true;
        };
        if open.failed {
            return true;
        }
        if !m.command.eq_ignore_ascii_case("PRIVMSG") {
            let text = "Only PRIVMSG in a multiline batch";
            self.refuse_batch(answer, "MULTILINE_INVALID", &[], text);
            return true;
        }
        // One word, whatever was sent (it goes in a middle parameter).
        let target = m.param(0).unwrap_or_default();
        let target = target.split(' ').next().unwrap_or_default();
        if !target.eq_ignore_ascii_case(&open.target) {
            let batch_target = open.target.clone();
            let text = "Invalid multiline target";
            self.refuse_batch(
                answer,
                "MULTILINE_INVALID_TARGET",
                &[&batch_target, target],
                text,
            );
            return true;
        }
        let concat = tags.split(';').any(|t| t == "draft/multiline-concat");
        let line = m.param(1).unwrap_or_default();
        if open.lines > 0 && !concat {
            open.text.push('\n');
        }
        open.text.push_str(line);
        open.lines += 1;
        let limit = max_bytes(self.max_line);
        if open.text.len() > limit {
            let limit = limit.to_string();
            let text = "Multiline batch max-bytes exceeded";
            self.refuse_batch(answer, "MULTILINE_MAX_BYTES", &[&limit], text);
        } else if open.lines > MAX_LINES {
            let limit = MAX_LINES.to_string();
            let text = "Multiline batch max-lines exceeded";
            self.refuse_batch(answer, "MULTILINE_MAX_LINES", &[&limit], text);
        }
        true
    }

    /// Refuses the open batch: its `FAIL` now, or, for a labeled batch, at
    /// its `BATCH -`, where it is answered.
    fn refuse_batch(&mut self, answer: &mut Vec<u8>, code: &str, params: &[&str], text: &str) {
        let mut fail = Vec::new();
        self.fail_batch(&mut fail, code, params, text);
        let labeled = self.batch_label.is_some();
        if let Some(open) = self.incoming.as_mut() {
            open.failed = true;
            if labeled {
                open.failure = fail;
                return;
            }
        }
        answer.extend_from_slice(&fail);
    }

    /// `:<server> FAIL BATCH <code> [<params>] :<text>`.
    fn fail_batch(&self, answer: &mut Vec<u8>, code: &str, params: &[&str], text: &str) {
        let mut words = vec![
            format!(":{}", self.config.server),
            "FAIL".into(),
            "BATCH".into(),
        ];
        words.push(code.to_owned());
        words.extend(params.iter().map(|p| (*p).to_owned()));
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        super::encode::put(answer, &words, Some(text));
    }

    /// The label that answers `line`: a multiline batch is labeled on its
    /// opening line, and answered when its closing line sends it.
    pub(super) fn multiline_label(
        &mut self,
        line: &[u8],
        label: Option<Rc<str>>,
    ) -> Option<Rc<str>> {
        if !self.multiline() || (label.is_none() && self.batch_label.is_none()) {
            return label;
        }
        let message = std::str::from_utf8(line)
            .ok()
            .and_then(|l| Message::parse(l).ok());
        let batch = message
            .filter(|m| m.command.eq_ignore_ascii_case("BATCH"))
            .and_then(|m| m.param(0).map(|p| p.starts_with('+')));
        match batch {
            // A batch opened while another is: that one is refused by
            // this line, which answers the label it had.
            Some(true) => std::mem::replace(&mut self.batch_label, label),
            Some(false) => {
                let stashed = self.batch_label.take();
                label.or(stashed)
            }
            None => label,
        }
    }

    /// What a multiline batch being received holds.
    pub(super) fn multiline_buffered(&self) -> usize {
        self.incoming.as_ref().map_or(0, |open| open.text.len())
    }
}
