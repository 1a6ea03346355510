//! Following the names bucket: every change goes to the loop, which keeps
//! the directory of names held on other nodes.

use super::bridge::ToLoop;
use super::{FromCluster, Holder};
use async_nats::jetstream::kv;
use futures_util::StreamExt;
use log::warn;
use std::time::Duration;

/// Follows the names bucket, history first, restarting the watch when it
/// breaks (the loop then rebuilds its directory from the full state).
pub(super) async fn watch_names(names: kv::Store, to_loop: ToLoop) {
    loop {
        match names.watch_with_history(">").await {
            Ok(mut watch) => {
                to_loop.send(FromCluster::NamesReset);
                let empty = names.status().await.map(|s| s.values() == 0);
                if empty.unwrap_or(false) {
                    to_loop.send(FromCluster::NamesSynced);
                }
                let mut synced = false;
                while let Some(entry) = watch.next().await {
                    let Ok(entry) = entry else { break };
                    to_loop.send(FromCluster::Name {
                        holder: holder_of(&entry),
                        name: entry.key,
                    });
                    if !synced && (entry.delta == 0 || entry.seen_current) {
                        synced = true;
                        to_loop.send(FromCluster::NamesSynced);
                    }
                }
                warn!("the names watch ended; restarting it");
            }
            Err(e) => warn!("cannot watch the names bucket: {e}; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn holder_of(entry: &kv::Entry) -> Option<Holder> {
    if entry.operation != kv::Operation::Put {
        return None;
    }
    Holder::parse(&entry.value, entry.revision)
}
