//! Which `TOPIC` frames say that someone changed a topic, and which only
//! tell what it is: the one after our own `JOIN` (on joining, and for
//! each room at login), and the answer to `/topic #room` — the frame is
//! the same either way, so a topic told again as we last saw it is an
//! answer, not a change. Pure: events in, decisions out.

use super::Event;
use crate::protocol::same_name;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// A topic as last seen: who set it, when, and its text (`None`: cleared).
type Seen = (String, DateTime<Utc>, Option<String>);

#[derive(Debug, Default)]
pub struct Topics {
    /// By room, without case: at most one per room there is.
    known: HashMap<String, Seen>,
    /// The room of our `JOIN` if it was the frame just before.
    joined: Option<String>,
}

impl Topics {
    /// Sees `event`; true when it is a `TOPIC` that tells what the topic
    /// is rather than a change of it.
    pub fn see(&mut self, event: &Event, me: &str) -> bool {
        let joined = self.joined.take();
        let key = |room: &str| room.to_ascii_lowercase();
        match event {
            Event::Join { name, room, .. } if same_name(name, me) => {
                self.joined = Some(key(room));
                false
            }
            Event::Topic {
                room,
                set: Some((by, time)),
                text,
            } => {
                let room = key(room);
                let now = (by.clone(), *time, text.clone());
                let told = joined.as_ref() == Some(&room) || self.known.get(&room) == Some(&now);
                self.known.insert(room, now);
                told
            }
            Event::Topic {
                room, set: None, ..
            } => {
                self.known.remove(&key(room));
                false
            }
            Event::Part { name, room, .. } | Event::Kick { name, room, .. }
                if same_name(name, me) =>
            {
                self.known.remove(&key(room));
                false
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerFrame;

    fn see(topics: &mut Topics, line: &str) -> bool {
        topics.see(&ServerFrame::parse(line).unwrap(), "me")
    }

    const T: &str = "2026-11-23T10:15:30.123Z";
    const U: &str = "2026-11-23T11:00:00.000Z";

    #[test]
    fn the_topic_after_our_join_is_told_and_a_later_one_is_a_change() {
        let mut t = Topics::default();
        assert!(!see(&mut t, &format!("JOIN me #R {U}")));
        assert!(see(&mut t, &format!("TOPIC #r amy {T} hello")));
        assert!(!see(&mut t, &format!("TOPIC #r bob {U} changed")));
        // Someone else's join is not ours.
        assert!(!see(&mut t, &format!("JOIN bob #s {U}")));
        assert!(!see(&mut t, &format!("TOPIC #s amy {T} other")));
        // Our join followed by something else first: the topic is news.
        assert!(!see(&mut t, &format!("JOIN me #x {U}")));
        assert!(!see(&mut t, &format!("SAY amy {U} hi")));
        assert!(!see(&mut t, &format!("TOPIC #x amy {U} set now")));
    }

    #[test]
    fn a_topic_told_again_as_it_was_is_an_answer() {
        let mut t = Topics::default();
        assert!(!see(&mut t, &format!("TOPIC #r amy {T} hello")));
        assert!(see(&mut t, &format!("TOPIC #R amy {T} hello")));
        assert!(!see(&mut t, &format!("TOPIC #r amy {U} hello")));
        assert!(!see(&mut t, &format!("TOPIC #r amy {U}")), "cleared");
        assert!(!see(&mut t, "TOPIC #r"), "asked: none");
        // Once out of the room, what we knew of it is forgotten.
        assert!(!see(&mut t, &format!("TOPIC #r amy {T} again")));
        assert!(!see(&mut t, &format!("KICK #r me amy {U}")));
        assert!(!see(&mut t, &format!("TOPIC #r amy {T} again")));
        assert!(!see(&mut t, &format!("PART me #r {U}")));
        assert!(!see(&mut t, &format!("TOPIC #r amy {T} again")));
    }
}
