//! The hub's unit tests, split by concern; `harness` drives a hub as the
//! loop does, without sockets.

mod chat;
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
mod cluster_names;
#[cfg(feature = "cluster")]
mod cluster_relay;
#[cfg(feature = "cluster")]
mod cluster_rename;
#[cfg(feature = "cluster")]
mod cluster_rooms;
mod harness;
#[cfg(feature = "cluster")]
mod held_pace;
mod labels;
mod names;
mod operators;
mod output;
#[cfg(feature = "cluster")]
mod pacing;
mod rename;
mod room_turns;
mod rooms;
mod rooms_prop;
mod turns;
mod web;
mod websocket;
