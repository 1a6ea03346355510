//! Following the names bucket: every change goes to the loop, which keeps
//! the directory of names held on other nodes.

use super::bridge::ToLoop;
use super::watch::watch_bucket;
use super::{FromCluster, Holder};
use crate::protocol::names::same_name;
use async_nats::jetstream::kv;

/// Follows the names bucket, history first, restarting the watch when it
/// breaks (the loop then rebuilds its directory from the full state, and
/// takes names not seen again for gone once the history is complete; see
/// [`watch_bucket`]).
pub(super) async fn watch_names(names: kv::Store, to_loop: ToLoop) {
    // The key is the name folded; a claim's value says how it is shown
    // (a deletion has no value: the key names it, in any case, as well).
    let news = |entry: kv::Entry| {
        let holder = holder_of(&entry);
        let name = holder
            .as_ref()
            .and_then(|h| h.name.clone())
            .filter(|n| same_name(n, &entry.key))
            .unwrap_or(entry.key);
        Some(FromCluster::Name { holder, name })
    };
    let reset = || FromCluster::NamesReset;
    let synced = || FromCluster::NamesSynced;
    watch_bucket(names, "names", to_loop, news, reset, synced, None).await;
}

fn holder_of(entry: &kv::Entry) -> Option<Holder> {
    if entry.operation != kv::Operation::Put {
        return None;
    }
    Holder::parse(&entry.value, entry.revision)
}
