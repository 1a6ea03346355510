//! One process per node name: a node claims its name in the bucket
//! `evchat_nodes` before it joins, and gives it back when it stops.
//!
//! Two processes under one name would share one bus subject and one claim
//! value prefix: each takes the other's users for stale claims of its own
//! and releases them, so private messages between them vanish and `WHO`
//! elsewhere lists neither. So the second is refused at start, told which
//! process holds the name. A holder that died without giving the name back
//! (kill -9, power cut) is recognised the way every node recognises a dead
//! node: nothing heard on its bus subject for `--node-timeout`; then the
//! name is taken over (compare-and-swap, so of two newcomers one wins).
//!
//! A holder that was silent that long but is still alive (stopped,
//! swapped out, cut off from NATS) finds its claim taken when it is back:
//! it stops, rather than run as a second process under the name.

use super::connect::{bucket, JS_TIMEOUT};
use super::wire;
use super::ClusterSettings;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures_util::StreamExt;
use log::{error, info, warn};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The bucket of node names: node → `<incarnation> <pid> <host>`.
pub const NODES: &str = "evchat_nodes";

/// Claims lost to a race or to a lagging copy, tried again at most.
const ATTEMPTS: usize = 5;

/// This process's claim on its node name.
pub(super) struct NodeClaim {
    store: kv::Store,
    node: String,
    value: Bytes,
    rev: u64,
    /// The claim this one replaced (a dead process's), if any: a copy of
    /// the bucket that lags may still show it, whatever its revision.
    replaced: Option<Bytes>,
    /// Taken over by another process: not this one's to give back.
    lost: AtomicBool,
}

/// Who holds a node name, as its claim says, for messages.
fn described(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut parts = text.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(run), Some(pid), Some(host)) => format!("run {run}, pid {pid} on host {host}"),
        _ => format!("{text:?}"),
    }
}

impl NodeClaim {
    /// Claims `settings.node` for run `incarnation`, waiting up to the
    /// node timeout for signs of life from a process that holds it.
    pub(super) async fn take(
        client: &async_nats::Client,
        js: &jetstream::Context,
        settings: &ClusterSettings,
        incarnation: &str,
    ) -> Result<NodeClaim, String> {
        let store = bucket(js, NODES, settings.replicas).await?;
        let node = settings.node.clone();
        let value = Bytes::from(format!(
            "{incarnation} {} {}",
            std::process::id(),
            super::settings::host_name()
        ));
        // Listening before reading the claim: a heartbeat sent in between
        // is not missed.
        let mut bus = client
            .subscribe(wire::subject_of(&node))
            .await
            .map_err(|e| format!("cannot listen for node {node}: {e}"))?;
        for _ in 0..ATTEMPTS {
            let held = match in_time(store.create(&node, value.clone())).await? {
                Ok(rev) => return Ok(NodeClaim::new(store, node, value, rev, None)),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    match in_time(store.entry(&node)).await? {
                        Ok(Some(entry)) if entry.operation == kv::Operation::Put => entry,
                        // Given back meanwhile (or a copy lags): again.
                        Ok(_) => continue,
                        Err(e) => return Err(cannot_claim(&node, &e.to_string())),
                    }
                }
                Err(e) => return Err(cannot_claim(&node, &e.to_string())),
            };
            let holder = described(&held.value);
            warn!(
                "node name {node} is held by {holder}; waiting up to {} s for it to be heard",
                settings.node_timeout.as_secs()
            );
            if let Ok(Some(_)) = tokio::time::timeout(settings.node_timeout, bus.next()).await {
                return Err(format!(
                    "node name {node} is in use by another process ({holder}): \
                     every process of a cluster needs its own --node-name"
                ));
            }
            match in_time(store.update(&node, value.clone(), held.revision)).await? {
                Ok(rev) => {
                    info!(
                        "took over node name {node} from {holder}, silent for {} s",
                        settings.node_timeout.as_secs()
                    );
                    let replaced = Some(held.value);
                    return Ok(NodeClaim::new(store, node, value, rev, replaced));
                }
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(cannot_claim(&node, &e.to_string())),
            }
        }
        Err(cannot_claim(&node, "it changed hands too often"))
    }

    fn new(
        store: kv::Store,
        node: String,
        value: Bytes,
        rev: u64,
        replaced: Option<Bytes>,
    ) -> NodeClaim {
        NodeClaim {
            store,
            node,
            value,
            rev,
            replaced,
            lost: AtomicBool::new(false),
        }
    }

    /// Stops this process (as SIGTERM does) once another process has
    /// taken the name over: it took this one for dead. Only later
    /// revisions count: a copy of the bucket that lags may still show the
    /// claim this one replaced.
    pub(super) async fn guard(self: std::sync::Arc<Self>) {
        loop {
            match self.store.watch(&self.node).await {
                Ok(mut watch) => {
                    // What changed while no watch was on.
                    if let Ok(Ok(Some(entry))) = in_time(self.store.entry(&self.node)).await {
                        if self.lost_to(&entry) {
                            return;
                        }
                    }
                    while let Some(Ok(entry)) = watch.next().await {
                        if self.lost_to(&entry) {
                            return;
                        }
                    }
                }
                Err(e) => log::debug!("cannot watch node name {}: {e}; retrying", self.node),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Is `entry` another process's claim over this one? Then stops.
    fn lost_to(&self, entry: &kv::Entry) -> bool {
        let lost = entry.revision > self.rev
            && entry.operation == kv::Operation::Put
            && entry.value != self.value
            && self.replaced.as_ref() != Some(&entry.value);
        if lost {
            self.lost.store(true, Ordering::Relaxed);
            error!(
                "node name {} was taken over by {} (this process was not heard for the \
                 node timeout): stopping",
                self.node,
                described(&entry.value)
            );
            // SAFETY: kill(2) on this very process; no memory is involved.
            unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        }
        lost
    }

    /// Gives the name back, if it is still this claim.
    pub(super) async fn release(&self) {
        if self.lost.load(Ordering::Relaxed) {
            return;
        }
        let delete = self
            .store
            .delete_expect_revision(&self.node, Some(self.rev));
        match tokio::time::timeout(JS_TIMEOUT, delete).await {
            Ok(Ok(())) => info!("gave node name {} back", self.node),
            Ok(Err(e)) => warn!(
                "cannot give node name {} back ({e}): the next process under it waits \
                 for the node timeout",
                self.node
            ),
            Err(_) => warn!(
                "cannot give node name {} back (timed out): the next process under it \
                 waits for the node timeout",
                self.node
            ),
        }
    }
}

/// A JetStream call with the usual deadline.
async fn in_time<T>(call: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(JS_TIMEOUT, call)
        .await
        .map_err(|_| "cannot claim the node name: JetStream did not answer in time".to_owned())
}

fn cannot_claim(node: &str, why: &str) -> String {
    format!("cannot claim the node name {node}: {why}")
}

#[cfg(test)]
mod tests {
    use super::described;

    #[test]
    fn a_claim_says_which_process_holds_the_name() {
        assert_eq!(
            described(b"4f9d11fd049e 1234 chat1"),
            "run 4f9d11fd049e, pid 1234 on host chat1"
        );
        assert_eq!(described(b"odd"), "\"odd\"");
    }
}
