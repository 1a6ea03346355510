//! Getting back in when the connection is lost, as the page does: tries
//! again after 0.5 s, doubling up to 10 s (each wait ±25% at random, so
//! clients cut off together do not all come back at once), logging in
//! with the same name and password. Membership of rooms belongs to the
//! name, so the server itself sends each room's `JOIN` and what was
//! missed. A refused login (a wrong password, a name taken) ends it.

use super::reader::Note;
use super::visible::visible_line;
use super::{Client, Error};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

const FIRST_WAIT: Duration = Duration::from_millis(500);
const LONGEST_WAIT: Duration = Duration::from_secs(10);

/// How to connect and log in; the same for every try.
#[derive(Debug)]
pub struct Dialer {
    pub addr: String,
    /// The name the server's certificate must have, with TLS.
    pub host: String,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Dialer {
    pub fn connect(&self) -> Result<Client, Error> {
        match &self.tls {
            Some(config) => Client::connect_tls(self.addr.as_str(), &self.host, Arc::clone(config)),
            None => Client::connect(self.addr.as_str()),
        }
    }
}

/// The waits between tries.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { next: FIRST_WAIT }
    }
}

impl Backoff {
    /// The next wait; `spread` in [0, 1] picks where in ±25% it falls.
    pub fn wait(&mut self, spread: f64) -> Duration {
        let wait = self.next.mul_f64(0.75 + spread.clamp(0.0, 1.0) * 0.5);
        self.next = (self.next * 2).min(LONGEST_WAIT);
        wait
    }
}

/// A number in [0, 1], different each call (std's hasher keys are random).
fn spread() -> f64 {
    RandomState::new().hash_one(0u8) as f64 / u64::MAX as f64
}

/// Tries until logged in again (a `Reconnected` note) or refused (a
/// `Lost` note that gives up), saying before each wait how long it is.
pub fn spawn_reconnect(
    dialer: Arc<Dialer>,
    name: String,
    password: Option<String>,
    why: String,
    mut deliver: impl FnMut(Note) + Send + 'static,
) {
    std::thread::spawn(move || {
        let mut backoff = Backoff::default();
        let mut status = format!("* connection lost: {why}");
        loop {
            let wait = backoff.wait(spread());
            // What the server said is made visible, as everything it sends.
            let shown = visible_line(&status);
            deliver(Note::Show(format!(
                "{shown}; reconnecting in {:.1} s",
                wait.as_secs_f64()
            )));
            std::thread::sleep(wait);
            let mut client = match dialer.connect() {
                Ok(client) => client,
                Err(e) => {
                    status = format!("* cannot reconnect: {e}");
                    continue;
                }
            };
            match client.login_with(&name, password.as_deref()) {
                Ok(()) => return deliver(Note::Reconnected(client)),
                // Full, shutting down, or passwords not checkable now.
                Err(Error::Refused { code: 503, text }) => {
                    status = format!("* cannot reconnect: {text}");
                }
                Err(Error::Refused { text, .. }) => {
                    let why = format!("logging in again as {name} was refused: {text}");
                    let why = visible_line(&why).into_owned();
                    return deliver(Note::Lost { why, again: false });
                }
                Err(e) => status = format!("* cannot reconnect: {e}"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_half_a_second_up_to_ten() {
        let mut middle = Backoff::default();
        let waits: Vec<u128> = (0..7).map(|_| middle.wait(0.5).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 10000, 10000]);
        let mut low = Backoff::default();
        assert_eq!(low.wait(0.0).as_millis(), 375);
        let mut high = Backoff::default();
        assert_eq!(high.wait(1.0).as_millis(), 625);
        assert_eq!(high.wait(7.0).as_millis(), 1250, "spread is clamped");
    }

    #[test]
    fn the_spread_is_within_its_range() {
        for _ in 0..100 {
            assert!((0.0..=1.0).contains(&spread()));
        }
    }
}
