//! Real IRC clients for integration tests, each driven as its users drive
//! it, one module each:
//!
//! - [`irssi`]: irssi in tmux ([`tmux`]); keys in, the screen out.
//! - [`weechat`]: weechat-headless, commands through its FIFO, what it
//!   shows read from its per-buffer log files.
//! - [`python_irc`]: a bot on Debian's python3-irc library
//!   (`tests/irc_bot.py`): JSON commands on its stdin, one JSON line per
//!   event on its stdout.
//!
//! Each starts its client with a home of its own in a temporary directory
//! (never the user's config), waits for registration before returning,
//! waits for what a test asks with PATIENCE as a hang guard, and kills
//! the client when dropped. `tests/irc_harness_inspircd.rs` checks them all
//! against InspIRCd (`cargo test --test irc_harness_inspircd -- --ignored`).

pub mod irssi;
pub mod python_irc;
pub mod tmux;
pub mod weechat;

/// `found`, or, when a client is missing, false after a notice — except
/// under CI (`CI` set), where a missing client is a failure: CI must run
/// these tests, not skip them. `what` names the programs, `packages` the
/// Debian packages that bring them.
pub fn found_or_skip(found: bool, what: &str, packages: &str) -> bool {
    if found {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{what} not installed and CI is set: apt-get install -y {packages}");
    }
    eprintln!("SKIPPED: {what} not installed (apt-get install {packages}); with CI set this fails");
    false
}
