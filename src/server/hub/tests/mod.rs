//! The hub's unit tests, split by concern; `harness` drives a hub as the
//! loop does, without sockets.

mod chat;
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
mod cluster_relay;
mod harness;
mod output;
mod turns;
mod web;
mod websocket;
