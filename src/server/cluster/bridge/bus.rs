//! The bus as the helper reads it: other nodes' messages handed to the
//! loop within the intake's bounds ([`intake`](super::super::intake)), and
//! the nodes that fill it told to slow down
//! ([`congestion`](super::super::congestion)); and their notices to this
//! node, read on a subject of their own.

use super::super::congestion::Congestion;
use super::super::wire::{self, BusMessage};
use super::super::{FromCluster, Gauges};
use super::ToLoop;
use bytes::Bytes;
use futures_util::StreamExt;
use log::{error, warn};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Hands every bus message to the loop, in arrival order, as long as the
/// loop's backlog has room for it (in messages and in bytes); drops it
/// otherwise. The subscription is read at once whatever the backlog, so
/// what NATS hands over never piles up in the client's buffer either: a
/// flood from another node costs this one a fixed amount of memory. Well
/// before the backlog is full, the nodes filling it are told to slow down
/// (on `out`: another connection, and this node's subject for notices),
/// so that in the normal case nothing is
/// dropped; what is, is counted and logged.
pub(super) async fn read_bus(
    mut bus: async_nats::Subscriber,
    out: (async_nats::Client, async_nats::Subject),
    to_loop: ToLoop,
    gauges: Arc<Gauges>,
) {
    let mut dropped = 0u64;
    let mut congestion = Congestion::default();
    loop {
        // While nodes are held back, the backlog is watched for draining
        // even when nothing arrives.
        let message = tokio::select! {
            message = bus.next() => message,
            () = tokio::time::sleep(DRAIN_CHECK), if congestion.is_congested() => {
                let notice = congestion.check(backlog_bytes(&gauges), taken(&gauges), Instant::now());
                tell(&out, notice, &gauges).await;
                continue;
            }
        };
        let Some(message) = message else { break };
        let Some(origin) = wire::origin_of(&message.subject) else {
            continue;
        };
        gauges.bus_in.fetch_add(1, Ordering::Relaxed);
        let len = message.payload.len() as u64;
        let admitted = gauges.admit(len);
        let backlog = backlog_bytes(&gauges) + if admitted { 0 } else { len };
        let broadcast = message.payload.starts_with(b"B\n");
        let notice = congestion.arrived(
            origin,
            len,
            broadcast,
            backlog,
            taken(&gauges),
            Instant::now(),
        );
        if !admitted {
            dropped += 1;
            let n = gauges.lagged.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                error!(
                    "the bus is bringing more than this node takes in: dropped a message from node {origin} ({dropped} so far, {n} lost in all)"
                );
            }
        } else {
            // A copy: the client's payload is a slice of its read buffer,
            // and would keep the whole buffer (and the dropped messages in
            // it) alive while it waits, out of sight of the count of bytes.
            let news = FromCluster::Bus {
                origin: origin.to_owned(),
                payload: Bytes::copy_from_slice(&message.payload),
            };
            drop(message);
            to_loop.send(news);
        }
        tell(&out, notice, &gauges).await;
    }
    error!("the bus subscription ended");
}

/// How often a congested intake looks whether it has drained.
const DRAIN_CHECK: Duration = Duration::from_millis(5);

fn backlog_bytes(gauges: &Gauges) -> u64 {
    gauges.backlog_bytes.load(Ordering::Acquire)
}

fn taken(gauges: &Gauges) -> u64 {
    gauges.taken.load(Ordering::Relaxed)
}

/// Publishes a congestion notice, if there is one.
async fn tell(
    out: &(async_nats::Client, async_nats::Subject),
    notice: Option<Vec<u8>>,
    gauges: &Gauges,
) {
    let Some(notice) = notice else { return };
    match out.0.publish(out.1.clone(), Bytes::from(notice)).await {
        Ok(()) => {
            gauges.bus_out.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => warn!("cannot ask the other nodes to slow down: {e}"),
    }
}

/// Hands other nodes' congestion notices to the loop (its own, which come
/// back from its other connection, and anything else are ignored).
pub(super) async fn read_notices(
    mut notices: async_nats::Subscriber,
    me: String,
    to_loop: ToLoop,
    gauges: Arc<Gauges>,
) {
    while let Some(message) = notices.next().await {
        let Some(origin) = wire::slow_origin_of(&message.subject) else {
            continue;
        };
        let is_notice = matches!(
            wire::decode(&message.payload),
            Ok(BusMessage::SlowDown { .. })
        );
        if origin == me || !is_notice {
            continue;
        }
        // Counted in the backlog as bus messages are (the loop takes them
        // as such); small, they have room kept for them.
        if gauges.admit(message.payload.len() as u64) {
            let news = FromCluster::Bus {
                origin: origin.to_owned(),
                payload: Bytes::copy_from_slice(&message.payload),
            };
            to_loop.send(news);
        }
    }
    error!("the subscription to congestion notices ended");
}
