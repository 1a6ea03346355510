//! Following the names bucket: every change goes to the loop, which keeps
//! the directory of names held on other nodes.

use super::bridge::ToLoop;
use super::{FromCluster, Holder};
use async_nats::jetstream::kv::{self, WatchErrorKind};
use futures_util::StreamExt;
use log::warn;
use std::time::Duration;
use tokio::time::Instant;

/// Follows the names bucket, history first, restarting the watch when it
/// breaks (the loop then rebuilds its directory from the full state, and
/// takes names not seen again for gone once the history is complete).
///
/// When the history is complete is decided by the stream's last sequence,
/// read after the watch started: the replay delivers each name's last
/// entry in sequence order, so an entry at or past it means every earlier
/// one has come. The entries' own `delta` cannot say it: under concurrent
/// claims it reaches 0 and grows again, and taking the history for
/// complete early made the loop drop every name still to come from `WHO`
/// (177 of 303 for seconds, in a login storm with a NATS server killed).
pub(super) async fn watch_names(names: kv::Store, to_loop: ToLoop) {
    loop {
        // Asked again soon rather than waiting out the client's 5 s: while
        // JetStream elects leaders, a request sent a second later works.
        let watching = tokio::time::timeout(PROBE_EVERY, names.watch_with_history(">"));
        match watching
            .await
            .unwrap_or_else(|_| Err(WatchErrorKind::TimedOut.into()))
        {
            Ok(mut watch) => {
                to_loop.send(FromCluster::NamesReset);
                // Unknown (no answer): never synced, so nothing is taken
                // for gone on this watch; names leave by their deletions.
                let mut history = match last_sequence(&names).await {
                    Ok(last) => History::up_to(last),
                    Err(e) => {
                        warn!("cannot read the names bucket's state ({e}): names not seen again stay until deleted");
                        History::unknown()
                    }
                };
                if history.complete() {
                    to_loop.send(FromCluster::NamesSynced);
                }
                let mut stall = Stall::new(history.last.unwrap_or(0));
                let mut probe = tokio::time::interval(PROBE_EVERY);
                loop {
                    let entry = tokio::select! {
                        entry = watch.next() => entry,
                        _ = probe.tick() => {
                            if stall.silent_since(Instant::now()) >= PROBE_EVERY {
                                if let Some(behind) = stall.probe(&names).await {
                                    warn!("the names watch stalled ({behind}); restarting it");
                                    break;
                                }
                            }
                            continue;
                        }
                    };
                    let Some(Ok(entry)) = entry else {
                        warn!("the names watch ended; restarting it");
                        break;
                    };
                    let revision = entry.revision;
                    stall.delivered(revision, Instant::now());
                    to_loop.send(FromCluster::Name {
                        holder: holder_of(&entry),
                        name: entry.key,
                    });
                    if history.seen(revision) {
                        to_loop.send(FromCluster::NamesSynced);
                    }
                }
            }
            Err(e) => warn!("cannot watch the names bucket: {e}; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The names stream's last sequence, asked afresh (`Store::status` only
/// says what it was when the bucket was opened).
async fn last_sequence(names: &kv::Store) -> Result<u64, String> {
    let info = names.stream.get_info().await.map_err(|e| e.to_string())?;
    Ok(info.state.last_sequence)
}

/// How often a silent watch is checked against the stream.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Whether a silent watch is alive. The watch's consumer lives on one NATS
/// server: when that server dies, the client notices only after missing
/// its heartbeats for 10 s, and names claimed meanwhile are missing here.
/// A watch that has delivered nothing for a while, on a stream that has
/// moved past what it delivered, is dead: it is restarted at once.
struct Stall {
    /// The last revision delivered (or the stream's last sequence when
    /// the watch began).
    seen: u64,
    since: Instant,
}

impl Stall {
    fn new(seen: u64) -> Stall {
        Stall {
            seen,
            since: Instant::now(),
        }
    }

    fn delivered(&mut self, revision: u64, now: Instant) {
        self.seen = self.seen.max(revision);
        self.since = now;
    }

    fn silent_since(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.since)
    }

    /// Asks the stream where it is: why the watch is behind, if it is.
    /// (No answer says nothing: the heartbeats still end a dead watch.)
    async fn probe(&self, names: &kv::Store) -> Option<String> {
        let last = tokio::time::timeout(PROBE_EVERY, last_sequence(names));
        let last = last.await.ok()?.ok()?;
        (last > self.seen).then(|| format!("the bucket is at {last}, the watch at {}", self.seen))
    }
}

/// How far a watch's replay of the bucket has come.
#[derive(Debug)]
struct History {
    /// The stream's last sequence when the watch began (`None`: unknown).
    last: Option<u64>,
    done: bool,
}

impl History {
    fn up_to(last: u64) -> History {
        History {
            last: Some(last),
            done: false,
        }
    }

    fn unknown() -> History {
        History {
            last: None,
            done: false,
        }
    }

    /// Complete before any entry (an empty bucket)?
    fn complete(&mut self) -> bool {
        self.seen(0)
    }

    /// An entry at `revision` came: true the once the replay is complete.
    fn seen(&mut self, revision: u64) -> bool {
        let complete = self.last.is_some_and(|last| revision >= last);
        let first = complete && !self.done;
        self.done |= complete;
        first
    }
}

fn holder_of(entry: &kv::Entry) -> Option<Holder> {
    if entry.operation != kv::Operation::Put {
        return None;
    }
    Holder::parse(&entry.value, entry.revision)
}

#[cfg(test)]
mod tests {
    use super::History;

    #[test]
    fn the_history_is_complete_at_the_last_sequence_and_only_once() {
        let mut history = History::up_to(7);
        assert!(!history.complete());
        assert!(!history.seen(3));
        assert!(history.seen(7));
        assert!(!history.seen(9));
        let mut empty = History::up_to(0);
        assert!(empty.complete());
        assert!(!empty.seen(1));
        let mut unknown = History::unknown();
        assert!(!unknown.complete() && !unknown.seen(u64::MAX));
    }
}
