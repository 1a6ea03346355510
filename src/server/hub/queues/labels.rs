//! IRCv3 `labeled-response`: what a labeled command caused to be queued
//! for its sender is its response, tagged so the client can tell. The
//! hub opens a label before the command and closes it after (sealing the
//! turn's batch first, so that what others said before is written before
//! it); meanwhile every push to that session made while its own input is
//! acted on is written for it alone, its lines in one `labeled-response`
//! batch whose opening line carries the label. A labeled line cut short
//! by the session's budget goes on in a later turn: what others said in
//! between is queued untagged, and sealed out before it goes on. A command
//! that caused nothing is answered `ACK`.

use super::{Outgoing, Queues};
use crate::server::wire::irc::tag_each_line;
use crate::server::wire::Viewer;
use std::io::Write;
use std::rc::Rc;

/// A label open on a session's output.
#[derive(Debug)]
pub(in crate::server) struct Label {
    /// The client's label, as it sent it (escaped, at most 64 bytes).
    label: Rc<str>,
    /// The batch's reference.
    reference: String,
    /// The batch's opening line was queued.
    opened: bool,
}

impl<T: Write> Queues<T> {
    /// What is queued for `key` from now on answers a command labeled
    /// `label`.
    pub(in crate::server) fn open_label(&mut self, key: usize, label: Rc<str>) {
        self.labels += 1;
        let reference = format!("L{}", self.labels);
        if let Some(session) = self.sessions.get_mut(key) {
            session.out.label = Some(Label {
                label,
                reference,
                opened: false,
            });
        }
    }

    /// Is a labeled command of `key`'s being answered?
    pub(in crate::server) fn has_label(&self, key: usize) -> bool {
        self.sessions
            .get(key)
            .is_some_and(|s| s.out.label.is_some())
    }

    /// The labeled command is done: its batch ends, or, if it caused
    /// nothing, it is acknowledged.
    pub(in crate::server) fn close_label(&mut self, key: usize) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let Some(label) = session.out.label.take() else {
            return;
        };
        let server = self.copies.voice().server.clone();
        let line = match label.opened {
            true => format!(":{server} BATCH -{}\r\n", label.reference),
            false => format!("@label={} :{server} ACK\r\n", label.label),
        };
        self.push(key, Outgoing::Wire(line.as_bytes()), super::Limit::Within);
    }

    /// Queues `what` for a session with a label open: written for it
    /// alone, each line tagged as part of the label's batch (opened
    /// before the first).
    pub(super) fn encode_labeled(&mut self, key: usize, what: Outgoing<'_>) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let out = &mut session.out;
        let Some(label) = out.label.as_mut() else {
            return;
        };
        let mut bytes = Vec::new();
        if !label.opened {
            label.opened = true;
            let server = &self.copies.voice().server;
            let open = format!(
                "@label={} :{server} BATCH +{} labeled-response\r\n",
                label.label, label.reference
            );
            bytes.extend_from_slice(open.as_bytes());
        }
        let from = bytes.len();
        match what {
            Outgoing::Shared(chunk) => {
                bytes.extend_from_slice(&self.copies.shared(out.kind, chunk))
            }
            Outgoing::Ranges(chunk, ranges) => {
                let mut mapped = Vec::new();
                let copy = self.copies.ranges(out.kind, chunk, ranges, &mut mapped);
                for &(a, b) in &mapped {
                    bytes.extend_from_slice(copy.get(a..b).unwrap_or_default());
                }
            }
            Outgoing::Event(event) => {
                let viewer = Viewer {
                    nick: session.user.name.as_deref(),
                    asked: out.asked.what,
                    about: out.asked.about.as_deref(),
                };
                self.copies.encode(out.kind, event, &viewer, &mut bytes);
            }
            Outgoing::Wire(wire) => bytes.extend_from_slice(wire),
        }
        let tag = format!("batch={}", label.reference);
        tag_each_line(&mut bytes, from, tag.as_bytes());
        out.queue.push_with(|b| b.extend_from_slice(&bytes));
    }
}
