//! The evchat server: one thread, one readiness loop, bounded everything.
//!
//! - [`event_loop`]: mio, sockets, timers — all the system calls;
//! - [`hub`]: names, commands, fan-out, limits — no system calls;
//! - [`session`] and [`outqueue`]: one connection's state and its write queue;
//! - [`store`]: known users and mail held for offline ones;
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

pub use config::{ServerArgs, ServerCommand, ServerConfig, UserAction};
pub use event_loop::Server;
