//! `MSG <name>[,<name>...] <text>`: a private message to one or more users,
//! yourself included.
//!
//! All or nothing on names: if any recipient is unknown (never seen, not an
//! account) the sender gets `ERR 404` and nobody gets the message. A name
//! written twice gets it once, and `<to-list>` in what recipients see is
//! the de-duplicated list. The frame is encoded once: online recipients
//! share it, and offline ones have it held once for all of them (per
//! recipient that has no room, the sender gets `ERR 507`). A single online
//! recipient — the common case — gets it encoded straight into its queue.

use crate::protocol::reply::encode_fields;
use crate::protocol::{Command, ErrorCode, Text};
use crate::server::hub::Hub;
use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    pub(super) fn msg(&mut self, key: usize, me: &str, to: &str, text: Text<'_>) {
        // One recipient is the common case: no set, no allocation.
        let single;
        let many: Vec<&str>;
        let names: &[&str] = if memchr::memchr(b',', to.as_bytes()).is_some() {
            let mut seen = HashSet::new();
            many = Command::recipients(to)
                .filter(|n| seen.insert(*n))
                .collect();
            &many
        } else {
            single = [to];
            &single
        };
        // In a cluster, who is known is asked of JetStream, off the loop.
        let unknown = match self.cluster {
            Some(_) => None,
            None => names
                .iter()
                .find(|n| !self.online.contains_key(**n) && !self.is_known(n)),
        };
        if let Some(unknown) = unknown {
            let text = format!("no such user: {unknown}; nothing was sent");
            return self.reply_err(key, ErrorCode::NoSuchUser, &text);
        }
        // Recipients must see this after any broadcast accepted before it.
        if self.batch.has_frames() {
            self.seal_charged(key);
        }
        let to_list: Cow<'_, str> = if names.len() == Command::recipients(to).count() {
            Cow::Borrowed(to)
        } else {
            Cow::Owned(names.join(","))
        };
        let time = self.clock.stamp();
        let fields = ["MSG", me, &to_list, time.as_str(), text.escaped()];
        let size = fields.iter().map(|f| f.len() + 1).sum();
        if self.cluster.is_some() {
            let mut frame = Vec::with_capacity(size);
            encode_fields(&mut frame, &fields);
            return self.msg_in_cluster(key, names, Rc::from(frame));
        }
        if let [name] = names {
            if let Some(&recipient) = self.online.get(*name) {
                // Nothing to share: encode straight into its queue, where
                // consecutive messages form one contiguous buffer.
                if self
                    .queues
                    .push_owned(recipient, size, |b| encode_fields(b, &fields))
                {
                    self.counters.deliveries += 1;
                }
                return;
            }
        }
        let mut frame = Vec::with_capacity(size);
        encode_fields(&mut frame, &fields);
        let frame: Rc<[u8]> = Rc::from(frame);
        let mut offline = Vec::new();
        for &name in names {
            match self.online.get(name) {
                Some(&recipient) => {
                    if self.queues.push_shared(recipient, &frame) {
                        self.counters.deliveries += 1;
                    }
                }
                None => offline.push(name),
            }
        }
        self.hold(key, &offline, &frame);
    }
}
