//! The evchat server: one thread, one readiness loop, bounded everything.
//!
//! What runs where:
//!
//! - **The loop thread** ([`event_loop`]) does all socket I/O — plain and
//!   TLS ([`tls`]: rustls does no I/O of its own) — and everything the hub
//!   decides: parsing, names, fan-out, limits. It never touches the disk
//!   after start and never blocks: it polls, reads within a budget, writes
//!   what sockets take.
//! - **The journal's writer thread** ([`journal`]) owns the journal file:
//!   appends, fsync, compaction (with a helper of its own). The loop hands
//!   it one buffer of records per turn and holds a connection's replies
//!   until the records it caused are written.
//! - **The password thread** ([`accounts`]) checks argon2id hashes and
//!   rereads the users file. Both helpers wake the loop with a
//!   `mio::Waker`.
//! - **The cluster thread** ([`cluster`], with `--cluster` only) owns the
//!   NATS client on a current-thread tokio runtime: it publishes what the
//!   loop hands it, claims names, holds and fetches mail in JetStream, and
//!   passes other nodes' messages and the names bucket's changes back.
//! - **Signals** arrive as readiness on the loop ([`shutdown`]).
//!
//! The modules: [`setup`] builds a server from its [`config`]; [`listener`]
//! accepts and [`connections`] takes each connection in; [`hub`] holds the state and [`cmd`] what each command does;
//! [`session`] and [`outqueue`] are one connection's state and write queue;
//! [`store`] is who is known and what mail is held, in memory; [`clock`],
//! [`limits`] and [`error`] are timestamps, process limits and setup
//! errors.

pub mod accounts;
pub mod auth_queue;
pub mod clock;
pub mod cluster;
mod cmd;
pub mod config;
mod connections;
pub mod error;
pub mod event_loop;
pub mod hub;
pub mod journal;
pub mod keyset;
pub use crate::limits;
pub mod listener;
pub mod logging;
pub mod outqueue;
pub mod session;
pub mod setup;
pub mod shutdown;
pub mod store;
pub mod tls;
pub mod wire;

pub use config::{ServerArgs, ServerCommand, ServerConfig, UserAction};
pub use error::SetupError;
pub use event_loop::Server;
