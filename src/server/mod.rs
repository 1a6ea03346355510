//! The evchat server: one thread, one readiness loop, bounded everything.
//!
//! - [`event_loop`]: mio, sockets, timers, the waker of helper threads;
//! - [`hub`]: names, commands, fan-out, limits — it writes only through its
//!   transports and the journal;
//! - [`session`] and [`outqueue`]: one connection's state and its write queue;
//! - [`store`]: known users and mail held for offline ones, in memory;
//! - [`journal`]: the same, durable — an append-only checksummed log;
//! - [`accounts`]: the users file and the password-checking helper thread;
//! - [`clock`], [`limits`], [`config`]: timestamps, process limits, settings.

pub mod accounts;
pub mod clock;
pub mod config;
pub mod event_loop;
pub mod hub;
pub mod journal;
pub mod limits;
pub mod outqueue;
pub mod session;
pub mod store;
pub mod tls;

pub use config::{ServerArgs, ServerCommand, ServerConfig, UserAction};
pub use event_loop::Server;
