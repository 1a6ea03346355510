//! Message timestamps: RFC 3339 UTC with milliseconds.
//!
//! The event loop reads the wall clock once per turn ([`Clock::set`]), as
//! Redis caches its time per event-loop iteration: a message is stamped with
//! the turn in which the server accepted it. The text is formatted at most
//! once per millisecond, however many messages share it.

use chrono::{DateTime, SecondsFormat, Utc};

/// `2026-11-23T10:15:30.123Z` is 24 bytes for every year 0000-9999.
const STAMP_LEN: usize = 24;

/// A formatted time, `Copy` so callers can hold it while mutating the hub.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    bytes: [u8; STAMP_LEN],
    len: usize,
}

impl Stamp {
    pub fn as_str(&self) -> &str {
        // Built from a `str` in `Clock::stamp`; cannot fail.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

#[derive(Debug)]
pub struct Clock {
    now: DateTime<Utc>,
    /// `now` in milliseconds since the epoch.
    millis: i64,
    /// The millisecond `stamp` was formatted for.
    formatted: i64,
    stamp: Stamp,
}

impl Default for Clock {
    fn default() -> Clock {
        let now = Utc::now();
        Clock {
            now,
            millis: now.timestamp_millis(),
            formatted: i64::MIN,
            stamp: Stamp {
                bytes: [0; STAMP_LEN],
                len: 0,
            },
        }
    }
}

impl Clock {
    /// Reads the wall clock; called once per loop turn.
    pub fn set(&mut self) {
        self.now = Utc::now();
        self.millis = self.now.timestamp_millis();
    }

    /// The time of this turn as `2026-11-23T10:15:30.123Z`.
    pub fn stamp(&mut self) -> Stamp {
        if self.millis != self.formatted {
            self.formatted = self.millis;
            let text = self.now.to_rfc3339_opts(SecondsFormat::Millis, true);
            let len = text.len().min(STAMP_LEN);
            self.stamp.bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
            self.stamp.len = len;
        }
        self.stamp
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps_look_like_rfc3339_millis() {
        let mut clock = super::Clock::default();
        clock.set();
        let s = clock.stamp().as_str().to_owned();
        assert_eq!(s.len(), "2026-11-23T10:15:30.123Z".len());
        assert!(s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.');
        assert!(chrono::DateTime::parse_from_rfc3339(&s).is_ok());
    }
}
