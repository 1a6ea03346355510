//! A real IRC server to check the IRC test drivers against: the bench's
//! InspIRCd launcher ([`evchat::bench::inspircd`], whose doc says how it
//! is configured and why), with the IRCv3 modules clients ask for, in a
//! temporary directory removed on drop.
//!
//! What it does that a check must allow for: it holds each registration
//! until about 1 s after the connection was accepted; it sets user mode
//! `+i` after the MOTD (`MODE nick :+i`, in [`Welcome::after`]); a QUIT
//! reason reaches others as given; CASEMAPPING is rfc1459.
//!
//! [`Welcome::after`]: super::irc::Welcome::after

use super::PATIENCE;
use evchat::bench::inspircd::{self, Limits, IRCV3_MODULES};
// Used by the harness's own test, not by every crate `common` is in.
#[allow(unused_imports)]
pub use evchat::bench::inspircd::{inspircd_path, MOTD, SERVER_NAME};

/// Whether InspIRCd is installed (false after a notice, unless `CI` is
/// set: then a failure).
pub fn inspircd_available() -> bool {
    let found = inspircd_path().is_some();
    super::irc_clients::found_or_skip(found, "inspircd", "inspircd")
}

/// A running InspIRCd for the tests, killed on drop, then its directory
/// removed.
pub struct Inspircd {
    server: inspircd::Inspircd,
    _dir: tempfile::TempDir,
}

impl Inspircd {
    /// Starts a server for a few test clients; panics with what it printed
    /// if it does not start.
    pub fn start() -> Inspircd {
        let dir = tempfile::tempdir().expect("temporary directory");
        let limits = Limits {
            clients: 1000,
            maxchans: 100,
            sendq: "16M".to_owned(),
            extra: IRCV3_MODULES.to_owned(),
        };
        let server = inspircd::Inspircd::start(dir.path(), &limits, PATIENCE)
            .unwrap_or_else(|why| panic!("{why}"));
        Inspircd { server, _dir: dir }
    }
}

impl std::ops::Deref for Inspircd {
    type Target = inspircd::Inspircd;

    fn deref(&self) -> &inspircd::Inspircd {
        &self.server
    }
}
